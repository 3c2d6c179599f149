"""The struggle signals (daglig.learner.struggle)."""

from datetime import datetime, timedelta

import polars as pl
import pytest

from daglig.learner.struggle import WRONG_RUN_MIN, wrong_run

pytestmark = pytest.mark.pure

CUTOFF = datetime(2026, 3, 1)


def _state(rows: list[tuple[int, str, list[tuple[int, int, bool]]]]) -> pl.LazyFrame:
    """Evidence rows (user, category, [(minutes before cutoff, attempt id, correct)])."""
    return pl.LazyFrame(
        {
            "user_id": [u for u, _, _ in rows],
            "category": [c for _, c, _ in rows],
            "k_at": [[CUTOFF - timedelta(minutes=m) for m, _, _ in a] for _, _, a in rows],
            "k_id": [[i for _, i, _ in a] for _, _, a in rows],
            "k_c": [[c for _, _, c in a] for _, _, a in rows],
        },
        schema={
            "user_id": pl.Int64,
            "category": pl.String,
            "k_at": pl.List(pl.Datetime("us")),
            "k_id": pl.List(pl.Int64),
            "k_c": pl.List(pl.Boolean),
        },
    )


def _runs(state: pl.LazyFrame) -> dict[int, tuple[int, bool]]:
    out = wrong_run(state, CUTOFF).collect()
    return {u: (r, f) for u, r, f in out.iter_rows()}


def test_the_run_is_merged_across_categories_by_time() -> None:
    # user 1: newest four wrong answers alternate between two categories, then a right one
    state = _state(
        [
            (1, "a", [(1, 10, False), (3, 8, False), (5, 6, True)]),
            (1, "b", [(2, 9, False), (4, 7, False)]),
            (2, "a", [(1, 20, False), (2, 19, True), (3, 18, False)]),
        ]
    )
    assert _runs(state) == {1: (4, True), 2: (1, False)}


def test_the_threshold_is_a_boundary() -> None:
    below = [(m, m, False) for m in range(1, WRONG_RUN_MIN)] + [(99, 99, True)]
    at = [(m, m, False) for m in range(1, WRONG_RUN_MIN + 1)]
    assert _runs(_state([(1, "a", below), (2, "a", at)])) == {
        1: (WRONG_RUN_MIN - 1, False),
        2: (WRONG_RUN_MIN, True),
    }


def test_an_answer_at_the_cutoff_does_not_count() -> None:
    # a right answer at the cutoff must not break the run of the wrong ones before it
    answers = [(0, 50, True)] + [(m, 50 - m, False) for m in range(1, WRONG_RUN_MIN + 1)]
    assert _runs(_state([(1, "a", answers)])) == {1: (WRONG_RUN_MIN, True)}
