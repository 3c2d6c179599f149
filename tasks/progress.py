"""A progress artifact that moves as a run's steps finish (the UI shows a bar)."""

from __future__ import annotations

from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.logging import get_run_logger


class Progress:
    """``key``'s progress artifact: ``done`` of ``total`` steps, as a percentage.

    Created at 0 % on construction; :meth:`advance` moves it, :meth:`finish` sets 100 %.
    Call inside a flow run. A failing artifact call is logged, never raised: progress is
    for people watching, not a reason to fail a run.
    """

    def __init__(self, key: str, total: int, description: str = "started") -> None:
        self.key = key
        self.total = max(1, total)
        self.done = 0
        self.artifact_id: UUID | None = None
        try:
            created = create_progress_artifact(progress=0.0, key=key, description=description)
            self.artifact_id = created if isinstance(created, UUID) else None
        except Exception as exc:  # noqa: BLE001 - see the class docstring
            get_run_logger().warning("progress artifact %s not created: %s", key, exc)

    @property
    def percent(self) -> float:
        return round(min(100.0, 100.0 * self.done / self.total), 1)

    def _update(self, description: str) -> None:
        if self.artifact_id is None:
            return
        try:
            update_progress_artifact(self.artifact_id, self.percent, description=description)
        except Exception as exc:  # noqa: BLE001 - see the class docstring
            get_run_logger().warning("progress artifact %s not updated: %s", self.key, exc)

    def advance(self, steps: int, description: str) -> None:
        """``steps`` more steps are done (capped below 100 % until :meth:`finish`)."""
        self.done = min(self.total - 1, self.done + steps) if steps else self.done
        self._update(description)

    def finish(self, description: str) -> None:
        self.done = self.total
        self._update(description)
