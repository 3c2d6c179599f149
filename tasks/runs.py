"""Record each nightly-run attempt in ``pipeline_runs`` (performance and error monitoring).

A run's row goes through: ``running`` when it starts (``begin_run``: flow run id, host,
pid), ``written`` inside the day's write transaction (``mark_written``, so it commits with
the day), and its end at the end (``record_run``: ok, dry_run, disabled or failed, with
seconds and counts). A run that cannot record its end leaves ``running`` or ``written``:

- Ctrl-C in a terminal: ``mark_interrupted`` (from ``daglig.interrupt``) sets
  ``interrupted`` and cancels the Prefect flow run;
- SIGKILL, a power cut, an OOM kill: the next run's ``begin_run`` finds the row's process
  gone (same host, pid gone or reused) and marks it ``crashed``, saying whether the day's
  write had committed, and sets its Prefect flow run Crashed when that API knows it.

All of it is bookkeeping: a failure to record is logged and noted, never raised, so it
cannot fail a run. Not recorded: runs that failed their health check (the database they
would be recorded in is what failed), and dry runs while ``pipeline_runs`` does not exist
yet (a dry run creates no tables).
"""

from __future__ import annotations

import contextlib
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect import runtime
from prefect.logging import get_run_logger
from sqlalchemy import Connection, Engine, inspect

from daglig.config import Settings
from daglig.io.db import engine_of, make_engine, sql_statement
from daglig.summary import RunSummary
from models.tables import Base
from tasks.retry import io_task
from tasks.steps import count_rows, step_task

UNFINISHED = ("running", "written")
# columns added since the first pipeline_runs tables: added to an older table when missing
ADDED_COLUMNS = {"host": "admin/add_run_host", "pid": "admin/add_run_pid"}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def _flow_run_id() -> str | None:
    return str(runtime.flow_run.id) if runtime.flow_run.id else None


def _table_ready(engine: Engine, create: bool) -> bool:
    """``pipeline_runs`` exists (created when ``create``) with every column."""
    if not inspect(engine).has_table("pipeline_runs"):
        if not create:
            return False
        Base.metadata.tables["pipeline_runs"].create(engine, checkfirst=True)
    present = {c["name"] for c in inspect(engine).get_columns("pipeline_runs")}
    missing = [name for name in ADDED_COLUMNS if name not in present]
    if missing:
        with engine.begin() as conn:
            for name in missing:
                conn.execute(sql_statement(ADDED_COLUMNS[name]))
    return True


# ------------------------------------------------------------------ the run starts


def process_gone(host: str | None, pid: int | None, started_at: datetime) -> bool:
    """Is the process that wrote an unfinished row gone? Only decidable on its own host:
    gone when no process has its pid, or the one that has it started after the row did
    (the pid was reused, e.g. after a reboot)."""
    import psutil

    if host != socket.gethostname() or pid is None:
        return False
    if pid == os.getpid():
        return True  # this process is a new run: the row's run was an earlier one
    try:
        created = datetime.fromtimestamp(psutil.Process(pid).create_time(), UTC)
    except psutil.NoSuchProcess:
        return True
    return created.replace(tzinfo=None) > started_at + timedelta(seconds=1)


def _crash_message(row: Any) -> str:
    written = (
        "after its write for the day had committed"
        if row.status == "written"
        else "before its write committed (nothing was written)"
    )
    return f"crashed: process {row.pid} on {row.host} ended {written}"


def mark_stale_runs(engine: Engine) -> list[tuple[int, str | None, str]]:
    """Mark the unfinished rows whose process is gone ``crashed``; (id, flow run id,
    message) of each."""
    now = _now()
    marked = []
    with engine.begin() as conn:
        rows = conn.execute(sql_statement("admin/unfinished_pipeline_runs")).all()
        for row in rows:
            started = row.started_at
            if isinstance(started, str):  # SQLite through a plain text column
                started = datetime.fromisoformat(started)
            if not process_gone(row.host, row.pid, started):
                continue
            message = _crash_message(row)
            _end_unfinished(conn, row.id, "crashed", message, started, now)
            marked.append((int(row.id), row.flow_run_id, message))
    return marked


def _end_unfinished(
    conn: Connection, row_id: int, status: str, error: str, started: datetime, now: datetime
) -> int:
    result = conn.execute(
        sql_statement("admin/end_unfinished_pipeline_run"),
        {
            "id": row_id,
            "status": status,
            "finished_at": now,
            "total_seconds": max(0.0, (now - started).total_seconds()),
            "error": error,
        },
    )
    return int(result.rowcount or 0)


def set_prefect_state(
    flow_run_id: str, kind: str, message: str, api_url: str | None = None
) -> bool:
    """Set a flow run that is not final yet to Crashed or Cancelled (``kind``) through
    the Prefect API at ``api_url`` (default: the one this context uses); False when that
    API does not know the run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import State
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import Cancelled, Crashed

    state: State[Any] = (
        Crashed(message=message) if kind == "crashed" else Cancelled(message=message)
    )
    if api_url:  # a thread of its own (Ctrl-C) does not see the flow's settings context
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            return set_prefect_state(flow_run_id, kind, message)
    if not PREFECT_API_URL.value():
        return False  # no API: asking would start a temporary server just for this
    with get_client(sync_client=True) as client:
        try:
            flow_run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return False
        if flow_run.state is not None and flow_run.state.is_final():
            return True
        client.set_flow_run_state(flow_run.id, state, force=True)
    return True


@step_task("record-run-start", timed=False)
def begin_run(summary: RunSummary, settings: Settings) -> int | None:
    """Mark the rows of runs whose process is gone ``crashed`` (and their Prefect flow
    runs Crashed), then insert this run's ``running`` row; returns its id, or None when
    it is not recorded (a dry run before ``pipeline_runs`` exists, or any failure: this
    is bookkeeping, it never fails the run)."""
    log = get_run_logger()
    engine = make_engine(settings.database_url, settings.session_limits())
    try:
        if not _table_ready(engine, create=not summary.dry_run):
            return None
        for _row_id, flow_run_id, message in mark_stale_runs(engine):
            log.warning("an earlier run did not finish: %s (flow run %s)", message, flow_run_id)
            if flow_run_id:
                try:
                    set_prefect_state(flow_run_id, "crashed", message)
                except Exception as exc:  # its API may be gone with it
                    log.warning("could not mark flow run %s crashed: %s", flow_run_id, exc)
        now = _now()
        with engine.begin() as conn:
            row_id = conn.execute(
                sql_statement("admin/start_pipeline_run"),
                {
                    "run_date": summary.run_date,
                    "started_at": now,
                    "flow_run_id": _flow_run_id(),
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                },
            ).scalar_one()
    except Exception as exc:  # bookkeeping: never fails the run
        log.warning("run start not recorded in pipeline_runs: %s", type(exc).__name__)
        return None
    finally:
        engine.dispose()
    count_rows(1, 1)
    return int(row_id)


def mark_written(conn: Connection, row_id: int | None) -> None:
    """Inside the day's write transaction (it commits with the day): the run's row says
    ``written``."""
    if row_id is not None:
        conn.execute(sql_statement("admin/mark_run_written"), {"id": row_id})


# ------------------------------------------------------------------ the run ends


@io_task("record-run", timed=False)
def record_run(summary: RunSummary, settings: Settings) -> bool:
    """Give the run's row its end (or insert the row when the start was not recorded);
    False when deliberately not recorded."""
    row = run_row(summary, _now(), _flow_run_id())
    with engine_of(settings.database_url, settings.session_limits()) as engine:
        if not _table_ready(engine, create=not summary.dry_run):
            count_rows(1, 0)
            return False
        with engine.begin() as conn:
            updated = 0
            if summary.run_row_id is not None:
                started = conn.execute(
                    sql_statement("admin/finish_pipeline_run"),
                    {**row, "id": summary.run_row_id},
                )
                updated = int(started.rowcount or 0)
            if not updated:
                conn.execute(sql_statement("admin/insert_pipeline_run"), row)
    count_rows(1, 1)
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


def mark_interrupted(run: Any, line: str) -> None:
    """After Ctrl-C (``daglig.interrupt``): the run's row ``interrupted`` with the line
    the terminal shows, its Prefect flow run Cancelled. Short timeouts: a write holding
    the database must not keep the process from ending (the next run then marks the row)."""
    if run.row_id is not None or run.flow_run_id:
        engine = make_engine(run.database_url, timeout=2)
        try:
            with engine.begin() as conn:
                row_id = run.row_id
                if row_id is None:  # Ctrl-C while the row was being recorded
                    row_id = conn.execute(
                        sql_statement("admin/unfinished_run_of_flow_run"),
                        {"flow_run_id": run.flow_run_id},
                    ).scalar()
                if row_id is not None:
                    _end_unfinished(conn, row_id, "interrupted", line, run.started_at, _now())
        except Exception:  # noqa: BLE001 - best effort: the next run marks it crashed
            pass
        finally:
            engine.dispose()
    if run.flow_run_id:
        with contextlib.suppress(Exception):  # best effort
            set_prefect_state(run.flow_run_id, "cancelled", line, run.api_url)
