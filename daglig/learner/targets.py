"""Targets and difficulty from the completion model (pure): for each ML slot, a small grid
of candidate (difficulty, target) pairs around today's rule, every candidate of every user
predicted in one batch, and the one whose predicted completion is closest to the admin's
``target_completion`` chosen (a tie goes to today's rule).

The grid: difficulties ``DIFFICULTY_OFFSETS`` around the rule's (snapped to the admin's
bounds), and for each the rule's target at that difficulty times ``TARGET_FACTORS``,
rounded to the type's unit (``TARGET_UNIT``; ``streak`` keeps the rule's target: a
streak's length is the learner's). The grid reaches further down than up (a quarter of the
target, 0.3 easier): on a practice day most learners' predicted completion of today's rule
is below ``target_completion``.
``accuracy_challenge`` targets are percents: the factors move them by −15..+10 points
(within 60..95).
question_count and seconds_limit follow the chosen difficulty as the rules have them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from daglig.learner.completion import COMPLETION_FEATURES, completion_features
from daglig.selection import snap_difficulty, targets_expr

DIFFICULTY_OFFSETS: tuple[float, ...] = (-0.3, -0.2, -0.1, 0.0, 0.1, 0.2)
TARGET_FACTORS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
TARGET_UNIT: dict[str, int] = {
    "quiz": 1,
    "perfect_score": 5,
    "category_focus": 5,
    "accuracy_challenge": 5,
    "streak": 0,
    "speed_challenge": 5,
}
ACCURACY_BOUNDS = (60, 95)


@dataclass(frozen=True)
class CompletionInputs:
    """What the ML selector needs to predict completion tonight: the loaded model (an
    estimator with ``predict_proba``), the learners' state at tonight's cutoff
    (:func:`~daglig.learner.examples.state_at` columns) and the outcome history
    (:func:`~daglig.learner.completion.outcome_history`) at the same cutoff; ``rates`` (the
    population's, :func:`~daglig.learner.completion.population_rates`) when ``history`` is
    one shard's learners' only."""

    model: Any
    state: pl.DataFrame
    history: pl.DataFrame
    version: str
    rates: pl.DataFrame | None = None


def _candidate_target(rule: pl.Expr, factor: pl.Expr) -> pl.Expr:
    t = pl.col("challenge_type")
    unit = t.replace_strict(TARGET_UNIT, default=0, return_dtype=pl.Int32)
    scaled = ((rule * factor) / unit).round(0) * unit
    return (
        pl.when(unit == 0)
        .then(rule)
        .when(t == "accuracy_challenge")
        .then((rule + 20 * (factor - 1.0)).clip(*ACCURACY_BOUNDS))
        .otherwise(pl.max_horizontal(scaled, unit))
        .cast(pl.Int32)
    )


def candidate_grid(slots: pl.LazyFrame, lo: float, hi: float) -> pl.LazyFrame:
    """Every ML slot (rows with the rule's ``difficulty`` and the columns
    :func:`~daglig.selection.targets_expr` reads) × the grid, distinct candidates only;
    ``is_rule`` marks today's rule (offset 0, factor 1)."""
    grid = pl.LazyFrame(
        {
            "d_offset": [o for o in DIFFICULTY_OFFSETS for _ in TARGET_FACTORS],
            "t_factor": [f for _ in DIFFICULTY_OFFSETS for f in TARGET_FACTORS],
        }
    )
    return (
        slots.join(grid, how="cross")
        .with_columns(
            is_rule=(pl.col("d_offset") == 0.0) & (pl.col("t_factor") == 1.0),
            difficulty=snap_difficulty(pl.col("difficulty") + pl.col("d_offset"), lo, hi),
        )
        .with_columns(targets_expr())
        .with_columns(target_value=_candidate_target(pl.col("target_value"), pl.col("t_factor")))
        .sort("is_rule", descending=True)
        .unique(
            ["user_id", "slot", "difficulty", "target_value"], keep="first", maintain_order=True
        )
    )


def choose_closest(candidates: pl.LazyFrame, target_completion: float) -> pl.LazyFrame:
    """Per (user, slot), the candidate whose ``predicted_completion`` is closest to
    ``target_completion``; a tie (to 1e-9) goes to today's rule (``is_rule``)."""
    gap = ((pl.col("predicted_completion") - target_completion).abs() * 1e9).round(0)
    return (
        candidates.sort(["user_id", "slot", gap, pl.col("is_rule").not_()])
        .group_by("user_id", "slot", maintain_order=True)
        .first()
    )


def predict_candidates(candidates: pl.DataFrame, completion: CompletionInputs) -> pl.DataFrame:
    """``candidates`` with ``predicted_completion``: their features built as of tonight and
    predicted in one batch."""
    keys = ("user_id", "slot", "challenge_type", "category", "target_value", "difficulty")
    asked = candidates.lazy().select(*keys).with_row_index("_candidate")
    rates = None if completion.rates is None else completion.rates.lazy()
    features = completion_features(
        asked, completion.state.lazy(), completion.history.lazy(), rates
    ).collect()
    p = completion.model.predict_proba(features.select(list(COMPLETION_FEATURES)))[:, 1]
    order = features.select("_candidate").with_columns(predicted_completion=pl.Series(p))
    return (
        candidates.with_row_index("_candidate")
        .join(order, on="_candidate", how="left")
        .drop("_candidate")
    )


def choose_targets(
    slots: pl.DataFrame,
    completion: CompletionInputs,
    target_completion: float,
    lo: float,
    hi: float,
) -> pl.DataFrame:
    """``slots`` (the ML slots with the rule's difficulty and targets) with the candidate
    closest to ``target_completion``: its difficulty, target_value, question_count,
    seconds_limit and ``predicted_completion``."""
    grid = candidate_grid(slots.lazy(), lo, hi).collect()
    predicted = predict_candidates(grid, completion)
    chosen = choose_closest(predicted.lazy(), target_completion).collect()
    return chosen.drop("d_offset", "t_factor", "is_rule").select(
        *slots.columns, "predicted_completion"
    )
