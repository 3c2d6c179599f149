"""The simulator playing the app's side for a few days, with the real nightly flow."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy import text

from daglig.io.db import make_engine
from daglig.stats import welch
from simulator.learners import SimulatedData, simulate_frames
from tests.builders import day_assignments
from tests.cli import cli_env, daglig

START = dt.date(2026, 11, 10)


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return list(c.execute(text(sql), params).all())
    finally:
        engine.dispose()


@pytest.mark.usefixtures("prefect_harness")
def test_learners_act_on_their_challenges_night_after_night(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simulator.days import play_days

    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGLIG_ML_HOLDOUT_SHARE", "0.3")
    monkeypatch.setenv("DAGLIG_STRUGGLE_HOLDOUT_SHARE", "0.5")
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
    for d in (
        report.completion,
        report.weak_mastery_gain,
        report.weak_answers_per_user,
        report.exam_readiness_gain,
        report.answers_per_user,
    ):
        assert d["ci_low"] <= d["diff"] <= d["ci_high"]
    assert report.answers_per_user["ml"] > 0
    # ML learners are sent to their weak categories: they answer more there
    assert report.weak_answers_per_user["diff"] > 0
    # struggling learners: every one the nights found, in one arm or the other
    found = rows(
        url,
        "SELECT DISTINCT user_id FROM user_daily_challenges WHERE reason LIKE :s",
        s='%"struggle":%',
    )
    st = report.struggle
    assert st["learners"] == len(found) > 0
    assert sum(st["signals_first_night"].values()) >= st["learners"]
    assert st["adapted"] > 0 and st["held_out"] > 0
    assert st["adapted"] + st["held_out"] == st["learners"]
    assert sum(d.struggling for d in seen) >= st["learners"]
    for d in (st["completion"], st["return_rate"]):
        assert d["n_adapted"] + d["n_held_out"] == st["learners"]


@pytest.mark.pure
def test_welch_interval() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([0.0, 1.0, 2.0, 3.0])
    w = welch(a, b)
    se = math.sqrt(a.var(ddof=1) / 4 + b.var(ddof=1) / 4)
    assert w["diff"] == 1.0 and w["ci_low"] == pytest.approx(1 - 1.96 * se, abs=1e-4)
    few = welch(a[:1], b)  # too few on one side: no difference, no interval, no NaN
    assert few["diff"] is None and "ci_low" not in few and few["ml"] == 1.0
    assert welch(a[:0], b)["ml"] is None


@pytest.fixture(scope="module")
def history() -> SimulatedData:
    """A small simulated history ending the day before START (in memory)."""
    return simulate_frames(users=600, seed=3, end_date=START - dt.timedelta(days=1))


def active_ids(history: SimulatedData) -> list[int]:
    users = history.frames["users"].filter(pl.col("is_active"))
    ids = users["id"].to_list()
    assert len(ids) > 400
    return ids


def completion(history: SimulatedData, assignments: pl.DataFrame, seed: int) -> float:
    """Share of ``assignments`` completed on START by fresh learners of ``history``."""
    from simulator.days import Learners, act

    _, updates, counts = act(Learners(history, seed), START, assignments)
    assert counts["taken_up"] > 0
    return float(updates["completed_at"].is_not_null().mean())  # type: ignore[arg-type]


@pytest.mark.pure
def test_the_learners_do_not_know_the_arm(history: SimulatedData) -> None:
    from simulator.days import Learners, act

    ids = active_ids(history)

    def day(source: str, reason: str) -> pl.DataFrame:
        kinds = [
            ("category_focus", 15, None, None),
            ("perfect_score", 10, None, None),
            ("accuracy_challenge", 80, 20, None),
            ("speed_challenge", 10, None, 20),
            ("quiz", 2, None, None),
            ("streak", 2, None, None),
        ]
        return pl.concat(
            [
                day_assignments(
                    ids,
                    kind,
                    target,
                    difficulty=0.6,
                    category=None if kind == "streak" else "right_of_way",
                    question_count=n,
                    seconds_limit=s,
                    source=source,
                    reason=reason,
                    slot=slot,
                )
                for slot, (kind, target, n, s) in enumerate(kinds, start=1)
            ]
        )

    ml = day("ml", '{"ml_holdout":false,"weak_rank":1}')
    holdout = day("fallback", '{"ml_holdout":true}')
    assert ml["content_key"].to_list() != holdout["content_key"].to_list()
    # the struggle arms: the same challenges phrased kindly (the key's "|kind") or not,
    # the reason saying adapted or held out
    kind = ml.with_columns(
        content_key=pl.col("content_key") + "|kind",
        reason=pl.lit('{"struggle":{"signals":["wrong_run"]}}'),
    )
    held = ml.with_columns(reason=pl.lit('{"struggle":{"signals":["wrong_run"],"holdout":true}}'))
    learners = [Learners(history, seed=5) for _ in range(5)]
    outcomes = [
        act(state, START, frame)
        for state, frame in zip(
            learners, (ml, holdout, ml.drop("reason", "source"), kind, held), strict=True
        )
    ]
    for state in learners[1:]:  # and what they carry into the next day is the same
        assert np.array_equal(state.frustration, learners[0].frustration)
    (frames, updates, counts), *others = outcomes
    assert counts["completed"] > 0 and counts["answers"] > 0
    for other_frames, other_updates, other_counts in others:
        assert other_counts == counts
        assert other_updates.equals(updates)
        for name, frame in frames.items():
            assert other_frames[name].equals(frame), name


@pytest.mark.pure
def test_a_higher_target_is_completed_less_often(history: SimulatedData) -> None:
    ids = active_ids(history)
    for kind, low, high in (("category_focus", 5, 30), ("quiz", 1, 4)):
        easy = day_assignments(ids, kind, low)
        hard = day_assignments(ids, kind, high)
        seeds = range(1, 6)
        assert np.mean([completion(history, hard, s) for s in seeds]) < np.mean(
            [completion(history, easy, s) for s in seeds]
        ), kind


@pytest.mark.pure
def test_a_harder_challenge_is_completed_less_often(history: SimulatedData) -> None:
    ids = active_ids(history)
    for kind, target, n in (("perfect_score", 5, None), ("accuracy_challenge", 80, 10)):
        easy = day_assignments(ids, kind, target, difficulty=0.2, question_count=n)
        hard = day_assignments(ids, kind, target, difficulty=0.9, question_count=n)
        seeds = range(1, 6)
        assert np.mean([completion(history, hard, s) for s in seeds]) < np.mean(
            [completion(history, easy, s) for s in seeds]
        ), kind


@pytest.mark.pure
def test_a_frustrating_week_keeps_learners_away(history: SimulatedData) -> None:
    # the frustration model: days of mostly wrong answers lower the chance of coming back
    # and the day's budget; the same learners on easy days keep coming
    from simulator.days import Learners, act

    ids = active_ids(history)

    def week(difficulty: float) -> tuple[int, float]:
        state = Learners(history, seed=7)
        day = day_assignments(ids, "category_focus", 10, difficulty=difficulty)
        opened = [act(state, START + dt.timedelta(days=d), day)[2]["opened"] for d in range(6)]
        return sum(opened[3:]), float(state.frustration.mean())

    easy_open, easy_f = week(0.05)
    hard_open, hard_f = week(1.0)
    assert hard_f > easy_f >= 0.0
    assert hard_open < easy_open


@pytest.mark.pure
def test_struggle_flags_are_read_from_the_reasons() -> None:
    from simulator.days import struggle_flags

    reasons = {
        1: '{"selector":"ml","struggle":{"signals":["wrong_run","abandoned"]}}',
        2: '{"ml_holdout":true,"selector":"fallback",'
        '"struggle":{"signals":["shorter"],"holdout":true}}',
        3: '{"ml_holdout":true,"selector":"fallback"}',
    }
    day = pl.DataFrame(
        {"user_id": [1, 1, 2, 3], "reason": [reasons[1], reasons[1], reasons[2], reasons[3]]}
    )
    flags = struggle_flags(day, 4)
    assert flags.to_dicts() == [
        {"user_id": 1, "day_index": 4, "held": False, "signals": ["wrong_run", "abandoned"]},
        {"user_id": 2, "day_index": 4, "held": True, "signals": ["shorter"]},
    ]


@pytest.mark.pure
def test_exam_readiness_from_a_mastery_matrix() -> None:
    from daglig.catalogue import CATEGORY_KEYS
    from simulator.days import exam_readiness

    signs = CATEGORY_KEYS.index("traffic_signs")
    allocation = {"traffic_signs": 45}  # the whole exam in one category
    mastery = np.zeros((3, len(CATEGORY_KEYS)))
    mastery[0, :] = 1.0
    mastery[1, signs] = 1.0  # the other categories are not on this exam
    mastery[2, signs] = 0.5
    half = sum(math.comb(45, k) for k in range(38, 46)) / 2**45
    assert exam_readiness(mastery, allocation) == pytest.approx([1.0, 1.0, half])


@pytest.mark.pure
def test_the_path_comparison_takes_its_arms_from_the_first_night_s_reasons() -> None:
    from daglig.catalogue import CATEGORY_KEYS
    from simulator.days import compare_paths, exam_readiness

    allocation = {"traffic_signs": 45}
    signs = CATEGORY_KEYS.index("traffic_signs")
    n = 8
    m0 = np.full((n, len(CATEGORY_KEYS)), 0.7)
    m1 = m0.copy()
    m1[:, signs] = [0.9, 0.95, 0.8, 0.85, 0.7, 0.75, 0.7, 0.99]
    path = '{"selector":"ml","exam_path":{"day":1,"days":7,"plan_start":"2026-11-10"}}'
    held = '{"selector":"ml","path_holdout":true}'
    first = pl.DataFrame(
        {
            # users 1-3 on a path, 4-6 held off it, 7 neither (fallback), 8 on a path with
            # the marker in slot 2 (slot 1 says nothing)
            "user_id": [1, 1, 2, 3, 4, 4, 5, 6, 7, 8, 8],
            "reason": [path, "{}", path, path, held, "{}", held, held, "{}", "{}", path],
        }
    )
    out = compare_paths(first, (m0, m1), allocation)
    assert (out["path_users"], out["holdout_users"]) == (4, 3)
    gain = exam_readiness(m1, allocation) - exam_readiness(m0, allocation)
    assert out["exam_readiness_gain"] == welch(gain[[0, 1, 2, 7]], gain[[3, 4, 5]])
    assert out["exam_readiness_gain"]["diff"] > 0


def test_simulate_days_as_the_docs_show(tmp_path: Path, prefect_api: str) -> None:
    env = cli_env(
        f"sqlite:///{tmp_path / 'app.db'}",
        tmp_path / "data",
        prefect_api,
        ml_holdout_share=0.2,
    )
    r = daglig("simulate", "--users", "400", "--days", "2", env=env, timeout=600)
    assert r.returncode == 0, r
    assert "(holdout share 20% of the ML-eligible)" in r.stdout
    table = r.out_lines[r.out_lines.index(next(x for x in r.out_lines if x.startswith("figure"))) :]
    labels = [line.split("  ")[0] for line in table[1:6]]
    assert labels == [
        "completion rate",
        "weak-category mastery gain",
        "exam-readiness gain",
        "answers in weak categories",
        "answers given",
    ], r
    assert list((tmp_path / "data" / "simulations").glob("days-*-2.json"))
