"""Answer tallies: the per-(user, category, day) sufficient statistics of the answer log.

A night's user and (user, category) features need only, per (user, category, Oslo day),
how many answers there were, how many were right, the sum and count of the known answer
times and the first and last instant. These tallies add up: the tallies of two disjoint
batches of answers fold into the tallies of their union (sums, min, max), so a night can
carry yesterday's tallies and fold in only the answers that arrived since, and compute the
same features as a recompute from the whole cleaned log (:mod:`daglig.user_features`):
exactly for counts, to rounding for means.

Pure: frames in, frames out.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

TALLY_KEY = ("user_id", "category", "local_date")
TALLIES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "category": pl.String,
    "local_date": pl.Date,
    "n": pl.Int64,  # answers
    "c": pl.Int64,  # right answers
    "sec_sum": pl.Float64,  # sum of the known time_spent_seconds (0.0 when none)
    "sec_n": pl.Int64,  # how many times were known
    "first_at": pl.Datetime("us"),
    "last_at": pl.Datetime("us"),
}


def _typed(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.select([pl.col(k).cast(v) for k, v in TALLIES_SCHEMA.items()]).sort(*TALLY_KEY)


def tally(clean: pl.LazyFrame) -> pl.LazyFrame:
    """The tallies (:data:`TALLIES_SCHEMA`, sorted by user, category, day) of a batch of
    clean answers (the ``clean`` frame of :func:`daglig.user_features.clean_attempts`)."""
    return _typed(
        clean.group_by(*TALLY_KEY).agg(
            n=pl.len(),
            c=pl.col("is_correct").sum(),
            # Polars sums NULLs as nothing: 0.0 for a day whose times are all unknown.
            sec_sum=pl.col("time_spent_seconds").sum(),
            sec_n=pl.col("time_spent_seconds").count(),
            first_at=pl.col("answered_at").min(),
            last_at=pl.col("answered_at").max(),
        )
    )


def fold_tallies(prev: pl.LazyFrame, new: pl.LazyFrame) -> pl.LazyFrame:
    """The tallies of the union of two disjoint batches, given the tallies of each (sorted by
    the key). A (user, category, day) may be in both: a late answer, or the day a cutoff
    falls in."""
    cols = list(TALLIES_SCHEMA)
    return _typed(
        pl.concat([prev.select(cols), new.select(cols)], how="vertical")
        .group_by(*TALLY_KEY)
        .agg(
            pl.col("n", "c", "sec_sum", "sec_n").sum(),
            pl.col("first_at").min(),
            pl.col("last_at").max(),
        )
    )


def _mean_seconds() -> pl.Expr:
    """Σ seconds / their count, NULL when no time is known (as a mean of all-NULL values)."""
    return pl.when(pl.col("sec_n") > 0).then(pl.col("sec_sum") / pl.col("sec_n"))


def user_features_from_tallies(
    users: pl.LazyFrame, tallies: pl.LazyFrame, run_date: date
) -> pl.LazyFrame:
    """One row per user of ``users`` (sorted by user): the columns, dtypes and values of
    :func:`daglig.user_features.user_features` on the log the tallies were made of."""
    since_30 = run_date - timedelta(days=30)
    since_7 = run_date - timedelta(days=7)
    # A user's days: the day's answers over every category (the median daily volume).
    days = tallies.group_by("user_id", "local_date").agg(n=pl.col("n").sum())
    per_user = (
        tallies.group_by("user_id")
        .agg(
            total_answers=pl.col("n").sum().cast(pl.Int64),
            correct_answers=pl.col("c").sum().cast(pl.Int64),
            first_answer_at=pl.col("first_at").min(),
            last_answer_at=pl.col("last_at").max(),
            answers_7d=pl.col("n").filter(pl.col("local_date") >= since_7).sum().cast(pl.Int64),
            answers_30d=pl.col("n").filter(pl.col("local_date") >= since_30).sum().cast(pl.Int64),
            sec_sum=pl.col("sec_sum").sum(),
            sec_n=pl.col("sec_n").sum(),
        )
        .with_columns(mean_seconds=_mean_seconds())
        .drop("sec_sum", "sec_n")
    )
    return assemble_user_features(users, per_user, days, run_date)


def user_category_features_from_tallies(
    tallies: pl.LazyFrame | pl.DataFrame, run_date: date
) -> pl.DataFrame:
    """One row per practised (user, category), sorted by both: the columns, dtypes and
    values of :func:`daglig.user_features.user_category_features` on the log the tallies
    were made of."""
    since_30 = run_date - timedelta(days=30)
    return (
        tallies.lazy()
        .group_by("user_id", "category")
        .agg(
            attempts=pl.col("n").sum().cast(pl.Int32),
            correct=pl.col("c").sum().cast(pl.Int32),
            _n=pl.col("n").sum(),
            _c=pl.col("c").sum(),
            last_practised_at=pl.col("last_at").max(),
            _last_date=pl.col("local_date").max(),
            attempts_30d=pl.col("n").filter(pl.col("local_date") >= since_30).sum().cast(pl.Int32),
            sec_sum=pl.col("sec_sum").sum(),
            sec_n=pl.col("sec_n").sum(),
        )
        .select(
            "user_id",
            "category",
            "attempts",
            "correct",
            accuracy=pl.col("_c") / pl.col("_n"),
            last_practised_at="last_practised_at",
            days_since_practised=(pl.lit(run_date) - pl.col("_last_date"))
            .dt.total_days()
            .cast(pl.Int32),
            attempts_30d="attempts_30d",
            mean_seconds=_mean_seconds(),
        )
        .sort("user_id", "category")
        .collect()
    )


def assemble_user_features(
    users: pl.LazyFrame, per_user: pl.LazyFrame, days: pl.LazyFrame, run_date: date
) -> pl.LazyFrame:
    """The user features from per-user sums (``per_user``) and per-(user, day) answer
    counts (``days``: user_id, local_date, n): streaks, active days, the typical daily
    volume, joined onto ``users`` (one row each, sorted by user). Shared by the reference
    (:func:`daglig.user_features.user_features`, from the log) and the tallies' path."""
    yesterday = run_date - timedelta(days=1)
    since_30 = run_date - timedelta(days=30)
    # A run of consecutive days: date minus its rank within the user is constant along it.
    runs = (
        days.sort("user_id", "local_date")
        .with_columns(
            run_key=pl.col("local_date")
            - pl.duration(days=pl.col("local_date").rank("ordinal").over("user_id"))
        )
        .group_by("user_id", "run_key")
        .agg(run_len=pl.len(), run_end=pl.col("local_date").max())
    )
    streaks = runs.group_by("user_id").agg(
        current_streak=pl.col("run_len")
        .filter(pl.col("run_end") == yesterday)
        .first()
        .fill_null(0),
        longest_streak=pl.col("run_len").max(),
    )
    per_day = days.group_by("user_id").agg(
        active_days=pl.len().cast(pl.Int64),
        active_days_30d=(pl.col("local_date") >= since_30).sum().cast(pl.Int64),
        last_active_date=pl.col("local_date").max(),
        median_daily_answers=pl.col("n").median(),
    )
    return (
        users.join(per_user, on="user_id", how="left", maintain_order="left")
        .join(per_day, on="user_id", how="left", maintain_order="left")
        .join(streaks, on="user_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("total_answers", "correct_answers", "answers_7d", "answers_30d").fill_null(0),
            pl.col("active_days", "active_days_30d").fill_null(0),
            pl.col("current_streak", "longest_streak").fill_null(0).cast(pl.Int32),
        )
        .with_columns(
            accuracy=pl.when(pl.col("total_answers") > 0).then(
                pl.col("correct_answers") / pl.col("total_answers")
            ),
            days_since_last_answer=(pl.lit(run_date) - pl.col("last_active_date")).dt.total_days(),
            # Answers per active day, recent if the user was active lately, lifetime otherwise.
            typical_daily_volume=pl.when(pl.col("active_days_30d") > 0)
            .then(pl.col("answers_30d") / pl.col("active_days_30d"))
            .when(pl.col("active_days") > 0)
            .then(pl.col("median_daily_answers"))
            .otherwise(0.0),
        )
        .sort("user_id")
    )
