"""Each learner's outcome history by challenge type, point in time.

``type_outcomes`` turns past assignments (``user_id``, ``challenge_type``,
``challenge_date``, ``completed_at``) into one row per (user, type): how many were
``offered`` and how many ``completed``, each weighted by age with a half-life of
``HALF_LIFE_DAYS`` (an assignment a half-life old counts half). A completion counts only
when ``completed_at`` is before the run's cutoff: what the app wrote afterwards is not
known on the night. The read (sql/read/past_assignments.sql, the completion model's too)
keeps the 90 challenge dates before the run date.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

HALF_LIFE_DAYS = 14.0
OUTCOMES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "challenge_type": pl.String,
    "offered": pl.Float64,
    "completed": pl.Float64,
}
RATES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "challenge_type": pl.String,
    "rate": pl.Float64,
}
ASSIGNED_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "challenge_type": pl.String,
    "challenge_date": pl.Date,
    "completed_at": pl.Datetime("us"),
}


def type_outcomes(
    assignments: pl.DataFrame, cutoff: datetime, half_life_days: float = HALF_LIFE_DAYS
) -> pl.DataFrame:
    """Per (user_id, challenge_type): age-decayed ``offered`` and ``completed`` counts of
    ``assignments`` given before ``cutoff`` (naive UTC), completions known by then."""
    day_start = pl.col("challenge_date").cast(pl.Datetime("us"))
    age_days = (pl.lit(cutoff, pl.Datetime("us")) - day_start).dt.total_seconds() / 86_400.0
    weight = (pl.lit(0.5) ** (age_days.clip(lower_bound=0.0) / half_life_days)).alias("w")
    done = pl.col("completed_at").is_not_null() & (pl.col("completed_at") < cutoff)
    return (
        assignments.lazy()
        .cast({"challenge_date": pl.Date, "completed_at": pl.Datetime("us")})
        .filter(day_start < cutoff)
        .with_columns(weight)
        .group_by("user_id", "challenge_type")
        .agg(
            offered=pl.col("w").sum(),
            completed=pl.when(done).then(pl.col("w")).otherwise(0.0).sum(),
        )
        .sort("user_id", "challenge_type")
        .collect()
        .cast(OUTCOMES_SCHEMA)  # type: ignore[arg-type]
    )


def type_rates(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Per challenge type: the (decayed) completion rate over every user of ``outcomes``,
    the population's; a type nobody was offered has no row."""
    return (
        outcomes.lazy()
        .group_by("challenge_type")
        .agg(rate=pl.col("completed").sum() / pl.col("offered").sum())
        .filter(pl.col("rate").is_finite())
        .sort("challenge_type")
        .collect()
        .cast(RATES_SCHEMA)  # type: ignore[arg-type]
    )
