"""The ML selector: challenges chosen from the learner model's assessment.

Same interface as :class:`daglig.selection.FallbackSelector`. Users with at least
``ml_min_answers`` answers and an assessment get ML challenges; everyone else is handed
to the fallback selector, so the flow never special-cases anyone.

For an ML user, all in Polars expressions over every user at once:

* ``category_focus`` (when enabled) takes slot 1 and the user's top weak area (lowest
  mastery among the enabled categories, not the pair given yesterday);
* the other slots go to the types with the best *ML weight × fit*: ``speed_challenge``
  only for advanced users (skill ≥ 0.75 and 300+ answers), ``perfect_score`` for high
  skill, ``streak`` when a streak was just broken, ``accuracy_challenge`` from mid skill
  up, each weighted by a Thompson draw from the user's own completion history of that
  type (see :func:`type_draws`), so what a learner finishes comes back more often and days
  still differ;
* further category-bound slots take the next weak areas;
* difficulty follows mastery (of the slot's category, else overall skill), within the
  admin's bounds; targets follow the user's typical daily volume (as the fallback's); with
  a completion model, target and difficulty are then chosen from a small grid around
  those so that the predicted completion is closest to ``target_completion``
  (:mod:`daglig.learner.targets`; the reason gains ``predicted_completion``);
* ``reason`` names the weak areas with their mastery, the skill assessment, exam
  readiness and the model version;
* **readiness to the learner**: for a learner with at least ``READINESS_MIN_ANSWERS`` (50)
  answers, exactly one assignment of the day (the lowest slot; every slot here is ``ml``)
  carries the estimated chance of passing the theory test today as a 20-point band
  (``readiness_band``: ``0-20`` … ``80-100``, never a precise figure) and the category
  that would raise it most (``readiness_focus``), both in its reason. The focus is the
  category with the most expected wrong answers on the exam, exam_questions × (1 −
  mastery): exact marginal gains (the pass probability with one category mastered better)
  would cost 12 more Poisson-binomials per learner a night, and the expected-wrong count
  points the same way whenever a category's share and weakness dominate. The fallback path
  (no assessment, the holdout, too few answers for ML) carries no readiness.

**A week's path to the exam** (:mod:`daglig.learner.exam_path`, docs/exam-path.md): with
the plans in force given (``exam_paths``), every ML learner outside the *path holdout*
follows a seven-day plan of focus categories, kept or re-planned tonight
(:func:`~daglig.learner.exam_path.follow_exam_paths`); the path's category goes first in
the learner's rotation, so slot 1 (``category_focus``) takes it, with ``path_day`` and
``path_days`` set and ``"exam_path":{"day":…,"days":7,"plan_start":"…"}`` in its reason.
The path holdout (``path_holdout_share``, its own salt, membership as stable as the ML
holdout's) keeps today's day-by-day choice, with ``"path_holdout":true`` in the reason of
its first slot. :meth:`MLSelector.select_and_plan` also returns the plans made tonight,
for the night's write.

**Holdout.** A stable random share of the ML-eligible users (``holdout_share``, default
5 %; membership hashed from the user id alone, so it holds day after day) gets fallback
challenges instead, with ``"ml_holdout": true`` in the reason, so ML and fallback can be
compared on like users (the admin report does).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import beta

from daglig.catalogue import CHALLENGE_TYPES
from daglig.challenge_settings import ChallengeSettings
from daglig.hashing import salt_of, uniform
from daglig.learner.assessment import Assessment
from daglig.learner.exam_path import PLAN_SCHEMA, TODAY_SCHEMA, FollowedPaths, follow_exam_paths
from daglig.learner.outcomes import OUTCOMES_SCHEMA, RATES_SCHEMA
from daglig.learner.targets import CompletionInputs, choose_targets
from daglig.selection import (
    ASSIGNMENT_SCHEMA,
    CATEGORYLESS_TYPES,
    FallbackSelector,
    SelectionInputs,
    Selector,
    assign_categories,
    ease_struggling,
    excluded_types,
    extend_reason,
    level_expr,
    snap_difficulty,
    targets_expr,
    with_struggle_reason,
    without_hard_types,
)

HOLDOUT_SALT = salt_of("ml-holdout")
HOLDOUT_EPOCH = date(2026, 1, 1)  # a fixed "date" for the hash: membership never changes
PATH_HOLDOUT_SALT = salt_of("path-holdout")  # its own salt: independent of the ML holdout
PRIOR_STRENGTH = 4.0  # the prior counts as this many offered challenges
PRIOR_RATE_BOUNDS = (0.05, 0.95)  # a type's prior completion rate stays inside these
NO_HISTORY_RATE = 0.5  # a type nobody has been offered yet
FOCUS_FIRST = 10.0  # category_focus always takes slot 1 when it is enabled and possible
ADVANCED_SKILL, ADVANCED_ANSWERS = 0.75, 300
WEAK_AREAS_IN_REASON = 3
READINESS_MIN_ANSWERS = 50
#: The pass-probability bands told to a learner: (code, lower bound), 20 points each.
READINESS_BANDS: tuple[tuple[str, float], ...] = (
    ("0-20", 0.0),
    ("20-40", 0.2),
    ("40-60", 0.4),
    ("60-80", 0.6),
    ("80-100", 0.8),
)


def readiness_band(p: pl.Expr) -> pl.Expr:
    """The band code of a pass probability: [0, 0.2) ``0-20``, [0.2, 0.4) ``20-40``, …,
    [0.8, 1] ``80-100``; null stays null."""
    out: pl.Expr = pl.lit(None, pl.String)
    for code, lower in READINESS_BANDS:
        out = pl.when(p >= lower).then(pl.lit(code)).otherwise(out)
    return pl.when(p.is_null()).then(pl.lit(None, pl.String)).otherwise(out)


def readiness_focus(categories: pl.LazyFrame) -> pl.LazyFrame:
    """Per user, the category with the most expected wrong answers on the exam,
    ``exam_questions × (1 − mastery)`` (ties: the category key); categories without exam
    questions are never the focus. Columns ``user_id``, ``readiness_focus``."""
    expected_wrong = pl.col("exam_questions") * (1.0 - pl.col("mastery"))
    return (
        categories.filter(pl.col("exam_questions") > 0)
        .with_columns(expected_wrong=expected_wrong)
        .group_by("user_id")
        .agg(
            readiness_focus=pl.col("category")
            .sort_by(["expected_wrong", "category"], descending=[True, False])
            .first()
        )
    )


def type_fit() -> dict[str, pl.Expr]:
    """How well each type fits a user (0 = never), from skill and habits. Only the
    ``ADVANCED_ONLY_TYPES`` have a fit of 0 for a learner who is not advanced: the settings
    validator counts on it (tests/test_challenge_settings.py runs the selectors)."""
    skill = pl.col("overall_skill_level")
    broken_streak = (pl.col("current_streak") == 0) & pl.col("days_since_last_answer").is_between(
        2, 7
    )
    return {
        "quiz": pl.lit(0.8),
        "category_focus": pl.lit(1.0),
        "perfect_score": pl.when(skill >= 0.8)
        .then(1.0)
        .when(skill >= 0.65)
        .then(0.5)
        .otherwise(0.1),
        "streak": pl.when(broken_streak).then(1.0).otherwise(0.4),
        "accuracy_challenge": pl.when(skill >= 0.6).then(1.0).otherwise(0.3),
        "speed_challenge": pl.when(
            (skill >= ADVANCED_SKILL) & (pl.col("total_answers") >= ADVANCED_ANSWERS)
        )
        .then(1.0)
        .otherwise(0.0),
    }


def type_draws(
    pairs: pl.LazyFrame,
    outcomes: pl.DataFrame | None,
    rates: pl.DataFrame | None,
    run_date: date,
) -> pl.LazyFrame:
    """Beta-Bernoulli Thompson sampling per (user, type) of ``pairs`` (``user_id``,
    ``challenge_type``, ``type_salt``): the prior Beta(k·r, k·(1 − r)) is centred on the
    type's population completion rate r (``rates``, see :func:`type_rates`; k =
    ``PRIOR_STRENGTH``), the posterior adds the user's own decayed completed /
    not-completed counts (``outcomes``), and the draw is the posterior's inverse CDF at a
    uniform seeded by (user, run_date, type). Adds ``posterior_mean`` and ``draw``."""
    outcomes = pl.DataFrame(schema=OUTCOMES_SCHEMA) if outcomes is None else outcomes
    rates = pl.DataFrame(schema=RATES_SCHEMA) if rates is None else rates
    lo, hi = PRIOR_RATE_BOUNDS
    rate = pl.col("rate").fill_null(NO_HISTORY_RATE).clip(lo, hi)
    offered, completed = pl.col("offered").fill_null(0.0), pl.col("completed").fill_null(0.0)

    def ppf(s: pl.Series) -> pl.Series:
        q, a, b = (s.struct.field(f).to_numpy() for f in ("u", "a", "b"))
        return pl.Series(np.asarray(beta.ppf(q, a, b), dtype=np.float64), dtype=pl.Float64)

    return (
        pairs.join(rates.lazy(), on="challenge_type", how="left")
        .join(outcomes.lazy(), on=["user_id", "challenge_type"], how="left")
        .with_columns(
            a=PRIOR_STRENGTH * rate + completed,
            b=PRIOR_STRENGTH * (1.0 - rate) + (offered - completed).clip(lower_bound=0.0),
            u=uniform("user_id", run_date, "type_salt"),
        )
        .with_columns(
            posterior_mean=pl.col("a") / (pl.col("a") + pl.col("b")),
            draw=pl.struct("u", "a", "b").map_batches(ppf, return_dtype=pl.Float64),
        )
        .drop("rate", "offered", "completed", "a", "b", "u")
    )


class MLSelector:
    """Chooses from the learner model's assessment; delegates the rest to ``fallback``."""

    name = "ml"

    def __init__(
        self,
        assessment: Assessment,
        model_version: str,
        fallback: Selector | None = None,
        holdout_share: float = 0.0,
        completion: CompletionInputs | None = None,
        exam_paths: pl.DataFrame | None = None,
        path_holdout_share: float = 0.0,
    ) -> None:
        self.assessment = assessment
        self.model_version = model_version
        self.fallback = fallback or FallbackSelector()
        self.holdout_share = holdout_share
        self.completion = completion
        # the plans in force (PLAN_SCHEMA); None: no paths this run (nothing followed)
        self.exam_paths = exam_paths
        self.path_holdout_share = path_holdout_share

    def eligible(self, users: pl.DataFrame, settings: ChallengeSettings) -> pl.Series:
        """Whether each of ``users`` goes down the ML path."""
        assessed = self.assessment.users["user_id"].implode()
        return users.select(
            (pl.col("total_answers") >= settings.ml_min_answers) & pl.col("user_id").is_in(assessed)
        ).to_series()

    def in_holdout(self, users: pl.DataFrame) -> pl.Series:
        """Whether each of ``users`` is in the (stable) holdout."""
        return users.select(
            uniform("user_id", HOLDOUT_EPOCH, HOLDOUT_SALT) < self.holdout_share
        ).to_series()

    def in_path_holdout(self, users: pl.DataFrame) -> pl.Series:
        """Whether each of ``users`` is in the (stable) path holdout."""
        return users.select(
            uniform("user_id", HOLDOUT_EPOCH, PATH_HOLDOUT_SALT) < self.path_holdout_share
        ).to_series()

    def follow_paths(self, inputs: SelectionInputs) -> FollowedPaths | None:
        """Tonight's paths of ``inputs.users`` (the ML learners) outside the path holdout,
        kept or re-planned; None when this run follows no paths (no plans given, or an
        assessment without the exam's allocation)."""
        cats = self.assessment.categories
        if self.exam_paths is None or "exam_questions" not in cats.columns:
            return None
        on_path = inputs.users.filter(~self.in_path_holdout(inputs.users)).select("user_id")
        return follow_exam_paths(
            self.exam_paths,
            cats.lazy()
            .filter(pl.col("category").is_in(list(inputs.settings.enabled_categories)))
            .join(on_path.lazy(), on="user_id", how="semi")
            .select("user_id", "category", "mastery", "exam_questions"),
            inputs.run_date,
            # a plan made tonight does not start where yesterday's focus was (no repeat)
            yesterday=inputs.previous.filter(pl.col("challenge_type") == "category_focus")
            .filter(pl.col("category").is_not_null())
            .select("user_id", "category"),
        )

    def select(self, inputs: SelectionInputs) -> pl.DataFrame:
        return self.select_and_plan(inputs)[0]

    def select_and_plan(self, inputs: SelectionInputs) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The assignments (as :meth:`select`) and the exam paths planned tonight
        (:data:`~daglig.learner.exam_path.PLAN_SCHEMA`; none when no paths are followed)."""
        eligible = self.eligible(inputs.users, inputs.settings)
        held = eligible & self.in_holdout(inputs.users)
        ml_users = eligible & ~held
        rest = self.fallback.select(replace(inputs, users=inputs.users.filter(~eligible)))
        holdout = self.fallback.select(replace(inputs, users=inputs.users.filter(held)))
        holdout = holdout.with_columns(  # mark them: {"ml_holdout":true,…the fallback's reason}
            reason=pl.concat_str(
                pl.lit('{"ml_holdout":true,'), pl.col("reason").str.strip_prefix("{")
            )
        )
        ml_inputs = replace(inputs, users=inputs.users.filter(ml_users))
        followed = self.follow_paths(ml_inputs)
        ml = self._select_ml(ml_inputs, followed)
        plans = pl.DataFrame(schema=PLAN_SCHEMA) if followed is None else followed.plans
        return pl.concat([ml, holdout, rest]).sort("user_id", "slot"), plans

    def _rotation(self, inputs: SelectionInputs, today: pl.DataFrame) -> pl.LazyFrame:
        enabled = list(inputs.settings.enabled_categories)
        # the weak-area order, with today's category of the learner's path first
        order = (
            pl.when(pl.col("category") == pl.col("path_category"))
            .then(-1)
            .otherwise(pl.col("weak_rank"))
        )
        return (
            self.assessment.categories.lazy()
            .filter(pl.col("category").is_in(enabled))
            .join(inputs.users.lazy().select("user_id"), on="user_id", how="semi")
            .join(today.lazy().select("user_id", "path_category"), on="user_id", how="left")
            .with_columns(
                cat_rank=order.rank("ordinal").over("user_id").cast(pl.Int32) - 1,
                n_cats=pl.len().over("user_id").cast(pl.Int32),
                last_practised_at=pl.lit(None, pl.Datetime("us")),
            )
            .select("user_id", "category", "last_practised_at", "cat_rank", "n_cats")
        )

    def _weak_areas(self, inputs: SelectionInputs) -> pl.LazyFrame:
        enabled = list(inputs.settings.enabled_categories)
        return (
            self.assessment.categories.lazy()
            .filter(pl.col("category").is_in(enabled))
            .sort("user_id", "weak_rank")
            .group_by("user_id", maintain_order=True)
            .agg(
                weak_areas=pl.struct(
                    "category", mastery=pl.col("mastery").round(3), answers=pl.col("attempts")
                ).head(WEAK_AREAS_IN_REASON),
                gaps=pl.col("is_gap").sum().cast(pl.Int32),
            )
        )

    def _select_ml(
        self, inputs: SelectionInputs, followed: FollowedPaths | None = None
    ) -> pl.DataFrame:
        s = inputs.settings
        today = pl.DataFrame(schema=TODAY_SCHEMA) if followed is None else followed.today
        if inputs.users.is_empty() or not s.enabled_types:
            return pl.DataFrame(schema=ASSIGNMENT_SCHEMA)
        has_categories = len(s.enabled_categories) > 0
        types = [t for t in s.enabled_types if t in CATEGORYLESS_TYPES or has_categories]
        fit = type_fit()
        kinds = pl.DataFrame(
            {
                "challenge_type": types,
                "ml_weight": [CHALLENGE_TYPES[t].ml_weight for t in types],
                "type_salt": [salt_of(t) for t in types],
            },
            schema={"challenge_type": pl.String, "ml_weight": pl.Float64, "type_salt": pl.Int64},
        )
        fit_expr = pl.lit(0.0)
        for t in reversed(types):
            fit_expr = pl.when(pl.col("challenge_type") == t).then(fit[t]).otherwise(fit_expr)
        base = (
            inputs.users.lazy()
            .select(
                "user_id",
                "total_answers",
                "correct_answers",
                "accuracy",
                "current_streak",
                "days_since_last_answer",
                "typical_daily_volume",
            )
            .join(self.assessment.users.lazy(), on="user_id", how="inner")
            .with_columns(level=level_expr())
        )
        chosen = (
            base.join(kinds.lazy(), how="cross")
            .with_columns(fit=fit_expr)
            .filter(pl.col("fit") > 0)
            .join(excluded_types(inputs), on=["user_id", "challenge_type"], how="anti")
            .pipe(without_hard_types, inputs)
        )
        chosen = (
            type_draws(chosen, inputs.type_outcomes, inputs.type_rates, inputs.run_date)
            .with_columns(
                score=pl.col("ml_weight") * pl.col("fit") * pl.col("draw")
                + pl.when(pl.col("challenge_type") == "category_focus")
                .then(FOCUS_FIRST)
                .otherwise(0.0)
            )
            .with_columns(
                slot=pl.col("score").rank("ordinal", descending=True).over("user_id").cast(pl.Int16)
            )
            .filter(pl.col("slot") <= s.challenges_per_user)
        )
        with_category = assign_categories(chosen, inputs, self._rotation(inputs, today)).join(
            self.assessment.categories.lazy().select(
                "user_id", "category", category_mastery="mastery"
            ),
            on=["user_id", "category"],
            how="left",
        )
        level_of_slot = pl.coalesce("category_mastery", "overall_skill_level")
        out = with_category.with_columns(
            source=pl.lit("ml"),
            difficulty=snap_difficulty(
                0.15 + 0.8 * level_of_slot, s.min_difficulty, s.max_difficulty
            ),
        ).with_columns(targets_expr())
        extra: dict[str, pl.Expr] = {}
        if self.completion is not None:  # targets and difficulty from predicted completion
            out = choose_targets(
                out.collect(),
                self.completion,
                s.target_completion,
                s.min_difficulty,
                s.max_difficulty,
            ).lazy()
            extra = {
                "completion_model_version": pl.lit(self.completion.version),
                "predicted_completion": pl.col("predicted_completion").round(3),
            }
        out = (
            ease_struggling(out, inputs)
            .join(self._weak_areas(inputs), on="user_id", how="left")
            .join(today.lazy(), on="user_id", how="left")
        )
        on_path = (pl.col("challenge_type") == "category_focus") & (
            pl.col("category") == pl.col("path_category")
        )
        path_columns = {
            "path_day": pl.when(on_path).then(pl.col("path_day")),
            "path_days": pl.when(on_path).then(pl.col("path_days")),
        }
        first_slot = pl.col("slot") == pl.col("slot").min().over("user_id")
        held_off_path = (
            pl.lit(followed is not None)
            & first_slot
            & pl.col("user_id").is_in(
                inputs.users.filter(self.in_path_holdout(inputs.users))["user_id"].implode()
            )
        )
        has_allocation = "exam_questions" in self.assessment.categories.columns
        if has_allocation:
            out = out.join(
                readiness_focus(self.assessment.categories.lazy()), on="user_id", how="left"
            )
        else:
            out = out.with_columns(readiness_focus=pl.lit(None, pl.String))
        carries = (
            (pl.col("slot") == pl.col("slot").min().over("user_id"))
            & (pl.col("total_practice_questions") >= READINESS_MIN_ANSWERS)
            & pl.col("readiness_focus").is_not_null()
            & pl.col("exam_readiness").is_not_null()
        )
        # the rule names what the category is in the reason's own weak_areas list: its
        # first, another of it, or a category further down the user's weak-area order (a
        # weak area was given with this type yesterday, or more slots than listed areas)
        weak = pl.col("weak_areas").list.eval(pl.element().struct.field("category"))
        reason = pl.struct(
            selector=pl.lit(self.name),
            model_version=pl.lit(self.model_version),
            rule=pl.when(pl.col("category").is_null())
            .then(pl.lit("type_fit"))
            .when(on_path.fill_null(False))
            .then(pl.lit("exam_path"))
            .when(weak.list.first() == pl.col("category"))
            .then(pl.lit("top_weak_area"))
            .when(weak.list.contains(pl.col("category")))
            .then(pl.lit("next_weak_area"))
            .otherwise(pl.lit("weak_area_order")),
            weak_areas=pl.col("weak_areas"),
            gaps=pl.col("gaps"),
            category_mastery=pl.col("category_mastery").round(3),
            overall_skill_level=pl.col("overall_skill_level").round(3),
            confidence_level=pl.col("confidence_level").round(3),
            exam_readiness=pl.col("exam_readiness").round(3),
            total_practice_questions=pl.col("total_practice_questions"),
            current_streak=pl.col("current_streak"),
            type_mix=pl.struct(
                posterior_mean=pl.col("posterior_mean").round(3), draw=pl.col("draw").round(3)
            ),
        )
        reason = (reason.struct.with_fields(**extra) if extra else reason).struct.json_encode()
        # only the carrying assignment names the readiness (codes and keys: plain ASCII)
        reason = (
            pl.when(carries)
            .then(
                extend_reason(
                    reason,
                    ',"readiness_band":"',
                    readiness_band(pl.col("exam_readiness")),
                    '","readiness_focus":"',
                    pl.col("readiness_focus"),
                    '"',
                )
            )
            .otherwise(reason)
        )
        # the path's slot names where the learner is on it; the path holdout says so
        reason = (
            pl.when(on_path.fill_null(False))
            .then(
                extend_reason(
                    reason,
                    ',"exam_path":{"day":',
                    pl.col("path_day").cast(pl.String),
                    ',"days":',
                    pl.col("path_days").cast(pl.String),
                    ',"plan_start":"',
                    pl.col("plan_start").dt.strftime("%Y-%m-%d"),
                    '"}',
                )
            )
            .when(held_off_path)
            .then(extend_reason(reason, ',"path_holdout":true'))
            .otherwise(reason)
        )
        return (
            out.with_columns(reason=with_struggle_reason(reason), **path_columns)
            .select(list(ASSIGNMENT_SCHEMA))
            .cast(ASSIGNMENT_SCHEMA)  # type: ignore[arg-type]
            .sort("user_id", "slot")
            .collect()
        )


@dataclass(frozen=True)
class ShardedCompletion:
    """The completion model for a sharded run: the model, each shard's learner state at
    tonight's cutoff and outcome history (Parquet), and the population's type rates (a
    row per type, :func:`~daglig.learner.completion.population_rates`)."""

    model: Any
    states: dict[int, Path]
    histories: dict[int, Path]
    rates: pl.DataFrame
    version: str


class ShardedMLSelector:
    """The learner model's selector for a sharded run: each shard's assessment is a pair of
    Parquet files (categories, users), loaded where the shard's selection runs — a Dask
    worker needs the paths, not the frames. ``for_shard`` gives that shard's
    :class:`MLSelector`; ``select`` (all shards at once) exists for the Selector protocol."""

    name = MLSelector.name

    def __init__(
        self,
        assessments: dict[int, tuple[Path, Path]],
        model_version: str,
        holdout_share: float = 0.0,
        completion: ShardedCompletion | None = None,
        exam_paths: dict[int, Path] | None = None,
        path_holdout_share: float = 0.0,
    ) -> None:
        self.assessments = assessments
        self.model_version = model_version
        self.holdout_share = holdout_share
        self.completion = completion
        # each shard's plans in force (Parquet, PLAN_SCHEMA); None: no paths this run
        self.exam_paths = exam_paths
        self.path_holdout_share = path_holdout_share

    def _selector(self, shards: list[int]) -> MLSelector:
        paths = [self.assessments[k] for k in shards]
        assessment = Assessment(
            categories=pl.concat([pl.read_parquet(c) for c, _ in paths]),
            users=pl.concat([pl.read_parquet(u) for _, u in paths]),
        )
        c = self.completion
        completion = (
            None
            if c is None
            else CompletionInputs(
                c.model,
                pl.concat([pl.read_parquet(c.states[k]) for k in shards]),
                pl.concat([pl.read_parquet(c.histories[k]) for k in shards]),
                c.version,
                c.rates,
            )
        )
        plans = (
            None
            if self.exam_paths is None
            else pl.concat(
                [pl.read_parquet(self.exam_paths[k]) for k in shards if k in self.exam_paths]
                or [pl.DataFrame(schema=PLAN_SCHEMA)],
                how="vertical_relaxed",
            ).cast(PLAN_SCHEMA)  # type: ignore[arg-type]
        )
        return MLSelector(
            assessment,
            self.model_version,
            holdout_share=self.holdout_share,
            completion=completion,
            exam_paths=plans,
            path_holdout_share=self.path_holdout_share,
        )

    def for_shard(self, shard: int) -> MLSelector:
        return self._selector([shard])

    def select(self, inputs: SelectionInputs) -> pl.DataFrame:
        return self._selector(sorted(self.assessments)).select(inputs)
