"""The pipeline's database I/O: health, admin settings, and the day's transactional write.

Writes go through temporary staging tables and ``INSERT … ON CONFLICT`` in one
transaction per run date: a failure anywhere rolls the whole day back, so the previous
state stays intact, and a rerun is idempotent. On PostgreSQL the staging tables are
filled with COPY; on SQLite with ``executemany``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from daglig import sql as sqlfiles
from daglig.challenge_settings import ChallengeSettings, parse_challenge_settings
from daglig.challenges import CHALLENGE_COLUMNS
from daglig.config import SessionLimits
from daglig.lock import LockWaitTimeout, LockWatch, lock_day
from models import APP_TABLES, PIPELINE_TABLES, create_pipeline_tables


class HealthCheckFailed(RuntimeError):
    """The database cannot serve a run; the message is one line saying why."""


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What the health check found."""

    database: str
    backend: str
    missing_pipeline_tables: tuple[str, ...]
    created_pipeline_tables: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """What one day's write did."""

    challenges_inserted: int
    assignments_inserted: int
    assignments_replaced: int
    assignments_kept: int
    surplus_slots_deleted: int
    orphan_challenges_deleted: int
    assignments_staged: int = 0


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_health(engine: Engine, safe_url: str, create_missing: bool) -> HealthReport:
    """Database reachable, app tables present, settings readable; create the pipeline's
    tables when missing (unless ``create_missing`` is false, as in a dry run)."""
    try:
        with engine.connect() as conn:
            conn.execute(sqlfiles.statement("health/ping"))
            present = set(inspect(conn).get_table_names())
    except SQLAlchemyError as exc:
        raise HealthCheckFailed(f"database {safe_url} unreachable: {_one_line(exc)}") from None
    missing_app = [t for t in APP_TABLES if t not in present]
    if missing_app:
        raise HealthCheckFailed(
            f"database {safe_url} lacks the app tables {', '.join(missing_app)} "
            "(run `daglig simulate` for a demo database)"
        )
    missing = tuple(t for t in PIPELINE_TABLES if t not in present)
    created: tuple[str, ...] = ()
    if missing and create_missing:
        try:
            with engine.begin() as conn:
                create_pipeline_tables(conn)
        except SQLAlchemyError as exc:
            raise HealthCheckFailed(
                f"cannot create the pipeline tables {', '.join(missing)}: {_one_line(exc)}"
            ) from None
        created = missing
    if "challenge_settings" in present or created:
        try:
            read_settings_rows(engine)
        except SQLAlchemyError as exc:
            raise HealthCheckFailed(f"challenge_settings unreadable: {_one_line(exc)}") from None
    return HealthReport(safe_url, engine.dialect.name, missing, created)


def read_settings_rows(engine: Engine) -> dict[str, str]:
    """The raw ``challenge_settings`` rows; empty when the table does not exist yet."""
    if not inspect(engine).has_table("challenge_settings"):
        return {}
    with engine.connect() as conn:
        return {k: v for k, v in conn.execute(sqlfiles.statement("read/challenge_settings"))}


def read_challenge_settings(engine: Engine) -> ChallengeSettings:
    """The admin's settings for this run, defaults filled in and problems listed."""
    return parse_challenge_settings(read_settings_rows(engine))


def _copy_frame(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    """COPY a frame into a PostgreSQL table (CSV; empty unquoted fields are NULL)."""
    buf = io.BytesIO()
    frame.write_csv(buf, include_header=False, null_value="")
    cols = ", ".join(frame.columns)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)") as cp:  # type: ignore[attr-defined]
        cp.write(buf.getvalue())


def _stage(conn: Connection, name: str, frames: pl.DataFrame | Iterable[pl.DataFrame]) -> int:
    """Fill the temporary table ``name`` from one frame or a stream of them (one shard at
    a time); returns the rows staged."""
    conn.execute(sqlfiles.statement(f"write/drop_{name}"))
    conn.execute(sqlfiles.statement(f"write/create_{name}"))
    staged = 0
    for frame in [frames] if isinstance(frames, pl.DataFrame) else frames:
        if frame.is_empty():
            continue
        if conn.dialect.name == "postgresql":
            _copy_frame(conn, name, frame)
        else:
            conn.execute(sqlfiles.statement(f"write/insert_{name}"), frame.to_dicts())
        staged += frame.height
    return staged


def write_day(
    engine: Engine,
    challenge_date: date,
    challenges: pl.DataFrame,
    assignments: pl.DataFrame | Iterable[pl.DataFrame],
    *,
    force: bool,
    challenges_per_user: int,
    written_at: datetime,
    limits: SessionLimits | None = None,
    log: logging.Logger | logging.LoggerAdapter[Any] | None = None,
) -> WriteCounts:
    """Write one day's challenges and assignments in one transaction.

    ``challenges`` has :data:`CHALLENGE_COLUMNS`; ``assignments`` (a frame, or a stream
    of frames such as one per shard) has user_id, slot, content_key, reason. Without
    ``force`` existing slots are never touched; with it, a slot is replaced only while its
    progress is 0 and it is not completed.

    The app writes progress while we write (docs/contract.md, "Writing progress"). With
    ``force`` the rows that may be replaced are locked first (``SELECT … FOR UPDATE`` in
    (user, slot) order on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the
    database) and copied as read under the lock into ``stage_replaceable``; only rows still
    exactly as read (same challenge, progress 0, not completed) are replaced, and a
    replaced row is deleted and inserted anew, not updated in place: an app update of that
    row waiting on our lock then matches 0 rows after our commit instead of landing on the
    new challenge. An app update that got its lock first keeps its row.

    Every lock wait is bounded by ``limits.lock_timeout_seconds``; while waiting, who
    holds the lock is logged to ``log`` every ``limits.lock_report_seconds``, and at the
    bound :class:`~daglig.lock.LockWaitTimeout` names the holder.
    """
    limits = limits or SessionLimits()
    params: dict[str, Any] = {
        "challenge_date": challenge_date,
        "written_at": written_at,
        "force": force,
        "challenges_per_user": challenges_per_user,
    }
    what = f"the write of {challenge_date.isoformat()}"
    with engine.begin() as conn:
        watch = LockWatch(engine, conn, what, limits.lock_report_seconds, log)
        with watch:
            try:
                counts = _write(conn, watch, params, challenges, assignments, force)
            except OperationalError as exc:
                if _lock_timed_out(exc):
                    raise LockWaitTimeout(
                        watch.timeout_message(limits.lock_timeout_seconds)
                    ) from exc
                raise
    return counts


def _lock_timed_out(exc: OperationalError) -> bool:
    """PostgreSQL's lock_timeout (55P03). SQLite's busy timeout stays "database is
    locked", which the retry policy retries (tasks/retry.py)."""
    return getattr(exc.orig, "sqlstate", None) == "55P03"


def _write(
    conn: Connection,
    watch: LockWatch,
    params: dict[str, Any],
    challenges: pl.DataFrame,
    assignments: pl.DataFrame | Iterable[pl.DataFrame],
    force: bool,
) -> WriteCounts:
    postgres = conn.dialect.name == "postgresql"
    watch.waiting(True)
    lock_day(conn, params["challenge_date"])  # one writer per date; see daglig/lock.py
    watch.waiting(False)
    _stage(conn, "stage_challenges", challenges.select(CHALLENGE_COLUMNS))
    staged = _stage(
        conn,
        "stage_assignments",
        (
            a.select("user_id", "slot", "content_key", "reason")
            for a in ([assignments] if isinstance(assignments, pl.DataFrame) else assignments)
        ),
    )
    conn.execute(sqlfiles.statement("write/drop_stage_replaceable"))
    conn.execute(sqlfiles.statement("write/create_stage_replaceable"))
    if postgres:
        conn.execute(sqlfiles.statement("write/analyze_stage_postgresql"))
    replaced = surplus = orphans = 0
    if force:
        # lock what may be replaced, in (user, slot) order, and keep it as read
        conn.execute(
            sqlfiles.statement(f"write/stage_replaceable_{'postgresql' if postgres else 'sqlite'}"),
            params,
        )
        if postgres:
            conn.execute(sqlfiles.statement("write/analyze_replaceable_postgresql"))
    ins_c = conn.execute(sqlfiles.statement("write/insert_challenges"), params).rowcount
    if force:
        replaced = conn.execute(sqlfiles.statement("write/delete_replaced"), params).rowcount
        surplus = conn.execute(sqlfiles.statement("write/delete_surplus_slots"), params).rowcount
    written = conn.execute(sqlfiles.statement("write/insert_assignments"), params).rowcount
    if force:
        orphans = conn.execute(
            sqlfiles.statement("write/delete_orphan_challenges"), params
        ).rowcount
    for name in ("stage_challenges", "stage_assignments", "stage_replaceable"):
        conn.execute(sqlfiles.statement(f"write/drop_{name}"))
    inserted = written - replaced
    return WriteCounts(
        challenges_inserted=ins_c,
        assignments_inserted=inserted,
        assignments_replaced=replaced,
        assignments_kept=staged - inserted - replaced,
        surplus_slots_deleted=surplus,
        orphan_challenges_deleted=orphans,
        assignments_staged=staged,
    )
