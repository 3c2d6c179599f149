"""``daglig admin …`` through the real command line (typer's runner on ``daglig.cli.app``):
settings validated and recorded (SQLite and PostgreSQL), a one-user dry run with reasons,
generate locally and through a deployment, and the reports reading what the run recorded."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner, Result

from daglig.cli import app
from daglig.io.db import make_engine
from tests.builders import AppDataBuilder
from tests.dq_helpers import query

RUN = date(2026, 11, 24)


def build_app(url: str) -> None:
    """User 1 new (no answers), user 2 with 40 answers, user 3 inactive."""
    b = AppDataBuilder()
    b.user()
    b.user()
    b.user(active=False)
    b.answers(2, "right_of_way", 40, correct=0.6, day=date(2026, 11, 20))
    b.answers(3, "traffic_signs", 10)
    b.write(url)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], Callable[..., Result]]:
    """``cli(url)`` → ``run(*args)`` invoking ``daglig`` against ``url``, data in tmp_path."""

    def make(url: str) -> Callable[..., Result]:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("USER", "ola")
        monkeypatch.delenv("DAGLIG_SMTP_HOST", raising=False)

        def run(*args: str) -> Result:
            return CliRunner().invoke(app, list(args))

        return run

    return make


def _settings_are_validated_and_recorded(url: str, run: Callable[..., Result]) -> None:
    build_app(url)
    r = run("admin", "settings", "set", "challenges_per_user", "4", "--by", "kari")
    assert r.exit_code == 0, r.output
    assert "challenges_per_user: (unset) -> 4 (by kari" in r.output
    assert run("admin", "settings", "set", "challenges_per_user", "2").exit_code == 0  # $USER
    r = run("admin", "settings", "set", "challenges_per_user", "2")
    assert r.exit_code == 0 and "unchanged" in r.output
    r = run("admin", "settings", "set", "enabled_types", "quiz, streak,category_focus")
    assert r.exit_code == 0, r.output

    rows = query(url, "SELECT key, value, updated_by FROM challenge_settings ORDER BY key")
    assert rows == [
        ("challenges_per_user", "2", "ola"),
        ("enabled_types", '["quiz", "streak", "category_focus"]', "ola"),
    ]
    history = query(
        url,
        "SELECT key, old_value, new_value, changed_by FROM challenge_settings_history ORDER BY id",
    )
    assert history == [
        ("challenges_per_user", None, "4", "kari"),
        ("challenges_per_user", "4", "2", "ola"),
        ("enabled_types", None, '["quiz", "streak", "category_focus"]', "ola"),
    ]

    bad = {
        ("no_such_key", "1"): "unknown setting 'no_such_key'",
        ("challenges_per_user", "9"): "challenges_per_user: 9 is outside 1 .. 6",
        ("challenges_per_user", "2.5"): "must be a whole number",
        ("ml_enabled", "yes"): "not a JSON value",
        ("max_difficulty", "1.5"): "1.5 is outside 0.0 .. 1.0",
        ("min_difficulty", "0.99"): "min_difficulty 0.99 is above max_difficulty 0.95",
        ("enabled_types", "[]"): "enabled_types: must not be empty",
        ("challenges_per_user", "3"): "enabled_types [quiz, category_focus, streak] has 2",
        ("enabled_categories", "traffic_signs,moon_driving"): "unknown keys ['moon_driving']",
    }
    for (key, value), message in bad.items():
        r = run("admin", "settings", "set", key, value)
        assert r.exit_code == 2, (key, value, r.output)
        assert message in r.output, r.output
    assert len(query(url, "SELECT * FROM challenge_settings_history")) == 3  # nothing written

    r = run("admin", "settings", "show", "--json")
    shown = json.loads(r.stdout)
    assert shown["settings"]["challenges_per_user"] == 2
    assert shown["settings"]["enabled_types"] == ["quiz", "category_focus", "streak"]
    assert [h["changed_by"] for h in shown["history"]] == ["ola", "ola", "kari"]
    text_out = run("admin", "settings", "show").output
    assert "challenges_per_user = 2  (set by ola at" in text_out
    assert "ml_min_answers = 30" in text_out  # defaults are shown too


def test_settings_set(db_url: str, cli: Any) -> None:
    _settings_are_validated_and_recorded(db_url, cli(db_url))


def test_reports_on_an_empty_pipeline_say_so(sqlite_url: str, cli: Any) -> None:
    run = cli(sqlite_url)
    build_app(sqlite_url)
    r = run("admin", "overview", "--date", "2026-11-24")
    assert r.exit_code == 0, r.output
    assert "today: no assignments for 2026-11-24 yet" in r.output
    assert "last run: no runs yet" in r.output
    assert run("admin", "performance").output == "no runs yet\n"
    assert "no challenges since" in run("admin", "recent").output
    s = json.loads(run("admin", "stats", "--end", "2026-11-24", "--json").stdout)
    assert s["totals"]["assigned"] == 0 and s["engagement"]["engagement_rate"] is None
    text = run("admin", "stats", "--end", "2026-11-24").output
    assert "no assignments in this range" in text and "runs: no runs yet in this range" in text
    r = run("admin", "stats", "--start", "2026-11-25", "--end", "2026-11-24")
    assert r.exit_code == 2 and "after end" in r.output


@pytest.mark.usefixtures("prefect_harness")
def test_test_user_shows_choices_and_reasons_and_writes_nothing(sqlite_url: str, cli: Any) -> None:
    run = cli(sqlite_url)
    build_app(sqlite_url)
    r = run("admin", "test-user", "2", "--date", "2026-11-24")
    assert r.exit_code == 0, r.output
    # no learner model in this data folder: the rule-based path, and the reason why
    head = "user 2 on 2026-11-24 (dry run dry_run): selector fallback — learner model not used"
    assert head in r.output
    assert len([line for line in r.output.splitlines() if line.startswith("     reason: {")]) == 3
    assert "reason: {" in r.output and "XP +" in r.output
    r = run("admin", "test-user", "3", "--date", "2026-11-24")
    assert r.exit_code == 0 and "selector none — inactive user" in r.output
    r = run("admin", "test-user", "999", "--date", "2026-11-24")
    assert r.exit_code == 1 and "error: no user 999" in r.output
    names = set(inspect(make_engine(sqlite_url)).get_table_names())
    assert "daily_challenges" not in names  # a dry run creates and writes nothing


@pytest.fixture
def nightly_deployment(prefect_harness: None) -> Iterator[list[Any]]:
    """A ``daily-challenges/nightly`` deployment on the test API (no worker runs it);
    its flow runs are deleted afterwards."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("daily-challenges")
        deployment_id = client.create_deployment(flow_id=flow_id, name="nightly")
    created: list[Any] = []
    yield created
    with get_client(sync_client=True) as client:
        for run_id in created:
            client.delete_flow_run(run_id)
        client.delete_deployment(deployment_id)


def test_generate_starts_the_deployment_when_a_server_is_set(
    sqlite_url: str, cli: Any, nightly_deployment: list[Any]
) -> None:
    from uuid import UUID

    from prefect.client.orchestration import get_client

    run = cli(sqlite_url)
    build_app(sqlite_url)
    r = run("admin", "generate", "--date", "2026-11-24", "--force", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    nightly_deployment.append(UUID(d["flow_run_id"]))
    assert d["mode"] == "deployment" and d["deployment"] == "daily-challenges/nightly"
    with get_client(sync_client=True) as client:
        fr = client.read_flow_run(UUID(d["flow_run_id"]))
    assert fr.parameters == {"run_date": "2026-11-24", "force": True}
    assert fr.state is not None and fr.state.is_scheduled()  # a worker would pick it up
    assert "daily_challenges" not in set(inspect(make_engine(sqlite_url)).get_table_names())


@pytest.mark.usefixtures("prefect_harness")
def test_generate_locally_then_reports_show_the_run(sqlite_url: str, cli: Any) -> None:
    run = cli(sqlite_url)
    build_app(sqlite_url)
    assert run("admin", "settings", "set", "challenges_per_user", "2").exit_code == 0
    r = run("admin", "generate", "--local", "--date", "2026-11-24")
    assert r.exit_code == 0, r.output
    assert "ran locally for 2026-11-24: ok, 2 users, 4 assignments" in r.output
    ((n,),) = query(sqlite_url, "SELECT COUNT(*) FROM user_daily_challenges")
    assert n == 4  # the admin's challenges_per_user = 2 was honoured

    ((status, users, assignments, flow_run_id),) = query(
        sqlite_url, "SELECT status, users_served, assignments, flow_run_id FROM pipeline_runs"
    )
    assert (status, users, assignments) == ("ok", 2, 4) and flow_run_id
    perf = json.loads(run("admin", "performance", "--json").stdout)
    assert [x["status"] for x in perf["runs"]] == ["ok"] and perf["seconds"]["runs"] == 1
    o = run("admin", "overview", "--date", "2026-11-24").output
    assert "today: 2 users, 4 assignments, 0 started, 0 completed (0.0 %)" in o
    assert "last run: 2026-11-24 ok" in o
    s = json.loads(run("admin", "stats", "--end", "2026-11-24", "--json").stdout)
    assert s["totals"]["assigned"] == 4 and s["errors"]["runs_by_status"] == {"ok": 1}
    recent = run("admin", "recent", "--since", "2026-11-24").output
    assert "2026-11-24" in recent and "onboarding" in recent


@pytest.mark.usefixtures("prefect_harness")
def test_a_failure_to_record_the_run_does_not_fail_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect import flow, task

    import tasks.runs
    from daglig.config import Settings
    from daglig.summary import RunSummary

    @task(retries=0)
    def broken(summary: RunSummary, settings: Settings) -> bool:
        raise OSError("disk on fire")

    monkeypatch.setattr(tasks.runs, "record_run", broken)
    summary = RunSummary(run_date=RUN, status="ok", database="x")

    @flow
    def report() -> list[str]:
        tasks.runs.record_run_quietly(summary, Settings(data_dir=tmp_path))
        return summary.notes

    assert report() == ["run not recorded in pipeline_runs: OSError"]
