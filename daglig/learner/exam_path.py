"""A week's path to the exam (issue 17 item 3): the planning rule and the nightly
follow-up, pure (docs/exam-path.md).

From tonight's assessment categories (``user_id``, ``category``, ``mastery``,
``exam_questions``; enabled categories only), seven days of focus categories per user.
Priority is the expected wrong answers on the 45-question exam, ``exam_questions × (1 −
mastery)``; each day takes the category with the highest priority divided by one plus the
days it already has (diminishing), never the same category as the day before and at most
``MAX_DAYS_PER_CATEGORY`` days of the seven. Ties: the category key. No per-user loop: one
vectorised pass per day.

Each night :func:`follow_exam_paths` keeps a learner's plan in force (read from the
pipeline-owned table ``learner_exam_paths``) and re-plans from tonight (``plan_start`` =
the run date, day 1) when the learner has none, it is finished, one of its remaining
categories is no longer enabled (or no longer on the exam), or the mastery of one of
them moved ``REPLAN_MOVE`` (0.1) or more from the mastery it was planned with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

PATH_DAYS = 7
MAX_DAYS_PER_CATEGORY = 3
REPLAN_MOVE = 0.1  # a remaining category's mastery this far from its planned one: re-plan
_EPS = 1e-9  # "moved 0.1" is not lost to floating point

# the rows of learner_exam_paths (models/tables.py)
PLAN_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "plan_start": pl.Date,
    "day_no": pl.Int16,
    "category": pl.String,
    "planned_mastery": pl.Float64,
}
# today's place on the path, per learner on one
TODAY_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "plan_start": pl.Date,
    "path_day": pl.Int16,
    "path_days": pl.Int16,
    "path_category": pl.String,
}


@dataclass(frozen=True, slots=True)
class FollowedPaths:
    """Tonight's follow-up: ``today`` (:data:`TODAY_SCHEMA`, a row per learner whose path
    has a day today) and ``plans`` (:data:`PLAN_SCHEMA`, the plans made tonight, to write;
    the plans kept are already written)."""

    today: pl.DataFrame
    plans: pl.DataFrame
    replanned: pl.DataFrame  # user_id, why (no_plan | finished | category | mastery)


def follow_exam_paths(
    plans_in_force: pl.DataFrame,
    categories: pl.LazyFrame,
    run_date: date,
    yesterday: pl.DataFrame | None = None,
) -> FollowedPaths:
    """Keep or re-plan the path of every learner of ``categories`` (``user_id``,
    ``category``, ``mastery``, ``exam_questions``: tonight's assessment of the enabled
    categories, of the learners on a path). ``plans_in_force``: :data:`PLAN_SCHEMA` rows
    with plan_start < run_date ≤ plan_start + 6 (of a learner with two, the newest
    counts). ``yesterday`` (``user_id``, ``category``): yesterday's focus category, which
    a plan made tonight does not start with. Vectorised: no per-user loop."""
    cats = categories.filter(pl.col("exam_questions") > 0).collect()
    learners = cats.select("user_id").unique()
    plans = (
        plans_in_force.lazy()
        .cast(PLAN_SCHEMA)  # type: ignore[arg-type]
        .join(learners.lazy(), on="user_id", how="semi")
        .filter(
            (pl.col("plan_start") < run_date)
            & (pl.col("plan_start") >= pl.lit(run_date) - pl.duration(days=PATH_DAYS - 1))
        )
        .filter(pl.col("plan_start") == pl.col("plan_start").max().over("user_id"))
        .with_columns(
            today_no=((pl.lit(run_date) - pl.col("plan_start")).dt.total_days() + 1).cast(pl.Int16)
        )
        .collect()
    )
    remaining = plans.filter(pl.col("day_no") >= pl.col("today_no")).join(
        cats.select("user_id", "category", "mastery"), on=["user_id", "category"], how="left"
    )
    why = (
        remaining.group_by("user_id")
        .agg(
            category=pl.col("mastery").is_null().any(),
            mastery=((pl.col("mastery") - pl.col("planned_mastery")).abs() >= REPLAN_MOVE - _EPS)
            .fill_null(False)
            .any(),
        )
        .select(
            "user_id",
            why=pl.when(pl.col("category"))
            .then(pl.lit("category"))
            .when(pl.col("mastery"))
            .then(pl.lit("mastery"))
            .otherwise(pl.lit(None, pl.String)),
        )
    )
    replanned = (
        learners.join(plans.select("user_id").unique(), on="user_id", how="left")
        .join(why, on="user_id", how="left")
        .with_columns(
            why=pl.when(~pl.col("user_id").is_in(plans["user_id"].implode()))
            .then(pl.lit("no_plan"))
            .when(~pl.col("user_id").is_in(remaining["user_id"].implode()))
            .then(pl.lit("finished"))
            .otherwise(pl.col("why"))
        )
        .filter(pl.col("why").is_not_null())
        .sort("user_id")
    )
    new = (
        plan_exam_paths(cats.lazy().join(replanned.lazy(), on="user_id", how="semi"), yesterday)
        .with_columns(plan_start=pl.lit(run_date, pl.Date))
        .select(list(PLAN_SCHEMA))
        .cast(PLAN_SCHEMA)  # type: ignore[arg-type]
    )
    kept = plans.join(replanned, on="user_id", how="anti").filter(
        pl.col("day_no") == pl.col("today_no")
    )
    today = (
        pl.concat(
            [
                kept.select("user_id", "plan_start", "day_no", "category"),
                new.filter(pl.col("day_no") == 1).select(
                    "user_id", "plan_start", "day_no", "category"
                ),
            ]
        )
        .select(
            "user_id",
            "plan_start",
            path_day=pl.col("day_no"),
            path_days=pl.lit(PATH_DAYS, pl.Int16),
            path_category=pl.col("category"),
        )
        .cast(TODAY_SCHEMA)  # type: ignore[arg-type]
        .sort("user_id")
    )
    return FollowedPaths(today=today, plans=new.sort("user_id", "day_no"), replanned=replanned)


def plan_exam_paths(
    categories: pl.LazyFrame, yesterday: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Columns ``user_id``, ``day_no`` (1..7), ``category``, ``planned_mastery``. A user
    with a single exam category gets it on the days the spacing allows (others are
    left out). ``yesterday`` (``user_id``, ``category``): the category a learner focused
    on the day before day 1, which day 1 then does not repeat (the spacing, and the
    no-repeat rule of the selection would block it)."""
    base = (
        categories.filter(pl.col("exam_questions") > 0)
        .select(
            "user_id",
            "category",
            planned_mastery=pl.col("mastery").cast(pl.Float64),
            priority=pl.col("exam_questions") * (1.0 - pl.col("mastery")),
        )
        .collect()
        .with_columns(picks=pl.lit(0, pl.Int32))
    )
    before = (
        pl.DataFrame(schema={"user_id": pl.Int64, "category": pl.String})
        if yesterday is None
        else yesterday.select(pl.col("user_id").cast(pl.Int64), pl.col("category").cast(pl.String))
    )
    base = base.join(
        before.unique().with_columns(last=pl.lit(True)), on=["user_id", "category"], how="left"
    ).with_columns(pl.col("last").fill_null(False))
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
