"""The nightly flow end to end, on SQLite in tmp_path and on PostgreSQL.

Runs the real Prefect flow (one temporary API for the whole test run) against a small
literal app database, then reads the database back.
"""

from __future__ import annotations

import email
import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from daglig.io.db import make_engine
from models import ChallengeSetting, create_pipeline_tables
from tests.builders import AppDataBuilder
from tests.dq_helpers import query

RUN = date(2026, 11, 24)
pytestmark = pytest.mark.usefixtures("prefect_harness")


def build_app(url: str) -> dict[str, list[int]]:
    """12 active users (4 new, 8 with history) and 3 inactive ones (2 with answers)."""
    b = AppDataBuilder()
    active, inactive = [], []
    for i in range(12):
        uid = b.user()
        active.append(uid)
        if i >= 4:
            b.answers(
                uid,
                ["traffic_signs", "right_of_way", "winter_driving"][i % 3],
                15 * i,
                correct=0.75,
                day=date(2026, 11, 23 - i % 5),
            )
    for i in range(3):
        uid = b.user(active=False)
        inactive.append(uid)
        if i < 2:
            b.answers(uid, "traffic_signs", 30)
    b.write(url)
    return {"active": active, "inactive": inactive}


def set_settings(url: str, **values: Any) -> None:
    engine = make_engine(url)
    create_pipeline_tables(engine)
    with engine.begin() as conn:
        for k, v in values.items():
            conn.execute(ChallengeSetting.__table__.delete().where(ChallengeSetting.key == k))
            conn.execute(
                ChallengeSetting.__table__.insert(),
                {
                    "key": k,
                    "value": v if isinstance(v, str) else json.dumps(v),
                    "updated_at": datetime(2026, 11, 1),
                    "updated_by": "test",
                },
            )
    engine.dispose()


@pytest.fixture
def runner(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Callable[..., dict[str, Any]]]:
    """``runner(url)`` → a function running the flow against ``url`` with data in tmp_path."""

    def make(url: str) -> Callable[..., dict[str, Any]]:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.delenv("DAGLIG_SMTP_HOST", raising=False)

        def run(**kwargs: Any) -> dict[str, Any]:
            from flows.daily_challenges import generate_daily_challenges

            return generate_daily_challenges(run_date=kwargs.pop("run_date", RUN), **kwargs)

        return run

    return make


def per_user(url: str, day: date = RUN) -> dict[int, int]:
    rows = query(
        url,
        "SELECT user_id, COUNT(*) FROM user_daily_challenges WHERE challenge_date = :d "
        "GROUP BY user_id",
        d=day,
    )
    return {int(u): int(n) for u, n in rows}


def table_counts(url: str) -> tuple[int, int]:
    ((c,),) = query(url, "SELECT COUNT(*) FROM daily_challenges")
    ((a,),) = query(url, "SELECT COUNT(*) FROM user_daily_challenges")
    return int(c), int(a)


def _end_to_end(url: str, run: Callable[..., dict[str, Any]], tmp_path: Path) -> None:
    people = build_app(url)
    result = run()
    assert result["status"] == "ok"
    assert per_user(url) == {u: 3 for u in people["active"]}  # exactly 3 each, no inactive
    assert result["users_served"] == 12 and result["users_skipped"] == {"inactive": 3}
    assert result["by_source"]["onboarding"] == 12  # 4 new users × 3
    rows = query(
        url,
        "SELECT a.reason, d.title, d.description, d.xp_reward, d.source, d.content_key "
        "FROM user_daily_challenges a JOIN daily_challenges d ON d.id = a.challenge_id",
    )
    for reason, title, description, xp, source, key in rows:
        assert json.loads(reason)["selector"] == "fallback"
        assert title and description.endswith(".") and xp > 0
        assert key.split("|")[6:8] == [source, "nb"]  # everyone Bokmål here
    # distinct challenges are stored once and shared
    ((n_distinct,),) = query(url, "SELECT COUNT(DISTINCT challenge_id) FROM user_daily_challenges")
    assert table_counts(url)[0] == n_distinct == result["distinct_challenges"]
    # the email landed in the outbox, in Norwegian, with both parts
    eml = Path(result["email"])
    assert eml.parent == tmp_path / "data" / "outbox"
    msg = email.message_from_bytes(eml.read_bytes())
    assert "Daglige utfordringer 24.11.2026" in str(
        email.header.make_header(email.header.decode_header(msg["Subject"]))
    )
    types = sorted(p.get_content_type() for p in msg.walk() if not p.is_multipart())
    # the chart says "Ingen data ennå" on a first night: an image all the same (issue 15)
    assert types == ["image/png", "text/html", "text/plain"]

    # an idempotent rerun: no new rows, nothing changed
    before = query(
        url,
        "SELECT user_id, slot, challenge_id, assigned_at FROM user_daily_challenges ORDER BY 1, 2",
    )
    again = run()
    assert (
        again["written"]["assignments_inserted"] == 0
        and again["written"]["challenges_inserted"] == 0
    )
    assert (
        query(
            url,
            "SELECT user_id, slot, challenge_id, assigned_at FROM user_daily_challenges "
            "ORDER BY 1, 2",
        )
        == before
    )


def test_end_to_end(db_url: str, runner: Any, tmp_path: Path) -> None:
    _end_to_end(db_url, runner(db_url), tmp_path)


def _force_keeps_started_progress(url: str, run: Callable[..., dict[str, Any]]) -> None:
    people = build_app(url)
    run()
    started_user, done_user = people["active"][5], people["active"][6]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE user_daily_challenges SET progress = 4 WHERE user_id = :u AND slot = 1"),
            {"u": started_user},
        )
        conn.execute(
            text(
                "UPDATE user_daily_challenges SET completed_at = :t, progress = 10 "
                "WHERE user_id = :u"
            ),
            {"u": done_user, "t": datetime(2026, 11, 24, 9)},
        )
    engine.dispose()
    kept = query(
        url,
        "SELECT user_id, slot, challenge_id, progress, completed_at FROM user_daily_challenges "
        "WHERE progress > 0 OR completed_at IS NOT NULL ORDER BY 1, 2",
    )
    # change what the selector would pick, so force has something to replace
    set_settings(
        url,
        enabled_types=["accuracy_challenge", "speed_challenge", "perfect_score", "quiz"],
        challenges_per_user=2,
    )
    without = run()
    assert without["written"]["assignments_replaced"] == 0  # no force: nothing touched
    result = run(force=True)
    assert result["written"]["assignments_replaced"] > 0
    after = query(
        url,
        "SELECT user_id, slot, challenge_id, progress, completed_at FROM user_daily_challenges "
        "WHERE progress > 0 OR completed_at IS NOT NULL ORDER BY 1, 2",
    )
    assert after == kept  # started and completed assignments are untouched
    counts = per_user(url)
    assert counts[started_user] == 2  # slot 1 kept (started), slot 2 replaced, slot 3 dropped
    assert counts[done_user] == 3  # all completed: nothing replaced or deleted
    assert all(counts[u] == 2 for u in people["active"] if u not in (started_user, done_user))
    # no orphaned challenge rows remain after replacement
    ((orphans,),) = query(
        url,
        "SELECT COUNT(*) FROM daily_challenges d WHERE NOT EXISTS "
        "(SELECT 1 FROM user_daily_challenges a WHERE a.challenge_id = d.id)",
    )
    assert orphans == 0


def test_force_keeps_started_progress(db_url: str, runner: Any) -> None:
    _force_keeps_started_progress(db_url, runner(db_url))


def test_generation_disabled_writes_nothing(sqlite_url: str, night: Any) -> None:
    build_app(sqlite_url)
    set_settings(sqlite_url, generation_enabled=False)
    result = night(sqlite_url, run_date=RUN)
    assert result["status"] == "disabled"
    assert any("generation_enabled is false" in n for n in result["notes"])
    assert table_counts(sqlite_url) == (0, 0)
    assert list(result["task_seconds"]) == ["check-health", "read-settings"]


def test_settings_are_honoured_and_bad_ones_reported(sqlite_url: str, runner: Any) -> None:
    people = build_app(sqlite_url)
    set_settings(
        sqlite_url,
        challenges_per_user=2,
        enabled_types=["quiz", "category_focus", "streak"],
        enabled_categories=["winter_driving", "right_of_way"],
        min_difficulty=0.4,
        max_difficulty=0.6,
        ml_min_answers="lots",
    )
    result = runner(sqlite_url)()
    assert per_user(sqlite_url) == {u: 2 for u in people["active"]}
    rows = query(
        sqlite_url, "SELECT DISTINCT challenge_type, category, difficulty FROM daily_challenges"
    )
    assert {t for t, _, _ in rows} <= {"quiz", "category_focus", "streak"}
    assert {c for _, c, _ in rows} - {None} <= {"winter_driving", "right_of_way"}
    assert all(0.4 - 1e-6 <= d <= 0.6 + 1e-6 for _, _, d in rows)
    assert result["settings_problems"] == [
        "ml_min_answers: not valid JSON (Expecting value); using default 30"
    ]


def test_dry_run_writes_nothing_and_creates_nothing(sqlite_url: str, runner: Any) -> None:
    build_app(sqlite_url)
    result = runner(sqlite_url)(dry_run=True)
    assert result["status"] == "dry_run" and result["assignments"] == 36
    assert query(sqlite_url, "SELECT name FROM sqlite_master WHERE name = 'daily_challenges'") == []


def test_user_ids_restrict_the_run(sqlite_url: str, night: Any, tmp_path: Path) -> None:
    people = build_app(sqlite_url)
    chosen = people["active"][:2] + people["inactive"][:1]
    result = night(sqlite_url, run_date=RUN, user_ids=chosen)
    assert per_user(sqlite_url) == {u: 3 for u in people["active"][:2]}
    assert result["users_skipped"] == {"inactive": 1}
    # the run used the settings it was given: its folder and email under their data_dir
    assert Path(result["run_folder"]).is_relative_to(tmp_path / "data" / "runs")
    assert Path(result["email"]).parent == tmp_path / "data" / "outbox"
    # every step the flow calls, timed in the order it ran
    assert list(result["task_seconds"]) == [
        "check-health",
        "read-settings",
        "check-users",
        "extract-features",
        "validate-inputs",
        "load-model",
        "select-challenges",
        "render-challenges",
        "validate-outputs",
        "upsert-challenges",
    ]


def test_next_day_avoids_yesterdays_pairs(sqlite_url: str, runner: Any) -> None:
    build_app(sqlite_url)
    run = runner(sqlite_url)
    run(run_date=RUN)
    run(run_date=date(2026, 11, 25))
    clashes = query(
        sqlite_url,
        """
        SELECT a.user_id FROM user_daily_challenges a
        JOIN daily_challenges d ON d.id = a.challenge_id
        JOIN user_daily_challenges b ON b.user_id = a.user_id AND b.challenge_date = '2026-11-25'
        JOIN daily_challenges e ON e.id = b.challenge_id
        WHERE a.challenge_date = '2026-11-24' AND d.challenge_type = e.challenge_type
          AND COALESCE(d.category, '-') = COALESCE(e.category, '-')""",
    )
    assert clashes == []


def test_health_check_fails_at_once_with_one_line(
    sqlite_url: str, runner: Any, tmp_path: Path
) -> None:
    make_engine(sqlite_url).connect().close()  # an empty database: no app tables
    with pytest.raises(Exception, match=r"lacks the app tables users, user_progress") as info:
        runner(sqlite_url)()
    assert "\n" not in str(info.value)
    # the admins still hear about it: a failure email naming the step and the reason
    (eml,) = (tmp_path / "data" / "outbox").glob("*-failed-*.eml")
    msg = email.message_from_bytes(eml.read_bytes())
    text_part = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    body = text_part.get_payload(decode=True).decode()
    assert "FEILET" in body and "«Sjekke databasen» (check-health)" in body
    assert "lacks the app tables" in body
