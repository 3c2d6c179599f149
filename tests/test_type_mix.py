"""The ML selector's type mix learns per learner: a Beta-Bernoulli Thompson draw per
(user, type) from the learner's own completion history (daglig/learner/selection.py
``type_draws``), seeded by (user, date, type), inside the seed's constraints."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from daglig.challenge_settings import ChallengeSettings
from daglig.learner.assessment import Assessment, assess, exam_allocation
from daglig.learner.estimators import LaplaceBaseline
from daglig.learner.examples import learner_rows
from daglig.learner.outcomes import OUTCOMES_SCHEMA
from daglig.learner.selection import MLSelector
from daglig.selection import PREVIOUS_SCHEMA, SelectionInputs
from daglig.user_features import extract_features
from tests.test_learner import CUTOFF, NO_EXAMS, RUN, ml_population
from tests.test_selection import frames

pytestmark = pytest.mark.pure

Prepared = tuple[pl.DataFrame, Assessment, pl.DataFrame]  # users, assessment, user categories
DATES = [RUN + timedelta(days=d) for d in range(30)]


@pytest.fixture(scope="module")
def prepared() -> Prepared:
    b = ml_population(40)
    users, questions, attempts = frames(b)
    fs = extract_features(users, questions, attempts, RUN)
    rows = learner_rows(users, questions, attempts, NO_EXAMS, CUTOFF)
    mastery = LaplaceBaseline().fit(None, np.array([0, 1])).predict_proba(rows)[:, 1]
    active = fs.user_features.filter(pl.col("is_active"))
    return active, assess(rows, mastery, exam_allocation(questions)), fs.user_category_features


def outcomes(rows: list[tuple[int, str, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=list(OUTCOMES_SCHEMA), orient="row").cast(
        OUTCOMES_SCHEMA  # type: ignore[arg-type]
    )


def select_on(prepared: Prepared, day: object, history: pl.DataFrame | None) -> pl.DataFrame:
    users, assessment, user_categories = prepared
    inputs = SelectionInputs(
        run_date=day,  # type: ignore[arg-type]
        users=users,
        user_categories=user_categories,
        previous=pl.DataFrame(schema=PREVIOUS_SCHEMA),
        settings=ChallengeSettings(),
        type_outcomes=history,
    )
    return MLSelector(assessment, "lm-test").select(inputs).filter(pl.col("source") == "ml")


def ml_users(prepared: Prepared) -> list[int]:
    out = select_on(prepared, RUN, None)
    users = sorted(set(out["user_id"]))
    assert len(users) >= 20
    return users


@pytest.mark.parametrize(
    ("done", "skipped"), [("streak", "quiz"), ("quiz", "streak"), ("accuracy_challenge", "quiz")]
)
def test_what_a_learner_completes_comes_back_more_often(
    prepared: Prepared, done: str, skipped: str
) -> None:
    users = ml_users(prepared)
    likes, dislikes = users[0::2], users[1::2]
    history = outcomes(
        [(u, done, 12.0, 12.0) for u in likes]
        + [(u, skipped, 12.0, 0.0) for u in likes]
        + [(u, done, 12.0, 0.0) for u in dislikes]
        + [(u, skipped, 12.0, 12.0) for u in dislikes]
    )
    given = pl.concat([select_on(prepared, d, history) for d in DATES])
    share = {
        name: given.filter(pl.col("user_id").is_in(group) & (pl.col("challenge_type") == done))
        .select(pl.len())
        .item()
        / (len(group) * len(DATES))
        for name, group in (("likes", likes), ("dislikes", dislikes))
    }
    assert share["likes"] > share["dislikes"] + 0.2, share


def test_the_draw_is_deterministic_for_user_and_date(
    prepared: Prepared,
) -> None:
    history = outcomes([(u, "streak", 5.0, 3.0) for u in ml_users(prepared)])
    first = select_on(prepared, RUN, history)
    assert first.height > 0
    assert_frame_equal(first, select_on(prepared, RUN, history))
    assert not first.equals(select_on(prepared, RUN + timedelta(days=1), history))
    mix = [json.loads(r)["type_mix"] for r in first["reason"]]
    assert all(0 < m["posterior_mean"] < 1 and 0 <= m["draw"] <= 1 for m in mix)


def test_constraints_hold_whatever_the_history(
    prepared: Prepared,
) -> None:
    users = ml_users(prepared)
    # everyone adores speed and perfect score, never does category focus
    history = outcomes(
        [(u, "speed_challenge", 30.0, 30.0) for u in users]
        + [(u, "perfect_score", 30.0, 30.0) for u in users]
        + [(u, "category_focus", 30.0, 0.0) for u in users]
    )
    given = pl.concat([select_on(prepared, d, history) for d in DATES[:10]])
    assert given.height > 0
    advanced = prepared[0].filter((pl.col("total_answers") >= 300) & (pl.col("accuracy") >= 0.75))
    assert advanced.is_empty()  # nobody here is advanced: speed is never theirs
    assert "speed_challenge" not in set(given["challenge_type"])
    first = given.filter(pl.col("slot") == 1)
    assert first.height == 10 * len(users)
    assert set(first["challenge_type"]) == {"category_focus"}
    assert {json.loads(r)["rule"] for r in first["reason"]} == {"top_weak_area"}
    skills = prepared[1].users.select("user_id", "overall_skill_level")
    perfect = given.filter(pl.col("challenge_type") == "perfect_score").join(skills, on="user_id")
    low = skills.filter(pl.col("overall_skill_level") < 0.65)
    assert low.height > 0
    # low skill keeps perfect score rare (fit 0.1) even with a perfect history
    assert perfect.filter(pl.col("overall_skill_level") < 0.65).height < perfect.height
