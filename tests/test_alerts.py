"""Failure alerts, health-check-only mode, and what a run leaves in Prefect: the failure
email names the step, the error and links to the run; progress and count-table artifacts."""

from __future__ import annotations

import email
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from daglig.io.db import make_engine
from tasks.steps import step_task
from tests.dq_helpers import query
from tests.test_flow import build_app

RUN = date(2026, 11, 24)
UI = "http://prefect.example:4200"
pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    def use(url: str) -> Path:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("DAGLIG_PREFECT_UI_URL", UI)
        monkeypatch.delenv("DAGLIG_SMTP_HOST", raising=False)
        return tmp_path / "data" / "outbox"

    return use


def text_part(eml: Path) -> str:
    msg = email.message_from_bytes(eml.read_bytes())
    part = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


def latest_artifact(key: str) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
        )
    assert found, f"no artifact {key}"
    return found[0]


def test_failure_after_retries_emails_step_error_and_run_link(
    sqlite_url: str, env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.daily_challenges as daily

    outbox = env(sqlite_url)
    build_app(sqlite_url)
    attempts: list[int] = []

    # a step of the flow: a task timed on the run's clock (tasks/steps.py), as the real one
    @step_task("upsert-challenges", retries=2, retry_delay_seconds=0)
    def broken_upsert(*args: Any) -> Any:
        attempts.append(1)
        raise OSError("disk I/O error on /var/lib/postgresql")

    monkeypatch.setattr(daily, "upsert_challenges", broken_upsert)
    state = daily.generate_daily_challenges(run_date=RUN, return_state=True)
    assert state.is_failed() and len(attempts) == 3  # the email comes after the retries
    (eml,) = outbox.glob("*-failed-*.eml")  # exactly one alert
    body = text_part(eml)
    run_id = state.state_details.flow_run_id
    assert "FEILET" in body
    assert "feilet i steget «Skrive utfordringene til databasen» (upsert-challenges) kl. " in body
    # the failed step's own time, its three attempts included, and the error in one line
    assert re.search(r" kl\. \d\d:\d\d:\d\d \S+, etter \d+,\d s i steget", body), body
    assert "Feil: OSError: disk I/O error on /var/lib/postgresql\n" in body
    # what was computed and not written, and how to run the date again
    served = query(sqlite_url, "SELECT COUNT(*) FROM users WHERE is_active")[0][0]
    assert (
        f"Beregnet, men ikke skrevet: utfordringer til {served} av {served} aktive elever" in body
    )
    assert "  daglig run --date 2026-11-24\n" in body
    assert "Custom run, med run_date 2026-11-24" in body
    assert "brukere" not in body and "Kjøretid i natt" not in body  # no comparison of a failure
    assert f"Kjøringen i Prefect: {UI}/runs/flow-run/{run_id}" in body
    assert query(sqlite_url, "SELECT COUNT(*) FROM user_daily_challenges") == [(0,)]
    # the progress artifact shows where the run stopped
    progress = latest_artifact(f"daily-challenges-{RUN}-progress")
    assert 0 < float(progress.data) < 100 and "upsert-challenges" in progress.description


def test_no_link_without_a_ui_address(
    sqlite_url: str, env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.daily_challenges import generate_daily_challenges

    outbox = env(sqlite_url)
    monkeypatch.delenv("DAGLIG_PREFECT_UI_URL")
    make_engine(sqlite_url).connect().close()  # no app tables
    assert generate_daily_challenges(run_date=RUN, return_state=True).is_failed()
    (eml,) = outbox.glob("*-failed-*.eml")
    body = text_part(eml)
    assert "«Sjekke databasen» (check-health)" in body and "Kjøringen i Prefect" not in body
    assert "Ingenting var beregnet ennå da feilen kom." in body


def test_health_check_only_checks_and_touches_nothing(sqlite_url: str, env: Any) -> None:
    from flows.daily_challenges import generate_daily_challenges

    outbox = env(sqlite_url)
    build_app(sqlite_url)
    result = generate_daily_challenges(run_date=RUN, health_check_only=True)
    assert result["status"] == "healthy"
    assert result["missing_pipeline_tables"] == [
        "daily_challenges",
        "user_daily_challenges",
        "challenge_settings",
    ]
    tables = {n for (n,) in query(sqlite_url, "SELECT name FROM sqlite_master")}
    assert "daily_challenges" not in tables  # created nothing
    assert not outbox.exists() or not list(outbox.iterdir())  # no email when healthy


def test_health_check_only_fails_with_the_reason(sqlite_url: str, env: Any) -> None:
    from flows.daily_challenges import generate_daily_challenges

    env(sqlite_url)
    make_engine(sqlite_url).connect().close()  # an empty database
    with pytest.raises(Exception, match=r"lacks the app tables users"):
        generate_daily_challenges(run_date=RUN, health_check_only=True)


def test_cli_health_check_exits_nonzero_with_the_reason(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from daglig.cli import app

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))  # its log file
    make_engine(sqlite_url).connect().close()
    out = CliRunner().invoke(app, ["health-check"])
    assert (
        out.exit_code == 1 and "unhealthy:" in out.output and "lacks the app tables" in out.output
    )


def test_run_leaves_count_tables_and_a_finished_progress_bar(sqlite_url: str, env: Any) -> None:
    from flows.daily_challenges import generate_daily_challenges

    env(sqlite_url)
    build_app(sqlite_url)
    result = generate_daily_challenges(run_date=RUN)
    assert float(latest_artifact(f"daily-challenges-{RUN}-progress").data) == 100.0
    for dim, counts in (
        ("type", result["by_type"]),
        ("category", result["by_category"]),
        ("source", result["by_source"]),
    ):
        art = latest_artifact(f"daily-challenges-{RUN}-by-{dim}")
        rows = json.loads(art.data)
        assert {r[dim]: r["assignments"] for r in rows} == counts
        assert sum(r["assignments"] for r in rows) == result["assignments"] == 36
    assert {
        r["name_no"] for r in json.loads(latest_artifact(f"daily-challenges-{RUN}-by-source").data)
    } >= {"Oppstart"}
