"""Each learner's outcome history by type (daglig/learner/outcomes.py), point in time, and
its read from the database (sql/read/past_assignments.sql, shared with the completion
model) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from daglig.config import Settings
from daglig.learner.completion import HISTORY_DAYS
from daglig.learner.outcomes import ASSIGNED_SCHEMA, HALF_LIFE_DAYS, type_outcomes, type_rates
from tasks.read_log import past_assignments
from tests.builders import AppDataBuilder

RUN = date(2026, 11, 24)
CUTOFF = datetime(2026, 11, 23, 23, 0)  # Oslo midnight of the run date, naive UTC


def assigned(rows: list[tuple[int, str, date, datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=list(ASSIGNED_SCHEMA), orient="row").cast(ASSIGNED_SCHEMA)  # type: ignore[arg-type]


def as_dict(out: pl.DataFrame) -> dict[tuple[int, str], tuple[float, float]]:
    return {
        (u, t): (round(o, 4), round(c, 4))
        for u, t, o, c in out.select("user_id", "challenge_type", "offered", "completed").rows()
    }


@pytest.mark.pure
@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # done the evening it was given (one day before the cutoff: weight 2^(-(23/24)/14))
        (
            [(1, "streak", date(2026, 11, 23), datetime(2026, 11, 23, 18))],
            {(1, "streak"): (0.9537, 0.9537)},
        ),
        # never done: offered only
        ([(1, "quiz", date(2026, 11, 23), None)], {(1, "quiz"): (0.9537, 0.0)}),
        # completed after the cutoff: not known on the night
        (
            [(1, "quiz", date(2026, 11, 23), datetime(2026, 11, 24, 8))],
            {(1, "quiz"): (0.9537, 0.0)},
        ),
        # one half-life older counts half
        (
            [(2, "quiz", date(2026, 11, 9), datetime(2026, 11, 9, 18))],
            {(2, "quiz"): (0.4768, 0.4768)},
        ),
        # per (user, type)
        (
            [
                (1, "quiz", date(2026, 11, 23), None),
                (1, "streak", date(2026, 11, 23), datetime(2026, 11, 23, 19)),
                (2, "quiz", date(2026, 11, 23), datetime(2026, 11, 23, 19)),
            ],
            {
                (1, "quiz"): (0.9537, 0.0),
                (1, "streak"): (0.9537, 0.9537),
                (2, "quiz"): (0.9537, 0.9537),
            },
        ),
        ([], {}),
    ],
)
def test_type_outcomes(
    rows: list[tuple[int, str, date, datetime | None]],
    expected: dict[tuple[int, str], tuple[float, float]],
) -> None:
    assert HALF_LIFE_DAYS == 14.0
    assert as_dict(type_outcomes(assigned(rows), CUTOFF)) == expected


@pytest.mark.pure
def test_a_challenge_of_the_run_date_or_later_is_ignored() -> None:
    rows = [(1, "quiz", date(2026, 11, 24), datetime(2026, 11, 23, 23, 30))]
    assert type_outcomes(assigned(rows), CUTOFF).is_empty()


def test_read_type_outcomes(db_url: str) -> None:
    b = AppDataBuilder()
    u, v = b.user(), b.user()
    b.challenge(u, date(2026, 11, 23), "streak", completed_at=datetime(2026, 11, 23, 18))
    b.challenge(u, date(2026, 11, 23), "quiz", completed_at=datetime(2026, 11, 24, 7))  # after
    b.challenge(v, date(2026, 11, 22), "category_focus", "traffic_signs", 10, 0.7, progress=4)
    b.challenge(v, RUN, completed_at=datetime(2026, 11, 24, 7))  # the run date itself: not read
    b.write(db_url)
    since = RUN - timedelta(days=HISTORY_DAYS)
    rows = past_assignments(db_url, since, RUN, Settings(database_url=db_url).session_limits())
    assert rows.height == 3
    # what was asked and the outcome come back as the builder's frame has them
    written = b.challenge_frame().filter(pl.col("challenge_date") < RUN)
    assert_frame_equal(rows, written, check_row_order=False)
    got = as_dict(type_outcomes(rows, CUTOFF))
    assert got.keys() == {(u, "streak"), (u, "quiz"), (v, "category_focus")}
    assert got[(u, "streak")][1] > 0
    assert got[(u, "quiz")][1] == 0.0
    assert got[(v, "category_focus")] == (round(0.5 ** ((1 + 23 / 24) / HALF_LIFE_DAYS), 4), 0.0)


@pytest.mark.pure
def test_type_rates_are_the_populations() -> None:
    history = pl.DataFrame(
        {
            "user_id": [1, 2, 1],
            "challenge_type": ["quiz", "quiz", "streak"],
            "offered": [2.0, 2.0, 1.0],
            "completed": [2.0, 1.0, 0.0],
        }
    )
    assert type_rates(history).rows() == [("quiz", 0.75), ("streak", 0.0)]
    assert type_rates(history.clear()).is_empty()
