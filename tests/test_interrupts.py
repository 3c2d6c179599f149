"""A run stopped from outside (issue 12, items 5 and 16), as a person or the machine does it:

- Ctrl-C in a terminal: SIGINT to the run's whole process group. The run stops within
  10 s, exit 130, with one line saying what was written, and the next run works.
- SIGKILL: Prefect's temporary server dies with the run; the next run marks the killed
  run's ``pipeline_runs`` row ``crashed`` (saying whether its write had committed) and its
  Prefect flow run Crashed; a kill after the commit leaves the night its row.

Both use the temporary Prefect server the command starts itself (no ``prefect_api``): it
is what the signals used to break. ``PREFECT_HOME`` is the test's own, so the next run's
temporary server finds the killed run's flow run.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.cli import DAGLIG, REPO, cli_env, daglig
from tests.dq_helpers import query

RUN = date(2026, 11, 24)
pytestmark = pytest.mark.slow


@contextmanager
def silent_smtp() -> Iterator[int]:
    """An SMTP port that accepts connections and never answers: a run sending its
    summary there waits (after its write committed) until its timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        for c in held:
            c.close()
        server.close()


def world(url: str, tmp_path: Path, **extra: Any) -> dict[str, str]:
    """A simulated app of 300 learners at ``url``; the environment of a run against it
    with Prefect's temporary server (PREFECT_HOME in tmp_path)."""
    data = tmp_path / "data"
    r = daglig("simulate", "--users", "300", "--end-date", "2026-11-23", env=cli_env(url, data))
    assert r.returncode == 0, r
    return cli_env(url, data, None, PREFECT_HOME=str(tmp_path / "prefect"), **extra)


def start_run(env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """``daglig run`` in a process group of its own, as a terminal starts a command."""
    return subprocess.Popen(
        [str(DAGLIG), "run", "--date", RUN.isoformat(), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=(tmp_path / "run.out").open("w"),
        stderr=(tmp_path / "run.err").open("w"),
        text=True,
        start_new_session=True,
    )


def wait_for_row(url: str, status: str, proc: subprocess.Popen[str]) -> int:
    """Wait (bounded) until the run's pipeline_runs row has ``status``; its id."""
    for _ in range(1800):  # imports, the temporary server, the run: up to three minutes
        try:
            rows = query(url, "SELECT id FROM pipeline_runs WHERE status = :s", s=status)
        except Exception:  # noqa: BLE001 - the table does not exist yet
            rows = []
        if rows:
            return int(rows[-1][0])
        assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before {status}"
        time.sleep(0.1)
    raise AssertionError(f"no {status} row in pipeline_runs")


def server_of(proc: subprocess.Popen[str]) -> psutil.Process:
    """The temporary Prefect server the run started (a child of its own session)."""
    for _ in range(100):
        kids = [
            c
            for c in psutil.Process(proc.pid).children(recursive=True)
            if "uvicorn" in " ".join(c.cmdline())
        ]
        if kids:
            return kids[0]
        time.sleep(0.1)
    raise AssertionError("no temporary Prefect server under the run")


def gone(p: psutil.Process, seconds: float) -> bool:
    try:
        p.wait(timeout=seconds)
    except psutil.TimeoutExpired:
        return False
    return True


def prefect_state(tmp_path: Path, flow_run_id: str) -> str:
    """The state of a flow run in the temporary servers' database (PREFECT_HOME)."""
    with sqlite3.connect(tmp_path / "prefect" / "prefect.db") as conn:
        (state,) = conn.execute(
            "SELECT state_type FROM flow_run WHERE id = ?", (flow_run_id,)
        ).fetchone()
    return str(state).removeprefix("StateType.")


def assignments(url: str) -> int:
    (n,) = query(
        url, "SELECT COUNT(*) FROM user_daily_challenges WHERE challenge_date = :d", d=RUN
    )[0]
    return int(n)


def ctrl_c(proc: subprocess.Popen[str]) -> float:
    """SIGINT to the run's whole process group, as a terminal's Ctrl-C; seconds to exit
    (the wait is bounded: 10 s)."""
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=10)
    return time.monotonic() - t0


def test_ctrl_c_before_the_write_stops_at_once_and_the_next_run_works(
    sqlite_url: str, tmp_path: Path
) -> None:
    env = world(sqlite_url, tmp_path)
    proc = start_run(env, tmp_path)
    try:
        row = wait_for_row(sqlite_url, "running", proc)
        server = server_of(proc)
        ctrl_c(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = (tmp_path / "run.err").read_text()
    assert proc.returncode == 130, err
    assert err == f"interrupted: nothing was written for {RUN}\n"
    assert gone(server, 10)  # the server took no SIGINT; the run stopped it
    assert assignments(sqlite_url) == 0
    ((status, error, flow_run_id),) = query(
        sqlite_url, "SELECT status, error, flow_run_id FROM pipeline_runs WHERE id = :i", i=row
    )
    assert (status, error) == ("interrupted", f"interrupted: nothing was written for {RUN}")
    assert prefect_state(tmp_path, flow_run_id) == "CANCELLED"
    r = daglig("run", "--date", RUN.isoformat(), env=env)  # the next run works
    assert r.returncode == 0 and r.err_lines == [], r
    assert assignments(sqlite_url) > 0


@pytest.mark.parametrize("after", [1.5, 3.5, 7.0])
def test_ctrl_c_while_the_command_starts_ends_it_and_writes_nothing(
    sqlite_url: str, tmp_path: Path, after: float
) -> None:
    """Ctrl-C in the first seconds: imports, settings, the temporary server starting. Found
    after the first fix (2026-12-02): between the command's start and the run's own handler a
    KeyboardInterrupt raised in the main thread was swallowed by a library (at 7 s pydantic
    wrapped it: exit 1, "PydanticSerializationError … KeyboardInterrupt"; at 8 s the run went
    on, wrote its day and exited 0, 54 s later)."""
    env = world(sqlite_url, tmp_path)
    proc = start_run(env, tmp_path)
    try:
        time.sleep(after)
        seconds = ctrl_c(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = (tmp_path / "run.err").read_text()
    assert proc.returncode == 130, err
    assert seconds < 10
    assert len(err.splitlines()) == 1 and err.startswith("interrupted"), err
    tables = {t for (t,) in query(sqlite_url, "SELECT name FROM sqlite_master")}
    # stopped before its health check created the pipeline's tables, or after: none written
    assert "user_daily_challenges" not in tables or assignments(sqlite_url) == 0


def test_ctrl_c_after_the_commit_says_what_was_written(sqlite_url: str, tmp_path: Path) -> None:
    with silent_smtp() as port:
        env = world(
            sqlite_url, tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=120
        )
        proc = start_run(env, tmp_path)
        try:
            wait_for_row(sqlite_url, "written", proc)  # committed, now waiting on the email
            ctrl_c(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
    err = (tmp_path / "run.err").read_text()
    assert proc.returncode == 130, err
    n = assignments(sqlite_url)
    assert n > 0
    assert err == (
        f"interrupted after the write for {RUN} committed: {n} assignments added, 0 replaced "
        "(the summary email was not sent)\n"
    )
    assert query(sqlite_url, "SELECT status FROM pipeline_runs") == [("interrupted",)]


def test_sigkill_after_the_commit_leaves_no_server_and_the_next_run_marks_it_crashed(
    db_url: str, tmp_path: Path
) -> None:
    with silent_smtp() as port:
        env = world(
            db_url, tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=120
        )
        proc = start_run(env, tmp_path)
        try:
            row = wait_for_row(db_url, "written", proc)
            server = server_of(proc)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert gone(server, 15), "the temporary Prefect server outlived the killed run"
    n = assignments(db_url)
    assert n > 0  # the write had committed
    ((status, flow_run_id),) = query(
        db_url, "SELECT status, flow_run_id FROM pipeline_runs WHERE id = :i", i=row
    )
    assert status == "written"  # the night has its row, saying the write is in
    assert prefect_state(tmp_path, flow_run_id) == "RUNNING"  # nobody told Prefect

    no_smtp = {k: v for k, v in env.items() if not k.startswith("DAGLIG_SMTP")}
    r = daglig("run", "--date", RUN.isoformat(), env=no_smtp)
    assert r.returncode == 0, r
    assert "0 assignments added" in r.stdout  # the killed run's write stands
    rows = query(db_url, "SELECT id, status, error FROM pipeline_runs ORDER BY id")
    assert rows[0] == (
        row,
        "crashed",
        f"crashed: process {proc.pid} on {socket.gethostname()} ended after its write for "
        "the day had committed",
    )
    assert rows[1][1] == "ok" and len(rows) == 2
    assert prefect_state(tmp_path, flow_run_id) == "CRASHED"
