"""The first hour at the terminal (issue 12): the bare commands work, nothing is silently
wrong, and every mistake people make is one line on standard error (exit 2 for bad input,
1 for a failure) with the traceback in ``data/logs/daglig.log``, or on the terminal with
``--debug``. Every test runs the installed ``daglig`` as a subprocess (tests/cli.py)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.builders import AppDataBuilder
from tests.cli import Result, cli_env, daglig
from tests.dq_helpers import has_table, query

RUN = date(2026, 11, 24)
TODAY = datetime.now(ZoneInfo("Europe/Oslo")).date()
PYTHON_REPR = re.compile(r"\{'|\bNone\b|\bTrue\b|\bFalse\b|\[\]|\{\}")


def one_line(r: Result, code: int) -> str:
    """The command failed with ``code`` and exactly one line on standard error."""
    assert r.returncode == code, r
    assert len(r.err_lines) == 1, r
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r
    return r.err_lines[0]


def simulate(url: str, data: Path, users: int = 300, *extra: str) -> Result:
    r = daglig("simulate", "--users", str(users), *extra, env=cli_env(url, data))
    assert r.returncode == 0, r
    return r


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``chattr +i``: read-only even for root (chmod is not, every process here is root)."""
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def sqlite_path(url: str) -> Path:
    return Path(str(make_url(url).database))


def pipeline_runs(url: str) -> list[tuple[Any, ...]]:
    return query(url, "SELECT run_date, status, error FROM pipeline_runs ORDER BY id")


# ------------------------------------------------------------------ 1: run with no --date


def _bad_answers_yesterday(db: Path, n: int = 5) -> None:
    """Answers of the last day to a question that does not exist, written the way a lax
    app can (SQLite does not enforce foreign keys by default): the input gate must stop."""
    with sqlite3.connect(db) as conn:
        (top,) = conn.execute("SELECT MAX(id) FROM question_attempts").fetchone()
        (user,) = conn.execute("SELECT MIN(id) FROM users WHERE is_active").fetchone()
        noon = datetime.combine(TODAY - timedelta(days=1), datetime.min.time()) + timedelta(
            hours=11
        )
        conn.executemany(
            "INSERT INTO question_attempts (id, user_id, question_id, quiz_session_id, "
            "is_correct, time_spent_seconds, answered_at) VALUES (?, ?, 99999999, NULL, 1, 5.0, ?)",
            [(top + i + 1, user, noon.strftime("%Y-%m-%d %H:%M:%S.%f")) for i in range(n)],
        )


def test_run_with_no_date_on_a_fresh_sqlite_database_and_its_records(
    sqlite_url: str, tmp_path: Path, prefect_api: str
) -> None:
    data = tmp_path / "data"
    simulate(sqlite_url, data)
    env = cli_env(sqlite_url, data, prefect_api)
    r = daglig("run", env=env)
    assert r.returncode == 0, r
    assert r.err_lines == [], r  # Prefect's log goes to the log file, not the terminal
    assert r.out_lines[0].startswith(f"{TODAY}: ok — ")
    assert "{'" not in r.stdout  # counts as people read them
    (n,) = query(
        sqlite_url, "SELECT COUNT(*) FROM user_daily_challenges WHERE challenge_date = :d", d=TODAY
    )[0]
    assert n > 0
    r = daglig("run", "--dry-run", env=env)
    assert r.returncode == 0 and "dry_run" in r.out_lines[0], r
    # a failure after the health check: the input gate, on unusable answers of the last day
    _bad_answers_yesterday(sqlite_path(sqlite_url))
    strict = {**env, "DAGLIG_DQ_MAX_EXCLUDED_SHARE": "0", "DAGLIG_DQ_MIN_ANSWERS": "1"}
    r = daglig("run", "--force", env=strict)
    line = one_line(r, 1)
    assert line.startswith(f"run for {TODAY} failed in validate-inputs: DataQualityError: ")
    assert line.endswith("details: " + str(data / "logs" / "daglig.log")), line
    assert "Traceback" in (data / "logs" / "daglig.log").read_text()
    runs = pipeline_runs(sqlite_url)
    assert [(d, s) for d, s, _ in runs] == [
        (TODAY.isoformat(), "ok"),
        (TODAY.isoformat(), "dry_run"),
        (TODAY.isoformat(), "failed"),
    ]
    assert runs[-1][2].startswith("validate-inputs: DataQualityError")
    # --debug: the traceback on the terminal too
    r = daglig("--debug", "run", "--force", env=strict)
    assert r.returncode == 1 and "Traceback" in r.stderr, r


def test_run_says_how_it_computed_the_features_and_full_forces_a_full_night(
    sqlite_url: str, tmp_path: Path, prefect_api: str
) -> None:
    """The README's ``daglig run`` twice and ``daglig run --full``: the first night reads
    the whole log (no state yet), a rerun folds into the state the first left, --full
    recomputes."""
    data = tmp_path / "data"
    simulate(sqlite_url, data, 100)
    env = cli_env(sqlite_url, data, prefect_api)
    first = daglig("run", env=env)
    assert first.returncode == 0, first
    assert "features: full: no carried state yet (" in first.stdout, first
    again = daglig("run", env=env)
    assert again.returncode == 0, again
    assert f"features: incremental: folded into the state of {TODAY} (0 answers read)" in (
        again.stdout
    ), again
    forced = daglig("run", "--full", env=env)
    assert forced.returncode == 0, forced
    assert "features: full: asked for (--full) (" in forced.stdout, forced
    assert len(list((data / "state").glob(f"db-*/{TODAY}/manifest.json"))) == 1


def test_the_scheduled_deployments_date_on_sqlite(
    sqlite_url: str, tmp_path: Path, prefect_api: str
) -> None:
    """A flow run of a deployment, scheduled for 00:00 Oslo, run the way a process worker
    runs it (``python -m prefect.engine <flow run id>`` in a fresh process), with no
    run_date: it is for the scheduled day, and writes it on SQLite."""
    import sys

    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    from tests.cli import REPO

    b = AppDataBuilder()
    for i in range(4):
        uid = b.user()
        b.answers(uid, "traffic_signs", 10 + 5 * i, correct=0.7, day=RUN - timedelta(days=1))
    b.write(sqlite_url)
    scheduled = datetime(2026, 11, 23, 23, 0, tzinfo=ZoneInfo("UTC"))  # 00:00 on RUN in Oslo
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("daily-challenges")
        deployment_id = client.create_deployment(
            flow_id=flow_id,
            name=f"nightly-{tmp_path.name}",
            entrypoint="flows/daily_challenges.py:generate_daily_challenges",
            pull_steps=[
                {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
            ],
        )
        flow_run = client.create_flow_run_from_deployment(
            deployment_id, state=Scheduled(scheduled_time=scheduled)
        )
    try:
        env = cli_env(sqlite_url, tmp_path / "data", prefect_api)
        done = subprocess.run(
            [sys.executable, "-m", "prefect.engine", str(flow_run.id)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run.id).state
        assert state is not None and state.is_completed(), state
        days = query(sqlite_url, "SELECT DISTINCT challenge_date FROM user_daily_challenges")
        assert days == [(RUN.isoformat(),)]
        assert pipeline_runs(sqlite_url) == [(RUN.isoformat(), "ok", None)]
    finally:
        with get_client(sync_client=True) as client:
            client.delete_flow_run(flow_run.id)
            client.delete_deployment(deployment_id)


# -------------------------------------------------------------- 3: simulate over data


def test_simulate_refuses_to_overwrite_data_unless_replace(
    db_url: str, tmp_path: Path, prefect_api: str
) -> None:
    data = tmp_path / "data"
    env = cli_env(db_url, data, prefect_api)
    first = simulate(db_url, data, 200)
    assert "replacing" not in first.stdout
    assert daglig("run", "--date", RUN.isoformat(), env=env).returncode == 0
    ((users,), (answers,), (assignments,)) = (
        query(db_url, "SELECT COUNT(*) FROM users")[0],
        query(db_url, "SELECT COUNT(*) FROM question_attempts")[0],
        query(db_url, "SELECT COUNT(*) FROM user_daily_challenges")[0],
    )
    r = daglig("simulate", "--users", "50", env=env)
    line = one_line(r, 2)
    safe = make_url(db_url).render_as_string(hide_password=True)
    assert line == (
        f"{safe} holds {users:,} users, {answers:,} answers and {assignments:,} assignments "
        "of the pipeline; add --replace to overwrite them"
    )
    assert query(db_url, "SELECT COUNT(*) FROM users") == [(users,)]  # nothing touched
    r = daglig("simulate", "--users", "50", "--replace", env=env)
    assert r.returncode == 0, r
    assert r.out_lines[0].startswith(f"replacing {safe} (it held {users:,} users")
    assert query(db_url, "SELECT COUNT(*) FROM users") == [(50,)]
    for table in ("daily_challenges", "user_daily_challenges", "pipeline_runs"):
        assert not has_table(db_url, table), table  # nothing of the old world survives


def test_demo_replaces_only_its_own_database(sqlite_url: str, tmp_path: Path) -> None:
    from daglig.config import Settings

    # `make demo` uses the default database (data/daglig.db), which the demo always
    # replaces; any other DATABASE_URL that holds data needs --replace, as simulate
    assert Settings.model_fields["database_url"].default.endswith("/data/daglig.db")
    data = tmp_path / "data"
    simulate(sqlite_url, data, 100)
    line = one_line(daglig("demo", "--users", "100", env=cli_env(sqlite_url, data)), 2)
    assert line.endswith("add --replace to overwrite them") and "100 users" in line


# ------------------------------------------------------------ 4: one line, everywhere

BAD_URLS = [
    ("postgress://postgres@127.0.0.1/x", 'DATABASE_URL: unknown scheme "postgress" '),
    ("sqlit:///tmp/x.db", 'DATABASE_URL: unknown scheme "sqlit" (did you mean sqlite://?)'),
    ("sqlite//tmp/x.db", 'DATABASE_URL: "sqlite//tmp/x.db" is not a URL: no "://"'),
    ("", "DATABASE_URL: empty (unset it for the default"),
]
COMMANDS = [
    ("health-check",),
    ("run", "--date", "2026-11-24"),
    ("simulate", "--users", "10"),
    ("backfill", "--start", "2026-11-01", "--end", "2026-11-02"),
    ("train",),
    ("admin", "overview"),
    ("admin", "settings", "set", "challenges_per_user", "2"),
]


@pytest.mark.parametrize(("url", "start"), BAD_URLS, ids=[u or "empty" for u, _ in BAD_URLS])
def test_a_mistyped_database_url_is_one_line_for_every_command(
    url: str, start: str, tmp_path: Path
) -> None:
    for args in COMMANDS:
        line = one_line(daglig(*args, env=cli_env(url, tmp_path / "data")), 2)
        assert line.startswith(start), (args, line)
    assert not (tmp_path / "tmp").exists() and not Path("/tmp/x.db").exists()


@pytest.mark.postgres
def test_postgres_scheme_is_taken_as_postgresql(postgres_url: str, tmp_path: Path) -> None:
    url = make_url(postgres_url).set(drivername="postgres").render_as_string(hide_password=False)
    assert url.startswith("postgres://")
    line = one_line(daglig("health-check", env=cli_env(url, tmp_path / "data")), 1)
    assert line.startswith("unhealthy: database postgresql://") and "lacks the app tables" in line


@pytest.mark.postgres
def test_a_postgres_database_that_does_not_exist_is_one_line(
    postgres_server: str, tmp_path: Path, prefect_api: str
) -> None:
    u = make_url(postgres_server)
    url = u.set(database="daglig_no_such_db").render_as_string(hide_password=False)
    env = cli_env(url, tmp_path / "data", prefect_api)
    where = f"{u.host}:{u.port or 5432}"
    expected = f'database "daglig_no_such_db" does not exist on {where} — create it with `'
    for args, prefix in [
        (("admin", "overview"), ""),
        (("admin", "stats"), ""),
        (("admin", "settings", "set", "challenges_per_user", "2"), ""),
        (("simulate", "--users", "10"), ""),
        (("health-check",), "unhealthy: "),
        (("run", "--date", "2026-11-24"), "run for 2026-11-24 failed in check-health: "),
    ]:
        line = one_line(daglig(*args, env=env), 1)
        assert line.startswith(prefix + expected), (args, line)


def test_settings_set_on_a_read_only_database_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    simulate(sqlite_url, data, 20)
    db = sqlite_path(sqlite_url)
    before = db.read_bytes()
    with immutable(db):
        r = daglig(
            "admin", "settings", "set", "challenges_per_user", "2", env=cli_env(sqlite_url, data)
        )
    line = one_line(r, 1)
    assert line.startswith(f"database {sqlite_url} is read-only") and "nothing was written" in line
    assert db.read_bytes() == before


def test_backfill_with_the_end_before_the_start_is_one_line(tmp_path: Path) -> None:
    r = daglig(
        "backfill", "--start", "2026-11-20", "--end", "2026-11-10", env=cli_env(None, tmp_path)
    )
    line = one_line(r, 2)
    assert line == (
        "--end 2026-11-10 is before --start 2026-11-20: give the first date with --start and "
        "the last with --end"
    )


def test_usage_errors_are_one_line_too(tmp_path: Path) -> None:
    for args, expected in [
        (("run", "--date", "24.11.2026"), "Invalid value for '--date': '24.11.2026' does not"),
        (("admin", "recent", "--days", "0"), "Invalid value for '--days': Input should be"),
        (("backfill", "--start", "2026-11-01"), "Missing option '--end' — see `daglig backfill"),
        (("runn",), "No such command 'runn'. Did you mean 'run'? — see `daglig --help`"),
    ]:
        line = one_line(daglig(*args, env=cli_env(None, tmp_path)), 2)
        assert line.startswith(expected), (args, line)


def test_a_mistyped_sqlite_path_is_refused_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "d.db"
    env = cli_env(f"sqlite:///{path}", tmp_path / "data")
    for args in [
        ("run",),
        ("admin", "overview"),
        ("admin", "settings", "set", "ml_enabled", "false"),
    ]:
        line = one_line(daglig(*args, env=env), 2)
        assert line.startswith(f"no SQLite database at {path} — check DATABASE_URL"), line
    assert not (tmp_path / "typo").exists()


# ------------------------------------------------------------- 8: the health check


def test_health_check_on_a_mistyped_path_creates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo' / 'dir' / 'd.db'}"
    line = one_line(daglig("health-check", env=cli_env(url, tmp_path / "data")), 1)
    assert line.startswith(f"unhealthy: no SQLite database at {tmp_path / 'typo' / 'dir' / 'd.db'}")
    assert not (tmp_path / "typo").exists()


def test_health_check_writes_nothing_and_reports_a_read_only_database(
    sqlite_url: str, tmp_path: Path, prefect_api: str
) -> None:
    data = tmp_path / "data"
    simulate(sqlite_url, data, 50)
    db = sqlite_path(sqlite_url)
    before = db.read_bytes()
    env = cli_env(sqlite_url, data, prefect_api)
    r = daglig("health-check", env=env)
    assert r.returncode == 0 and r.out_lines == [
        f"healthy: {sqlite_url} (sqlite); pipeline tables to create on first run: "
        "daily_challenges, user_daily_challenges, challenge_settings"
    ], r
    assert db.read_bytes() == before and not has_table(sqlite_url, "daily_challenges")
    with immutable(db):
        line = one_line(daglig("health-check", env=env), 1)
        assert line.startswith(f"unhealthy: database {sqlite_url} is read-only: a run could not")
        r = daglig("health-check", "--dry-run", env=env)
        assert r.returncode == 0 and r.out_lines[0].endswith("only dry runs can work"), r
        # the flow's check-health fails the same way, at once (no retries)
        line = one_line(daglig("run", "--date", RUN.isoformat(), env=env), 1)
        assert line.startswith(f"run for {RUN} failed in check-health: database {sqlite_url} is")
        assert _task_run_count(f"daily-challenges-{RUN}", "check-health") == 1
        # a dry run still works on it
        assert daglig("run", "--dry-run", "--date", RUN.isoformat(), env=env).returncode == 0
    assert db.read_bytes() == before


def _task_run_count(flow_run_name: str, task: str) -> int:
    """How often ``task`` ran in the latest flow run named ``flow_run_name``."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (fr,) = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[flow_run_name])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
        for _ in range(100):  # the server records task runs a moment later
            runs = [
                r
                for r in client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fr.id]))
                )
                if r.name.startswith(task) and r.state is not None and r.state.is_final()
            ]
            if runs:
                return max(r.run_count for r in runs)
            time.sleep(0.2)
    raise AssertionError(f"no final {task} task run in {flow_run_name}")


@pytest.mark.postgres
def test_health_check_on_a_read_only_postgres_database(
    postgres_url: str, tmp_path: Path, prefect_api: str
) -> None:
    data = tmp_path / "data"
    simulate(postgres_url, data, 50)
    u = make_url(postgres_url)
    with psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'ALTER DATABASE "{u.database}" SET default_transaction_read_only = on')
    env = cli_env(postgres_url, data, prefect_api)
    line = one_line(daglig("health-check", env=env), 1)
    assert "is read-only: a run could not write (transactions are read-only" in line
    r = daglig("health-check", "--dry-run", env=env)
    assert r.returncode == 0 and r.out_lines[0].endswith("only dry runs can work"), r
    line = one_line(daglig("run", "--date", RUN.isoformat(), env=env), 1)
    assert "failed in check-health" in line and "read-only" in line


# ------------------------------------------------------------------ 9: --user-id


def test_user_ids_that_do_not_exist_or_are_inactive_are_errors(
    sqlite_url: str, tmp_path: Path, prefect_api: str
) -> None:
    data = tmp_path / "data"
    simulate(sqlite_url, data, 100)
    env = cli_env(sqlite_url, data, prefect_api)
    line = one_line(daglig("run", "--user-id", "999999", env=env), 2)
    assert line == f"user 999999 does not exist in {sqlite_url}"
    ((inactive,),) = query(sqlite_url, "SELECT MIN(id) FROM users WHERE NOT is_active")
    ((active,), (other,)) = query(
        sqlite_url, "SELECT id FROM users WHERE is_active ORDER BY id LIMIT 2"
    )
    line = one_line(daglig("run", "--user-id", str(active), "--user-id", str(inactive), env=env), 2)
    assert line == f"user {inactive} is inactive in {sqlite_url}: inactive users get no challenges"
    assert not has_table(sqlite_url, "user_daily_challenges")  # refused before any run
    r = daglig("run", "--dry-run", "--user-id", str(active), "--user-id", str(other), env=env)
    assert r.returncode == 0, r
    for uid in (active, other):
        i = r.out_lines.index(f"user {uid}: 3 challenges:")
        for slot, line in enumerate(r.out_lines[i + 1 : i + 4], start=1):
            # slot, type, category, title, target, XP, source and the reason's gist
            assert re.fullmatch(
                rf"  {slot}\. \w+ · [\w ]+ · «.+» · target \d+ · \d+ XP \+ \d+ bonus · "
                r"(fallback|onboarding|ml) — .+",
                line,
            ), line


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_fails_at_once_on_an_unknown_user(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from daglig.io.store import UnknownUsers
    from tests.dq_helpers import flow_env, run_flow

    b = AppDataBuilder()
    b.user()
    b.write(sqlite_url)
    flow_env(monkeypatch, sqlite_url, tmp_path)
    state = run_flow(user_ids=[1, 424242], return_state=True)
    exc = state.result(raise_on_failure=False)
    assert (
        isinstance(exc, UnknownUsers) and str(exc) == f"user 424242 does not exist in {sqlite_url}"
    )


# -------------------------------------------------- 10: backfill logs, admin text output


def test_an_ml_fallback_in_a_backfill_is_one_warning_not_an_error(
    sqlite_url: str, tmp_path: Path, prefect_api: str
) -> None:
    data = tmp_path / "data"
    simulate(sqlite_url, data, 100)
    env = cli_env(sqlite_url, data, prefect_api)
    r = daglig("backfill", "--start", "2026-11-20", "--end", "2026-11-21", env=env)
    assert r.returncode == 0 and r.err_lines == [], r
    log = (data / "logs" / "daglig.log").read_text()
    assert " ERROR " not in log and "Traceback" not in log, log[-3000:]
    warnings = [ln for ln in log.splitlines() if "learner model not used" in ln]
    assert len(warnings) == 2 and all(" WARNING " in ln for ln in warnings), warnings


ADMIN_COMMANDS = [
    ("admin", "overview"),
    ("admin", "performance"),
    ("admin", "stats"),
    ("admin", "recent"),
    ("admin", "settings", "show"),
]


def test_admin_text_has_no_raw_python_values_and_says_when_there_is_no_data(
    sqlite_url: str, tmp_path: Path, prefect_api: str
) -> None:
    data = tmp_path / "data"
    simulate(sqlite_url, data, 100)
    env = cli_env(sqlite_url, data, prefect_api)
    empty = {args: daglig(*args, env=env) for args in ADMIN_COMMANDS}
    for args, r in empty.items():
        assert r.returncode == 0 and not PYTHON_REPR.search(r.stdout), (args, r)
    assert "today: no assignments" in empty["admin", "overview"].stdout
    assert "last run: no runs yet" in empty["admin", "overview"].stdout
    assert "no assignments in this range" in empty["admin", "stats"].stdout
    assert "no runs yet in this range" in empty["admin", "stats"].stdout
    assert empty["admin", "performance"].stdout == "no runs yet\n"
    day = TODAY.isoformat()
    assert daglig("run", "--date", day, env=env).returncode == 0
    assert daglig("run", "--date", day, "--dry-run", env=env).returncode == 0
    assert daglig("admin", "settings", "set", "challenges_per_user", "2", env=env).returncode == 0
    user = str(query(sqlite_url, "SELECT MIN(id) FROM users WHERE is_active")[0][0])
    for args in [*ADMIN_COMMANDS, ("admin", "test-user", user), ("admin", "generate", "--local")]:
        r = daglig(*args, env=env)
        assert r.returncode == 0 and r.err_lines == [], (args, r)
        text = r.stdout
        if args[:2] == ("admin", "test-user"):  # its reasons are JSON, true and false included
            text = "\n".join(ln for ln in text.splitlines() if "reason: {" not in ln)
        assert not PYTHON_REPR.search(text), (args, text)
    stats = daglig("admin", "stats", env=env).stdout
    assert re.search(r"runs: \d+ \((dry_run \d+, )?ok \d+\)", stats), stats
    assert json.loads(daglig("admin", "stats", "--json", env=env).stdout)["errors"]["runs"] >= 2
