"""The week's path to the exam: the planning rule and the nightly follow-up (issue 17
item 3). Fast, pure."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest

from daglig.learner.exam_path import (
    MAX_DAYS_PER_CATEGORY,
    PATH_DAYS,
    PLAN_SCHEMA,
    follow_exam_paths,
    plan_exam_paths,
)
from daglig.learner.selection import MLSelector

pytestmark = pytest.mark.pure


def _categories(rows: list[tuple[int, str, float, int]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        rows, schema=["user_id", "category", "mastery", "exam_questions"], orient="row"
    )


def test_spacing_and_weighting_by_exam_share() -> None:
    plan = plan_exam_paths(
        _categories([(1, "skilt", 0.2, 10), (1, "vikeplikt", 0.5, 8), (1, "lys", 0.9, 2)])
    )
    cats = plan["category"].to_list()
    assert plan["day_no"].to_list() == list(range(1, 8))
    assert cats[0] == "skilt"
    assert all(a != b for a, b in zip(cats, cats[1:], strict=False))
    assert max(cats.count(c) for c in set(cats)) <= MAX_DAYS_PER_CATEGORY
    assert cats.count("skilt") >= cats.count("lys")


def test_no_exam_share_never_planned_and_deterministic() -> None:
    rows = [(2, "b", 0.3, 5), (2, "a", 0.3, 5), (2, "c", 0.0, 0)]
    first = plan_exam_paths(_categories(rows))
    assert "c" not in first["category"].to_list()
    assert first["category"][0] == "a"
    assert first.equals(plan_exam_paths(_categories(list(reversed(rows)))))


# ------------------------------------------------------------ following, re-planning

RUN = date(2026, 12, 3)


def _plan(user_id: int, start: date, cats: list[str], mastery: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": [user_id] * len(cats),
            "plan_start": [start] * len(cats),
            "day_no": list(range(1, len(cats) + 1)),
            "category": cats,
            "planned_mastery": [mastery] * len(cats),
        },
        schema=PLAN_SCHEMA,
    )


WEEK = ["a", "b", "a", "c", "b", "a", "c"]


def _assessed(user_id: int, mastery: dict[str, float]) -> list[tuple[int, str, float, int]]:
    return [(user_id, c, m, 5) for c, m in mastery.items()]


def test_a_plan_in_force_is_followed_to_its_day() -> None:
    plans = _plan(1, RUN - timedelta(days=1), WEEK, 0.5)
    out = follow_exam_paths(plans, _categories(_assessed(1, {"a": 0.5, "b": 0.5, "c": 0.55})), RUN)
    assert out.plans.is_empty() and out.replanned.is_empty()
    assert out.today.select("user_id", "path_day", "path_days", "path_category").rows() == [
        (1, 2, PATH_DAYS, "b")
    ]
    assert out.today["plan_start"].to_list() == [RUN - timedelta(days=1)]


@pytest.mark.parametrize(
    ("plans", "mastery", "why"),
    [
        (None, {"a": 0.5, "b": 0.5, "c": 0.5}, "no_plan"),
        # started 7 days ago: day 8 does not exist (the read step would not even read it)
        ("old", {"a": 0.5, "b": 0.5, "c": 0.5}, "no_plan"),
        # c is planned for days 4 and 7 but no longer enabled (not in tonight's categories)
        ("week", {"a": 0.5, "b": 0.5}, "category"),
        # b (days 2 and 5, still to come) moved up 0.1
        ("week", {"a": 0.5, "b": 0.6, "c": 0.5}, "mastery"),
        ("week", {"a": 0.5, "b": 0.4, "c": 0.5}, "mastery"),
    ],
)
def test_re_planned_from_tonight(plans: str | None, mastery: dict[str, float], why: str) -> None:
    given = {
        None: pl.DataFrame(schema=PLAN_SCHEMA),
        "old": _plan(1, RUN - timedelta(days=PATH_DAYS), WEEK, 0.5),
        "week": _plan(1, RUN - timedelta(days=1), WEEK, 0.5),
    }[plans]
    out = follow_exam_paths(given, _categories(_assessed(1, mastery)), RUN)
    assert out.replanned.rows() == [(1, why)]
    assert out.plans["plan_start"].unique().to_list() == [RUN]
    fresh = plan_exam_paths(_categories(_assessed(1, mastery)))
    assert out.plans.select("day_no", "category").equals(fresh.select("day_no", "category"))
    assert out.plans["planned_mastery"].to_list() == [mastery[c] for c in fresh["category"]]
    assert out.today.select("path_day", "path_category").rows() == [(1, fresh["category"][0])]


def test_mastery_moved_only_in_a_day_done_keeps_the_plan() -> None:
    # day 3 of the week: days 1-2 done; d was only on day 1 and moved a lot, a and b barely
    plans = _plan(1, RUN - timedelta(days=2), ["d", "b", "a", "b", "a", "b", "a"], 0.5)
    out = follow_exam_paths(plans, _categories(_assessed(1, {"a": 0.59, "b": 0.41, "d": 0.9})), RUN)
    assert out.replanned.is_empty()
    assert out.today.select("path_day", "path_category").rows() == [(3, "a")]


def test_the_newest_plan_counts_and_learners_are_independent() -> None:
    plans = pl.concat(
        [
            _plan(1, RUN - timedelta(days=4), WEEK, 0.5),
            _plan(1, RUN - timedelta(days=1), ["c", "a", "b", "a", "b", "c", "a"], 0.5),
            _plan(2, RUN - timedelta(days=3), WEEK, 0.5),
            _plan(9, RUN - timedelta(days=1), WEEK, 0.5),  # not on a path tonight: ignored
        ]
    )
    cats = _categories(
        _assessed(1, {"a": 0.5, "b": 0.5, "c": 0.5})
        + _assessed(2, {"a": 0.5, "b": 0.5, "c": 0.9})  # c moved: re-planned
        + _assessed(3, {"a": 0.5, "b": 0.5, "c": 0.5})  # no plan
    )
    out = follow_exam_paths(plans, cats, RUN)
    assert out.replanned.rows() == [(2, "mastery"), (3, "no_plan")]
    assert out.today.select("user_id", "path_day", "path_category").rows()[0] == (1, 2, "a")
    assert out.today["user_id"].to_list() == [1, 2, 3]
    assert set(out.plans["user_id"]) == {2, 3}
    # the same learners one by one: the same result (no cross-learner effect)
    for uid in (1, 2, 3):
        alone = follow_exam_paths(
            plans.filter(pl.col("user_id") == uid), cats.filter(pl.col("user_id") == uid), RUN
        )
        assert alone.today.equals(out.today.filter(pl.col("user_id") == uid))
        assert alone.plans.equals(out.plans.filter(pl.col("user_id") == uid))


# ------------------------------------------------------------- the ML selector's slot 1


def _ml_inputs(run_date: date, previous: pl.DataFrame | None = None) -> tuple[Any, Any]:
    from tests.test_learner import ml_inputs, ml_population

    return ml_inputs(ml_population(), previous=previous, run_date=run_date)


def _exam_path(reason: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = json.loads(reason).get("exam_path")
    return found


def test_slot_1_follows_the_path_night_after_night() -> None:
    from tests.test_learner import RUN

    inputs, assessment = _ml_inputs(RUN)
    none_yet = pl.DataFrame(schema=PLAN_SCHEMA)
    first, plans = MLSelector(assessment, "lm-test", exam_paths=none_yet).select_and_plan(inputs)
    ml = first.filter(pl.col("source") == "ml")
    assert ml.height > 0 and plans.height > 0
    assert set(plans["user_id"]) == set(ml["user_id"])
    assert plans["plan_start"].unique().to_list() == [RUN]
    day1 = dict(plans.filter(pl.col("day_no") == 1).select("user_id", "category").iter_rows())
    on_path = first.filter(pl.col("path_day").is_not_null())
    # one slot a day per learner on the path: slot 1, category_focus, the plan's category
    assert on_path["user_id"].is_unique().all() and set(on_path["user_id"]) == set(day1)
    assert (on_path["slot"] == 1).all() and (on_path["challenge_type"] == "category_focus").all()
    assert dict(on_path.select("user_id", "category").iter_rows()) == day1
    assert on_path["path_days"].unique().to_list() == [PATH_DAYS]
    for reason in on_path["reason"]:
        assert _exam_path(reason) == {"day": 1, "days": 7, "plan_start": RUN.isoformat()}
        assert json.loads(reason)["rule"] == "exam_path"
    rest = first.filter(pl.col("path_day").is_null())
    assert rest["path_days"].is_null().all()
    assert not rest["reason"].str.contains('"exam_path"').any()
    assert not first["reason"].str.contains("path_holdout").any()
    # the next night, the plan in force and the same mastery: day 2, nothing re-planned
    tomorrow = RUN + timedelta(days=1)
    inputs2, _ = _ml_inputs(tomorrow, first.select("user_id", "challenge_type", "category"))
    second, replanned = MLSelector(assessment, "lm-test", exam_paths=plans).select_and_plan(inputs2)
    assert replanned.is_empty()
    day2 = dict(plans.filter(pl.col("day_no") == 2).select("user_id", "category").iter_rows())
    on_path2 = second.filter(pl.col("path_day").is_not_null())
    assert dict(on_path2.select("user_id", "category").iter_rows()) == day2
    assert (on_path2["slot"] == 1).all() and (on_path2["path_day"] == 2).all()
    assert {json.dumps(_exam_path(r)) for r in on_path2["reason"]} == {
        json.dumps({"day": 2, "days": 7, "plan_start": RUN.isoformat()})
    }


def test_the_path_holdout_keeps_the_day_by_day_choice() -> None:
    from tests.test_learner import RUN

    inputs, assessment = _ml_inputs(RUN)
    plain = MLSelector(assessment, "lm-test").select(inputs)
    assert plain["path_day"].is_null().all()
    assert not plain["reason"].str.contains("path").any()
    held, plans = MLSelector(
        assessment, "lm-test", exam_paths=pl.DataFrame(schema=PLAN_SCHEMA), path_holdout_share=1.0
    ).select_and_plan(inputs)
    assert plans.is_empty() and held["path_day"].is_null().all()
    # the same challenges as without paths; the first slot of each ML learner says why
    assert held.drop("reason").equals(plain.drop("reason"))
    marked = held.filter(pl.col("reason").str.contains('"path_holdout":true', literal=True))
    ml = held.filter(pl.col("source") == "ml")
    assert set(marked["user_id"]) == set(ml["user_id"]) and marked["user_id"].is_unique().all()
    assert (marked["slot"] == 1).all()
    stripped = held.with_columns(
        pl.col("reason").str.replace(',"path_holdout":true', "", literal=True)
    )
    assert stripped.equals(plain)
    # membership is stable and about the share asked (its own salt)
    some = MLSelector(assessment, "lm-test", path_holdout_share=0.5)
    users = pl.DataFrame({"user_id": list(range(1, 4001))})
    share = some.in_path_holdout(users).mean()
    assert 0.45 < float(share) < 0.55  # type: ignore[arg-type]
    assert not some.in_path_holdout(users).equals(
        MLSelector(assessment, "lm-test", holdout_share=0.5).in_holdout(users)
    )


def test_a_plan_made_tonight_does_not_start_with_yesterday_s_focus() -> None:
    cats = _categories(_assessed(1, {"a": 0.2, "b": 0.5, "c": 0.6}) + _assessed(2, {"a": 0.2}))
    plain = follow_exam_paths(pl.DataFrame(schema=PLAN_SCHEMA), cats, RUN)
    assert plain.today.select("user_id", "path_category").rows() == [(1, "a"), (2, "a")]
    yesterday = pl.DataFrame({"user_id": [1, 2], "category": ["a", "a"]})
    out = follow_exam_paths(pl.DataFrame(schema=PLAN_SCHEMA), cats, RUN, yesterday)
    mine = out.plans.filter(pl.col("user_id") == 1)["category"].to_list()
    assert mine[0] != "a" and "a" in mine[1:]
    # a learner with one exam category: no day 1 (today no path slot), days 2, 4, 6
    assert out.plans.filter(pl.col("user_id") == 2)["day_no"].to_list() == [2, 4, 6]
    assert out.today["user_id"].to_list() == [1]
