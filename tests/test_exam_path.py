"""The week's path to the exam: the planning rule (issue 17 item 3). Fast, pure."""

from __future__ import annotations

import polars as pl
import pytest

from daglig.learner.exam_path import MAX_DAYS_PER_CATEGORY, plan_exam_paths

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
