"""Record each nightly-run attempt in ``pipeline_runs`` (performance and error monitoring).

``record_run`` is a thin task with retries on I/O; :func:`record_run_quietly` is what the
flow calls at the end of its report: a failure to record is logged and noted, never
raised, so it cannot fail a run.

Not recorded: runs that failed their health check (the database they would be recorded
in is what failed), and dry runs while ``pipeline_runs`` does not exist yet (a dry run
creates no tables).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import runtime, task
from prefect.cache_policies import NONE
from prefect.logging import get_run_logger
from sqlalchemy import inspect

from daglig import sql as sqlfiles
from daglig.config import Settings
from daglig.db import make_engine
from daglig.summary import RunSummary
from models.tables import Base
from tasks.common import log_rows
from tasks.retry import RETRIES, RETRY_DELAYS, retry_if_transient


def run_row(summary: RunSummary, finished_at: datetime, flow_run_id: str | None) -> dict[str, Any]:
    """The ``pipeline_runs`` row of a run summary (naive UTC timestamps)."""
    error = None
    if summary.error:
        error = f"{summary.failed_task}: {summary.error}" if summary.failed_task else summary.error
    return {
        "run_date": summary.run_date,
        "started_at": finished_at - timedelta(seconds=summary.total_seconds),
        "finished_at": finished_at,
        "status": summary.status,
        "total_seconds": float(summary.total_seconds),
        "users_served": int(summary.users_served),
        "assignments": int(summary.assignments),
        "quarantined": int(sum(summary.quarantined.values())),
        "ml_status": summary.ml_status,
        "error": error,
        "flow_run_id": flow_run_id,
    }


@task(
    name="record-run",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_if_transient,
    cache_policy=NONE,
)
def record_run(summary: RunSummary, settings: Settings) -> bool:
    """Insert the run's row into ``pipeline_runs``; False when deliberately not recorded."""
    t0 = time.perf_counter()
    row = run_row(
        summary,
        datetime.now(UTC).replace(tzinfo=None),
        str(runtime.flow_run.id) if runtime.flow_run.id else None,
    )
    engine = make_engine(settings.database_url, settings.session_limits())
    try:
        if not inspect(engine).has_table("pipeline_runs"):
            if summary.dry_run:
                log_rows("record-run", 1, 0, time.perf_counter() - t0)
                return False
            Base.metadata.tables["pipeline_runs"].create(engine, checkfirst=True)
        with engine.begin() as conn:
            conn.execute(sqlfiles.statement("admin/insert_pipeline_run"), row)
    finally:
        engine.dispose()
    log_rows("record-run", 1, 1, time.perf_counter() - t0)
    return True


def record_run_quietly(summary: RunSummary, settings: Settings) -> None:
    """Record the run unless its health check failed; log and note a failure to record."""
    if summary.failed_task == "check-health":
        return
    try:
        record_run(summary, settings)
    except Exception as exc:  # recording is bookkeeping: it must not fail the run
        summary.notes.append(f"run not recorded in pipeline_runs: {type(exc).__name__}")
        get_run_logger().error("record-run failed after retries: %s", exc)
