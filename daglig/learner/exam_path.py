"""A week's path to the exam (issue 17 item 3): the planning rule only, pure.

From tonight's assessment categories (``user_id``, ``category``, ``mastery``,
``exam_questions``; enabled categories only), seven days of focus categories per user.
Priority is the expected wrong answers on the 45-question exam, ``exam_questions × (1 −
mastery)``; each day takes the category with the highest priority divided by one plus the
days it already has (diminishing), never the same category as the day before and at most
``MAX_DAYS_PER_CATEGORY`` days of the seven. Ties: the category key. No per-user loop: one
vectorised pass per day. Not yet wired into the night: the pipeline-owned table, the
nightly follow-up and re-plan, the texts and the simulator's measurement are still to come
(docs/struggle.md lists both parts of issue 17 still open).
"""

from __future__ import annotations

import polars as pl

PATH_DAYS = 7
MAX_DAYS_PER_CATEGORY = 3


def plan_exam_paths(categories: pl.LazyFrame) -> pl.DataFrame:
    """Columns ``user_id``, ``day_no`` (1..7), ``category``, ``planned_mastery``. A user
    with a single exam category gets it on the days the spacing allows (others are
    left out)."""
    base = (
        categories.filter(pl.col("exam_questions") > 0)
        .select(
            "user_id",
            "category",
            planned_mastery=pl.col("mastery").cast(pl.Float64),
            priority=pl.col("exam_questions") * (1.0 - pl.col("mastery")),
        )
        .collect()
        .with_columns(picks=pl.lit(0, pl.Int32), last=pl.lit(False))
    )
    days = []
    for day_no in range(1, PATH_DAYS + 1):
        pick = (
            base.filter(~pl.col("last") & (pl.col("picks") < MAX_DAYS_PER_CATEGORY))
            .with_columns(weight=pl.col("priority") / (1 + pl.col("picks")))
            .sort(["user_id", "weight", "category"], descending=[False, True, False])
            .group_by("user_id", maintain_order=True)
            .first()
            .select("user_id", "category", "planned_mastery")
            .with_columns(day_no=pl.lit(day_no, pl.Int16))
        )
        days.append(pick)
        chosen = pick.select("user_id", "category", chosen=pl.lit(True))
        base = (
            base.join(chosen, on=["user_id", "category"], how="left")
            .with_columns(
                picks=pl.col("picks") + pl.col("chosen").fill_null(False).cast(pl.Int32),
                last=pl.col("chosen").fill_null(False),
            )
            .drop("chosen")
        )
    return (
        pl.concat(days)
        .select("user_id", "day_no", "category", "planned_mastery")
        .sort(["user_id", "day_no"])
    )
