"""User features from the answer log: pure functions, frames in, frames out.

Three frames come out of one pass over the answer log:

* ``user_features`` — one row per user known before the cutoff: activity flags, answer
  counts, accuracy, recency, the practice streak ending the day before the run, and the
  typical daily volume (answers per active day over the last 30 days).
* ``user_category_features`` — one row per (user, category) the user has practised.
* ``quarantine`` — answer rows that cannot be used, each with its reason.

:func:`extract_features` computes the first two from the clean log's per-day tallies
(:mod:`daglig.answer_tallies`, which a later night can carry and fold into);
:func:`user_features` and :func:`user_category_features` compute them from the log itself
and are the reference the tallies are tested against.

Attempts are cleaned first: rows whose question is missing or whose category is unknown
are quarantined, exact duplicates (same user, question and instant) are kept once, answers
time-stamped after the run started (a device clock in the future) or before the learner's
account was created (a clock reset to 1970) are quarantined, and an impossible
``time_spent_seconds`` (negative, NaN or above an hour) is quarantined as a value — the
row is kept with the time set to NULL, since the answer itself is good. A question
difficulty that is NULL stays NULL (unknown); one outside 0 .. 1 is set to NULL.

Quarantine reasons, in the order they are tested (a row gets the first that applies):
``missing_question``, ``unknown_category``, ``future_answered_at``, ``before_account``,
``duplicate``; and, for rows kept, ``bad_time_spent_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from daglig import sql as sqlfiles
from daglig.answer_tallies import (
    assemble_user_features,
    tally,
    user_category_features_from_tallies,
    user_features_from_tallies,
)
from daglig.catalogue import CATEGORY_KEYS

MAX_SECONDS_PER_ANSWER = 3600.0

USERS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "is_active": pl.Boolean,
    "created_at": pl.Datetime("us"),
    "last_login_at": pl.Datetime("us"),
    "level": pl.Int32,
    "app_current_streak": pl.Int32,
    "app_longest_streak": pl.Int32,
    "total_xp": pl.Int64,
    "preferred_language": pl.String,  # optional in the app's table: NULL when absent
}
QUESTIONS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "question_id": pl.Int64,
    "category": pl.String,
    "difficulty": pl.Float64,
    "is_active": pl.Boolean,
}
ATTEMPTS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "attempt_id": pl.Int64,
    "user_id": pl.Int64,
    "question_id": pl.Int64,
    "quiz_session_id": pl.Int64,
    "is_correct": pl.Boolean,
    "time_spent_seconds": pl.Float64,
    "answered_at": pl.Datetime("us"),
}
QUARANTINE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "attempt_id": pl.Int64,
    "user_id": pl.Int64,
    "question_id": pl.Int64,
    "answered_at": pl.Datetime("us"),
    "reason": pl.String,
}


def day_cutoff(run_date: date, tz: str = "Europe/Oslo") -> datetime:
    """The start of ``run_date`` in ``tz`` as a naive UTC timestamp (the contract's form)."""
    local = datetime.combine(run_date, time(0, 0), tzinfo=ZoneInfo(tz))
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """The frames one feature pass produces."""

    user_features: pl.DataFrame
    user_category_features: pl.DataFrame
    quarantine: pl.DataFrame
    clean: pl.DataFrame | None = None  # the usable answers, for the learner model's rows
    # the clean answers' per-(user, category, day) tallies (daglig.answer_tallies): what a
    # later night folds its new answers into
    tallies: pl.DataFrame | None = None


def clean_attempts(
    attempts: pl.LazyFrame,
    questions: pl.LazyFrame,
    tz: str = "Europe/Oslo",
    now: datetime | None = None,
    users: pl.LazyFrame | None = None,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Split the answer log into usable rows (with category, difficulty and Oslo date) and
    quarantined rows with a reason. ``attempts`` and ``questions`` are not modified.

    ``now`` is when the run started (naive UTC, the contract's form): answers after it are
    quarantined as ``future_answered_at``. None skips that rule (pure callers that do not
    know the run's start). ``users`` (``user_id``, ``created_at``, naive UTC) dates the
    accounts: answers before their learner's account was created are quarantined as
    ``before_account``; None (or a user not among them) skips that rule."""
    known = pl.Series(CATEGORY_KEYS, dtype=pl.String)
    future = pl.lit(False) if now is None else pl.col("answered_at") > pl.lit(now)
    joined = attempts.join(
        questions.select("question_id", "category", "difficulty"),
        on="question_id",
        how="left",
        maintain_order="left",
    )
    before_account = pl.lit(False)
    if users is not None:
        joined = joined.join(
            users.select("user_id", _created_at="created_at"),
            on="user_id",
            how="left",
            maintain_order="left",
        )
        before_account = pl.col("answered_at") < pl.col("_created_at")
    joined = joined.with_columns(
        _reason=pl.when(pl.col("category").is_null())
        .then(pl.lit("missing_question"))
        .when(~pl.col("category").is_in(known.implode()))
        .then(pl.lit("unknown_category"))
        .when(future)
        .then(pl.lit("future_answered_at"))
        .when(before_account)
        .then(pl.lit("before_account")),
        difficulty=pl.when(pl.col("difficulty").is_between(0.0, 1.0))
        .then(pl.col("difficulty"))
        .otherwise(None),
    )
    # Duplicates share question and instant, so they share any reason above: when the
    # first of them is quarantined, all of them are, for that reason.
    dup = pl.struct("user_id", "question_id", "answered_at").is_first_distinct().not_()
    # An incremental night's late rows may repeat an answer the carried state holds
    # (sql/read/answers_since_state.sql marks them): duplicates as well.
    carried_dup = "dup_of_carried" in attempts.collect_schema().names()
    if carried_dup:
        dup = dup | pl.col("dup_of_carried").fill_null(False)
    joined = joined.with_columns(
        _reason=pl.when(pl.col("_reason").is_null() & dup)
        .then(pl.lit("duplicate"))
        .otherwise(pl.col("_reason"))
    )
    bad_time = pl.col("time_spent_seconds").is_not_null() & (
        (pl.col("time_spent_seconds") < 0)
        | (pl.col("time_spent_seconds") > MAX_SECONDS_PER_ANSWER)
        | pl.col("time_spent_seconds").is_nan()
    )
    quarantine = pl.concat(
        [
            joined.filter(pl.col("_reason").is_not_null()).select(
                "attempt_id", "user_id", "question_id", "answered_at", reason=pl.col("_reason")
            ),
            joined.filter(pl.col("_reason").is_null() & bad_time).select(
                "attempt_id",
                "user_id",
                "question_id",
                "answered_at",
                reason=pl.lit("bad_time_spent_seconds"),
            ),
        ]
    )
    clean = (
        joined.filter(pl.col("_reason").is_null())
        .with_columns(
            time_spent_seconds=pl.when(bad_time).then(None).otherwise(pl.col("time_spent_seconds")),
            local_date=pl.col("answered_at")
            .dt.replace_time_zone("UTC")
            .dt.convert_time_zone(tz)
            .dt.date(),
        )
        .drop(
            "_reason",
            *(["_created_at"] if users is not None else []),
            *(["dup_of_carried"] if carried_dup else []),
        )
    )
    return clean, quarantine


def user_features(users: pl.LazyFrame, clean: pl.LazyFrame, run_date: date) -> pl.LazyFrame:
    """One row per user: activity, volume, accuracy, recency, streak (Polars, lazy)."""
    since_30 = run_date - timedelta(days=30)
    since_7 = run_date - timedelta(days=7)
    days = clean.group_by("user_id", "local_date").agg(n=pl.len())
    per_user = clean.group_by("user_id").agg(
        total_answers=pl.len().cast(pl.Int64),
        correct_answers=pl.col("is_correct").sum().cast(pl.Int64),
        first_answer_at=pl.col("answered_at").min(),
        last_answer_at=pl.col("answered_at").max(),
        answers_7d=(pl.col("local_date") >= since_7).sum().cast(pl.Int64),
        answers_30d=(pl.col("local_date") >= since_30).sum().cast(pl.Int64),
        mean_seconds=pl.col("time_spent_seconds").mean(),
    )
    return assemble_user_features(users, per_user, days, run_date)


def user_category_features(clean: pl.DataFrame, run_date: date) -> pl.DataFrame:
    """One row per practised (user, category), aggregated in DuckDB."""
    con = duckdb.connect()
    try:
        con.register(
            "attempts",
            clean.select(
                "user_id",
                "category",
                "is_correct",
                "answered_at",
                "local_date",
                "time_spent_seconds",
            ).to_arrow(),
        )
        # DuckDB takes positional $n markers; the file's $1 is the run date.
        out = pl.from_arrow(
            con.sql(sqlfiles.load("features/user_category"), params=[run_date]).to_arrow_table()
        )
    finally:
        con.close()
    assert isinstance(out, pl.DataFrame)
    return out.sort("user_id", "category")


def extract_features(
    users: pl.DataFrame,
    questions: pl.DataFrame,
    attempts: pl.DataFrame,
    run_date: date,
    tz: str = "Europe/Oslo",
    now: datetime | None = None,
) -> FeatureSet:
    """The whole feature pass: clean, tally, then the per-user and per-(user, category)
    features from the tallies (the code a night that carries its tallies runs too; equal to
    :func:`user_features` and :func:`user_category_features`, the reference).
    ``now`` is the run's start (naive UTC); see :func:`clean_attempts`."""
    clean_lf, quarantine_lf = clean_attempts(
        attempts.lazy(), questions.lazy(), tz, now, users.lazy()
    )
    clean, quarantine = pl.collect_all([clean_lf, quarantine_lf])
    tallies = tally(clean.lazy()).collect()
    uf = user_features_from_tallies(users.lazy(), tallies.lazy(), run_date).collect()
    ucf = user_category_features_from_tallies(tallies, run_date)
    return FeatureSet(uf, ucf, quarantine, clean, tallies)
