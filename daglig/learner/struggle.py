"""Struggle signals (issue 17 item 2), pure and vectorised: the run of wrong answers
(exact from the carried evidence state), accuracy falling (tallies), abandoned quiz
sessions and sessions getting shorter (the recent ``quiz_sessions``,
sql/read/recent_sessions.sql). The feature step computes them per shard
(:func:`struggle_signals`); the selectors adapt a struggling learner's day
(:func:`daglig.selection.struggle_adapted`); docs/struggle.md has the rule and figures.

The overall LAST_K newest answers of a learner are inside the per-category last-k lists
(``k_at``, ``k_id``, ``k_c`` of :mod:`daglig.learner.evidence_state`), so merging those
lists by (answered_at, attempt_id) descending and counting the leading wrong answers gives
the trailing run of wrong answers among the learner's newest answers. Only answers before
the cutoff count (point in time), whatever the state holds.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

import polars as pl

from daglig.hashing import salt_of, uniform

#: A trailing run of this many wrong answers is a strong sign of struggle: a learner at
#: the population's typical accuracy (~70 %) has about a 0.3^4 ≈ 1 % chance of it.
WRONG_RUN_MIN = 4

#: Accuracy falling against the learner's own level: the last RECENT_DAYS days' accuracy
#: at least ACCURACY_DROP below the accuracy before them, each on at least
#: ACCURACY_MIN_ANSWERS answers (with 20 answers a binomial's standard error is ~0.1, so a
#: drop of 0.2 is about two of them, not noise). The boundary counts (to rounding).
RECENT_DAYS = 7
ACCURACY_DROP = 0.2
ACCURACY_MIN_ANSWERS = 20

#: Abandoned sessions: of the sessions started in the last RECENT_DAYS days, at least
#: ABANDON_SHARE not completed before the cutoff, among at least ABANDON_MIN_SESSIONS (the
#: simulated history abandons 10 % of sessions at random: 2 of 3 by chance is ~3 %).
ABANDON_SHARE = 0.5
ABANDON_MIN_SESSIONS = 3

#: Sessions getting shorter: the completed sessions of the last RECENT_DAYS days average at
#: most SHORTER_RATIO of the questions of those in the SHORTER_BEFORE_DAYS before, each on
#: at least SHORTER_MIN_SESSIONS sessions.
SHORTER_RATIO = 0.6
SHORTER_BEFORE_DAYS = 28
SHORTER_MIN_SESSIONS = 5

#: How far back sql/read/recent_sessions.sql reads (its ``since``: cutoff minus this).
SESSION_WINDOW_DAYS: Final = RECENT_DAYS + SHORTER_BEFORE_DAYS

SESSIONS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "started_at": pl.Datetime("us"),
    "completed_at": pl.Datetime("us"),
    "total_questions": pl.Int32,
}


def wrong_run(evidence: pl.LazyFrame, cutoff: datetime) -> pl.LazyFrame:
    """Per user: ``wrong_run`` (the trailing run of wrong answers among the newest answers
    before ``cutoff``) and ``wrong_run_fired`` (``wrong_run >= WRONG_RUN_MIN``)."""
    answers = (
        evidence.select("user_id", "k_at", "k_id", "k_c")
        .explode("k_at", "k_id", "k_c")
        .drop_nulls("k_at")
        .filter(pl.col("k_at") < cutoff)
        .sort(["user_id", "k_at", "k_id"], descending=[False, True, True])
    )
    return (
        answers.group_by("user_id", maintain_order=True)
        .agg(wrong_run=pl.col("k_c").cum_max().not_().sum().cast(pl.Int64))
        .with_columns(wrong_run_fired=pl.col("wrong_run") >= WRONG_RUN_MIN)
    )


def accuracy_drop(tallies: pl.LazyFrame, today: date) -> pl.LazyFrame:
    """Per user with answers before ``today`` (the night's Oslo day; the tallies of
    :mod:`daglig.answer_tallies`): ``acc_recent`` (days in [today − RECENT_DAYS, today)),
    ``acc_before`` (days before those), and ``accuracy_drop_fired``."""
    since = today - timedelta(days=RECENT_DAYS)
    recent = pl.col("local_date") >= since
    return (
        tallies.filter(pl.col("local_date") < today)
        .group_by("user_id")
        .agg(
            n_recent=pl.col("n").filter(recent).sum(),
            c_recent=pl.col("c").filter(recent).sum(),
            n_before=pl.col("n").filter(~recent).sum(),
            c_before=pl.col("c").filter(~recent).sum(),
        )
        .with_columns(
            acc_recent=pl.col("c_recent") / pl.col("n_recent"),
            acc_before=pl.col("c_before") / pl.col("n_before"),
        )
        .with_columns(
            accuracy_drop_fired=(pl.col("n_recent") >= ACCURACY_MIN_ANSWERS)
            & (pl.col("n_before") >= ACCURACY_MIN_ANSWERS)
            & (pl.col("acc_before") - pl.col("acc_recent") >= ACCURACY_DROP - 1e-9)
        )
        .select("user_id", "acc_recent", "acc_before", "accuracy_drop_fired")
    )


def _window(sessions: pl.LazyFrame, cutoff: datetime) -> tuple[pl.LazyFrame, pl.Expr]:
    """The sessions started before ``cutoff`` within the read window, each completed only
    when it was before the cutoff; and the expression for "started in the recent days"."""
    at = pl.lit(cutoff, pl.Datetime("us"))
    since = pl.lit(cutoff - timedelta(days=SESSION_WINDOW_DAYS), pl.Datetime("us"))
    known = sessions.filter((pl.col("started_at") < at) & (pl.col("started_at") >= since))
    known = known.with_columns(
        done=pl.col("completed_at").is_not_null() & (pl.col("completed_at") < at)
    )
    recent = pl.col("started_at") >= pl.lit(cutoff - timedelta(days=RECENT_DAYS), pl.Datetime("us"))
    return known, recent


def abandoned_sessions(sessions: pl.LazyFrame, cutoff: datetime) -> pl.LazyFrame:
    """Per user with a session in the recent days: ``sessions_recent``, ``abandoned_recent``
    and ``abandoned_fired``."""
    known, recent = _window(sessions, cutoff)
    return (
        known.filter(recent)
        .group_by("user_id")
        .agg(
            sessions_recent=pl.len().cast(pl.Int64),
            abandoned_recent=(~pl.col("done")).sum().cast(pl.Int64),
        )
        .with_columns(
            abandoned_fired=(pl.col("sessions_recent") >= ABANDON_MIN_SESSIONS)
            & (pl.col("abandoned_recent") >= ABANDON_SHARE * pl.col("sessions_recent"))
        )
    )


def shorter_sessions(sessions: pl.LazyFrame, cutoff: datetime) -> pl.LazyFrame:
    """Per user with a completed session in the window: ``size_recent``, ``size_before``
    (mean questions of completed sessions) and ``shorter_fired``."""
    known, recent = _window(sessions, cutoff)
    size = pl.col("total_questions").cast(pl.Float64)
    return (
        known.filter(pl.col("done"))
        .group_by("user_id")
        .agg(
            n_recent=recent.sum(),
            n_before=(~recent).sum(),
            size_recent=size.filter(recent).mean(),
            size_before=size.filter(~recent).mean(),
        )
        .with_columns(
            shorter_fired=(pl.col("n_recent") >= SHORTER_MIN_SESSIONS)
            & (pl.col("n_before") >= SHORTER_MIN_SESSIONS)
            & (pl.col("size_recent") <= SHORTER_RATIO * pl.col("size_before") + 1e-9)
        )
        .select("user_id", "size_recent", "size_before", "shorter_fired")
    )


#: The signals' names, in the order the reason lists them.
SIGNALS: tuple[str, ...] = ("wrong_run", "accuracy_drop", "abandoned", "shorter")

#: Struggle-holdout membership is hashed from the user id alone (a fixed "date"), with a
#: salt of its own, so it holds night after night and is independent of the ML holdout.
HOLDOUT_SALT = salt_of("struggle-holdout")
HOLDOUT_EPOCH = date(2026, 1, 1)

STRUGGLE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "struggle_signals": pl.List(pl.String),
    "struggle_holdout": pl.Boolean,
}


def struggle_signals(
    evidence: pl.LazyFrame,
    tallies: pl.LazyFrame,
    sessions: pl.LazyFrame,
    cutoff: datetime,
    today: date,
    holdout_share: float = 0.0,
) -> pl.DataFrame:
    """The struggling learners of the night: one row per learner with at least one signal
    fired, ``struggle_signals`` (the names of :data:`SIGNALS` that fired, in that order)
    and ``struggle_holdout`` (the learner is in the stable struggle holdout of
    ``holdout_share``: the selectors leave their day as it is, the reason still says which
    signals fired). A learner is *struggling* when any signal fires: the signals are each
    rare by chance (docs/struggle.md), and a learner who gives up shows one of them first."""
    fired = [
        wrong_run(evidence, cutoff).select("user_id", wrong_run="wrong_run_fired"),
        accuracy_drop(tallies, today).select("user_id", accuracy_drop="accuracy_drop_fired"),
        abandoned_sessions(sessions, cutoff).select("user_id", abandoned="abandoned_fired"),
        shorter_sessions(sessions, cutoff).select("user_id", shorter="shorter_fired"),
    ]
    out = fired[0]
    for frame in fired[1:]:
        out = out.join(frame, on="user_id", how="full", coalesce=True)
    names = [pl.when(pl.col(s).fill_null(False)).then(pl.lit(s)) for s in SIGNALS]
    return (
        out.select(
            pl.col("user_id").cast(pl.Int64),
            struggle_signals=pl.concat_list(names).list.drop_nulls(),
        )
        .filter(pl.col("struggle_signals").list.len() > 0)
        .with_columns(
            struggle_holdout=uniform("user_id", HOLDOUT_EPOCH, HOLDOUT_SALT) < holdout_share
        )
        .sort("user_id")
        .collect()
        .cast(STRUGGLE_SCHEMA)  # type: ignore[arg-type]
    )
