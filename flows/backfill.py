"""The backfill flow: the nightly flow once per date of a range, a few dates at a time.

Prefect 3 has no backfill command; this flow is ours. Each date runs the daily flow as a
subflow of the backfill (its own flow run ``daily-challenges-<date>``, with its own summary
artifact; no email of its own: the backfill sends one for the whole range, a row per date):

- run from a deployment (the UI's *Custom run*), each date is a run of the nightly
  deployment (``run_deployment``), so the worker starts it in a process of its own and up to
  ``max_concurrency`` dates run at once;
- run in-process (``daglig backfill``, tests), the dates run one after another in this
  process (its steps are not all thread-safe; see ``daglig.backfill.effective_concurrency``).

Dates already complete are skipped unless ``force``. A date that fails does not stop the
others; the backfill leaves a table artifact of every date's outcome and counts, and ends
failed, naming the failed dates, if any failed.
"""

from __future__ import annotations

import contextvars
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Annotated, Any, cast

from prefect import flow, runtime
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.logging import get_run_logger
from pydantic import Field

from daglig.backfill import (
    MAX_CONCURRENCY,
    DayOutcome,
    DayStatus,
    artifact_rows,
    backfill_dates,
    day_failure,
    effective_concurrency,
    failure_message,
    finished,
    skipped,
    table_rows,
)
from daglig.config import Settings
from daglig.errors import error_line
from flows.common import NIGHTLY_DEPLOYMENT
from tasks.backfill import read_day_statuses
from tasks.progress import Progress
from tasks.report import send_backfill_email
from tasks.settings import load_challenge_settings

DAY_TIMEOUT_SECONDS = 3 * 3600  # a date not finished by then counts as failed


class BackfillFailed(RuntimeError):
    """At least one date of the backfill failed; the message names them and why, and
    ``rows`` holds every date's outcome (the table artifact's rows)."""

    def __init__(self, message: str, rows: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.rows = rows or []


def _run_name() -> str:
    p = runtime.flow_run.parameters or {}
    force = "-force" if p.get("force") else ""
    return f"backfill-{p.get('start_date')}-to-{p.get('end_date')}{force}"


Ran = tuple[bool, str, str, str]  # (ok, failed step, error line, flow run id)


def run_in_process(day: date, force: bool) -> Ran:
    """The daily flow for ``day`` as a subflow in this process → (ok, failed step, error,
    flow run id)."""
    # imported here: a backfill run from its deployment never loads the daily flow's
    # heavy imports (great_expectations, scikit-learn) into its own process
    from flows.daily_challenges import generate_daily_challenges

    state = generate_daily_challenges(run_date=day, force=force, notify=False, return_state=True)
    flow_run = str(state.state_details.flow_run_id or "")
    if state.is_completed():
        return True, "", "", flow_run
    exc = state.result(raise_on_failure=False)
    if state.message and "\n" not in state.message:  # the daily flow's one line
        return False, *day_failure(state.message, day), flow_run
    error = error_line(exc) if isinstance(exc, BaseException) else ""
    return False, "", error or str(state.name), flow_run


def run_as_deployment(day: date, force: bool) -> Ran:
    """A run of the nightly deployment for ``day``, linked as a subflow, waited for →
    (ok, failed step, error, flow run id). The worker runs it in a process of its own:
    its state message is all that comes back."""
    child = cast(
        FlowRun,
        run_deployment(
            NIGHTLY_DEPLOYMENT,
            parameters={"run_date": day.isoformat(), "force": force, "notify": False},
            timeout=DAY_TIMEOUT_SECONDS,
            poll_interval=2,
        ),
    )
    state = child.state
    if state is not None and state.is_completed():
        return True, "", "", str(child.id)
    if state is None or not state.is_final():
        name = state.name if state else "unknown"
        waited = f"not finished after {DAY_TIMEOUT_SECONDS} s (state {name})"
        return False, "", waited, str(child.id)
    # the daily flow's state message is one line; a crashed process's may not be
    step, line = day_failure(state.message or "", day)
    return False, step, line or state.name or "failed", str(child.id)


def _run_date(
    day: date, force: bool, separate: bool, settings: Settings, cpu: int, before: DayStatus
) -> DayOutcome:
    """Run one date (never raises) and read back what the day holds."""
    t0 = time.perf_counter()
    try:
        ok, step, error, flow_run = (run_as_deployment if separate else run_in_process)(day, force)
    except Exception as exc:  # e.g. the nightly deployment does not exist
        ok, step, error, flow_run = False, "", error_line(exc), ""
    seconds = time.perf_counter() - t0
    try:
        (after,) = read_day_statuses(settings, [day], cpu)
    except Exception as exc:  # the counts are for reading; the date's outcome stands
        after = before
        error = error or f"counts unreadable after the run: {error_line(exc)}"
    return finished(
        before, after, ok=ok, seconds=seconds, error=error, flow_run=flow_run, failed_step=step
    )


def _email(start: date, end: date, outcomes: list[DayOutcome], settings: Settings) -> None:
    """The one summary email of the backfill; its failure is logged, never fails the run
    (the dates' outcomes are in the table artifact whatever happens to the email)."""
    url = None
    if settings.prefect_ui_url and runtime.flow_run.id:
        url = f"{settings.prefect_ui_url.rstrip('/')}/runs/flow-run/{runtime.flow_run.id}"
    try:
        send_backfill_email(start, end, outcomes, settings, url)
    except Exception as exc:
        get_run_logger().error("backfill email failed after retries: %s", error_line(exc))


@flow(name="backfill-daily-challenges", flow_run_name=_run_name, log_prints=True)
def backfill_daily_challenges(
    start_date: date,
    end_date: date,
    force: bool = False,
    max_concurrency: Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)] = 1,
) -> list[dict[str, Any]]:
    """(Re)generate the daily challenges of every date from start_date to end_date.

    Args:
        start_date: The first challenge day (Europe/Oslo) to generate, included.
        end_date: The last challenge day (Europe/Oslo) to generate, included.
        force: Rerun dates that are already complete, replacing assignments nobody has
            started (progress 0, not completed); without it complete dates are skipped.
        max_concurrency: How many dates run at once (1-8), each in a process of its own,
            when the backfill runs from its deployment (in-process, as with daglig
            backfill: one at a time). Above 1, a date may run before the day before it is
            written, and then cannot avoid repeating that day's challenges.
    """
    log = get_run_logger()
    settings = Settings()
    days = backfill_dates(start_date, end_date)
    separate = runtime.deployment.id is not None  # a deployment run: fan out to the worker
    workers = effective_concurrency(separate, max_concurrency, len(days))
    cs = load_challenge_settings(settings)
    cpu = cs.challenges_per_user
    statuses = read_day_statuses(settings, days, cpu)
    outcomes = [skipped(s) for s in statuses if s.complete and not force]
    todo = [s for s in statuses if force or not s.complete]
    log.info(
        "backfill %s..%s: %d dates, %d already complete and skipped, %d to run, %d at a time%s",
        start_date,
        end_date,
        len(days),
        len(outcomes),
        len(todo),
        workers,
        f" as runs of {NIGHTLY_DEPLOYMENT}" if separate else " in this process",
    )
    key = f"backfill-{start_date.isoformat()}-to-{end_date.isoformat()}"
    progress = Progress(key, len(days))
    progress.advance(len(outcomes), f"{len(outcomes)} dates already complete")
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill") as pool:
        # each date in a copy of this flow's context, so its run is a subflow of this one
        futures = [
            pool.submit(
                contextvars.copy_context().run, _run_date, s.day, force, separate, settings, cpu, s
            )
            for s in todo
        ]
        for fut in futures:
            outcome = fut.result()
            outcomes.append(outcome)
            progress.advance(1, f"{outcome.day}: {outcome.outcome}")
    rows = table_rows(outcomes)
    create_table_artifact(
        key=key,
        # errors carry app data and the UI renders cells as markdown: escaped, except the
        # flow_run column, a link to each date's run (before the long error column)
        table=artifact_rows(rows, settings.prefect_ui_url),
        description=f"Backfill {start_date}..{end_date}: outcome and counts per date",
    )
    _email(start_date, end_date, outcomes, settings)
    message = failure_message(outcomes)
    progress.finish(message or "done")
    if message:
        log.error(message)
        raise BackfillFailed(message, rows)
    return rows
