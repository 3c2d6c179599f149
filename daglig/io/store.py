"""The pipeline's database I/O: health, admin settings, and the day's transactional write.

Writes go through temporary staging tables and ``INSERT … ON CONFLICT`` in one
transaction per run date: a failure anywhere rolls the whole day back, so the previous
state stays intact, and a rerun is idempotent. On PostgreSQL the staging tables are
filled with COPY; on SQLite with ``executemany``. On PostgreSQL a date with no rows yet
(the nightly run's usual case), without ``force``, skips the staging: COPY straight into
``daily_challenges`` and ``user_daily_challenges`` in the same transaction, under the same
day lock (``path="copy"`` in :class:`WriteCounts`; docs/scale.md, "A date with no
rows: COPY straight in").
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from daglig.challenge_settings import ChallengeSettings, parse_challenge_settings
from daglig.challenges import CHALLENGE_COLUMNS
from daglig.config import SessionLimits
from daglig.error_text import error_line
from daglig.io.db import sql_statement
from daglig.io.lock import LockWaitTimeout, LockWatch, lock_day
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
    read_only: str | None = None  # why a run could not write here; None: it can


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
    # "upsert": staging + INSERT … ON CONFLICT; "copy": COPY straight into the tables
    # (PostgreSQL, a date with no rows yet, no force)
    path: str = "upsert"
    exam_paths_written: int = 0  # rows of learner_exam_paths: the plans made tonight


def check_health(
    engine: Engine, safe_url: str, create_missing: bool, for_write: bool | None = None
) -> HealthReport:
    """Database reachable, app tables present, settings readable, and (``for_write``,
    default ``create_missing``) writable; create the pipeline's tables when missing
    (unless ``create_missing`` is false, as in a dry run). Fails with one line."""
    for_write = create_missing if for_write is None else for_write
    try:
        with engine.connect() as conn:
            conn.execute(sql_statement("health/ping"))
            present = set(inspect(conn).get_table_names())
    except SQLAlchemyError as exc:
        raise HealthCheckFailed(f"database {safe_url} unreachable: {error_line(exc)}") from None
    missing_app = [t for t in APP_TABLES if t not in present]
    if missing_app:
        raise HealthCheckFailed(
            f"database {safe_url} lacks the app tables {', '.join(missing_app)} "
            "(run `daglig simulate` for a demo database)"
        )
    missing = tuple(t for t in PIPELINE_TABLES if t not in present)
    read_only = write_problem(engine, present)
    if read_only and for_write:
        raise HealthCheckFailed(
            f"database {safe_url} is read-only: a run could not write ({read_only}); "
            "only a dry run can work (`daglig health-check --dry-run`)"
        )
    created: tuple[str, ...] = ()
    if missing and create_missing:
        try:
            with engine.begin() as conn:
                create_pipeline_tables(conn)
        except SQLAlchemyError as exc:
            raise HealthCheckFailed(
                f"cannot create the pipeline tables {', '.join(missing)}: {error_line(exc)}"
            ) from None
        created = missing
    if "challenge_settings" in present or created:
        try:
            read_settings_rows(engine)
        except SQLAlchemyError as exc:
            raise HealthCheckFailed(f"challenge_settings unreadable: {error_line(exc)}") from None
    return HealthReport(safe_url, engine.dialect.name, missing, created, read_only)


WRITTEN_TABLES = ("daily_challenges", "user_daily_challenges", "pipeline_runs")


def write_problem(engine: Engine, present: set[str]) -> str | None:
    """Why a run could not write to this database, found without writing; None: it can.

    SQLite: the file and its folder (the journal lives there) must be writable, which
    ``chattr +i``, a read-only mount or permissions prevent (``os.access`` sees all three,
    for root too). PostgreSQL: not a standby, no read-only default for the role or the
    database, CREATE on the schema when pipeline tables are missing, and INSERT, UPDATE and
    DELETE on those present."""
    if engine.dialect.name == "sqlite":
        import os
        from pathlib import Path

        name = (engine.url.database or "").removeprefix("file:")
        if not name or name == ":memory:":
            return None
        path = Path(name)
        if path.exists() and not os.access(path, os.W_OK):
            return f"the file {path} is not writable"
        if not os.access(path.parent, os.W_OK):
            return f"its folder {path.parent} is not writable (SQLite keeps its journal there)"
        return None
    if engine.dialect.name != "postgresql":
        return None
    try:
        with engine.connect() as conn:
            row = conn.execute(sql_statement("health/writable_postgresql")).one()
            if row.standby:
                return "the server is a standby (in recovery)"
            if row.read_only:
                return "transactions are read-only (default_transaction_read_only)"
            missing = [t for t in PIPELINE_TABLES if t not in present]
            if missing and not row.can_create:
                return f"no CREATE on the schema for the missing tables {', '.join(missing)}"
            for table in (t for t in WRITTEN_TABLES if t in present):
                ok = conn.execute(
                    sql_statement("health/table_writable_postgresql"),
                    {"table_name": table},
                ).scalar_one()
                if not ok:
                    return f"no INSERT, UPDATE and DELETE on {table}"
    except SQLAlchemyError as exc:
        return f"its write access could not be checked: {error_line(exc)}"
    return None


class UnknownUsers(ValueError):
    """Requested user ids the database does not have (or, where asked, inactive ones)."""


def requested_users(engine: Engine, user_ids: Iterable[int]) -> dict[int, bool | None]:
    """For each requested id: True (active), False (inactive) or None (no such user)."""
    found: dict[int, bool | None] = {}
    with engine.connect() as conn:
        for uid in dict.fromkeys(user_ids):
            row = conn.execute(sql_statement("admin/user"), {"user_id": uid}).first()
            found[uid] = None if row is None else bool(row.is_active)
    return found


def check_requested_users(
    engine: Engine, safe_url: str, user_ids: Iterable[int], *, allow_inactive: bool
) -> None:
    """Raise UnknownUsers naming the ids that do not exist (and, unless
    ``allow_inactive``, the inactive ones: they get no challenges)."""
    found = requested_users(engine, user_ids)
    unknown = [str(u) for u, active in found.items() if active is None]
    inactive = [str(u) for u, active in found.items() if active is False]
    if unknown:
        who = f"user {unknown[0]} does" if len(unknown) == 1 else f"users {', '.join(unknown)} do"
        raise UnknownUsers(f"{who} not exist in {safe_url}")
    if inactive and not allow_inactive:
        who = f"user {inactive[0]} is" if len(inactive) == 1 else f"users {', '.join(inactive)} are"
        raise UnknownUsers(f"{who} inactive in {safe_url}: inactive users get no challenges")


def read_settings_rows(engine: Engine) -> dict[str, str]:
    """The raw ``challenge_settings`` rows; empty when the table does not exist yet."""
    if not inspect(engine).has_table("challenge_settings"):
        return {}
    with engine.connect() as conn:
        return {k: v for k, v in conn.execute(sql_statement("read/challenge_settings"))}


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
    conn.execute(sql_statement(f"write/drop_{name}"))
    conn.execute(sql_statement(f"write/create_{name}"))
    staged = 0
    for frame in [frames] if isinstance(frames, pl.DataFrame) else frames:
        if frame.is_empty():
            continue
        if conn.dialect.name == "postgresql":
            _copy_frame(conn, name, frame)
        else:
            conn.execute(sql_statement(f"write/insert_{name}"), frame.to_dicts())
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
    copy_when_empty: bool = True,
    exam_paths: Iterable[pl.DataFrame] = (),
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
    bound :class:`~daglig.io.lock.LockWaitTimeout` names the holder.

    On PostgreSQL, without ``force``, a date that has no challenge row yet, hence no
    assignment (asked under the day's lock, ``sql/write/day_has_challenges.sql``), is
    written by COPY straight into the two tables instead (``path="copy"``): with no
    assignment there is no progress to keep and nothing to conflict with, and neither the
    app nor another writer can add one before our commit (the app only updates; a second
    writer waits on the day's lock, then finds the date written). The counts are the same
    as the upsert's. ``copy_when_empty=False`` keeps the upsert (the bench
    compares the two).

    ``exam_paths``: the learners' exam paths planned tonight (rows of
    ``learner_exam_paths``, one frame per shard), written in the same transaction: a
    plan of the same learner and start is replaced, so a rerun writes the same rows.
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
                counts = _write(
                    conn, watch, params, challenges, assignments, force, copy_when_empty
                )
                counts = replace(counts, exam_paths_written=_write_exam_paths(conn, exam_paths))
            except OperationalError as exc:
                if _lock_timed_out(exc):
                    raise LockWaitTimeout(
                        watch.timeout_message(limits.lock_timeout_seconds)
                    ) from exc
                raise
    return counts


def _write_exam_paths(conn: Connection, plans: Iterable[pl.DataFrame]) -> int:
    """The exam paths planned tonight, replacing a plan of the same (learner, start). The
    table is made here when missing (a database from before it: the health check creates
    only the contract's tables when they are missing)."""
    from models import Base

    written = 0
    cleared = pl.DataFrame(schema={"user_id": pl.Int64, "plan_start": pl.Date})
    for frame in plans:
        if frame.is_empty():
            continue
        if not written:
            Base.metadata.tables["learner_exam_paths"].create(conn, checkfirst=True)
        # each (learner, start) cleared once per write, whichever frame holds its rows
        starts = (
            frame.select(pl.col("user_id").cast(pl.Int64), pl.col("plan_start").cast(pl.Date))
            .unique()
            .join(cleared, on=["user_id", "plan_start"], how="anti")
            .sort("user_id")
        )
        if not starts.is_empty():
            conn.execute(sql_statement("write/delete_exam_paths"), starts.to_dicts())
            cleared = pl.concat([cleared, starts])
        rows = frame.select(
            "user_id", "plan_start", pl.col("day_no").cast(pl.Int32), "category", "planned_mastery"
        ).to_dicts()
        conn.execute(sql_statement("write/insert_exam_paths"), rows)
        written += frame.height
    return written


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
    copy_when_empty: bool = True,
) -> WriteCounts:
    postgres = conn.dialect.name == "postgresql"
    watch.waiting(True)
    lock_day(conn, params["challenge_date"])  # one writer per date; see daglig/io/lock.py
    watch.waiting(False)
    if (
        postgres
        and copy_when_empty
        and not force
        and not conn.execute(sql_statement("write/day_has_challenges"), params).scalar_one()
    ):
        return _copy_direct(conn, params, challenges, assignments)
    _stage(conn, "stage_challenges", challenges.select(CHALLENGE_COLUMNS))
    staged = _stage(
        conn,
        "stage_assignments",
        (
            a.select("user_id", "slot", "content_key", "reason")
            for a in ([assignments] if isinstance(assignments, pl.DataFrame) else assignments)
        ),
    )
    conn.execute(sql_statement("write/drop_stage_replaceable"))
    conn.execute(sql_statement("write/create_stage_replaceable"))
    if postgres:
        conn.execute(sql_statement("write/analyze_stage_postgresql"))
    replaced = surplus = orphans = 0
    if force:
        # lock what may be replaced, in (user, slot) order, and keep it as read
        conn.execute(
            sql_statement(f"write/stage_replaceable_{'postgresql' if postgres else 'sqlite'}"),
            params,
        )
        if postgres:
            conn.execute(sql_statement("write/analyze_replaceable_postgresql"))
    ins_c = conn.execute(sql_statement("write/insert_challenges"), params).rowcount
    if force:
        replaced = conn.execute(sql_statement("write/delete_replaced"), params).rowcount
        surplus = conn.execute(sql_statement("write/delete_surplus_slots"), params).rowcount
    written = conn.execute(sql_statement("write/insert_assignments"), params).rowcount
    if force:
        orphans = conn.execute(sql_statement("write/delete_orphan_challenges"), params).rowcount
    for name in ("stage_challenges", "stage_assignments", "stage_replaceable"):
        conn.execute(sql_statement(f"write/drop_{name}"))
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


def _copy_direct(
    conn: Connection,
    params: dict[str, Any],
    challenges: pl.DataFrame,
    assignments: pl.DataFrame | Iterable[pl.DataFrame],
) -> WriteCounts:
    """PostgreSQL, a date with no rows yet (checked under the day's lock): COPY straight
    into the final tables, one assignment frame (shard) at a time. Writes what the upsert
    would: the challenges some assignment points at, each once, and every assignment whose
    content_key has a challenge (the upsert's join drops the others; they count as kept)."""
    day = params["challenge_date"]
    at = conn.execute(sql_statement("write/written_at_postgresql"), params).scalar_one()
    pool = challenges.select(CHALLENGE_COLUMNS)
    ids = pl.DataFrame(schema={"content_key": pl.String, "challenge_id": pl.Int64})
    staged = written = added = 0
    for frame in [assignments] if isinstance(assignments, pl.DataFrame) else assignments:
        if frame.is_empty():
            continue
        staged += frame.height
        new = pool.join(frame.select("content_key").unique(), on="content_key", how="semi").join(
            ids, on="content_key", how="anti"
        )
        if not new.is_empty():
            _copy_frame(
                conn,
                "daily_challenges",
                new.with_columns(challenge_date=pl.lit(day), created_at=pl.lit(at)),
            )
            added += new.height
            ids = pl.DataFrame(
                conn.execute(sql_statement("write/day_challenge_ids"), params).all(),
                schema={"content_key": pl.String, "challenge_id": pl.Int64},
                orient="row",
            )
        rows = frame.join(ids, on="content_key", how="inner").select(
            "user_id",
            pl.lit(day).alias("challenge_date"),
            "slot",
            "challenge_id",
            "reason",
            pl.lit(0).alias("progress"),
            pl.lit(at).alias("assigned_at"),
        )
        if not rows.is_empty():
            _copy_frame(conn, "user_daily_challenges", rows)
        written += rows.height
    return WriteCounts(
        challenges_inserted=added,
        assignments_inserted=written,
        assignments_replaced=0,
        assignments_kept=staged - written,
        surplus_slots_deleted=0,
        orphan_challenges_deleted=0,
        assignments_staged=staged,
        path="copy",
    )
