"""A night folded into the last good night's state equals a full recompute, through the
real flow on SQLite and PostgreSQL: a simulated world, one night, one more simulated day
(with its late-arriving answers), then the incremental night against a full dry run of the
same date; answers deleted beneath the state make the next night full, with its reason;
a late duplicate of a carried answer is set aside as a full recompute would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import text

from daglig.io.db import make_engine
from daglig.io.run_folder import RunFile, RunFolder
from tests.dq_helpers import query

RUN = date(2026, 11, 24)
pytestmark = pytest.mark.usefixtures("prefect_harness")

Night = Callable[..., dict[str, Any]]


def _frames(result: dict[str, Any], name: RunFile, keys: list[str]) -> pl.DataFrame:
    files = RunFolder(Path(result["run_folder"])).shard_files(name)
    assert files, f"no {name} in {result['run_folder']}"
    return pl.concat([pl.read_parquet(f) for f in files]).sort(keys)


def assert_same_night(incremental: dict[str, Any], full: dict[str, Any]) -> None:
    """Every user's features, every (user, category)'s and every assignment, equal."""
    assert incremental["features_path"] == "incremental", incremental["features_reason"]
    assert full["features_path"] == "full"
    uf = [
        pl.read_parquet(Path(r["run_folder"]) / "user_features.parquet")
        for r in (incremental, full)
    ]
    assert uf[0].height > 0
    assert_frame_equal(uf[0], uf[1], check_exact=False, abs_tol=1e-9, rel_tol=0)
    keys = ["user_id", "category"]
    ucf = [_frames(r, RunFile.USER_CATEGORY_FEATURES, keys) for r in (incremental, full)]
    assert_frame_equal(ucf[0], ucf[1], check_exact=False, abs_tol=1e-9, rel_tol=0)
    a = [_frames(r, RunFile.ASSIGNMENTS, ["user_id", "slot"]) for r in (incremental, full)]
    assert a[0].height == incremental["assignments"] > 0
    assert_frame_equal(a[0], a[1], check_exact=False, abs_tol=1e-9, rel_tol=0)


def _delete_one_old_answer(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM question_attempts WHERE id = (SELECT MIN(id) FROM question_attempts)")
        )
    engine.dispose()


def _late_rows(url: str, when: datetime) -> None:
    """A late-arriving duplicate of a carried answer (same user, question and instant) and
    a late answer of its own, both answered before the last state's cutoff."""
    engine = make_engine(url)
    with engine.begin() as conn:
        row = conn.execute(
            text(
                "SELECT user_id, question_id, quiz_session_id, is_correct, time_spent_seconds, "
                "answered_at FROM question_attempts ORDER BY id DESC LIMIT 1"
            )
        ).one()
        top = conn.execute(text("SELECT MAX(id) FROM question_attempts")).scalar_one()
        cols = (
            "id, user_id, question_id, quiz_session_id, is_correct, time_spent_seconds, answered_at"
        )
        for k, at in ((1, row.answered_at), (2, when)):
            conn.execute(
                text(
                    f"INSERT INTO question_attempts ({cols}) VALUES (:id, :u, :q, :s, :c, :t, :at)"
                ),
                {
                    "id": top + k,
                    "u": row.user_id,
                    "q": row.question_id,
                    "s": row.quiz_session_id,
                    "c": row.is_correct,
                    "t": row.time_spent_seconds,
                    "at": at,
                },
            )
    engine.dispose()


def test_an_incremental_night_equals_a_full_recompute(
    db_url: str, tmp_path: Path, night: Night
) -> None:
    from simulator import simulate
    from simulator.add_day import add_day

    simulate(db_url, users=120, seed=3, end_date=RUN - timedelta(days=1), answers_per_user=60)

    def full_recompute(days_after: int) -> dict[str, Any]:
        """A full dry run of that night, with a data folder (and so a state) of its own."""
        return night(
            db_url,
            tmp_path / f"ref{days_after}",
            run_date=RUN + timedelta(days=days_after),
            no_ml=True,
            dry_run=True,
            full=True,
        )

    first = night(db_url, run_date=RUN, no_ml=True)
    assert first["status"] == "ok"
    assert (first["features_path"], first["features_reason_code"]) == ("full", "no_state")
    assert list((tmp_path / "data" / "state").glob("db-*/2026-11-24/manifest.json"))

    added = add_day(db_url, seed=1, day=RUN)
    second = night(db_url, run_date=RUN + timedelta(days=1), no_ml=True)
    assert second["status"] == "ok"
    assert second["answers_read"] == added.answers  # only the new day's answers were read
    reference = full_recompute(1)
    assert reference["features_reason_code"] == "forced"
    assert_same_night(second, reference)

    _delete_one_old_answer(db_url)
    third = night(db_url, run_date=RUN + timedelta(days=2), no_ml=True)
    assert (third["features_path"], third["features_reason_code"]) == ("full", "answers_changed")
    assert "carried" in third["features_reason"]

    # after a full night, late rows of an earlier day: folded, the duplicate set aside
    _late_rows(db_url, datetime.combine(RUN, datetime.min.time()) + timedelta(hours=12))
    fourth = night(db_url, run_date=RUN + timedelta(days=3), no_ml=True)
    assert fourth["answers_read"] == 2 and fourth["quarantined"] == {"duplicate": 1}
    reference = full_recompute(3)
    assert_same_night(fourth, reference)
    assert reference["quarantined"].get("duplicate", 0) >= 1


def test_a_run_for_some_users_or_a_dry_run_carries_no_state(
    sqlite_url: str, tmp_path: Path, night: Night
) -> None:
    from simulator import simulate

    simulate(sqlite_url, users=30, seed=4, end_date=RUN - timedelta(days=1), answers_per_user=30)
    (uid,) = query(sqlite_url, "SELECT MIN(id) FROM users WHERE is_active")[0]
    some = night(sqlite_url, run_date=RUN, no_ml=True, user_ids=[int(uid)])
    assert (some["features_path"], some["features_reason_code"]) == ("full", "some_users")
    dry = night(sqlite_url, run_date=RUN, no_ml=True, dry_run=True)
    assert dry["status"] == "dry_run"
    assert not (tmp_path / "data" / "state").exists()
    again = night(sqlite_url, run_date=RUN, no_ml=True)
    assert again["features_reason_code"] == "no_state"
    assert (tmp_path / "data" / "state").is_dir()
