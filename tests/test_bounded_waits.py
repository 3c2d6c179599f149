"""Bounded database waits (issue 12, item 13): our PostgreSQL sessions carry lock_timeout,
statement_timeout, idle_in_transaction_session_timeout and application_name=daglig;
SQLite's busy timeout is the same lock setting. While the day's write waits for a lock it
logs who holds it; at the bound the run fails with one line naming the holder.

Measured before: a frozen writer holding the day's lock made the second run wait in
silence (killed at 200 s); an app transaction holding the day's rows did the same to a
``--force`` rerun (killed at 150 s)."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from daglig.config import SessionLimits, Settings
from daglig.io.db import adbc_connection, make_engine
from daglig.io.lock import day_lock_key
from models import create_pipeline_tables
from tests.builders import AppDataBuilder
from tests.cli import cli_env, daglig
from tests.dq_helpers import RUN, latest_flow_run, query, run_logs, task_runs

RUN_NAME = f"daily-challenges-{RUN.isoformat()}"


def build_app(url: str) -> None:
    b = AppDataBuilder()
    for i in range(8):
        b.answers(b.user(), "traffic_signs", 20 + i, correct=0.7)
    b.write(url)
    engine = make_engine(url)
    create_pipeline_tables(engine)
    engine.dispose()


def connect(url: str, application_name: str) -> psycopg.Connection[Any]:
    u = make_url(url)
    return psycopg.connect(
        host=u.host,
        port=u.port or 5432,
        user=u.username,
        dbname=u.database,
        application_name=application_name,
        autocommit=True,
    )


# ------------------------------------------------------------- the session parameters


@pytest.mark.postgres
def test_our_postgres_sessions_are_bounded_and_named(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGLIG_DB_LOCK_TIMEOUT_SECONDS", "7")
    monkeypatch.setenv("DAGLIG_DB_STATEMENT_TIMEOUT_SECONDS", "600")
    monkeypatch.setenv("DAGLIG_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "90")
    limits = Settings().session_limits()
    sql = (
        "SELECT current_setting('lock_timeout'), current_setting('statement_timeout'), "
        "current_setting('idle_in_transaction_session_timeout'), "
        "current_setting('application_name')"
    )
    expected = ("7s", "10min", "90s", "daglig")
    engine = make_engine(postgres_url, limits)
    try:
        with engine.connect() as conn:
            assert tuple(conn.execute(text(sql)).one()) == expected  # SQLAlchemy / psycopg
    finally:
        engine.dispose()
    with adbc_connection(postgres_url, limits) as (conn, _), conn.cursor() as cur:  # ADBC
        cur.execute(sql)
        assert tuple(cur.fetchone()) == expected
    # the defaults, when a caller passes none
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert tuple(conn.execute(text(sql)).one()) == ("2min", "30min", "5min", "daglig")
    finally:
        engine.dispose()


def test_sqlite_waits_its_busy_timeout_then_says_locked(sqlite_url: str) -> None:
    path = make_url(sqlite_url).database
    assert path
    build_app(sqlite_url)
    # another writer holds the database (released from a timer thread below)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    short = make_engine(sqlite_url, SessionLimits(lock_timeout_seconds=0.3))
    patient = make_engine(sqlite_url, SessionLimits(lock_timeout_seconds=20))
    write = (
        "INSERT INTO challenge_settings (key, value, updated_at) VALUES (:k, 'true', '2026-11-01')"
    )
    try:
        with pytest.raises(OperationalError, match="database is locked"), short.begin() as conn:
            conn.execute(text(write), {"k": "a"})
        threading.Timer(0.5, lambda: holder.execute("ROLLBACK")).start()
        with patient.begin() as conn:  # waits for the holder instead of failing
            conn.execute(text(write), {"k": "b"})
    finally:
        short.dispose()
        patient.dispose()
        holder.close()
    assert query(sqlite_url, "SELECT key FROM challenge_settings") == [("b",)]


# -------------------------------------------------------------- a frozen writer


def _run(url: str, tmp_path: Path, prefect_api: str, *args: str) -> tuple[Any, Any]:
    env = cli_env(
        url,
        tmp_path / "data",
        prefect_api,
        db_lock_timeout_seconds=4,
        db_lock_report_seconds=1,
    )
    t0 = datetime.now(UTC)
    r = daglig("run", "--date", RUN.isoformat(), *args, env=env, timeout=240)
    return r, latest_flow_run(RUN_NAME + ("-force" if "--force" in args else ""), t0)


def holder_line(lines: list[str], pid: int) -> str:
    """The terminal's line naming the lock timeout and its holder."""
    found = [ln for ln in lines if "LockWaitTimeout" in ln and f"pid {pid}" in ln]
    assert found, lines
    return found[-1]


def _waiting_daglig(watch: psycopg.Connection[Any], holder_pid: int) -> bool:
    row = watch.execute(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'daglig' "
        "AND %s = ANY (pg_blocking_pids(pid))",
        (holder_pid,),
    ).fetchone()
    return bool(row and row[0])


@pytest.mark.postgres
def test_a_frozen_writer_holding_the_day_fails_the_next_run_naming_it(
    postgres_url: str, tmp_path: Path, prefect_api: str
) -> None:
    build_app(postgres_url)
    namespace, key = day_lock_key(RUN)
    seen_waiting: list[bool] = []
    with connect(postgres_url, "frozen-writer") as frozen, connect(postgres_url, "t") as watch:
        frozen.execute("BEGIN")
        frozen.execute("SELECT pg_advisory_xact_lock(%s, %s)", (namespace, key))
        pid = frozen.info.backend_pid

        def watch_for_us() -> None:  # DBAs see who waits: application_name daglig
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not seen_waiting:
                if _waiting_daglig(watch, pid):
                    seen_waiting.append(True)
                time.sleep(0.1)

        th = threading.Thread(target=watch_for_us, daemon=True)
        th.start()
        r, flow_run = _run(postgres_url, tmp_path, prefect_api)
        th.join(timeout=5)
        frozen.execute("ROLLBACK")
    assert r.returncode == 1, r
    assert seen_waiting == [True]
    # one line names the holder and the bound (on the terminal and in pipeline_runs)
    line = holder_line(r.err_lines, pid)
    assert "'frozen-writer'" in line and "idle in transaction" in line
    assert "4 s (DAGLIG_DB_LOCK_TIMEOUT_SECONDS)" in line
    runs = task_runs(flow_run.id, {"upsert-challenges", "record-run"})
    assert runs["upsert-challenges"] == ("FAILED", 1)  # a deliberate bound: not retried
    # while it waited, it said who holds the lock, every second or so
    logs = [ln for ln in run_logs(flow_run.id) if "waiting" in ln and f"pid {pid}" in ln]
    assert len(logs) >= 2, logs
    ((status, error),) = query(postgres_url, "SELECT status, error FROM pipeline_runs")
    assert status == "failed" and error.startswith("upsert-challenges: LockWaitTimeout")
    assert "\n" not in error and f"pid {pid}" in error
    assert query(postgres_url, "SELECT COUNT(*) FROM user_daily_challenges") == [(0,)]


@pytest.mark.postgres
def test_an_app_transaction_holding_the_days_rows_bounds_a_forced_rerun(
    postgres_url: str, tmp_path: Path, prefect_api: str
) -> None:
    build_app(postgres_url)
    first, _ = _run(postgres_url, tmp_path, prefect_api)
    assert first.returncode == 0, first
    before = query(postgres_url, "SELECT user_id, slot, challenge_id FROM user_daily_challenges")
    with connect(postgres_url, "the-app") as app:
        app.execute("BEGIN")  # an app transaction that stalls holding the day's rows
        app.execute(
            "SELECT 1 FROM user_daily_challenges WHERE challenge_date = %s FOR UPDATE", (RUN,)
        )
        pid = app.info.backend_pid
        r, flow_run = _run(postgres_url, tmp_path, prefect_api, "--force")
        app.execute("ROLLBACK")
    assert r.returncode == 1, r
    assert "'the-app'" in holder_line(r.err_lines, pid)
    runs = task_runs(flow_run.id, {"upsert-challenges"})
    assert runs["upsert-challenges"] == ("FAILED", 1)
    after = query(postgres_url, "SELECT user_id, slot, challenge_id FROM user_daily_challenges")
    assert sorted(after) == sorted(before)  # nothing changed
    again, _ = _run(postgres_url, tmp_path, prefect_api, "--force")  # the app is done
    assert again.returncode == 0, again


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("DAGLIG_DB_LOCK_TIMEOUT_SECONDS", "0"),
        ("DAGLIG_DB_LOCK_TIMEOUT_SECONDS", "-5"),
        ("DAGLIG_DB_STATEMENT_TIMEOUT_SECONDS", "0"),
        ("DAGLIG_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "100000"),
        ("DAGLIG_DB_LOCK_REPORT_SECONDS", "0"),
    ],
)
def test_wait_settings_out_of_bounds_are_refused(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert var.removeprefix("DAGLIG_").lower() in str(info.value)
