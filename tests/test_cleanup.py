"""Retention cleanup: never-started challenges and assignments older than the retention are
deleted; started or completed ones, challenges still referenced and manual ones are kept."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from daglig.cleanup import expired_run_folders, retention_cutoff
from daglig.io.db import make_engine
from daglig.io.deletions import delete_run_folders_before, delete_unstarted_before
from models import DailyChallenge, UserDailyChallenge, create_pipeline_tables
from models.tables import LearnerExamPath
from tests.builders import AppDataBuilder
from tests.dq_helpers import query
from tests.test_flow import build_app

RUN = date(2026, 11, 24)
OLD = date(2026, 8, 1)  # older than 90 days before RUN
RECENT = date(2026, 11, 1)


@pytest.mark.pure
def test_expired_run_folders_are_the_dates_before_the_cutoff_only() -> None:
    names = ["2026-08-27", "notes", "2026-08-25", "2026-08-26", "2026-13-01", "latest"]
    assert expired_run_folders(names, date(2026, 8, 26)) == ["2026-08-25"]
    assert expired_run_folders(names, date(2026, 8, 25)) == []


@pytest.mark.pure
def test_retention_cutoff_counts_back_from_the_run_date() -> None:
    assert retention_cutoff(RUN, 90) == date(2026, 8, 26)
    assert retention_cutoff(RUN, 1) == date(2026, 11, 23)
    with pytest.raises(ValueError, match="at least 1"):
        retention_cutoff(RUN, 0)


def _challenge(cid: int, day: date, source: str = "fallback") -> dict[str, Any]:
    return {
        "id": cid,
        "challenge_date": day,
        "content_key": f"quiz|-|t{cid}|{source}",
        "challenge_type": "quiz",
        "category": None,
        "title": "Quiz",
        "description": "Svar på spørsmål.",
        "target_value": 10,
        "difficulty": 0.5,
        "xp_reward": 20,
        "bonus_xp": 0,
        "source": source,
        "created_at": datetime(2026, 1, 1),
    }


def _assignment(
    user: int, day: date, slot: int, cid: int, progress: int = 0, done: bool = False
) -> dict[str, Any]:
    return {
        "user_id": user,
        "challenge_date": day,
        "slot": slot,
        "challenge_id": cid,
        "reason": None,
        "progress": progress,
        "completed_at": datetime.combine(day, datetime.min.time()) if done else None,
        "assigned_at": datetime.combine(day, datetime.min.time()),
    }


def seed(url: str) -> None:
    """Old day: challenge 1 only unstarted (goes), 2 shared by an unstarted and a started
    assignment (stays), 3 completed (stays), 4 unreferenced (goes), 5 manual (stays).
    Recent day: challenge 6 unstarted (stays: inside the retention)."""
    b = AppDataBuilder()
    u1, u2 = b.user(), b.user()
    b.write(url)
    engine = make_engine(url)
    create_pipeline_tables(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(DailyChallenge),
            [_challenge(i, OLD) for i in (1, 2, 3, 4)]
            + [_challenge(5, OLD, "manual"), _challenge(6, RECENT)],
        )
        conn.execute(
            insert(UserDailyChallenge),
            [
                _assignment(u1, OLD, 1, 1),
                _assignment(u1, OLD, 2, 2),
                _assignment(u2, OLD, 1, 2, progress=3),
                _assignment(u2, OLD, 2, 3, progress=10, done=True),
                _assignment(u1, RECENT, 1, 6),
            ],
        )
        conn.execute(  # an old plan of u1 (goes) and a recent one (stays)
            insert(LearnerExamPath),
            [
                {"user_id": u1, "plan_start": start, "day_no": d, "category": "traffic_rules",
                 "planned_mastery": 0.5}
                for start in (OLD, RECENT)
                for d in range(1, 8)
            ],
        )  # fmt: skip
    engine.dispose()


def _cleanup_keeps_what_matters(url: str) -> None:
    seed(url)
    engine = make_engine(url)
    try:
        counts = delete_unstarted_before(engine, retention_cutoff(RUN, 90))
    finally:
        engine.dispose()
    assert (counts.assignments_deleted, counts.challenges_deleted) == (2, 2)
    assert counts.exam_path_rows_deleted == 7
    assert query(url, "SELECT DISTINCT CAST(plan_start AS TEXT) FROM learner_exam_paths") == [
        (str(RECENT),)
    ]
    assert query(url, "SELECT id FROM daily_challenges ORDER BY id") == [(2,), (3,), (5,), (6,)]
    assert query(
        url,
        "SELECT user_id, CAST(challenge_date AS TEXT), slot, progress FROM user_daily_challenges "
        "ORDER BY challenge_date, user_id, slot",
    ) == [(2, str(OLD), 1, 3), (2, str(OLD), 2, 10), (1, str(RECENT), 1, 0)]


def test_cleanup_keeps_started_completed_referenced_and_manual(db_url: str) -> None:
    _cleanup_keeps_what_matters(db_url)


def test_cleanup_without_pipeline_tables_deletes_nothing(sqlite_url: str) -> None:
    b = AppDataBuilder()
    b.user()
    b.write(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        counts = delete_unstarted_before(engine, RUN)
    finally:
        engine.dispose()
    assert (counts.assignments_deleted, counts.challenges_deleted) == (0, 0)


def test_old_run_folders_are_removed_and_nothing_else(tmp_path: Path) -> None:
    for name in ("2026-08-01", "2026-11-23", "notes"):
        (tmp_path / name / "abc").mkdir(parents=True)
    assert delete_run_folders_before(tmp_path, date(2026, 11, 1)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-11-23", "notes"]
    assert delete_run_folders_before(tmp_path / "missing", RUN) == 0


@pytest.mark.usefixtures("prefect_harness")
def test_run_with_cleanup_reports_what_it_deleted(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from daglig.cli import app

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGLIG_RETENTION_DAYS", "2")
    monkeypatch.delenv("DAGLIG_SMTP_HOST", raising=False)
    people = build_app(sqlite_url)
    from flows.daily_challenges import generate_daily_challenges

    first = generate_daily_challenges(run_date=RUN - timedelta(days=5))
    assert first["assignments"] == 36
    out = CliRunner().invoke(app, ["run", "--date", str(RUN), "--cleanup"])
    assert out.exit_code == 0, out.output
    assert "cleanup: 36 never-started assignments" in out.output
    remaining = query(
        sqlite_url,
        "SELECT DISTINCT CAST(challenge_date AS TEXT) FROM user_daily_challenges",
    )
    assert [str(d)[:10] for (d,) in remaining] == [str(RUN)]
    assert (
        len(people["active"]) * 3
        == query(sqlite_url, "SELECT COUNT(*) FROM user_daily_challenges")[0][0]
    )
    # the old date's run folder went with it
    assert [p.name for p in (tmp_path / "data" / "runs").iterdir()] == [str(RUN)]
