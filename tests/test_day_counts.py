"""The run summary's counts of a day (daglig/day_counts.py)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from daglig.day_counts import count_day
from daglig.summary import RunSummary

pytestmark = pytest.mark.pure


def test_served_skipped_and_short_users_are_counted_and_said() -> None:
    users = pl.DataFrame({"user_id": [1, 2, 3, 4], "is_active": [True, True, True, False]})
    assignments = pl.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2],
            "source": ["ml", "ml", "fallback", "fallback", "fallback"],
            "challenge_type": ["quiz", "streak", "speed_challenge", "quiz", "streak"],
            "category": ["signs", None, "signs", "signs", None],
        }
    )
    s = RunSummary(run_date=date(2026, 12, 1), status="ok", database="sqlite://")
    count_day(s, users, assignments, 4, challenges_per_user=3, requested_users=4)
    assert (s.users_total, s.users_active, s.users_served, s.assignments) == (4, 3, 2, 5)
    assert s.by_source == {"fallback": 3, "ml": 2} and s.distinct_challenges == 4
    assert s.users_skipped == {"inactive": 1, "no_challenge_possible": 1}
    assert s.notes == [
        "restricted to 4 requested user ids",
        "1 users got fewer than 3 challenges "
        "(too few enabled types or categories once yesterday's are excluded)",
    ]


def test_a_full_day_for_everyone_adds_no_note() -> None:
    users = pl.DataFrame({"user_id": [1], "is_active": [True]})
    assignments = pl.DataFrame(
        {"user_id": [1], "source": ["ml"], "challenge_type": ["quiz"], "category": ["signs"]}
    )
    s = RunSummary(run_date=date(2026, 12, 1), status="ok", database="sqlite://")
    count_day(s, users, assignments, 1, challenges_per_user=1)
    assert s.notes == [] and s.users_skipped == {}
