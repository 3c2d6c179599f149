"""The analytics SQL (sql/analytics/) and the admin service's reports on tiny literal data,
on SQLite and PostgreSQL: exact completion rates, engagement, ML vs rule-based by answer
bucket, run errors, performance, recent challenges and the overview."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

import pytest
from sqlalchemy import insert

from daglig.admin import analytics, common
from daglig.io.db import make_engine
from daglig.summary import RunSummary
from models import DailyChallenge, UserDailyChallenge, create_pipeline_tables
from models.tables import Base
from tasks.runs import run_row
from tests.builders import AppDataBuilder

D = date(2026, 11, 24)
D1 = date(2026, 11, 23)
HOLD = json.dumps({"ml_holdout": True, "selector": "fallback"}, separators=(",", ":"))

# id, date, type, category, source
CHALLENGES = [
    (1, D, "quiz", "traffic_signs", "onboarding"),
    (2, D, "streak", None, "fallback"),
    (3, D, "category_focus", "right_of_way", "ml"),
    (4, D, "quiz", "right_of_way", "fallback"),
    (5, D, "accuracy_challenge", "traffic_signs", "ml"),
    (6, D1, "quiz", "traffic_signs", "fallback"),
]
DONE = datetime(2026, 11, 24, 18)
# user, date, slot, challenge, progress, completed, reason
ASSIGNMENTS = [
    (1, D, 1, 1, 0, False, None),
    (1, D, 2, 2, 1, False, None),
    (2, D, 1, 4, 5, True, None),
    (2, D, 2, 2, 2, True, None),
    (3, D, 1, 3, 8, True, None),
    (3, D, 2, 5, 2, False, None),
    (4, D, 1, 4, 0, False, None),
    (4, D, 2, 2, 2, True, None),
    (5, D, 1, 4, 5, True, HOLD),  # the ML holdout: fallback challenges, marked in reason
    (5, D, 2, 2, 0, False, HOLD),
    (6, D, 1, 4, 0, False, None),
    (2, D1, 1, 6, 5, True, None),
]


def _summary(day: date, status: str, seconds: float, quarantined: int, **kw: Any) -> RunSummary:
    s = RunSummary(run_date=day, status=status, database="x", total_seconds=seconds, **kw)
    s.quarantined = {"duplicate": quarantined} if quarantined else {}
    return s


RUNS = [
    (_summary(D1, "ok", 10.0, 3, users_served=6), datetime(2026, 11, 23, 23, 10)),
    (
        _summary(
            D, "failed", 2.5, 0, failed_task="upsert-challenges", error="OperationalError: gone"
        ),
        datetime(2026, 11, 24, 23, 5),
    ),
    (_summary(D, "ok", 12.0, 4, users_served=6, assignments=11), datetime(2026, 11, 24, 23, 20)),
    (_summary(D, "dry_run", 1.0, 4, dry_run=True), datetime(2026, 11, 24, 23, 30)),
]


def build(url: str, runs: bool = True) -> None:
    """Six users: 0, 10 (+25 on the day itself), and four with 40 answers before D."""
    b = AppDataBuilder()
    for _ in range(6):
        b.user()
    b.answers(2, "traffic_signs", 10, day=date(2026, 11, 20))
    b.answers(2, "traffic_signs", 25, day=D)  # on the challenge day: not counted for D
    for uid in (3, 4, 5, 6):
        b.answers(uid, "right_of_way", 40, day=date(2026, 11, 20))
    b.write(url)
    engine = make_engine(url)
    create_pipeline_tables(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(DailyChallenge),
            [
                {
                    "id": i,
                    "challenge_date": d,
                    "content_key": f"{t}|{c}|{s}",
                    "challenge_type": t,
                    "category": c,
                    "title": f"Tittel {i}",
                    "description": "Beskrivelse.",
                    "target_value": 5,
                    "difficulty": 0.5,
                    "xp_reward": 40,
                    "bonus_xp": 5,
                    "source": s,
                    "created_at": datetime.combine(d, time(0)),
                }
                for i, d, t, c, s in CHALLENGES
            ],
        )
        conn.execute(
            insert(UserDailyChallenge),
            [
                {
                    "user_id": u,
                    "challenge_date": d,
                    "slot": slot,
                    "challenge_id": c,
                    "reason": reason,
                    "progress": p,
                    "completed_at": DONE if done else None,
                    "assigned_at": datetime.combine(d, time(0)),
                }
                for u, d, slot, c, p, done, reason in ASSIGNMENTS
            ],
        )
        if runs:
            conn.execute(
                insert(Base.metadata.tables["pipeline_runs"]),
                [run_row(s, finished, f"run-{i}") for i, (s, finished) in enumerate(RUNS)],
            )
    engine.dispose()


def _pg_exec(admin_url: str, sql: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(admin_url)
    with psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, autocommit=True
    ) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The literal data, built once per module, on SQLite and on PostgreSQL (the tests
    only read it)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('analytics') / 'app.db'}"
        build(url)
        yield url
        return
    from sqlalchemy.engine import make_url

    admin = str(request.getfixturevalue("postgres_server"))
    name = f"daglig_t_{uuid.uuid4().hex[:10]}"
    _pg_exec(admin, f'CREATE DATABASE "{name}"')
    try:
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        build(url)
        yield url
    finally:
        _pg_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rows(rows: list[dict[str, Any]], key: str) -> dict[str, tuple[int, int, int]]:
    return {r[key]: (r["assigned"], r["started"], r["completed"]) for r in rows}


def test_completion_engagement_and_ml_effectiveness(db_url: str) -> None:
    s = analytics.stats(db_url, D, D)
    assert s["totals"] == {
        "assigned": 11,
        "started": 7,
        "completed": 5,
        "start_rate": 0.6364,
        "completion_rate": 0.4545,
    }
    assert _rows(s["by_source"], "source") == {
        "fallback": (8, 5, 4),
        "ml": (2, 2, 1),
        "onboarding": (1, 0, 0),
    }
    assert [r["completion_rate"] for r in s["by_source"]] == [0.5, 0.5, 0.0]
    assert _rows(s["by_type"], "challenge_type") == {
        "accuracy_challenge": (1, 1, 0),
        "category_focus": (1, 1, 1),
        "quiz": (5, 2, 2),
        "streak": (4, 3, 2),
    }
    assert _rows(s["by_category"], "category") == {
        "none": (4, 3, 2),
        "right_of_way": (5, 3, 3),
        "traffic_signs": (2, 1, 0),
    }
    e = s["engagement"]
    assert (e["assigned_user_days"], e["engaged_user_days"], e["completed_all_user_days"]) == (
        6,
        5,
        1,
    )
    assert e["engagement_rate"] == 0.8333
    assert e["days"] == [
        {
            "challenge_date": "2026-11-24",
            "assigned_users": 6,
            "engaged_users": 5,
            "completed_all_users": 1,
            "engagement_rate": 0.8333,
        }
    ]
    m = s["ml_effectiveness"]
    by_bucket = {b["bucket"]: b for b in m["buckets"]}
    # user 2's 25 answers on the day itself do not move them out of '1-29'
    assert set(by_bucket) == {"0", "1-29", "30-99"}
    assert by_bucket["1-29"]["fallback"]["assigned"] == 2
    mid = by_bucket["30-99"]
    assert mid["ml"] == {"users": 1, "assigned": 2, "completed": 1, "completion_rate": 0.5}
    assert mid["fallback"] == {"users": 2, "assigned": 3, "completed": 1, "completion_rate": 0.3333}
    assert mid["holdout"] == {"users": 1, "assigned": 2, "completed": 1, "completion_rate": 0.5}
    assert mid["rule_based"] == {"assigned": 5, "completed": 2, "completion_rate": 0.4}
    assert mid["difference"] == 0.1 and m["difference"] == 0.1
    assert "difference" not in by_bucket["0"]  # no ML users with 0 answers: no comparison


def test_a_date_range_includes_both_ends(db_url: str) -> None:
    s = analytics.stats(db_url, D1, D)
    assert _rows(s["by_source"], "source")["fallback"] == (9, 6, 5)
    assert s["totals"]["assigned"] == 12
    assert [d["challenge_date"] for d in s["engagement"]["days"]] == ["2026-11-23", "2026-11-24"]
    assert _rows(analytics.completion(db_url, "source", D1, D1), "source") == {
        "fallback": (1, 1, 1)
    }


def test_runs_errors_performance_and_overview(db_url: str) -> None:
    err = analytics.run_errors(db_url, D, D)
    assert err["runs_by_status"] == {"dry_run": 1, "failed": 1, "ok": 1}
    assert (err["runs"], err["failed"], err["failure_rate"]) == (3, 1, 0.3333)
    assert err["quarantined"] == 4  # the dry run's repeat of the ok run's 4 is not added
    assert [r["error"] for r in err["failed_runs"]] == ["upsert-challenges: OperationalError: gone"]
    assert analytics.run_errors(db_url, D1, D)["quarantined"] == 7

    perf = analytics.performance(db_url, limit=10)
    assert [r["status"] for r in perf["runs"]] == ["dry_run", "ok", "failed", "ok"]
    assert perf["runs"][1]["started_at"] == "2026-11-24T23:19:48+00:00"  # UTC, with its zone
    assert perf["seconds"] == {"runs": 3, "last": 12.0, "mean": 8.167, "max": 12.0}
    assert len(analytics.performance(db_url, limit=2)["runs"]) == 2

    o = analytics.overview(db_url, D)
    assert o["today"]["users"] == 6 and o["today"]["assignments"] == 11
    assert (o["today"]["completed"], o["today"]["completion_rate"]) == (5, 0.4545)
    assert o["last_run"]["status"] == "ok" and o["last_run"]["total_seconds"] == 12.0
    assert o["settings"]["challenges_per_user"] == 3  # defaults: nothing stored


def test_recent_challenges_newest_day_most_assigned_first(db_url: str) -> None:
    rows = analytics.recent(db_url, D1, 50)["challenges"]
    assert [(r["challenge_date"], r["challenge_type"], r["assigned"]) for r in rows] == [
        ("2026-11-24", "streak", 4),  # ties (4 and 4) in id order
        ("2026-11-24", "quiz", 4),
        ("2026-11-24", "quiz", 1),
        ("2026-11-24", "category_focus", 1),
        ("2026-11-24", "accuracy_challenge", 1),
        ("2026-11-23", "quiz", 1),
    ]
    assert (rows[0]["started"], rows[0]["completed"], rows[0]["completion_rate"]) == (3, 2, 0.5)
    assert len(analytics.recent(db_url, D, 2)["challenges"]) == 2
    assert analytics.recent(db_url, date(2026, 11, 25), 50)["challenges"] == []


def test_bad_ranges_are_refused(sqlite_url: str) -> None:
    build(sqlite_url)
    with pytest.raises(common.AdminInputError, match="after end"):
        analytics.stats(sqlite_url, D, D1)
    with pytest.raises(common.AdminInputError, match="longer than 366"):
        analytics.stats(sqlite_url, date(2025, 1, 1), D)
    with pytest.raises(common.AdminInputError, match="limit"):
        analytics.performance(sqlite_url, 0)
