"""The struggle signals (daglig.learner.struggle)."""

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from daglig.learner.struggle import (
    ABANDON_MIN_SESSIONS,
    ACCURACY_DROP,
    ACCURACY_MIN_ANSWERS,
    RECENT_DAYS,
    SESSION_WINDOW_DAYS,
    SESSIONS_SCHEMA,
    SHORTER_MIN_SESSIONS,
    WRONG_RUN_MIN,
    abandoned_sessions,
    accuracy_drop,
    shorter_sessions,
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


def _sessions(rows: list[tuple[int, float, float | None, int]]) -> pl.LazyFrame:
    """Sessions (user, days before the cutoff started, hours after the start completed or
    None, questions)."""
    return pl.LazyFrame(
        [
            (
                u,
                CUTOFF - timedelta(days=d),
                None if h is None else CUTOFF - timedelta(days=d) + timedelta(hours=h),
                q,
            )
            for u, d, h, q in rows
        ],
        schema=SESSIONS_SCHEMA,
        orient="row",
    )


def _abandoned(
    rows: list[tuple[int, float, float | None, int]],
) -> dict[int, tuple[int, int, bool]]:
    out = abandoned_sessions(_sessions(rows), CUTOFF).collect()
    return {
        r["user_id"]: (r["sessions_recent"], r["abandoned_recent"], r["abandoned_fired"])
        for r in out.iter_rows(named=True)
    }


def test_abandoned_sessions_fire_at_half_of_the_recent_ones() -> None:
    n = ABANDON_MIN_SESSIONS
    half = [(1, 1 + i, None if i < (n + 1) // 2 else 0.1, 10) for i in range(n)]
    fewer = [(2, 1 + i, None if i < (n + 1) // 2 - 1 else 0.1, 10) for i in range(n)]
    too_few = [(3, 1 + i, None, 10) for i in range(n - 1)]
    old = [(4, RECENT_DAYS + 1 + i, None, 10) for i in range(n)] + [(4, 1, 0.1, 10)]
    got = _abandoned(half + fewer + too_few + old)
    assert got[1][2] and not got[2][2]
    assert got[3] == (n - 1, n - 1, False)  # every one abandoned, but too few to tell
    assert got[4] == (1, 0, False)  # abandoned before the recent days do not count


def test_a_session_completed_after_the_cutoff_is_not_completed_yet() -> None:
    # started an hour before the cutoff, completed two hours later: at the cutoff it is open
    rows = [(1, 1 / 24, 2.0, 10)] + [(1, 2 + i, None, 10) for i in range(ABANDON_MIN_SESSIONS - 2)]
    rows += [(1, 5, 0.1, 10)]
    assert _abandoned(rows)[1][1] == ABANDON_MIN_SESSIONS - 1
    # and a session started at the cutoff is not read at all
    assert 9 not in _abandoned([(9, 0, None, 10)])


def test_sessions_getting_shorter_against_the_learners_own() -> None:
    k = SHORTER_MIN_SESSIONS
    before = [(d, 0.1, 20) for d in range(RECENT_DAYS + 1, RECENT_DAYS + 1 + k)]
    shorter = [(1, d, h, q) for d, h, q in before] + [(1, 1 + i % 6, 0.1, 12) for i in range(k)]
    nearly = [(2, d, h, q) for d, h, q in before] + [(2, 1 + i % 6, 0.1, 13) for i in range(k)]
    few = [(3, d, h, q) for d, h, q in before] + [(3, 1, 0.1, 5)] * (k - 1)
    # what was abandoned and what is older than the window are not sessions to compare
    ignored = [(4, d, h, q) for d, h, q in before] + [(4, 1 + i % 6, 0.1, 20) for i in range(k)]
    ignored += [(4, 2, None, 1)] * 9 + [(4, SESSION_WINDOW_DAYS + 1, 0.1, 200)] * 9
    out = shorter_sessions(_sessions(shorter + nearly + few + ignored), CUTOFF).collect()
    fired = dict(out.select("user_id", "shorter_fired").iter_rows())
    assert fired == {1: True, 2: False, 3: False, 4: False}
    assert out.filter(pl.col("user_id") == 4)["size_before"].item() == 20
