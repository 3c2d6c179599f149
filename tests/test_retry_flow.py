"""Retries by kind, as a run meets them (issue 12, item 6): a permanent error fails its task
after ONE attempt, a transient one is retried and the run then succeeds. Attempts are
counted through the Prefect API (task runs' ``run_count``)."""

from __future__ import annotations

import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from daglig.io.db import make_engine
from models import create_pipeline_tables
from tests.builders import AppDataBuilder
from tests.cli import cli_env, daglig
from tests.dq_helpers import (
    RUN,
    flow_env,
    latest_flow_run,
    query,
    run_flow,
    task_run_messages,
    task_runs,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")
RUN_NAME = f"daily-challenges-{RUN.isoformat()}"


def build_app(url: str) -> None:
    """13 learners, 10 of them with some history."""
    b = AppDataBuilder()
    for i in range(13):
        uid = b.user()
        if i < 10:
            b.answers(uid, ["traffic_signs", "right_of_way"][i % 2], 20 + 5 * i, correct=0.7)
    b.write(url)


def execute(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.execute(text(sql))
    finally:
        engine.dispose()


def run_cli(
    url: str,
    tmp_path: Path,
    prefect_api: str,
    expect: set[str],
    always: frozenset[str] = frozenset({"check-health", "record-run"}),
) -> tuple[Any, dict[str, tuple[str, int]]]:
    """``daglig run --date RUN`` the way a person types it, and its task runs (once the
    ``expect``ed ones and those every run has are recorded)."""
    r, runs, _ = run_cli_with_messages(url, tmp_path, prefect_api, expect, always)
    return r, runs


def run_cli_with_messages(
    url: str,
    tmp_path: Path,
    prefect_api: str,
    expect: set[str],
    always: frozenset[str] = frozenset({"check-health", "record-run"}),
) -> tuple[Any, dict[str, tuple[str, int]], dict[str, str]]:
    """:func:`run_cli`, and the task runs' final state messages."""
    t0 = datetime.now(UTC)
    r = daglig("run", "--date", RUN.isoformat(), env=cli_env(url, tmp_path / "data", prefect_api))
    flow_run = latest_flow_run(RUN_NAME, t0)
    runs = task_runs(flow_run.id, {*always, *expect})
    return r, runs, task_run_messages(flow_run.id)


def assert_no_task_retried(runs: dict[str, tuple[str, int]]) -> None:
    assert {name: n for name, (_, n) in runs.items() if n != 1} == {}


def test_a_programming_error_fails_after_one_attempt(
    db_url: str, tmp_path: Path, prefect_api: str
) -> None:
    """The app renamed a column the answer log read uses: ProgrammingError, not retried."""
    build_app(db_url)
    execute(db_url, "ALTER TABLE question_attempts RENAME COLUMN time_spent_seconds TO time_spent")
    r, runs = run_cli(db_url, tmp_path, prefect_api, {"read-answer-log"})
    assert r.returncode == 1, r
    assert runs["read-answer-log"] == ("FAILED", 1), runs
    assert_no_task_retried(runs)


TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER maintenance BEFORE INSERT ON daily_challenges "
        "BEGIN SELECT RAISE(ABORT, 'daily_challenges is read-only during maintenance'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION maintenance() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'daily_challenges is read-only during maintenance' "
        "USING ERRCODE = 'check_violation'; END $$",
        "CREATE TRIGGER maintenance BEFORE INSERT ON daily_challenges "
        "FOR EACH ROW EXECUTE FUNCTION maintenance()",
    ],
}


def test_a_constraint_error_in_the_write_fails_after_one_attempt(
    db_url: str, tmp_path: Path, prefect_api: str
) -> None:
    build_app(db_url)
    engine = make_engine(db_url)
    create_pipeline_tables(engine)
    dialect = engine.dialect.name
    engine.dispose()
    execute(db_url, *TRIGGER[dialect])
    r, runs, messages = run_cli_with_messages(db_url, tmp_path, prefect_api, {"upsert-challenges"})
    assert r.returncode == 1, r
    assert runs["upsert-challenges"] == ("FAILED", 1), runs
    assert_no_task_retried(runs)
    # what the Prefect UI shows for the failed task: one line, no statement, no parameters
    # (SQLAlchemy's IntegrityError; psycopg's own class where a date with no rows yet is
    # written by COPY on PostgreSQL)
    assert messages["upsert-challenges"] in {
        f"{kind}: daily_challenges is read-only during maintenance"
        for kind in ("IntegrityError", "CheckViolation")
    }, messages
    assert query(db_url, "SELECT COUNT(*) FROM user_daily_challenges") == [(0,)]


def test_a_read_only_sqlite_database_is_not_retried(
    sqlite_url: str, tmp_path: Path, prefect_api: str
) -> None:
    """Measured before: 82 s, 44 s of them retry waits of the write and of record-run."""
    build_app(sqlite_url)
    engine = make_engine(sqlite_url)
    create_pipeline_tables(engine)
    engine.dispose()  # the last connection checkpoints the WAL: one file to freeze
    path = make_url(sqlite_url).database
    assert path
    subprocess.run(["chattr", "+i", path], check=True)  # root ignores file modes
    try:
        # the health check finds the database read-only and the run stops there: nothing
        # to record a run in, but the morning report and its email still go out
        r, runs = run_cli(
            sqlite_url, tmp_path, prefect_api, {"send-summary-email"}, always=frozenset()
        )
    finally:
        subprocess.run(["chattr", "-i", path], check=True)
    assert r.returncode == 1, r
    assert runs["check-health"] == ("FAILED", 1), runs
    assert "read-answer-log" not in runs and "write-challenges" not in runs, runs
    assert len(r.err_lines) == 1 and "read-only" in r.err_lines[0], r
    assert_no_task_retried(runs)


# ------------------------------------------------------------------------ transient


def _pg(url: str) -> psycopg.Connection[Any]:
    u = make_url(url)
    return psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, autocommit=True
    )


@pytest.mark.postgres
def test_a_terminated_connection_mid_write_is_retried_and_the_run_succeeds(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The write's backend is terminated (pg_terminate_backend, SQLSTATE 57P01) while it
    waits inside its transaction: the task is retried and the second attempt writes."""
    build_app(postgres_url)
    engine = make_engine(postgres_url)
    create_pipeline_tables(engine)
    engine.dispose()
    flow_env(monkeypatch, postgres_url, tmp_path)
    killed: list[int] = []
    errors: list[BaseException] = []
    with _pg(postgres_url) as blocker, _pg(postgres_url) as watcher:
        blocker.execute("BEGIN")
        blocker.execute("LOCK TABLE user_daily_challenges IN SHARE MODE")

        def kill_the_waiting_write() -> None:
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    row = watcher.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND application_name = 'daglig' AND wait_event_type = 'Lock'"
                    ).fetchone()
                    if row:
                        watcher.execute("SELECT pg_terminate_backend(%s)", (row[0],))
                        killed.append(row[0])
                        return
                    time.sleep(0.05)
            except BaseException as exc:  # noqa: BLE001 - handed back to the test
                errors.append(exc)
            finally:
                blocker.execute("ROLLBACK")  # the retry finds the table free

        th = threading.Thread(target=kill_the_waiting_write)
        th.start()
        state = run_flow(return_state=True)
        th.join(timeout=30)
    assert errors == [] and len(killed) == 1
    assert state.is_completed(), state.message
    runs = task_runs(state.state_details.flow_run_id, {"upsert-challenges"})
    assert runs["upsert-challenges"] == ("COMPLETED", 2)  # killed once, then written
    assert query(postgres_url, "SELECT COUNT(*) FROM user_daily_challenges") == [(39,)]
