"""Struggle signals (issue 17 item 2), pure and vectorised: so far the run of
wrong answers (exact from the carried evidence state) and accuracy falling (tallies).

The overall LAST_K newest answers of a learner are inside the per-category last-k lists
(``k_at``, ``k_id``, ``k_c`` of :mod:`daglig.learner.evidence_state`), so merging those
lists by (answered_at, attempt_id) descending and counting the leading wrong answers gives
the trailing run of wrong answers among the learner's newest answers. Only answers before
the cutoff count (point in time), whatever the state holds.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

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
