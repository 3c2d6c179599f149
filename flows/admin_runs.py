"""Start the nightly run from the admin (``daglig admin generate``, ``POST /generate``):
through the Prefect API when a server is configured, else the flow in this process.
Prefect code, so it sits beside the flows (docs/architecture.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

from daglig.admin.common import AdminError, Unavailable


def prefect_api_url() -> str | None:
    """The Prefect API this process talks to (``PREFECT_API_URL``), or None: no server."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def generate(
    day: date, *, force: bool = False, local: bool = False, wait_seconds: float = 0
) -> dict[str, Any]:
    """Start the nightly deployment for ``day`` through the Prefect API when a server is
    configured (and ``local`` is false), waiting up to ``wait_seconds`` (0: return once it
    is scheduled); else run the nightly flow in this process and return its summary."""
    api = None if local else prefect_api_url()
    if api:
        from prefect.client.schemas.objects import FlowRun
        from prefect.deployments import run_deployment
        from prefect.exceptions import ObjectNotFound

        from flows.common import NIGHTLY_DEPLOYMENT

        try:
            fr = run_deployment(
                NIGHTLY_DEPLOYMENT,
                parameters={"run_date": day.isoformat(), "force": force},
                timeout=wait_seconds,
            )
        except ObjectNotFound:
            raise Unavailable(
                f"deployment {NIGHTLY_DEPLOYMENT} not found at {api} "
                "(deploy it: prefect --no-prompt deploy --all)"
            ) from None
        assert isinstance(fr, FlowRun)  # called from sync code: not a coroutine
        return {
            "mode": "deployment",
            "deployment": NIGHTLY_DEPLOYMENT,
            "api_url": api,
            "run_date": day.isoformat(),
            "flow_run_id": str(fr.id),
            "flow_run_name": fr.name,
            "state": fr.state.name if fr.state else None,
        }
    from flows.daily_challenges import generate_daily_challenges

    state = generate_daily_challenges(run_date=day, force=force, return_state=True)
    result = state.result(raise_on_failure=False)
    if state.is_failed() or not isinstance(result, dict):
        raise AdminError(f"the run for {day} failed: {result}")
    return {
        "mode": "local",
        "run_date": day.isoformat(),
        "flow_run_id": str(state.state_details.flow_run_id),
        "state": state.name,
        "result": result,
    }
