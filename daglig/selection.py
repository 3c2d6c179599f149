"""Challenge selection: who gets which challenges today, and why.

A selector turns the day's features into *assignments*: one row per (user, slot) with the
challenge's parameters and a ``reason`` JSON. Every selector has the same interface
(:class:`Selector`), so the flow picks one without special cases; the learner model's
selector (next to this one) delegates the users it cannot serve to the fallback.

The fallback policy (the seed's "smart fallback"), all in Polars expressions:

* users with no answers get **onboarding** challenges (easy, small targets);
* everyone else is levelled by experience (answers) and accuracy, and challenge types are
  ranked by the level's preferences plus a deterministic jitter seeded from (user, date,
  type) — a broken streak lifts ``streak``;
* the ``challenges_per_user`` best distinct types are kept, among the enabled ones;
* categories rotate: least recently practised first (never practised before anything);
  the k-th category-bound slot takes the k-th category of the rotation;
* difficulty ramps with experience × smoothed accuracy, inside the admin's bounds;
* no (type, category) pair given to the user on the previous day is given again.

**A learner who struggles** (issue 17 item 2; the users frame's optional
``struggle_signals`` and ``struggle_holdout``, from the feature step) gets, from *both*
selectors through the same hooks: no ``perfect_score`` or ``speed_challenge`` while any
other type is left (:func:`without_hard_types`, before ranking), an easier difficulty
(``STRUGGLE_EASIER`` lower, inside the admin's bounds) and shorter targets
(:func:`ease_struggling`), ``gentle`` set (the texts' kind phrasing), and
``"struggle":{"signals":[…]}`` in the reason (:func:`with_struggle_reason`). A learner in
the struggle holdout keeps the day as chosen; the reason says
``"struggle":{"signals":[…],"holdout":true}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import polars as pl

from daglig.catalogue import CATEGORYLESS_TYPES, DIFFICULTY_STEP, TYPE_KEYS
from daglig.challenge_settings import ChallengeSettings
from daglig.hashing import salt_of, uniform

ASSIGNMENT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "slot": pl.Int16,
    "challenge_type": pl.String,
    "category": pl.String,
    "target_value": pl.Int32,
    "question_count": pl.Int32,
    "seconds_limit": pl.Int32,
    "difficulty": pl.Float64,
    "source": pl.String,
    "reason": pl.String,
    "gentle": pl.Boolean,  # a struggling learner's adapted day: the kind phrasing
    # the week's path to the exam (daglig/learner/exam_path.py): the day of the path this
    # assignment is (1..7) and the path's length, on the one slot of a learner's day that
    # follows the path; null everywhere else (the fallback, every other slot)
    "path_day": pl.Int16,
    "path_days": pl.Int16,
}
NO_PATH: dict[str, pl.Expr] = {
    "path_day": pl.lit(None, pl.Int16),
    "path_days": pl.lit(None, pl.Int16),
}
PREVIOUS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "challenge_type": pl.String,
    "category": pl.String,
}

# Level thresholds (answers, accuracy) and each level's liking for each type.
LEVELS: tuple[str, ...] = ("new", "beginner", "intermediate", "advanced")
TYPE_PREFERENCE: dict[str, dict[str, float]] = {
    #               quiz  perfect cat_focus streak accuracy speed
    "new": dict(zip(TYPE_KEYS, (1.0, 0.3, 0.9, 0.8, 0.4, 0.1), strict=True)),
    "beginner": dict(zip(TYPE_KEYS, (1.0, 0.4, 0.9, 0.8, 0.5, 0.2), strict=True)),
    "intermediate": dict(zip(TYPE_KEYS, (0.8, 0.6, 1.0, 0.7, 0.85, 0.4), strict=True)),
    "advanced": dict(zip(TYPE_KEYS, (0.6, 0.85, 1.0, 0.6, 0.9, 0.8), strict=True)),
}
JITTER = 0.35  # how far luck can reorder neighbouring preferences
BROKEN_STREAK_BOOST = 0.3
#: What a struggling learner is spared: types that ask for flawless or fast answers.
STRUGGLE_EXCLUDED_TYPES: tuple[str, ...] = ("perfect_score", "speed_challenge")
STRUGGLE_EASIER = 0.1  # how much easier a struggling learner's challenges are


@dataclass(frozen=True, slots=True)
class SelectionInputs:
    """Everything a selector may look at for one run date."""

    run_date: date
    users: pl.DataFrame  # user features of the users to serve (active ones)
    user_categories: pl.DataFrame  # per (user, category) features
    previous: pl.DataFrame  # (user_id, challenge_type, category) given on run_date − 1
    settings: ChallengeSettings
    # per (user_id, challenge_type) decayed offered/completed (daglig/learner/outcomes.py);
    # None when the run has no history (the ML selector then uses the priors alone)
    type_outcomes: pl.DataFrame | None = None
    type_rates: pl.DataFrame | None = None  # per type, the population's completion rate


class Selector(Protocol):
    """Chooses today's challenges; ``select`` returns frames of ``ASSIGNMENT_SCHEMA``."""

    name: str

    def select(self, inputs: SelectionInputs) -> pl.DataFrame: ...


def level_expr() -> pl.Expr:
    """The experience level of a user from answers and accuracy."""
    n, acc = pl.col("total_answers"), pl.col("accuracy").fill_null(0.0)
    return (
        pl.when(n == 0)
        .then(pl.lit("new"))
        .when(n < 50)
        .then(pl.lit("beginner"))
        .when((n < 300) | (acc < 0.75))
        .then(pl.lit("intermediate"))
        .otherwise(pl.lit("advanced"))
    )


def snap_difficulty(d: pl.Expr, lo: float, hi: float) -> pl.Expr:
    """Clamp to [lo, hi] and snap to the difficulty grid inside the bounds."""
    step = DIFFICULTY_STEP
    lo_g = -(-round(lo * 10_000) // round(step * 10_000)) * step  # ceil to grid
    hi_g = (round(hi * 10_000) // round(step * 10_000)) * step  # floor to grid
    if lo_g > hi_g + 1e-9:  # no grid point inside the bounds: take the middle
        return pl.lit(round((lo + hi) / 2, 4), pl.Float64)
    return (
        ((d.clip(lo_g, hi_g) / step).round(0) * step).round(2).clip(round(lo_g, 2), round(hi_g, 2))
    )


def difficulty_expr(settings: ChallengeSettings) -> pl.Expr:
    """Difficulty ramp: grows with experience × Laplace-smoothed accuracy."""
    n = pl.col("total_answers").cast(pl.Float64)
    experience = 1.0 - (-n / 150.0).exp()
    smoothed = (pl.col("correct_answers") + 2.0) / (n + 4.0)
    raw = 0.2 + 0.7 * experience * smoothed
    return snap_difficulty(raw, settings.min_difficulty, settings.max_difficulty)


def _round_to(x: pl.Expr, step: int, lo: int, hi: int) -> pl.Expr:
    return ((x / step).round(0) * step).clip(lo, hi).cast(pl.Int32)


def targets_expr() -> list[pl.Expr]:
    """target_value, question_count, seconds_limit from type, difficulty and daily volume.

    Targets stay within reach of the user's usual day: a category_focus asks for about as
    many questions as the user answers on a typical active day.
    """
    t, d = pl.col("challenge_type"), pl.col("difficulty")
    new = pl.col("level") == "new"
    volume = pl.when(new).then(10.0).otherwise(pl.col("typical_daily_volume").clip(5.0, 60.0))
    target = (
        pl.when(t == "quiz")
        .then(pl.when(new).then(1).otherwise(_round_to(volume / 10 * (0.5 + d), 1, 1, 5)))
        .when(t == "perfect_score")
        .then(pl.when(new | (d < 0.4)).then(5).when(d < 0.7).then(10).otherwise(15))
        .when(t == "category_focus")
        .then(pl.when(new).then(5).otherwise(_round_to(volume * 0.6 * (0.5 + d), 5, 5, 30)))
        .when(t == "streak")
        .then((pl.col("current_streak") + 1).clip(2, 365))
        .when(t == "accuracy_challenge")
        .then(_round_to(70 + 20 * d, 5, 70, 90))
        .when(t == "speed_challenge")
        .then(10)
        .cast(pl.Int32)
    )
    question_count = (
        pl.when(t == "accuracy_challenge")
        .then(pl.when(volume < 20).then(10).otherwise(20))
        .cast(pl.Int32)
    )
    seconds = (
        pl.when(t == "speed_challenge")
        .then(pl.when(d < 0.4).then(30).when(d < 0.7).then(20).otherwise(15))
        .cast(pl.Int32)
    )
    return [
        target.alias("target_value"),
        question_count.alias("question_count"),
        seconds.alias("seconds_limit"),
    ]


def category_rotation(inputs: SelectionInputs) -> pl.LazyFrame:
    """Per user, the enabled categories in rotation order (``cat_rank`` 0 = next to practise):
    never practised first, then least recently practised; ties broken by (user, date) luck."""
    cats = pl.DataFrame(
        {"category": list(inputs.settings.enabled_categories)}, schema={"category": pl.String}
    ).with_columns(cat_salt=pl.col("category").map_elements(salt_of, return_dtype=pl.Int64))
    last = inputs.user_categories.lazy().select("user_id", "category", "last_practised_at")
    return (
        inputs.users.lazy()
        .select("user_id")
        .join(cats.lazy(), how="cross")
        .join(last, on=["user_id", "category"], how="left")
        .with_columns(luck=uniform("user_id", inputs.run_date, "cat_salt"))
        .with_columns(
            cat_rank=pl.struct(
                never=pl.col("last_practised_at").is_not_null(),
                last=pl.col("last_practised_at"),
                luck=pl.col("luck"),
            )
            .rank("ordinal")
            .over("user_id")
            .cast(pl.Int32)
            - 1,
            n_cats=pl.len().over("user_id").cast(pl.Int32),
        )
        .drop("cat_salt", "luck")
    )


class FallbackSelector:
    """The rule-based selector: onboarding, experience levels, rotation, ramping."""

    name = "fallback"

    def select(self, inputs: SelectionInputs) -> pl.DataFrame:
        s = inputs.settings
        if inputs.users.is_empty() or not s.enabled_types:
            return pl.DataFrame(schema=ASSIGNMENT_SCHEMA)
        n_cats = len(s.enabled_categories)
        types = [t for t in s.enabled_types if t in CATEGORYLESS_TYPES or n_cats > 0]
        base = (
            inputs.users.lazy()
            .select(
                "user_id",
                "total_answers",
                "correct_answers",
                "accuracy",
                "current_streak",
                "longest_streak",
                "days_since_last_answer",
                "typical_daily_volume",
            )
            .with_columns(level=level_expr(), difficulty=difficulty_expr(s))
        )
        prefs = pl.DataFrame(
            [
                {
                    "level": lv,
                    "challenge_type": t,
                    "pref": TYPE_PREFERENCE[lv][t],
                    "type_salt": salt_of(t),
                }
                for lv in LEVELS
                for t in types
            ],
            schema={
                "level": pl.String,
                "challenge_type": pl.String,
                "pref": pl.Float64,
                "type_salt": pl.Int64,
            },
        )
        excluded = excluded_types(inputs)
        broken_streak = (pl.col("current_streak") == 0) & (
            pl.col("days_since_last_answer").is_between(2, 7)
        )
        chosen = (
            base.join(prefs.lazy(), on="level", how="inner")
            .join(excluded, on=["user_id", "challenge_type"], how="anti")
            .pipe(without_hard_types, inputs)
            .with_columns(
                score=pl.col("pref")
                + JITTER * uniform("user_id", inputs.run_date, "type_salt")
                + pl.when((pl.col("challenge_type") == "streak") & broken_streak)
                .then(BROKEN_STREAK_BOOST)
                .otherwise(0.0)
            )
            .with_columns(
                slot=pl.col("score").rank("ordinal", descending=True).over("user_id").cast(pl.Int16)
            )
            .filter(pl.col("slot") <= s.challenges_per_user)
        )
        with_category = assign_categories(chosen, inputs)
        out = with_category.with_columns(
            source=pl.when(pl.col("level") == "new")
            .then(pl.lit("onboarding"))
            .otherwise(pl.lit("fallback")),
            difficulty=pl.when(pl.col("level") == "new")
            .then(snap_difficulty(pl.lit(0.3), s.min_difficulty, s.max_difficulty))
            .otherwise(pl.col("difficulty")),
        ).with_columns(targets_expr())
        out = ease_struggling(out, inputs)
        reason = pl.struct(
            selector=pl.lit(self.name),
            level=pl.col("level"),
            rule=pl.when(pl.col("level") == "new")
            .then(pl.lit("onboarding"))
            .otherwise(pl.lit("experience_progression")),
            answers=pl.col("total_answers"),
            accuracy=pl.col("accuracy").round(3),
            current_streak=pl.col("current_streak"),
            category_rule=pl.when(pl.col("category").is_null())
            .then(None)
            .otherwise(pl.lit("least_recently_practised")),
            category_days_since_practised=pl.col("category_days_since_practised"),
        ).struct.json_encode()
        return (
            out.with_columns(reason=with_struggle_reason(reason), **NO_PATH)
            .select(list(ASSIGNMENT_SCHEMA))
            .cast(ASSIGNMENT_SCHEMA)  # type: ignore[arg-type]
            .sort("user_id", "slot")
            .collect()
        )


def struggling(inputs: SelectionInputs) -> pl.LazyFrame:
    """The struggling learners among the users to serve: ``user_id``, ``struggle_signals``
    (non-empty), ``gentle`` (not in the struggle holdout: their day is adapted). Empty when
    the users frame has no ``struggle_signals`` (a run or a test without them)."""
    users = inputs.users
    if "struggle_signals" not in users.columns:
        return pl.LazyFrame(
            schema={
                "user_id": pl.Int64,
                "struggle_signals": pl.List(pl.String),
                "gentle": pl.Boolean,
            }
        )
    held = (
        pl.col("struggle_holdout").fill_null(False)
        if "struggle_holdout" in users.columns
        else pl.lit(False)
    )
    return (
        users.lazy()
        .filter(pl.col("struggle_signals").list.len() > 0)
        .select("user_id", "struggle_signals", gentle=~held)
    )


def without_hard_types(candidates: pl.LazyFrame, inputs: SelectionInputs) -> pl.LazyFrame:
    """The candidate (user, type) rows without ``STRUGGLE_EXCLUDED_TYPES`` for a learner
    whose day is adapted, as long as another type is left for them (the output gate wants
    every eligible learner served)."""
    gentle = struggling(inputs).filter(pl.col("gentle")).select("user_id", _gentle=pl.lit(True))
    hard = pl.col("challenge_type").is_in(list(STRUGGLE_EXCLUDED_TYPES))
    return (
        candidates.join(gentle, on="user_id", how="left")
        .filter(~(pl.col("_gentle").fill_null(False) & hard & (~hard).any().over("user_id")))
        .drop("_gentle")
    )


def ease_struggling(out: pl.LazyFrame, inputs: SelectionInputs) -> pl.LazyFrame:
    """Assignments (with targets) plus ``struggle_signals`` and ``gentle``; an adapted
    learner's are easier (difficulty ``STRUGGLE_EASIER`` lower, snapped into the admin's
    bounds) and shorter: half the quizzes (rounded up), 60 % of a category focus (in
    fives, at least 5), an accuracy goal 10 points lower (at least 70) over 10 questions.
    A streak already asks for one more day only and is left as it is."""
    s = inputs.settings
    t, target = pl.col("challenge_type"), pl.col("target_value")
    g = pl.col("gentle")
    eased = {
        "difficulty": pl.when(g)
        .then(
            snap_difficulty(
                pl.col("difficulty") - STRUGGLE_EASIER, s.min_difficulty, s.max_difficulty
            )
        )
        .otherwise(pl.col("difficulty")),
        "target_value": pl.when(g & (t == "quiz"))
        .then((target.cast(pl.Float64) / 2).ceil().clip(lower_bound=1))
        .when(g & (t == "category_focus"))
        .then(_round_to(target * 0.6, 5, 5, 30))
        .when(g & (t == "accuracy_challenge"))
        .then((target - 10).clip(lower_bound=70))
        .otherwise(target)
        .cast(pl.Int32),
        "question_count": pl.when(g & (t == "accuracy_challenge"))
        .then(pl.lit(10, pl.Int32))
        .otherwise(pl.col("question_count")),
    }
    return (
        out.join(struggling(inputs), on="user_id", how="left")
        .with_columns(gentle=pl.col("gentle").fill_null(False))
        .with_columns(**eased)
    )


def extend_reason(reason: pl.Expr, *fields: pl.Expr | str) -> pl.Expr:
    """The reason JSON object with more fields: ``fields`` (text such as ``',"key":'`` and
    expressions, together ``,"key":value…``) put before its closing brace. Every part the
    selectors add is plain ASCII (codes, keys, numbers), so nothing needs escaping."""
    parts = [pl.lit(f) if isinstance(f, str) else f for f in fields]
    return pl.concat_str(reason.str.strip_suffix("}"), *parts, pl.lit("}"))


def with_struggle_reason(reason: pl.Expr) -> pl.Expr:
    """The reason JSON (an object) with ``"struggle":{"signals":[…]}`` for a struggling
    learner (``"holdout":true`` added when the day was left as it is); others unchanged.
    The signal names are plain ASCII."""
    signals = (
        pl.col("struggle_signals")
        .list.eval(pl.concat_str(pl.lit('"'), pl.element(), pl.lit('"')))
        .list.join(",")
    )
    held = pl.when(pl.col("gentle")).then(pl.lit("")).otherwise(pl.lit(',"holdout":true'))
    return (
        pl.when(pl.col("struggle_signals").list.len() > 0)
        .then(extend_reason(reason, ',"struggle":{"signals":[', signals, "]", held, "}"))
        .otherwise(reason)
    )


def excluded_types(inputs: SelectionInputs) -> pl.LazyFrame:
    """(user_id, challenge_type) pairs no slot may take today (:func:`blocked_pairs`)."""
    return blocked_pairs(inputs.previous, inputs.settings.enabled_categories)


def blocked_pairs(
    previous: pl.DataFrame | pl.LazyFrame, enabled_categories: Sequence[str]
) -> pl.LazyFrame:
    """The no-repeat rule: the (user_id, challenge_type) pairs yesterday's challenges
    (``previous``: user_id, challenge_type, category) block today — a categoryless type
    given yesterday, or a category-bound type whose enabled categories yesterday used up.
    The selectors and the output gate's coverage check both apply it."""
    prev = previous.lazy()
    enabled = list(enabled_categories)
    used_up = (
        prev.filter(pl.col("category").is_in(enabled))
        .group_by("user_id", "challenge_type")
        .agg(n_used=pl.col("category").n_unique())
        .filter(pl.col("n_used") >= len(enabled))
        .select("user_id", "challenge_type")
    )
    given = prev.filter(pl.col("challenge_type").is_in(list(CATEGORYLESS_TYPES))).select(
        "user_id", "challenge_type"
    )
    return pl.concat([used_up, given])


def assign_categories(
    chosen: pl.LazyFrame, inputs: SelectionInputs, rotation: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """Give each category-bound chosen type a category from the user's rotation (default:
    :func:`category_rotation`; the ML selector passes its weak-area order instead).

    The k-th category-bound slot (k = 0, 1, …; m of them) takes rotation position k; when
    that pair was given yesterday it takes position k + m, then the next free one. With at
    least 2m enabled categories this keeps a user's categories distinct.
    """
    bound = chosen.filter(~pl.col("challenge_type").is_in(list(CATEGORYLESS_TYPES))).with_columns(
        k=pl.col("slot").rank("ordinal").over("user_id").cast(pl.Int32) - 1,
        m=pl.len().over("user_id").cast(pl.Int32),
    )
    rotation = category_rotation(inputs) if rotation is None else rotation
    last = inputs.user_categories.lazy().select(
        "user_id", "category", category_days_since_practised="days_since_practised"
    )
    picked = (
        bound.join(rotation, on="user_id", how="inner")
        .join(inputs.previous.lazy(), on=["user_id", "challenge_type", "category"], how="anti")
        .with_columns(
            order=pl.when(pl.col("cat_rank") == pl.col("k") % pl.col("n_cats"))
            .then(0)
            .when(pl.col("cat_rank") == (pl.col("k") + pl.col("m")) % pl.col("n_cats"))
            .then(1)
            .otherwise(2 + (pl.col("cat_rank") - pl.col("k")) % pl.col("n_cats"))
        )
        .filter(pl.col("order") == pl.col("order").min().over("user_id", "challenge_type"))
        .drop("k", "m", "order", "cat_rank", "n_cats", "last_practised_at")
        .join(last, on=["user_id", "category"], how="left")
    )
    free = chosen.filter(pl.col("challenge_type").is_in(list(CATEGORYLESS_TYPES))).with_columns(
        category=pl.lit(None, pl.String), category_days_since_practised=pl.lit(None, pl.Int32)
    )
    return pl.concat([picked, free], how="diagonal_relaxed")


__all__ = [
    "ASSIGNMENT_SCHEMA",
    "CATEGORYLESS_TYPES",
    "FallbackSelector",
    "PREVIOUS_SCHEMA",
    "SelectionInputs",
    "Selector",
]
