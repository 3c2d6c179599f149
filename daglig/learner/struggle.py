"""Struggle signals (issue 17 item 2), pure and vectorised: for now only the run of
wrong answers, exact from the carried evidence state.

The overall LAST_K newest answers of a learner are inside the per-category last-k lists
(``k_at``, ``k_id``, ``k_c`` of :mod:`daglig.learner.evidence_state`), so merging those
lists by (answered_at, attempt_id) descending and counting the leading wrong answers gives
the trailing run of wrong answers among the learner's newest answers. Only answers before
the cutoff count (point in time), whatever the state holds.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

#: A trailing run of this many wrong answers is a strong sign of struggle: a learner at
#: the population's typical accuracy (~70 %) has about a 0.3^4 ≈ 1 % chance of it.
WRONG_RUN_MIN = 4


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
