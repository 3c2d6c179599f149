"""The output gate: the day's challenges and assignments before they are written (text,
XP and difficulty within bounds, one assignment per slot, only active users, every
eligible user covered)."""

from __future__ import annotations

import time
from collections.abc import Callable

import polars as pl

from daglig.catalogue import CATEGORIES, CHALLENGE_TYPES, SOURCES, TYPE_KEYS, xp_for
from daglig.challenge_settings import ChallengeSettings
from daglig.quality.gx import Spec, expectations, run_suite
from daglig.quality.report import GateReport
from daglig.selection import CATEGORYLESS_TYPES, blocked_pairs

#: the largest XP and bonus any challenge can carry (difficulty 1.0, heaviest category)
XP_MAX, BONUS_MAX = (
    max(
        xp_for(t.base_xp, 1.0, c.weight)[i]
        for t in CHALLENGE_TYPES.values()
        for c in CATEGORIES.values()
    )
    for i in (0, 1)
)
#: float slack for bounds on stored difficulties (they are rounded to hundredths)
EPS = 1e-9


def eligible_users(
    users: pl.DataFrame, previous: pl.DataFrame, settings: ChallengeSettings
) -> pl.DataFrame:
    """Active users (``user_id``) for whom the admin's settings leave at least one challenge
    after the no-repeat rule: a category-less type given yesterday is out, and a category
    type is out once yesterday used every enabled category for it."""
    active = users.filter(pl.col("is_active")).select("user_id")
    cats = settings.enabled_categories
    types = [t for t in settings.enabled_types if t in CATEGORYLESS_TYPES or cats]
    if not types:
        return active.clear()
    exhausted = (
        blocked_pairs(previous, cats)
        .filter(pl.col("challenge_type").is_in(types))
        .unique()
        .group_by("user_id")
        .len()
        .filter(pl.col("len") >= len(types))
        .collect()
    )
    return active.join(exhausted, on="user_id", how="anti", maintain_order="left")


def _challenge_specs(s: ChallengeSettings) -> Callable[[], list[Spec]]:
    def specs() -> list[Spec]:
        g = expectations()
        return [
            (
                "challenges.content_key unique",
                True,
                lambda: g.ExpectColumnValuesToBeUnique(column="content_key"),
            ),
            *[
                (
                    f"challenges.{c} not blank",
                    True,
                    lambda c=c: g.ExpectColumnValuesToNotBeNull(column=c),
                )
                for c in ("title", "description", "content_key", "difficulty", "xp_reward")
            ],
            *[
                (
                    f"challenges.{c} has text",
                    True,
                    lambda c=c: g.ExpectColumnValuesToMatchRegex(column=c, regex=r"\S"),
                )
                for c in ("title", "description")
            ],
            (
                "challenges.challenge_type enabled",
                True,
                lambda: g.ExpectColumnValuesToBeInSet(
                    column="challenge_type",
                    value_set=[t for t in TYPE_KEYS if t in s.enabled_types],
                ),
            ),
            (
                "challenges.category enabled",
                True,
                lambda: g.ExpectColumnValuesToBeInSet(
                    column="category", value_set=list(s.enabled_categories)
                ),
            ),
            (
                "challenges.source known",
                True,
                lambda: g.ExpectColumnValuesToBeInSet(column="source", value_set=list(SOURCES)),
            ),
            (
                "challenges.difficulty within 0 .. 1",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(
                    column="difficulty", min_value=0, max_value=1
                ),
            ),
            (
                "challenges.difficulty within the admin's bounds",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(
                    column="difficulty",
                    min_value=s.min_difficulty - EPS,
                    max_value=s.max_difficulty + EPS,
                ),
            ),
            (
                "challenges.xp_reward within bounds",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(
                    column="xp_reward", min_value=0, max_value=XP_MAX
                ),
            ),
            (
                "challenges.bonus_xp within bounds",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(
                    column="bonus_xp", min_value=0, max_value=BONUS_MAX
                ),
            ),
            (
                "challenges.target_value positive",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(column="target_value", min_value=1),
            ),
        ]

    return specs


def _assignment_specs(challenges_per_user: int) -> Callable[[], list[Spec]]:
    def specs() -> list[Spec]:
        g = expectations()
        return [
            (
                "assignments one per (user, date, slot)",
                True,
                lambda: g.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "slot"]),
            ),
            (
                "assignments.slot within 1 .. challenges_per_user",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(
                    column="slot", min_value=1, max_value=challenges_per_user
                ),
            ),
            (
                "assignments refer to a challenge of the day",
                True,
                lambda: g.ExpectColumnValuesToBeInSet(column="known_challenge", value_set=[True]),
            ),
            (
                "assignments go to active users only",
                True,
                lambda: g.ExpectColumnValuesToBeInSet(column="active_user", value_set=[True]),
            ),
        ]

    return specs


def _coverage_specs() -> list[Spec]:
    g = expectations()
    return [
        (
            "every eligible user covered",
            True,
            lambda: g.ExpectColumnValuesToBeBetween(column="n_assignments", min_value=1),
        )
    ]


def check_output_gate(
    challenges: pl.DataFrame,
    assignments: pl.DataFrame,
    users: pl.DataFrame,
    previous: pl.DataFrame,
    settings: ChallengeSettings,
) -> GateReport:
    """The output gate over one day's rows before they are written.

    ``challenges``: the distinct challenges (``daglig.challenges.CHALLENGE_COLUMNS``);
    ``assignments``: user_id, slot, content_key; ``users``: user_id, is_active (the users
    the run considered); ``previous``: yesterday's user_id, challenge_type, category.
    """
    t0 = time.perf_counter()
    s = settings
    active = users.filter(pl.col("is_active")).select("user_id")
    marked = assignments.select("user_id", "slot", "content_key").with_columns(
        known_challenge=pl.col("content_key").is_in(challenges["content_key"].implode()),
        active_user=pl.col("user_id").is_in(active["user_id"].implode()),
    )
    eligible = eligible_users(users, previous, s)
    per_user = assignments.group_by("user_id").agg(n_assignments=pl.len())
    coverage = eligible.join(per_user, on="user_id", how="left", maintain_order="left").select(
        "user_id", pl.col("n_assignments").fill_null(0).cast(pl.Int64)
    )
    key = (s.enabled_types, s.enabled_categories, s.min_difficulty, s.max_difficulty)
    checks = [
        *run_suite("challenges", key, _challenge_specs(s), challenges),
        *run_suite(
            "assignments",
            (s.challenges_per_user,),
            _assignment_specs(s.challenges_per_user),
            marked.drop("content_key"),
        ),
        *run_suite("coverage", (), _coverage_specs, coverage),
    ]
    return GateReport(
        "output",
        tuple(checks),
        time.perf_counter() - t0,
        {
            "eligible_users": eligible.height,
            "users_covered": int((coverage["n_assignments"] > 0).sum()),
        },
    )
