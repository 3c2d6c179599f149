"""The morning report: yesterday's completion by source, ML vs holdout with an interval,
the 14-day trend and its chart — from literal rows, through the SQL on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import insert

from daglig.io.db import make_engine, read_frame
from daglig.morning import COMPLETION_SCHEMA, USER_COMPLETION_SCHEMA, build_report
from models import create_pipeline_tables
from models.tables import DailyChallenge, UserDailyChallenge
from tests.builders import AppDataBuilder
from tests.dq_helpers import flow_env

RUN = date(2026, 11, 24)
YESTERDAY = RUN - timedelta(days=1)
HOLDOUT = '{"ml_holdout":true,"selector":"fallback"}'


def seed_day(url: str) -> None:
    """Yesterday: 4 ML learners (2 of 2, 1 of 2, 0 of 2, 2 of 2 done), 2 holdout learners
    (0 of 2, 1 of 2), 1 fallback learner (1 of 2 started, none done); the day before: one
    ML learner, all done."""
    b = AppDataBuilder()
    for _ in range(8):
        b.user()
    b.write(url)
    engine = make_engine(url)
    create_pipeline_tables(engine)
    at = datetime(2026, 11, 23, 6, 0)
    challenges = [
        {"id": 1, "source": "ml", "challenge_date": YESTERDAY},
        {"id": 2, "source": "fallback", "challenge_date": YESTERDAY},
        {"id": 3, "source": "ml", "challenge_date": YESTERDAY - timedelta(days=1)},
    ]
    done = {  # user: completed slots out of 2 (slots 1, 2)
        1: (True, True),
        2: (True, False),
        3: (False, False),
        4: (True, True),
        5: (False, False),
        6: (True, False),
        7: (False, False),
    }
    assignments = []
    for u, flags in done.items():
        cid = 1 if u <= 4 else 2
        reason = HOLDOUT if u in (5, 6) else '{"selector":"x"}'
        for slot, finished in enumerate(flags, start=1):
            assignments.append(
                {
                    "user_id": u,
                    "challenge_date": YESTERDAY,
                    "slot": slot,
                    "challenge_id": cid,
                    "reason": reason,
                    "progress": 5 if finished or (u == 7 and slot == 1) else 0,
                    "completed_at": at + timedelta(hours=12) if finished else None,
                    "assigned_at": at,
                }
            )
    assignments.append(
        {
            "user_id": 8,
            "challenge_date": YESTERDAY - timedelta(days=1),
            "slot": 1,
            "challenge_id": 3,
            "reason": "{}",
            "progress": 3,
            "completed_at": at,
            "assigned_at": at,
        }
    )
    with engine.begin() as c:
        for ch in challenges:
            c.execute(
                insert(DailyChallenge),
                {
                    **ch,
                    "content_key": f"k{ch['id']}",
                    "challenge_type": "quiz",
                    "category": None,
                    "title": "t",
                    "description": "d.",
                    "target_value": 1,
                    "difficulty": 0.5,
                    "xp_reward": 10,
                    "bonus_xp": 0,
                    "created_at": at,
                },
            )
        c.execute(insert(UserDailyChallenge), assignments)
    engine.dispose()


def report_from(url: str):  # type: ignore[no-untyped-def]
    by_day = read_frame(
        url,
        "report/completion_by_day",
        {"start_date": YESTERDAY - timedelta(days=13), "end_date": YESTERDAY},
        COMPLETION_SCHEMA,
    )
    per_user = read_frame(
        url, "report/user_completion", {"challenge_date": YESTERDAY}, USER_COMPLETION_SCHEMA
    )
    return build_report(RUN, by_day, per_user)


def _check(url: str) -> None:
    seed_day(url)
    r = report_from(url)
    groups = {g["group"]: g for g in r.by_group}
    assert list(groups) == ["ml", "ml_holdout", "fallback"]
    assert groups["ml"]["assigned"] == 8 and groups["ml"]["completion"] == 5 / 8
    assert groups["ml_holdout"]["completion"] == 1 / 4
    assert groups["fallback"]["completion"] == 0 and groups["fallback"]["engagement"] == 0.5
    # per learner: ML 1, .5, 0, 1 → .625; holdout 0, .5 → .25
    m = r.ml_vs_holdout
    assert m["ml"] == 0.625 and m["holdout"] == 0.25 and m["diff"] == 0.375
    assert m["ci_low"] < m["diff"] < m["ci_high"] and (m["n_ml"], m["n_holdout"]) == (4, 2)
    assert len(r.trend) == 14 and r.trend[-1]["day"] == YESTERDAY.isoformat()
    # the three arms apart: ML 5 of 8 slots, holdout 1 of 4, rule-based 0 of 2
    assert r.trend[-1] == {
        "day": YESTERDAY.isoformat(),
        "ml": 0.625,
        "holdout": 0.25,
        "fallback": 0.0,
    }
    assert r.trend[-2]["ml"] == 1.0 and r.trend[-2]["holdout"] is None
    assert r.trend[-2]["fallback"] is None and r.trend[0]["ml"] is None
    assert r.chart_png is not None and r.chart_png.startswith(b"\x89PNG\r\n\x1a\n")


def test_morning_report(db_url: str) -> None:
    _check(db_url)


def test_no_assignments_yesterday_means_no_data_and_no_chart() -> None:
    r = build_report(
        RUN, pl.DataFrame(schema=COMPLETION_SCHEMA), pl.DataFrame(schema=USER_COMPLETION_SCHEMA)
    )
    assert not r.has_data and r.chart_png is None
    assert all(t["ml"] is None and t["holdout"] is None for t in r.trend)
    assert "ci_low" not in r.ml_vs_holdout
    # nothing to compare is None, never NaN: the report goes into JSON (run result, API)
    assert r.ml_vs_holdout["diff"] is None and r.ml_vs_holdout["ml"] is None
    json.dumps(r.as_dict(), allow_nan=False)


def test_morning_context_in_norwegian(sqlite_url: str) -> None:
    from daglig.morning import morning_context

    seed_day(sqlite_url)
    morning = report_from(sqlite_url).as_dict() | {"recent_seconds": [10.0, 12.0]}
    night = datetime(2026, 11, 24, 0, 30)
    ctx = morning_context(morning, 13.2, "chart@daglig", night)
    assert ctx["present"] and ctx["yesterday_no"] == "23.11.2026"
    assert ctx["groups"][0] == ("ML", "8", "62,5\u00a0%", "62,5\u00a0%")
    assert ctx["diff_line"].startswith(
        "Fullføring per elev, ML minus kontrollgruppe: +37,5 prosentpoeng (95\u00a0% KI "
    )
    assert ctx["trend"] == [
        ("22. nov.", "100,0\u00a0%", "–", "–"),
        ("23. nov.", "62,5\u00a0%", "25,0\u00a0%", "0,0\u00a0%"),
    ]
    assert (ctx["trend_days"], ctx["trend_days_with_data"]) == (14, 2)
    from daglig.rendering import make_environment

    text = make_environment().get_template("email/_morning.txt.j2").render(m=ctx)
    # the heading says how many of the 14 days have data (2 rows follow, not 14)
    assert "Fullføring per dag, siste 14 dager (2 med data) (" in text, text
    assert ctx["chart_cid"] == "chart@daglig"
    assert ctx["runtime_line"] == (
        "Kjøretid i natt: 13,2 s, 20\u00a0% tregere enn snittet for de 2 forrige kjøringene"
        " (11,0 s)."
    )
    empty = morning_context({})
    assert empty["present"] is False and empty["runtime_line"] is None


@pytest.mark.usefixtures("prefect_harness")
def test_the_summary_email_is_the_morning_report(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import email
    from email import policy

    from sqlalchemy import text

    from flows.daily_challenges import generate_daily_challenges
    from tests.test_flow import build_app

    flow_env(monkeypatch, sqlite_url, tmp_path)
    build_app(sqlite_url)
    first = generate_daily_challenges(run_date=YESTERDAY)
    engine = make_engine(sqlite_url)
    with engine.begin() as c:  # the app: every slot-1 challenge of yesterday completed
        c.execute(
            text(
                "UPDATE user_daily_challenges SET progress = 1, completed_at = :t "
                "WHERE slot = 1 AND challenge_date = :d"
            ),
            {"t": datetime(2026, 11, 23, 19, 0), "d": YESTERDAY.isoformat()},
        )
    engine.dispose()
    result = generate_daily_challenges(run_date=RUN)
    groups = {g["group"]: g for g in result["morning"]["by_group"]}
    assert sum(g["assigned"] for g in groups.values()) == first["assignments"]
    assert sum(g["completed"] for g in groups.values()) == first["users_served"]
    assert result["morning"]["recent_seconds"]  # yesterday's run, from pipeline_runs
    msg = email.message_from_bytes(Path(result["email"]).read_bytes(), policy=policy.default)
    plain = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Slik gikk det i går (23.11.2026):" in plain and "Kjøretid " in plain
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert 'src="cid:trend-chart@daglig.local"' in html
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0].get_payload(decode=True).startswith(b"\x89PNG")


@pytest.mark.usefixtures("prefect_harness")
def test_notify_off_sends_no_email_but_failures_still_do(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.daily_challenges import generate_daily_challenges
    from tests.test_flow import build_app

    flow_env(monkeypatch, sqlite_url, tmp_path)
    build_app(sqlite_url)
    result = generate_daily_challenges(run_date=RUN, dry_run=True, notify=False)
    assert result["email"] is None and not (tmp_path / "data" / "outbox").exists()


def test_the_email_renders_with_an_empty_or_partial_morning_report() -> None:
    from daglig.rendering import make_environment
    from daglig.summary import RunSummary, compose_email

    for morning in ({}, {"yesterday": "2026-11-23", "by_group": [], "trend": []}):
        s = RunSummary(run_date=RUN, status="failed", database="sqlite://", morning=morning)
        msg = compose_email(s, "a@b", ["c@d"], make_environment())
        assert "FEILET" in str(msg["Subject"])
