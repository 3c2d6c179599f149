"""The struggle signals (daglig.learner.struggle)."""

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from daglig.learner.struggle import (
    ACCURACY_DROP,
    ACCURACY_MIN_ANSWERS,
    RECENT_DAYS,
    WRONG_RUN_MIN,
    accuracy_drop,
    wrong_run,
)

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


TODAY = date(2026, 3, 1)


def _tallies(rows: list[tuple[int, int, int, int]]) -> pl.LazyFrame:
    """Tallies (user, days before today, answers, right)."""
    return pl.LazyFrame(
        {
            "user_id": [u for u, _, _, _ in rows],
            "category": ["a"] * len(rows),
            "local_date": [TODAY - timedelta(days=d) for _, d, _, _ in rows],
            "n": [n for _, _, n, _ in rows],
            "c": [c for _, _, _, c in rows],
        },
        schema={
            "user_id": pl.Int64,
            "category": pl.String,
            "local_date": pl.Date,
            "n": pl.Int64,
            "c": pl.Int64,
        },
    )


def _drops(tallies: pl.LazyFrame) -> dict[int, bool]:
    out = accuracy_drop(tallies, TODAY).collect()
    return dict(zip(out["user_id"], out["accuracy_drop_fired"], strict=True))


def test_accuracy_falling_against_the_own_level() -> None:
    n = ACCURACY_MIN_ANSWERS
    old = RECENT_DAYS + 3
    drop = int(round(ACCURACY_DROP * n))
    rows = [
        (1, old, n, n - 1),
        (1, 1, n, n - 1 - drop),  # fell by the threshold: fires
        (2, old, n, n - 1),
        (2, 1, n, n - drop),  # fell by less: does not
        (3, old, n, n - 1),
        (3, 1, n - 1, 0),  # too few recent answers
        (4, old, n, n - 1),
        (4, RECENT_DAYS + 1, n, 0),  # the bad day is not recent
    ]
    assert _drops(_tallies(rows)) == {1: True, 2: False, 3: False, 4: False}


def test_the_night_s_own_day_does_not_count() -> None:
    n = ACCURACY_MIN_ANSWERS
    rows = [(1, RECENT_DAYS + 3, n, n), (1, 1, n, n), (1, 0, 10 * n, 0)]
    assert _drops(_tallies(rows)) == {1: False}
