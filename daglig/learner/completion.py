"""The completion model: will this learner complete this challenge today? (pure)

Trained on past assignments. Each example is one assignment of a past night: what was
asked (type, category, target, difficulty, slot, the target relative to the learner's
typical daily volume) and what was known about the learner at the start of that night
(``challenge_date``'s day start in Europe/Oslo): the learner features of
:func:`daglig.learner.examples.state_at` and the learner × type completion rate so far,
smoothed towards the type's rate (a Beta prior of ``PRIOR_STRENGTH`` pseudo-assignments).
An outcome counts as known at a cutoff only when its ``completed_at`` is before it, so an
outcome recorded later changes no feature. The label is ``completed_at`` not NULL (as
known at the training run's ``as_of``); ``progress_share`` (progress / target) rides along.

The model answers "will they complete it *if they practise today*": only assignments of a
day on which the learner answered at least one question (``practised``, that local day in
the log) train and evaluate it. On most nights most learners do not open the app at all,
whatever they are asked; that is not something a target can change, and an unconditional
label would put every prediction far below any reachable ``target_completion``.

The split is temporal: the last ``EVAL_NIGHTS`` nights are held out. No scikit-learn
here (the nightly run builds these features too); the estimator, its baselines and the
fit are in :mod:`daglig.learner.completion_model`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from daglig.catalogue import TYPE_KEYS
from daglig.learner.examples import USER_FEATURES, state_at
from daglig.user_features import day_cutoff

EVAL_NIGHTS = 2
HISTORY_DAYS = 90  # the outcome history a night looks back on (training and tonight alike)
PRIOR_STRENGTH = 4.0  # pseudo-assignments of the type's rate in a learner × type rate
VOLUME_BOUNDS = (5.0, 60.0)  # typical daily volume, clipped as the rule targets clip it

ASSIGNMENTS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "challenge_date": pl.Date,
    "slot": pl.Int16,
    "challenge_type": pl.String,
    "category": pl.String,
    "target_value": pl.Int32,
    "difficulty": pl.Float64,
    "progress": pl.Int32,
    "completed_at": pl.Datetime("us"),
}

CATEGORY_FEATURES: tuple[str, ...] = ("uc_accuracy", "uc_log_attempts", "uc_days_since")

# The completion model's inputs, in order; saved with the model and checked on load.
COMPLETION_FEATURES: tuple[str, ...] = (
    *(f"is_{t}" for t in TYPE_KEYS),
    "slot",
    "target_value",
    "difficulty",
    "target_per_volume",
    "typical_daily_volume",
    *USER_FEATURES,
    *CATEGORY_FEATURES,
    "ut_rate",
    "ut_log_assigned",
    "u_rate",
)


def type_columns() -> list[pl.Expr]:
    """One 0/1 column per challenge type (``is_<type>``) from ``challenge_type``."""
    return [(pl.col("challenge_type") == t).cast(pl.Float64).alias(f"is_{t}") for t in TYPE_KEYS]


def outcome_history(assignments: pl.LazyFrame, night: date, cutoff: datetime) -> pl.LazyFrame:
    """What was known at ``cutoff`` (``night``'s start) of past challenges: per (user,
    type) the assignments of the ``HISTORY_DAYS`` days before ``night`` and how many were
    completed before ``cutoff``, with the type's population rate (``t_rate``, Laplace)."""
    past = assignments.filter(
        pl.col("challenge_date").is_between(
            pl.lit(night - timedelta(days=HISTORY_DAYS), pl.Date),
            pl.lit(night, pl.Date),
            closed="left",
        )
    )
    done = (pl.col("completed_at").is_not_null() & (pl.col("completed_at") < cutoff)).cast(
        pl.Float64
    )
    per_type = past.group_by("challenge_type").agg(t_rate=(done.sum() + 1) / (pl.len() + 2))
    return (
        past.group_by("user_id", "challenge_type")
        .agg(_ut_n=pl.len().cast(pl.Float64), _ut_c=done.sum())
        .join(per_type, on="challenge_type", how="left")
    )


def population_rates(history: pl.LazyFrame) -> pl.LazyFrame:
    """Per challenge type, the population's rate ``t_rate`` of an :func:`outcome_history`
    of every user (a shard's history lacks the types none of its learners were given)."""
    return history.select("challenge_type", "t_rate").unique()


def completion_features(
    asked: pl.LazyFrame,
    state: pl.LazyFrame,
    history: pl.LazyFrame,
    rates: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """``asked`` (user_id, slot, challenge_type, category, target_value, difficulty) with the
    model's features: ``state`` is :func:`state_at` at the night's cutoff, ``history``
    :func:`outcome_history` at the same cutoff (of ``asked``'s users at least), ``rates``
    the :func:`population_rates` of every user's (default: ``history``'s own)."""
    rates = population_rates(history) if rates is None else rates
    users = state.group_by("user_id").agg(pl.col(list(USER_FEATURES)).first())
    cats = state.select("user_id", "category", *CATEGORY_FEATURES)
    per_user = history.group_by("user_id").agg(
        _u_n=pl.col("_ut_n").sum(), _u_c=pl.col("_ut_c").sum()
    )
    answers = pl.col("u_log_answers").exp() - 1
    volume = (answers / pl.col("u_active_days").clip(1.0, None)).clip(*VOLUME_BOUNDS)
    return (
        asked.join(users, on="user_id", how="left")
        .join(cats, on=["user_id", "category"], how="left")
        .join(history, on=["user_id", "challenge_type"], how="left")
        .join(rates, on="challenge_type", how="left", suffix="_pop")
        .join(per_user, on="user_id", how="left")
        .with_columns(
            *type_columns(),
            typical_daily_volume=volume.fill_null(VOLUME_BOUNDS[0]),
            t_rate=pl.coalesce("t_rate", "t_rate_pop", pl.lit(0.5)),
        )
        .with_columns(
            target_per_volume=pl.col("target_value").cast(pl.Float64)
            / pl.col("typical_daily_volume"),
            ut_rate=(pl.col("_ut_c").fill_null(0.0) + PRIOR_STRENGTH * pl.col("t_rate"))
            / (pl.col("_ut_n").fill_null(0.0) + PRIOR_STRENGTH),
            ut_log_assigned=pl.col("_ut_n").fill_null(0.0).log1p(),
            u_rate=(pl.col("_u_c").fill_null(0.0) + PRIOR_STRENGTH * 0.5)
            / (pl.col("_u_n").fill_null(0.0) + PRIOR_STRENGTH),
            slot=pl.col("slot").cast(pl.Float64),
            target_value=pl.col("target_value").cast(pl.Float64),
        )
        .drop("_ut_n", "_ut_c", "_u_n", "_u_c", "t_rate_pop")
    )


def completion_examples(
    assignments: pl.DataFrame,
    log: pl.DataFrame,
    exams: pl.DataFrame,
    as_of: date,
    tz: str = "Europe/Oslo",
) -> pl.DataFrame:
    """Every assignment of a night before ``as_of`` with its features as of that night's
    start and its label as known at ``as_of``'s start: one row per assignment, with
    ``cutoff`` (the night's) and ``challenge_date``. One Polars plan per night."""
    known = day_cutoff(as_of, tz)
    rows = assignments.lazy().filter(pl.col("challenge_date") < pl.lit(as_of, pl.Date))
    nights = sorted(rows.select(pl.col("challenge_date").unique()).collect().to_series().to_list())
    lf, ex = log.lazy(), exams.lazy()
    days = practice_days(lf, tz)
    parts = []
    for night in nights:  # a loop over nights (a handful), never over users
        cutoff = day_cutoff(night, tz)
        asked = rows.filter(pl.col("challenge_date") == night)
        state, _ = state_at(lf, ex, asked.select("user_id"), cutoff)
        hist = outcome_history(rows, night, cutoff)
        parts.append(
            completion_features(asked, state, hist)
            .with_columns(
                cutoff=pl.lit(cutoff, pl.Datetime("us")),
                label=(
                    pl.col("completed_at").is_not_null() & (pl.col("completed_at") < known)
                ).cast(pl.Int8),
                progress_share=(
                    pl.col("progress").cast(pl.Float64) / pl.col("target_value").clip(1.0, None)
                ).clip(0.0, 1.0),
            )
            .join(days, on=["user_id", "challenge_date"], how="left")
            .with_columns(practised=pl.col("practised").fill_null(False))
        )
    if not parts:
        return pl.DataFrame()
    return pl.concat(pl.collect_all(parts), how="vertical_relaxed")


def practice_days(log: pl.LazyFrame, tz: str = "Europe/Oslo") -> pl.LazyFrame:
    """(user_id, challenge_date, practised=True) for every local day in ``tz`` on which the
    learner answered at least one question."""
    local_day = pl.col("answered_at").dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.date()
    return (
        log.select("user_id", challenge_date=local_day)
        .unique()
        .with_columns(practised=pl.lit(True))
    )


def temporal_split(
    examples: pl.DataFrame, eval_nights: int = EVAL_NIGHTS
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(training, held-out): the last ``eval_nights`` nights are held out, every earlier
    night trains — nothing trained on is later than what is evaluated."""
    if examples.is_empty():
        return examples, examples
    nights = sorted(examples["challenge_date"].unique().to_list())
    if len(nights) <= eval_nights:
        return examples.clear(), examples
    first_eval = nights[-eval_nights]
    return (
        examples.filter(pl.col("challenge_date") < first_eval),
        examples.filter(pl.col("challenge_date") >= first_eval),
    )
