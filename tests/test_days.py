"""The simulator playing the app's side for a few days, with the real nightly flow."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from daglig.io.db import make_engine
from daglig.stats import welch

pytestmark = pytest.mark.usefixtures("prefect_harness")

START = dt.date(2026, 11, 10)


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return list(c.execute(text(sql), params).all())
    finally:
        engine.dispose()


def test_learners_act_on_their_challenges_night_after_night(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simulator.days import play_days

    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGLIG_ML_HOLDOUT_SHARE", "0.3")
    monkeypatch.delenv("DAGLIG_SMTP_HOST", raising=False)
    seen: list[Any] = []
    report = play_days(url, users=400, seed=4, start=START, days=2, on_day=seen.append)

    assert [d.day for d in seen] == ["2026-11-10", "2026-11-11"]
    assert all(d.ml_status == "used" and d.assignments > 0 and d.opened > 0 for d in seen)
    # the app's side was written: answers on the played days, progress and completions
    ((answers,),) = rows(
        url, "SELECT COUNT(*) FROM question_attempts WHERE answered_at >= :t", t="2026-11-09 23:00"
    )
    assert answers == sum(d.answers for d in seen) > 0
    done = rows(
        url,
        "SELECT a.progress, d.target_value, d.challenge_type FROM user_daily_challenges a "
        "JOIN daily_challenges d ON d.id = a.challenge_id WHERE a.completed_at IS NOT NULL",
    )
    assert len(done) == sum(d.completed for d in seen) > 0
    for progress, target, kind in done:
        if kind in ("category_focus", "quiz", "streak", "perfect_score", "accuracy_challenge"):
            assert progress >= target, (kind, progress, target)
    ((xp,),) = rows(
        url,
        "SELECT COUNT(*) FROM user_progress p WHERE p.total_xp > 0 AND p.user_id IN "
        "(SELECT user_id FROM user_daily_challenges WHERE completed_at IS NOT NULL)",
    )
    assert xp > 0
    # the second night saw the first day's answers and did not repeat its pairs
    ((clash,),) = rows(
        url,
        "SELECT COUNT(*) FROM user_daily_challenges a JOIN daily_challenges d "
        "ON d.id = a.challenge_id JOIN user_daily_challenges b ON b.user_id = a.user_id "
        "JOIN daily_challenges e ON e.id = b.challenge_id WHERE a.challenge_date = :d1 "
        "AND b.challenge_date = :d2 AND d.challenge_type = e.challenge_type "
        "AND d.category = e.category",
        d1="2026-11-10",
        d2="2026-11-11",
    )
    assert clash == 0
    # both arms exist and the comparison carries intervals
    assert report.ml_users > 0 and report.holdout_users > 0
    for d in (report.completion, report.weak_mastery_gain, report.weak_answers_per_user):
        assert d["ci_low"] <= d["diff"] <= d["ci_high"]
    # ML learners are sent to their weak categories: they answer more there
    assert report.weak_answers_per_user["diff"] > 0


def test_welch_interval() -> None:
    import numpy as np

    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([0.0, 1.0, 2.0, 3.0])
    w = welch(a, b)
    se = math.sqrt(a.var(ddof=1) / 4 + b.var(ddof=1) / 4)
    assert w["diff"] == 1.0 and w["ci_low"] == pytest.approx(1 - 1.96 * se, abs=1e-4)
    few = welch(a[:1], b)  # too few on one side: no difference, no interval, no NaN
    assert few["diff"] is None and "ci_low" not in few and few["ml"] == 1.0
    assert welch(a[:0], b)["ml"] is None
