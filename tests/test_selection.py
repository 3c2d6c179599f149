"""The fallback selector's rules, on tiny literal answer logs (no database, no Prefect)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import polars as pl
import pytest

from daglig.catalogue import CATEGORY_KEYS, TYPE_KEYS
from daglig.challenge_settings import ChallengeSettings
from daglig.selection import ASSIGNMENT_SCHEMA, PREVIOUS_SCHEMA, FallbackSelector, SelectionInputs
from daglig.user_features import ATTEMPTS_SCHEMA, QUESTIONS_SCHEMA, USERS_SCHEMA, extract_features
from tests.builders import AppDataBuilder

pytestmark = pytest.mark.pure  # the fast tier: no database, no Prefect, no process

RUN = date(2026, 11, 24)
YESTERDAY = RUN - timedelta(days=1)


def frames(b: AppDataBuilder) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    users = pl.DataFrame(
        [
            {"user_id": u["id"], "is_active": u["is_active"], "created_at": u["created_at"]}
            for u in b.users
        ]
    )
    users = (
        users.with_columns(
            [pl.lit(None, USERS_SCHEMA[c]).alias(c) for c in USERS_SCHEMA if c not in users.columns]
        )
        .select(list(USERS_SCHEMA))
        .cast(USERS_SCHEMA)
    )  # type: ignore[arg-type]
    questions = pl.DataFrame(
        [{("question_id" if k == "id" else k): v for k, v in q.items()} for q in b.question_rows()],
        schema=QUESTIONS_SCHEMA,
    )
    attempts = pl.DataFrame(
        [{("attempt_id" if k == "id" else k): v for k, v in a.items()} for a in b.attempts],
        schema=ATTEMPTS_SCHEMA,
    )
    return users, questions, attempts


def select(
    b: AppDataBuilder,
    settings: ChallengeSettings | None = None,
    previous: pl.DataFrame | None = None,
    run_date: date = RUN,
) -> pl.DataFrame:
    users, questions, attempts = frames(b)
    fs = extract_features(users, questions, attempts, run_date)
    inputs = SelectionInputs(
        run_date=run_date,
        users=fs.user_features.filter(pl.col("is_active")),
        user_categories=fs.user_category_features,
        previous=previous if previous is not None else pl.DataFrame(schema=PREVIOUS_SCHEMA),
        settings=settings or ChallengeSettings(),
    )
    out = FallbackSelector().select(inputs)
    assert out.schema == pl.Schema(ASSIGNMENT_SCHEMA)
    return out


def reasons(out: pl.DataFrame) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(r) for r in out["reason"]]


def population(n: int = 60) -> AppDataBuilder:
    """New, beginner, intermediate and advanced learners in equal parts."""
    b = AppDataBuilder()
    for i in range(n):
        uid = b.user()
        kind = i % 4
        if kind == 1:
            b.answers(uid, CATEGORY_KEYS[i % 12], 20, correct=0.6)
        elif kind == 2:
            for c in CATEGORY_KEYS[:6]:
                b.answers(uid, c, 25, correct=0.7, day=YESTERDAY - timedelta(days=i % 9))
        elif kind == 3:
            b.daily(uid, CATEGORY_KEYS[i % 12], YESTERDAY, days=5, per_day=80)
    return b


def test_new_users_get_onboarding_with_small_targets() -> None:
    b = AppDataBuilder()
    for _ in range(20):
        b.user()
    out = select(b)
    assert out.height == 20 * 3
    assert set(out["source"]) == {"onboarding"}
    assert {r["rule"] for r in reasons(out)} == {"onboarding"}
    targets = dict(zip(out["challenge_type"], out["target_value"], strict=True))
    assert targets.get("quiz", 1) == 1 and targets.get("category_focus", 5) == 5
    assert out["difficulty"].max() <= 0.3 + 1e-9


@pytest.mark.parametrize("per_user", [1, 2, 3, 4, 5, 6])
def test_challenges_per_user_distinct_types(per_user: int) -> None:
    out = select(population(), ChallengeSettings(challenges_per_user=per_user))
    per = out.group_by("user_id").agg(
        n=pl.len(), types=pl.col("challenge_type").n_unique(), slots=pl.col("slot").sort()
    )
    assert per.height == 60
    assert per["n"].to_list() == [per_user] * 60
    assert per["types"].to_list() == [per_user] * 60
    assert all(s.to_list() == list(range(1, per_user + 1)) for s in per["slots"])


@pytest.mark.parametrize(
    ("answers", "correct", "level"),
    [
        (0, 0.0, "new"),
        (20, 0.8, "beginner"),
        (120, 0.9, "intermediate"),
        (400, 0.6, "intermediate"),
        (400, 0.9, "advanced"),
    ],
)
def test_experience_levels(answers: int, correct: float, level: str) -> None:
    b = AppDataBuilder()
    uid = b.user()
    if answers:
        b.answers(uid, "traffic_signs", answers, correct=correct, day=YESTERDAY)
    assert {r["level"] for r in reasons(select(b))} == {level}


def test_difficulty_ramps_with_experience_and_accuracy() -> None:
    b = AppDataBuilder()
    novice, mid, expert = b.user(), b.user(), b.user()
    b.answers(novice, "traffic_signs", 10, correct=0.5, day=YESTERDAY)
    b.answers(mid, "traffic_signs", 100, correct=0.7, day=YESTERDAY)
    b.answers(expert, "traffic_signs", 600, correct=0.95, day=YESTERDAY)
    d = (
        select(b)
        .group_by("user_id")
        .agg(pl.col("difficulty").first())
        .sort("user_id")["difficulty"]
        .to_list()
    )
    assert d[0] < d[1] < d[2]


@pytest.mark.parametrize(
    ("lo", "hi"), [(0.1, 0.95), (0.5, 0.6), (0.42, 0.44), (0.0, 0.2), (0.7, 1.0)]
)
def test_difficulty_bounds_are_honoured(lo: float, hi: float) -> None:
    out = select(population(), ChallengeSettings(min_difficulty=lo, max_difficulty=hi))
    assert out["difficulty"].min() >= lo - 1e-9 and out["difficulty"].max() <= hi + 1e-9


@pytest.mark.parametrize(
    "types",
    [
        ("quiz",),
        ("streak", "quiz"),
        ("category_focus", "speed_challenge", "perfect_score"),
        TYPE_KEYS,
    ],
)
def test_only_enabled_types(types: tuple[str, ...]) -> None:
    out = select(population(), ChallengeSettings(enabled_types=types, challenges_per_user=6))
    assert set(out["challenge_type"]) == set(types)
    assert out.group_by("user_id").len()["len"].max() == len(types)


@pytest.mark.parametrize(
    "cats", [("winter_driving",), ("traffic_signs", "right_of_way"), CATEGORY_KEYS]
)
def test_only_enabled_categories(cats: tuple[str, ...]) -> None:
    out = select(population(), ChallengeSettings(enabled_categories=cats))
    assert set(out["category"].drop_nulls()) <= set(cats)


def test_rotation_prefers_never_then_least_recently_practised() -> None:
    b = AppDataBuilder()
    uid = b.user()
    # every category practised, each on a different day; winter_driving longest ago
    for i, c in enumerate(CATEGORY_KEYS):
        b.answers(
            uid, c, 10, day=YESTERDAY - timedelta(days=1 if c != "winter_driving" else 40 + i)
        )
    fresh = b.user()
    for c in CATEGORY_KEYS:
        if c != "environment":
            b.answers(fresh, c, 10, day=YESTERDAY)
    out = select(b, ChallengeSettings(enabled_types=("category_focus",), challenges_per_user=1))
    got = dict(zip(out["user_id"], out["category"], strict=True))
    assert got == {uid: "winter_driving", fresh: "environment"}
    assert reasons(out)[0]["category_rule"] == "least_recently_practised"


def test_no_type_category_pair_repeats_from_previous_day() -> None:
    b = population()
    first = select(b)
    previous = first.select("user_id", "challenge_type", "category")
    second = select(b, previous=previous)
    clash = second.join(
        previous, on=["user_id", "challenge_type", "category"], how="inner", nulls_equal=True
    )
    assert clash.height == 0
    assert second.group_by("user_id").len()["len"].to_list() == [3] * 60  # still full


def test_single_category_and_previous_day_drops_the_infeasible_types() -> None:
    b = population(8)
    cs = ChallengeSettings(
        enabled_categories=("winter_driving",), enabled_types=("category_focus", "quiz", "streak")
    )
    first = select(b, cs)
    second = select(b, cs, previous=first.select("user_id", "challenge_type", "category"))
    assert (
        second.join(first, on=["user_id", "challenge_type", "category"], nulls_equal=True).height
        == 0
    )


def test_categories_distinct_within_a_user_when_enough_are_enabled() -> None:
    out = select(population(), ChallengeSettings(challenges_per_user=5))
    per = (
        out.drop_nulls("category")
        .group_by("user_id")
        .agg(n=pl.len(), u=pl.col("category").n_unique())
    )
    assert (per["n"] == per["u"]).all()


def test_deterministic_for_user_and_date() -> None:
    b = population()
    assert select(b).equals(select(b))
    other_day = select(b, run_date=RUN + timedelta(days=1))
    assert (
        not select(b)
        .select("user_id", "challenge_type", "category")
        .equals(other_day.select("user_id", "challenge_type", "category"))
    )


def test_streak_target_extends_the_current_streak() -> None:
    b = AppDataBuilder()
    uid = b.user()
    b.daily(uid, "traffic_signs", YESTERDAY, days=6)
    out = select(b, ChallengeSettings(enabled_types=("streak",), challenges_per_user=1))
    assert out["target_value"].to_list() == [7]
    assert out["category"].to_list() == [None]


def test_targets_stay_within_reach() -> None:
    out = select(population())
    focus = out.filter(pl.col("challenge_type") == "category_focus")["target_value"]
    assert focus.min() >= 5 and focus.max() <= 30 and (focus % 5 == 0).all()
    acc = out.filter(pl.col("challenge_type") == "accuracy_challenge")
    assert (
        acc["target_value"].is_between(70, 90).all() and acc["question_count"].is_in([10, 20]).all()
    )
