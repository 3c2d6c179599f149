"""The backfill flow: one daily run per date, complete dates skipped unless forced, a failed
date does not stop the others, and a table artifact of every date's outcome."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from daglig.backfill import (
    ARTIFACT_COLUMNS,
    DayOutcome,
    backfill_dates,
    effective_concurrency,
    failure_message,
    table_rows,
)
from tasks.steps import step
from tests.test_flow import build_app, per_user

D1, D2, D3 = date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23)
UI = "http://prefect.example:4200"


def test_backfill_dates_are_inclusive_and_bounded() -> None:
    assert backfill_dates(D1, D3) == [D1, D2, D3]
    assert backfill_dates(D2, D2) == [D2]
    with pytest.raises(ValueError, match="before start_date"):
        backfill_dates(D3, D1)
    with pytest.raises(ValueError, match="at most 5"):
        backfill_dates(date(2026, 1, 1), date(2026, 1, 10), max_dates=5)


def test_concurrency_is_bounded_and_one_in_process() -> None:
    assert effective_concurrency(True, 4, 7) == 4
    assert effective_concurrency(True, 4, 2) == 2
    assert effective_concurrency(False, 4, 7) == 1
    with pytest.raises(ValueError, match="1..8"):
        effective_concurrency(True, 0, 3)
    with pytest.raises(ValueError, match="1..8"):
        effective_concurrency(False, 9, 3)


def test_failure_message_names_every_failed_date_in_order() -> None:
    outcomes = [
        DayOutcome(D3, "failed", error="RuntimeError: b"),
        DayOutcome(D1, "ok", assignments=3, assignments_added=3),
        DayOutcome(D2, "failed", error="RuntimeError: a"),
    ]
    assert failure_message(outcomes) == (
        "backfill failed for 2 of 3 dates: 2026-11-22 (RuntimeError: a); "
        "2026-11-23 (RuntimeError: b)"
    )
    assert failure_message(outcomes[1:2]) is None
    assert [r["date"] for r in table_rows(outcomes)] == [str(D1), str(D2), str(D3)]


def read_table(key: str) -> list[dict[str, Any]]:
    """The latest table artifact under ``key``, as rows."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        (latest, *_) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
        )
    data = latest.data
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[return-value]


def read_progress(key: str) -> str:
    """The description of the latest progress artifact under ``key``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        (latest, *_) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
        )
    return str(latest.description)


def outbox_texts(tmp_path: Path) -> dict[str, str]:
    """The outbox's emails: file name → plain-text part."""
    import email
    from email import policy

    out = {}
    for eml in sorted((tmp_path / "data" / "outbox").glob("*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        out[eml.name] = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return out


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    def use(url: str) -> None:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.delenv("DAGLIG_SMTP_HOST", raising=False)
        monkeypatch.setenv("DAGLIG_PREFECT_UI_URL", UI + "/")

    return use


@pytest.mark.usefixtures("prefect_harness")
def test_backfill_skips_complete_dates_and_leaves_a_table(
    sqlite_url: str, env: Any, tmp_path: Path
) -> None:
    from flows.backfill import backfill_daily_challenges
    from flows.daily_challenges import generate_daily_challenges

    env(sqlite_url)
    people = build_app(sqlite_url)
    generate_daily_challenges(run_date=D1)  # D1 is complete before the backfill
    rows = backfill_daily_challenges(start_date=D1, end_date=D3, max_concurrency=2)
    assert [(r["date"], r["outcome"]) for r in rows] == [
        (str(D1), "skipped: already complete"),
        (str(D2), "ok"),
        (str(D3), "ok"),
    ]
    assert all(r["assignments"] == r["assignments_added"] == 36 for r in rows[1:])
    assert all(r["active_users"] == r["users_complete"] == 12 for r in rows)
    assert rows[0]["assignments"] == 36 and rows[0]["assignments_added"] == 0
    for day in (D1, D2, D3):
        assert per_user(sqlite_url, day) == {u: 3 for u in people["active"]}
    # the artifact: the same rows, the run a link (none for the skipped date) before the
    # long columns
    table = read_table(f"backfill-{D1}-to-{D3}")
    assert list(table[0]) == list(ARTIFACT_COLUMNS)
    assert [{k: v for k, v in t.items() if k != "flow_run"} for t in table] == [
        {k: r[k] for k in ARTIFACT_COLUMNS if k != "flow_run"} for r in rows
    ]
    assert table[0]["flow_run"] == "" and not rows[0]["flow_run"]
    for t, r in zip(table[1:], rows[1:], strict=True):
        assert t["flow_run"] == f"[{r['flow_run'][:8]}]({UI}/runs/flow-run/{r['flow_run']})"
    # D1's own run emailed; the backfill sent one email for D1..D3, the dates none
    sent = outbox_texts(tmp_path)
    assert [n.split("-2026")[0] for n in sent] == ["backfill", "daily-challenges"], sent
    (text,) = [t for n, t in sent.items() if n.startswith(f"backfill-{D1}-to-{D3}-ok-")]
    assert text.startswith("Etterfylling 21.11.2026–23.11.2026: 3 datoer fullført\n")
    assert "  21.11.2026: hoppet over (allerede ferdig) · 0 · 12 av 12 · " in text
    assert "Kjør dem på nytt" not in text
    # with force, complete dates run again (and write nothing new: nobody's slot changes)
    again = backfill_daily_challenges(start_date=D1, end_date=D2, force=True)
    assert [r["outcome"] for r in again] == ["ok", "ok"]
    assert [r["assignments_added"] for r in again] == [0, 0]


@pytest.mark.usefixtures("prefect_harness")
def test_a_failed_date_does_not_stop_the_others(
    sqlite_url: str, env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import flows.daily_challenges as daily
    from flows.backfill import BackfillFailed, backfill_daily_challenges

    env(sqlite_url)
    people = build_app(sqlite_url)
    real = daily.upsert_challenges

    @step("upsert-challenges")  # stands in for the step: named on the run's clock
    def upsert_failing_on_d2(settings: Any, run_date: date, *args: Any) -> Any:
        if run_date == D2:  # what a trigger of the app's maintenance mode raises
            raise IntegrityError(
                "INSERT INTO daily_challenges (challenge_date, content_key) VALUES (?, ?)",
                ("2026-11-22", "quiz|x"),
                sqlite3.IntegrityError("daily_challenges is read-only during maintenance"),
            )
        return real(settings, run_date, *args)

    monkeypatch.setattr(daily, "upsert_challenges", upsert_failing_on_d2)
    state = backfill_daily_challenges(start_date=D1, end_date=D3, return_state=True)
    assert state.is_failed()
    line = "IntegrityError: daily_challenges is read-only during maintenance"
    with pytest.raises(BackfillFailed, match=r"failed for 1 of 3 dates: 2026-11-22 \(failed in"):
        state.result()
    assert per_user(sqlite_url, D1) == per_user(sqlite_url, D3) == {u: 3 for u in people["active"]}
    assert per_user(sqlite_url, D2) == {}
    rows = read_table(f"backfill-{D1}-to-{D3}")
    assert [r["outcome"] for r in rows] == ["ok", "failed", "ok"]
    # one line wherever a person reads it: the table, the date's run's state message and
    # progress bar; the statement and its parameters only in the log
    assert rows[1]["error"] == f"failed in upsert-challenges: {line}"
    child = rows[1]["flow_run"].split("(")[1].rstrip(")").rsplit("/", 1)[1]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(child)  # type: ignore[arg-type]
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    assert run.state is not None and run.state.message == (
        f"run for {D2} failed in upsert-challenges: {line}"
    )
    progress = read_progress(f"daily-challenges-{D2}-progress")
    assert progress == f"failed in upsert-challenges: {line}"
    assert "INSERT INTO daily_challenges" not in json.dumps(read_table(f"backfill-{D1}-to-{D3}"))
    assert any("INSERT INTO daily_challenges" in log.message for log in logs)
    assert rows[1]["users_complete"] == rows[1]["assignments"] == 0
    # one email for the whole range (the failed date sent none of its own), a row per date
    (name, text), *others = outbox_texts(tmp_path).items()
    assert others == [] and name.startswith(f"backfill-{D1}-to-{D3}-failed-")
    assert text.startswith("Etterfylling 21.11.2026–23.11.2026: 1 av 3 datoer FEILET\n")
    assert "  21.11.2026: fullført · 36 · 12 av 12 · " in text
    assert "  22.11.2026: FEILET · 0 · 0 av 12 · " in text
    assert f"    Feil: Skrive utfordringene til databasen: {line}\n" in text
    assert "  23.11.2026: fullført · 36 · 12 av 12 · " in text
    assert "  daglig backfill --start 2026-11-22 --end 2026-11-22\n" in text


@pytest.mark.usefixtures("prefect_harness")
def test_backfill_runs_each_date_once(db_url: str, env: Any) -> None:
    from flows.backfill import backfill_daily_challenges

    env(db_url)
    people = build_app(db_url)
    rows = backfill_daily_challenges(start_date=D1, end_date=D3, max_concurrency=3)
    assert [r["outcome"] for r in rows] == ["ok", "ok", "ok"]
    assert len({r["flow_run"] for r in rows}) == 3  # one daily run per date
    for day in (D1, D2, D3):
        assert per_user(db_url, day) == {u: 3 for u in people["active"]}


@pytest.mark.usefixtures("prefect_harness")
def test_cli_backfill_exits_nonzero_naming_the_failed_dates(sqlite_url: str, env: Any) -> None:
    from typer.testing import CliRunner

    from daglig.cli import app
    from daglig.io.db import make_engine

    env(sqlite_url)
    make_engine(sqlite_url).connect().close()  # no app tables: every date fails its check
    out = CliRunner().invoke(app, ["backfill", "--start", str(D1), "--end", str(D2)])
    assert out.exit_code == 1
    assert (
        "backfill failed for 2 of 2 dates: 2026-11-21 (failed in check-health: HealthCheckFailed"
        in out.output
    )
    assert f"{D1}: failed" in out.output and f"{D2}: failed" in out.output


def test_the_backfill_email_groups_failed_dates_into_rerun_commands() -> None:
    from daglig.backfill import DayOutcome
    from daglig.backfill_email import backfill_context

    days = [date(2026, 11, d) for d in (1, 2, 3, 4, 6)]
    outcomes = [
        DayOutcome(d, "ok" if d.day == 4 else "failed", error="IntegrityError: x\n[SQL: …]")
        for d in days
    ]
    ctx = backfill_context(days[0], days[-1], outcomes)
    assert ctx["reruns"] == [
        "daglig backfill --start 2026-11-01 --end 2026-11-03",
        "daglig backfill --start 2026-11-06 --end 2026-11-06",
    ]
    assert [r["error"] for r in ctx["rows"] if r["failed"]] == ["IntegrityError: x"] * 4
    assert ctx["range_no"] == "01.11.2026–06.11.2026" and ctx["n_failed_no"] == "4"


def test_a_dates_failed_step_is_read_once_and_labelled_in_norwegian() -> None:
    """The nightly run's state message is parsed where it comes back (another process
    hands back only text); the email labels the step, the table keeps Prefect's words."""
    from daglig.backfill import DayOutcome, day_failure, table_rows
    from daglig.backfill_email import backfill_context

    day = date(2026, 11, 2)
    message = f"run for {day} failed in upsert-challenges: IntegrityError: read-only"
    assert day_failure(message, day) == ("upsert-challenges", "IntegrityError: read-only")
    assert day_failure("Crashed: worker died\ntraceback", day) == ("", "Crashed: worker died")
    assert day_failure("", day) == ("", "")

    step, line = day_failure(message, day)
    o = DayOutcome(day, "failed", error=line, failed_step=step)
    assert table_rows([o])[0]["error"] == "failed in upsert-challenges: IntegrityError: read-only"
    (row,) = backfill_context(day, day, [o])["rows"]
    assert row["error"] == "Skrive utfordringene til databasen: IntegrityError: read-only"
