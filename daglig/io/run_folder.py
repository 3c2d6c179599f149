"""The run folder: ``data/runs/<run date>/<flow run id>/``, the files one run's steps hand
each other. :class:`RunFolder` names them, so no reader builds a path or globs the folder
itself (the steps write them: tasks/; the admin's dry run and ``daglig run --dry-run
--user-id`` read them; cleanup removes whole dates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

SHARD_PREFIX = "shard-"


@dataclass(frozen=True, slots=True)
class RunFolder:
    """One run's folder (or one shard's folder inside it: :meth:`shard`)."""

    root: Path

    @classmethod
    def at(cls, runs_dir: Path, run_date: date, flow_run_id: str) -> RunFolder:
        """The folder of the flow run ``flow_run_id`` for ``run_date`` under ``runs_dir``."""
        return cls(runs_dir / run_date.isoformat() / flow_run_id)

    def file(self, name: str) -> Path:
        """``<name>.parquet`` in this folder (``users``, ``user_features``, ``challenges``,
        ``assignments_keyed`` in a shard's folder, …)."""
        return self.root / f"{name}.parquet"

    def shard(self, shard: int) -> RunFolder:
        """The folder of shard ``shard``: ``shard-NNNN/``."""
        return RunFolder(self.root / f"{SHARD_PREFIX}{shard:04d}")

    def shard_files(self, name: str) -> list[Path]:
        """``<name>.parquet`` of every shard that wrote one, in shard order."""
        return sorted(self.root.glob(f"{SHARD_PREFIX}*/{name}.parquet"))

    @property
    def answers(self) -> Path:
        """The answer log up to the day's cutoff, one folder of Parquet parts per shard
        (``answers/shard-NNNN/part-*.parquet``, daglig/io/shard_files.py)."""
        return self.root / "answers"

    @property
    def user_features(self) -> Path:
        """Every user's features, sorted by user (the merge of the shards')."""
        return self.file("user_features")

    @property
    def challenges(self) -> Path:
        """The day's distinct challenges, rendered and priced."""
        return self.file("challenges")

    def keyed_assignments(self) -> list[Path]:
        """Every shard's assignments with their content key (one file per shard)."""
        return self.shard_files("assignments_keyed")
