"""Carried tallies give the features of a full recompute: every column of ``user_features``
and ``user_category_features`` from :mod:`daglig.answer_tallies` equals the reference
(daglig/user_features.py) — counts exactly, floats to 1e-9, NULLs in the same places, the
same dtypes and row order — in one batch, folded night by night, and on random logs."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daglig.answer_tallies import (
    TALLIES_SCHEMA,
    fold_tallies,
    tally,
    user_category_features_from_tallies,
    user_features_from_tallies,
)
from daglig.catalogue import CATEGORY_KEYS
from daglig.user_features import (
    ATTEMPTS_SCHEMA,
    QUESTIONS_SCHEMA,
    USERS_SCHEMA,
    clean_attempts,
    day_cutoff,
    extract_features,
    user_category_features,
    user_features,
)
from simulator import generate

pytestmark = pytest.mark.pure  # the fast tier: no database, no Prefect, no process

END = date(2026, 11, 22)  # the simulated log's last day
TOL = 1e-9


def assert_same(ref: pl.DataFrame, got: pl.DataFrame) -> None:
    """Same columns, dtypes and row order; integers, dates and strings equal, floats within
    ``TOL`` (absolute), NULLs in the same places."""
    assert got.schema == ref.schema
    assert got.height == ref.height
    for name in ref.columns:
        r, g = ref[name], got[name]
        assert r.is_null().equals(g.is_null()), f"{name}: NULLs differ"
        if r.dtype.is_float():
            diff = (r - g).abs().max()
            assert diff is None or diff <= TOL, f"{name}: off by {diff}"
        else:
            assert r.equals(g), f"{name} differs"


def features_of_tallies(
    users: pl.DataFrame, tallies: pl.DataFrame, run_date: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    return (
        user_features_from_tallies(users.lazy(), tallies.lazy(), run_date).collect(),
        user_category_features_from_tallies(tallies, run_date),
    )


def reference(
    users: pl.DataFrame, clean: pl.DataFrame, run_date: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    return (
        user_features(users.lazy(), clean.lazy(), run_date).collect(),
        user_category_features(clean, run_date),
    )


def simulated(users: int = 400, seed: int = 5) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(users, clean log) of a simulated app, plus two accounts that never answered."""
    f = generate(users=users, seed=seed, end_date=END, history_days=60, answers_per_user=60)
    progress = f["user_progress"].rename(
        {"current_streak": "app_current_streak", "longest_streak": "app_longest_streak"}
    )
    people = f["users"].rename({"id": "user_id"}).join(progress, on="user_id", how="left")
    silent = pl.DataFrame(
        {"user_id": [users + 1, users + 2], "is_active": [True, False]},
        schema={"user_id": pl.Int64, "is_active": pl.Boolean},
    ).with_columns(created_at=pl.lit(datetime(2026, 1, 1)))
    people = pl.concat([people, silent], how="diagonal_relaxed").select(
        [pl.col(k).cast(v) for k, v in USERS_SCHEMA.items()]
    )
    clean, _ = clean_attempts(
        f["question_attempts"].rename({"id": "attempt_id"}).lazy(),
        f["questions"].rename({"id": "question_id"}).lazy(),
        users=people.lazy(),
    )
    return people, clean.collect()


@pytest.fixture(scope="module")
def sim() -> tuple[pl.DataFrame, pl.DataFrame]:
    return simulated()


# ------------------------------------------------------------------ one batch


def test_tallies_have_the_schema_one_row_per_user_category_day(
    sim: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    _, clean = sim
    t = tally(clean.lazy()).collect()
    assert t.schema == pl.Schema(TALLIES_SCHEMA)
    assert t.height == clean.select("user_id", "category", "local_date").n_unique()
    assert t["n"].sum() == clean.height and t["c"].sum() == clean["is_correct"].sum()
    assert t["sec_n"].sum() == clean["time_spent_seconds"].count()
    assert t.equals(t.sort("user_id", "category", "local_date"))


@pytest.mark.parametrize("days_after", [1, 0, 15, 40])
def test_one_batch_equals_the_reference(
    sim: tuple[pl.DataFrame, pl.DataFrame], days_after: int
) -> None:
    """Also for a run date inside the log (answers on and after it count as the reference
    counts them) and one long after it (no recent activity, no streak)."""
    users, clean = sim
    run_date = END + timedelta(days=days_after) if days_after else END - timedelta(days=20)
    got = features_of_tallies(users, tally(clean.lazy()).collect(), run_date)
    for r, g in zip(reference(users, clean, run_date), got, strict=True):
        assert_same(r, g)


def test_extract_features_runs_on_the_tallies_and_equals_the_reference(
    sim: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    users, _ = sim
    f = generate(users=400, seed=5, end_date=END, history_days=60, answers_per_user=60)
    run_date = END + timedelta(days=1)
    fs = extract_features(
        users,
        f["questions"].rename({"id": "question_id"}).cast(QUESTIONS_SCHEMA),
        f["question_attempts"].rename({"id": "attempt_id"}).cast(ATTEMPTS_SCHEMA),
        run_date,
    )
    assert fs.clean is not None and fs.tallies is not None
    assert_same(tally(fs.clean.lazy()).collect(), fs.tallies)
    ref_uf, ref_ucf = reference(users, fs.clean, run_date)
    assert_same(ref_uf, fs.user_features)
    assert_same(ref_ucf, fs.user_category_features)


# ------------------------------------------------------------------ night by night


def arrival_nights(answered_at: pl.Series, cutoffs: list[datetime], late: np.ndarray) -> pl.Series:
    """The night (index into ``cutoffs``) each answer is folded in: the first whose cutoff
    is after it, ``late`` nights later for a late arrival, at most the last night."""
    first = np.searchsorted(
        np.array(cutoffs, dtype="datetime64[us]"), answered_at.to_numpy(), "right"
    )
    return pl.Series(np.minimum(first + late, len(cutoffs) - 1), dtype=pl.Int64)


def check_nights(
    users: pl.DataFrame, clean: pl.DataFrame, run_dates: list[date], late: np.ndarray
) -> None:
    """Fold the log one night at a time (each night's batch: the answers that arrived since
    the night before) and compare with a full recompute of everything arrived, every night."""
    cutoffs = [day_cutoff(d) for d in run_dates]
    log = clean.with_columns(_night=arrival_nights(clean["answered_at"], cutoffs, late))
    carried = pl.DataFrame(schema=TALLIES_SCHEMA)
    for k, run_date in enumerate(run_dates):
        batch = log.filter(pl.col("_night") == k).drop("_night")
        carried = fold_tallies(carried.lazy(), tally(batch.lazy())).collect()
        arrived = log.filter(pl.col("_night") <= k).drop("_night")
        assert_same(tally(arrived.lazy()).collect(), carried)
        for r, g in zip(
            reference(users, arrived, run_date),
            features_of_tallies(users, carried, run_date),
            strict=True,
        ):
            assert_same(r, g)


@pytest.mark.parametrize(
    ("late_share", "nights"),
    [(0.0, 14), (0.02, 14), pytest.param(0.02, 30, marks=pytest.mark.slow)],
)
def test_night_by_night_folds_equal_the_full_recompute(
    sim: tuple[pl.DataFrame, pl.DataFrame], late_share: float, nights: int
) -> None:
    """Fourteen nights (thirty in the slow tier): the first folds the whole history before
    it, each later one a day's answers (and, with late arrivals, answers that reached the
    server 1-3 nights late)."""
    users, clean = sim
    rng = np.random.default_rng(7)
    late = np.where(rng.random(clean.height) < late_share, rng.integers(1, 4, clean.height), 0)
    run_dates = [END - timedelta(days=nights - 2 - k) for k in range(nights)]
    check_nights(users, clean, run_dates, late)


def test_users_without_answers_and_users_who_start_later() -> None:
    """A user who answers first on the third night, one who never answers, and an answer of
    the first night's day that arrives two nights late: zeros and NULLs as the reference."""
    cats = CATEGORY_KEYS[:2]
    users = pl.DataFrame(
        {"user_id": [1, 2, 3], "is_active": [True, True, False]},
        schema={"user_id": pl.Int64, "is_active": pl.Boolean},
    )
    day0 = date(2026, 11, 10)
    rows = [
        (1, cats[0], day0, True, 10.0),
        (1, cats[1], day0, False, None),
        (1, cats[0], day0 + timedelta(days=1), True, 20.0),
        (2, cats[1], day0 + timedelta(days=2), True, None),
        (1, cats[0], day0, False, 30.0),  # the late one
    ]
    clean = log_of(
        [(u, c, datetime.combine(d, time(15, i)), ok, s) for i, (u, c, d, ok, s) in enumerate(rows)]
    )
    run_dates = [day0 + timedelta(days=k + 1) for k in range(4)]
    check_nights(users, clean, run_dates, np.array([0, 0, 0, 0, 2]))
    uf, _ = features_of_tallies(users, tally(clean.lazy()).collect(), run_dates[-1])
    assert uf["total_answers"].to_list() == [4, 1, 0]
    assert uf["mean_seconds"].to_list() == [20.0, None, None]


# ------------------------------------------------------------------ random logs

QUESTIONS = pl.DataFrame(
    {
        "question_id": list(range(1, len(CATEGORY_KEYS) + 1)),
        "category": list(CATEGORY_KEYS),
        "difficulty": [0.5] * len(CATEGORY_KEYS),
        "is_active": [True] * len(CATEGORY_KEYS),
    },
    schema=QUESTIONS_SCHEMA,
)
FIRST_DAY = date(2026, 10, 1)


def log_of(rows: list[tuple[int, str, datetime, bool, float | None]]) -> pl.DataFrame:
    """The clean log of (user, category, answered_at, is_correct, seconds) rows."""
    attempts = pl.DataFrame(
        [
            {
                "attempt_id": i + 1,
                "user_id": u,
                "question_id": CATEGORY_KEYS.index(c) + 1,
                "quiz_session_id": None,
                "is_correct": ok,
                "time_spent_seconds": s,
                "answered_at": at,
            }
            for i, (u, c, at, ok, s) in enumerate(rows)
        ],
        schema=ATTEMPTS_SCHEMA,
    )
    clean, _ = clean_attempts(attempts.lazy(), QUESTIONS.lazy())
    return clean.collect()


answer_rows = st.lists(
    st.tuples(
        st.integers(1, 5),  # user (6 and 7 never answer)
        st.sampled_from(CATEGORY_KEYS[:3]),
        # up to 25 days, to the minute: Oslo's midnight and a DST change (Oct 25) inside
        st.integers(0, 25 * 24 * 60 - 1).map(
            lambda m: datetime.combine(FIRST_DAY, time()) + timedelta(minutes=m)
        ),
        st.booleans(),
        st.one_of(st.none(), st.floats(0.0, 3600.0)),
    ),
    max_size=60,
)


@settings(max_examples=50, deadline=None, database=None)
@given(
    rows=answer_rows,
    nights=st.lists(st.integers(0, 27), min_size=1, max_size=5, unique=True).map(sorted),
    late=st.lists(st.integers(0, 3), min_size=60, max_size=60),
    late_user=st.booleans(),
)
def test_random_logs_folded_at_random_nights_equal_the_full_recompute(
    rows: list[tuple[int, str, datetime, bool, float | None]],
    nights: list[int],
    late: list[int],
    late_user: bool,
) -> None:
    """Random answers (late ones among them), folded at random nights, for users 1..7 of
    whom 6 and 7 never answer; ``late_user`` moves user 5's answers to the last ten days
    (a learner who appears only later)."""
    if late_user:
        rows = [
            (u, c, at + timedelta(days=15) if u == 5 else at, ok, s) for u, c, at, ok, s in rows
        ]
    users = pl.DataFrame({"user_id": list(range(1, 8))}, schema={"user_id": pl.Int64})
    clean = log_of(rows)
    run_dates = [FIRST_DAY + timedelta(days=n) for n in nights]
    check_nights(users, clean, run_dates, np.array(late[: clean.height], dtype=np.int64))


@settings(max_examples=50, deadline=None, database=None)
@given(rows=answer_rows, split=st.lists(st.booleans(), min_size=60, max_size=60))
def test_folding_two_batches_is_tallying_their_union(
    rows: list[tuple[int, str, datetime, bool, float | None]], split: list[bool]
) -> None:
    """Any split of a log, either way round: the fold of the halves' tallies is the tally of
    the whole."""
    clean = log_of(rows)
    side = pl.Series(split[: clean.height], dtype=pl.Boolean)
    a, b = clean.filter(side), clean.filter(~side)
    whole = tally(clean.lazy()).collect()
    for x, y in [(a, b), (b, a)]:
        assert_same(whole, fold_tallies(tally(x.lazy()), tally(y.lazy())).collect())
