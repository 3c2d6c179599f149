"""Faults a night can bring, against PostgreSQL: the process killed mid-write, the database
unreachable at the start or gone mid-run, the mail server down. Each leaves the previous
state intact (nothing lost, nothing doubled) and says what happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from daglig.io.store import HealthCheckFailed
from tests.builders import AppDataBuilder
from tests.dq_helpers import (
    RUN,
    body,
    flow_env,
    free_port,
    outbox,
    query,
    run_artifacts,
    run_flow,
    set_settings,
    smtp_server,
    snapshot,
    task_runs,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")
REPO = Path(__file__).resolve().parent.parent


def build_app(url: str) -> list[int]:
    """10 learners with some history, 3 new ones; returns the active user ids."""
    b = AppDataBuilder()
    users = []
    for i in range(13):
        uid = b.user()
        users.append(uid)
        if i < 10:
            b.answers(uid, ["traffic_signs", "right_of_way"][i % 2], 20 + 5 * i, correct=0.7)
    b.write(url)
    return users


def psql(url: str) -> psycopg.Connection[Any]:
    u = make_url(url)
    return psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, autocommit=True
    )


def admin(url: str) -> psycopg.Connection[Any]:
    return psql(make_url(url).set(database="postgres").render_as_string(hide_password=False))


def no_retry_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flow's I/O tasks, retrying at once (the production delays are 2, 5 and 15 s)."""
    import flows.daily_challenges as fd

    for name in ("upsert_challenges", "send_summary_email"):
        monkeypatch.setattr(fd, name, getattr(fd, name).with_options(retry_delay_seconds=0))
    import tasks.runs as runs  # the run's own bookkeeping row (it retries too)

    monkeypatch.setattr(runs, "record_run", runs.record_run.with_options(retry_delay_seconds=0))


# ----------------------------------------------------------------------------- SIGKILL


def _start_progress(url: str, users: list[int]) -> None:
    with psql(url) as conn:
        conn.execute(
            "UPDATE user_daily_challenges SET progress = 3 WHERE user_id = %s AND slot = 1",
            (users[0],),
        )
        conn.execute(
            "UPDATE user_daily_challenges SET progress = 10, completed_at = %s WHERE user_id = %s",
            (datetime(2026, 11, 24, 9), users[1]),
        )


def _wait_for(
    conn: psycopg.Connection[Any],
    sql: str,
    params: tuple[Any, ...],
    proc: subprocess.Popen[bytes] | None = None,
) -> Any:
    for _ in range(1200):  # the subprocess imports Prefect, GX, ...: allow two minutes
        row = conn.execute(sql, params).fetchone()
        if row is not None:
            return row
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before: {sql}")
        time.sleep(0.1)
    activity = conn.execute(
        "SELECT pid, state, wait_event_type, left(query, 80) FROM pg_stat_activity "
        "WHERE datname = current_database()"
    ).fetchall()
    raise AssertionError(f"timed out waiting for: {sql}; activity: {activity}")


@pytest.mark.postgres
def test_sigkill_during_the_write_loses_nothing_and_a_rerun_completes(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    users = build_app(postgres_url)
    flow_env(monkeypatch, postgres_url, tmp_path)
    run_flow()
    _start_progress(postgres_url, users)
    # what a forced rerun would replace: fewer, different challenges
    set_settings(postgres_url, enabled_types=["quiz", "accuracy_challenge"], challenges_per_user=2)
    before = snapshot(postgres_url)
    ((challenges_before,),) = query(postgres_url, "SELECT COUNT(*) FROM daily_challenges")

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    dbname = make_url(postgres_url).database
    # pg_stat_activity is a snapshot per transaction: watch from outside the blocker's
    with psql(postgres_url) as blocker, psql(postgres_url) as watcher:
        # SHARE mode lets the writer read and insert challenges, but not touch assignments:
        # it stops inside its transaction, after writing daily_challenges rows.
        blocker.execute("BEGIN")
        blocker.execute("LOCK TABLE user_daily_challenges IN SHARE MODE")
        log = (tmp_path / "killed-run.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "daglig.cli", "run", "--date", RUN.isoformat(), "--force"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            (pid,) = _wait_for(
                watcher,
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
                "AND query ILIKE '%%user_daily_challenges%%'",
                (dbname,),
                proc,
            )
            # mid-write: it holds a row-exclusive lock on daily_challenges (rows inserted)
            (mode,) = _wait_for(
                watcher,
                "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE l.pid = %s AND c.relname = 'daily_challenges' AND l.granted "
                "AND l.mode = 'RowExclusiveLock'",
                (pid,),
            )
            assert mode == "RowExclusiveLock"
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
        blocker.execute("ROLLBACK")
        # the orphaned backend finds its client gone and rolls back on its own
        _wait_for(
            watcher,
            "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)",
            (pid,),
        )

    assert snapshot(postgres_url) == before  # previous state intact, progress included
    assert query(postgres_url, "SELECT COUNT(*) FROM daily_challenges") == [(challenges_before,)]

    result = run_flow(force=True)  # the rerun completes
    assert result["status"] == "ok"
    after = snapshot(postgres_url)
    started = [r for r in before if r[5] > 0 or r[6] is not None]
    assert [r for r in after if r[5] > 0 or r[6] is not None] == started  # no lost progress
    per_user: dict[int, int] = {}
    for user_id, *_ in after:
        per_user[user_id] = per_user.get(user_id, 0) + 1
    assert per_user[users[1]] == 3  # completed: all three kept
    assert all(per_user[u] == 2 for u in users if u != users[1])  # no duplicate, none missing
    dupes = query(
        postgres_url,
        "SELECT challenge_date, content_key FROM daily_challenges "
        "GROUP BY 1, 2 HAVING COUNT(*) > 1",
    )
    assert dupes == []


# ------------------------------------------------------------------ unreachable at start


def test_database_unreachable_at_start_fails_fast_and_emails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"postgresql+psycopg://daglig@127.0.0.1:{free_port()}/daglig"
    with smtp_server() as mail:
        flow_env(monkeypatch, url, tmp_path, smtp_host="127.0.0.1", smtp_port=mail.port)
        state = run_flow(return_state=True)
        exc = state.result(raise_on_failure=False)
    assert state.is_failed() and isinstance(exc, HealthCheckFailed)
    assert "\n" not in str(exc) and "unreachable" in str(exc) and "Connection refused" in str(exc)
    runs = task_runs(state.state_details.flow_run_id, {"check-health"})
    assert runs["check-health"] == ("FAILED", 1)  # no retries: fail fast
    assert "extract-features" not in runs
    (msg,) = mail.parsed()
    assert "FEILET" in msg["Subject"]
    text_body = body(msg)
    assert "«Sjekke databasen» (check-health)" in text_body and "unreachable" in text_body


# ---------------------------------------------------------------------- gone mid-run


@pytest.mark.postgres
def test_database_gone_mid_run_retries_then_fails_cleanly(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import flows.daily_challenges as fd
    import tasks.write

    build_app(postgres_url)
    flow_env(monkeypatch, postgres_url, tmp_path)
    no_retry_delays(monkeypatch)
    dbname = make_url(postgres_url).database
    real_render = fd.render_day

    def render_then_lose_db(*args: Any, **kwargs: Any) -> Any:
        out = real_render(*args, **kwargs)
        with admin(postgres_url) as conn:  # the database goes away between two steps
            conn.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (dbname,),
            )
        return out

    attempts: list[int] = []
    real_write = tasks.write.write_day

    def counting_write(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(fd, "render_day", render_then_lose_db)
    monkeypatch.setattr(tasks.write, "write_day", counting_write)
    try:
        state = run_flow(return_state=True)
    finally:
        with admin(postgres_url) as conn:
            conn.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
    exc = state.result(raise_on_failure=False)
    assert state.is_failed()
    assert "not currently accepting connections" in str(exc).splitlines()[0]
    assert len(attempts) == 4  # the first try and three retries
    runs = task_runs(state.state_details.flow_run_id, {"upsert-challenges"})
    assert runs["upsert-challenges"] == ("FAILED", 4)
    (msg,) = outbox(tmp_path)  # one line naming the step and the reason
    text = body(msg)
    assert "«Skrive utfordringene til databasen» (upsert-challenges)" in text
    (line,) = [ln for ln in text.splitlines() if ln.startswith("Feil: ")]
    assert "OperationalError" in line and "not currently accepting connections" in line
    # nothing of the day was written; once the database is back, the run completes
    assert query(postgres_url, "SELECT COUNT(*) FROM user_daily_challenges") == [(0,)]
    monkeypatch.setattr(fd, "render_day", real_render)
    assert run_flow()["written"]["assignments_inserted"] == 39


# ------------------------------------------------------------------------- SMTP down


@pytest.mark.postgres
def test_smtp_unreachable_commits_the_data_retries_and_says_so(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    users = build_app(postgres_url)
    flow_env(monkeypatch, postgres_url, tmp_path, smtp_host="127.0.0.1", smtp_port=free_port())
    no_retry_delays(monkeypatch)
    state = run_flow(return_state=True)
    assert state.is_completed()
    result = state.result()
    assert result["status"] == "ok"
    assert result["email"].startswith("FAILED: ConnectionRefusedError")
    assert any("summary email could not be sent" in n for n in result["notes"])
    runs = task_runs(state.state_details.flow_run_id, {"send-summary-email", "upsert-challenges"})
    assert runs["send-summary-email"] == ("FAILED", 4)  # tried, retried three times
    assert runs["upsert-challenges"] == ("COMPLETED", 1)
    # the run's summary artifact, published again after the email failed, says so
    summaries = [
        a
        for a in run_artifacts(state.state_details.flow_run_id)
        if a.startswith(f"daily-challenges-{RUN.isoformat()} ")
    ]
    assert len(summaries) == 2
    assert any("Summary email not sent:** ConnectionRefusedError" in a for a in summaries)
    # the data is committed all the same
    assert query(postgres_url, "SELECT COUNT(DISTINCT user_id) FROM user_daily_challenges") == [
        (len(users),)
    ]
