"""A struggling learner's day (issue 17 item 2), in both selectors: no perfect score or
speed while another type is left, easier and shorter challenges, ``gentle`` set, the
signals in the reason; a learner of the struggle holdout keeps the day as chosen.

Fast: no Prefect, no database. Each test selects twice from the same features, once
without and once with the feature step's struggle columns, and compares.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from daglig.challenge_settings import ChallengeSettings
from daglig.learner.assessment import assess, exam_allocation
from daglig.learner.estimators import LaplaceBaseline
from daglig.learner.examples import learner_rows
from daglig.learner.selection import MLSelector
from daglig.selection import (
    ASSIGNMENT_SCHEMA,
    PREVIOUS_SCHEMA,
    STRUGGLE_EASIER,
    STRUGGLE_EXCLUDED_TYPES,
    FallbackSelector,
    SelectionInputs,
    Selector,
)
from daglig.user_features import extract_features
from tests.builders import AppDataBuilder
from tests.test_learner import CUTOFF, NO_EXAMS, ml_population
from tests.test_selection import RUN, frames, population

pytestmark = pytest.mark.pure

KEY = ["user_id", "challenge_type", "category"]


def inputs_of(b: AppDataBuilder, settings: ChallengeSettings | None = None) -> SelectionInputs:
    users, questions, attempts = frames(b)
    fs = extract_features(users, questions, attempts, RUN)
    return SelectionInputs(
        run_date=RUN,
        users=fs.user_features.filter(pl.col("is_active")),
        user_categories=fs.user_category_features,
        previous=pl.DataFrame(schema=PREVIOUS_SCHEMA),
        settings=settings or ChallengeSettings(),
    )


def struggling(inputs: SelectionInputs) -> SelectionInputs:
    """Every learner with answers struggles (a wrong run); every third one is held out."""
    u = inputs.users
    has = pl.col("total_answers") > 0
    return replace(
        inputs,
        users=u.with_columns(
            struggle_signals=pl.when(has)
            .then(pl.lit(["wrong_run"], pl.List(pl.String)))
            .otherwise(pl.lit([], pl.List(pl.String))),
            struggle_holdout=has & (pl.col("user_id") % 3 == 0),
        ),
    )


def ml_selector(b: AppDataBuilder) -> MLSelector:
    users, questions, attempts = frames(b)
    rows = learner_rows(users, questions, attempts, NO_EXAMS, CUTOFF)
    mastery = LaplaceBaseline().fit(None, np.array([0, 1])).predict_proba(rows)[:, 1]
    return MLSelector(assess(rows, mastery, exam_allocation(questions)), "lm-test")


def both(selector: Selector, inputs: SelectionInputs) -> tuple[pl.DataFrame, pl.DataFrame]:
    before = selector.select(inputs)
    after = selector.select(struggling(inputs))
    for out in (before, after):
        assert out.schema == pl.Schema(ASSIGNMENT_SCHEMA)
    return before, after


def groups(inputs: SelectionInputs) -> tuple[set[int], set[int]]:
    s = struggling(inputs).users.filter(pl.col("struggle_signals").list.len() > 0)
    held = set(s.filter(pl.col("struggle_holdout"))["user_id"])
    return set(s["user_id"]) - held, held


CASES = {
    "fallback": (population(80), lambda b: FallbackSelector()),
    "ml": (ml_population(48), ml_selector),
}


def selected(case: str) -> tuple[SelectionInputs, pl.DataFrame, pl.DataFrame, set[int], set[int]]:
    """A case's inputs, its day without and with the struggle columns, the adapted and
    the held-out learners."""
    b, make = CASES[case]
    inputs = inputs_of(b)
    before, after = both(make(b), inputs)
    adapted, held = groups(inputs)
    assert adapted and held
    return inputs, before, after, adapted, held


@pytest.mark.parametrize("case", list(CASES))
def test_the_holdout_keeps_its_day_and_the_reason_says_so(case: str) -> None:
    inputs, before, after, adapted, held = selected(case)
    mine = after.filter(pl.col("user_id").is_in(list(held)))
    theirs = before.filter(pl.col("user_id").is_in(list(held)))
    assert mine.drop("reason", "gentle").equals(theirs.drop("reason", "gentle"))
    assert not mine["gentle"].any()
    for r in mine["reason"]:
        assert json.loads(r)["struggle"] == {"signals": ["wrong_run"], "holdout": True}
    # nobody else's day moves
    others = set(inputs.users["user_id"]) - adapted - held
    assert after.filter(pl.col("user_id").is_in(list(others))).equals(
        before.filter(pl.col("user_id").is_in(list(others)))
    )


@pytest.mark.parametrize("case", list(CASES))
def test_an_adapted_day_is_easier_shorter_and_kind(case: str) -> None:
    inputs, before, after, adapted, _ = selected(case)
    mine = after.filter(pl.col("user_id").is_in(list(adapted)))
    assert mine.height > 0 and mine["gentle"].all()
    for r in mine["reason"]:
        assert json.loads(r)["struggle"] == {"signals": ["wrong_run"]}
    assert not mine["challenge_type"].is_in(list(STRUGGLE_EXCLUDED_TYPES)).any()
    same = mine.join(before, on=KEY, how="inner", suffix="_was", nulls_equal=True)
    assert same.height > 0
    lo = inputs.settings.min_difficulty
    easier = (pl.col("difficulty") <= pl.col("difficulty_was") - STRUGGLE_EASIER + 1e-9) | (
        pl.col("difficulty") <= lo + 0.05
    )
    assert same.filter(~easier).is_empty(), same.filter(~easier)
    assert same.filter(pl.col("target_value") > pl.col("target_value_was")).is_empty()
    shorter = same.filter(pl.col("challenge_type").is_in(["quiz", "category_focus"]))
    assert (shorter["target_value"] < shorter["target_value_was"]).any()
    assert (mine["difficulty"] >= lo - 1e-9).all()


def test_hard_types_go_only_while_another_is_left() -> None:
    b = population(80)
    inputs = inputs_of(b)
    before, after = both(FallbackSelector(), inputs)
    adapted, _ = groups(inputs)
    # without the adaptation some of these learners would get them (the test can fail)
    had = before.filter(pl.col("user_id").is_in(list(adapted)))
    assert had["challenge_type"].is_in(list(STRUGGLE_EXCLUDED_TYPES)).any()
    # with only the hard types enabled a struggling learner is still served
    only_hard = ChallengeSettings(enabled_types=STRUGGLE_EXCLUDED_TYPES, challenges_per_user=2)
    _, hard = both(FallbackSelector(), inputs_of(b, only_hard))
    assert set(adapted) <= set(hard["user_id"])
