"""Backfill I/O: read which dates are already complete."""

from __future__ import annotations

from datetime import date

from daglig.backfill import DayStatus
from daglig.config import Settings
from daglig.io.backfill_status import read_day_status
from daglig.io.db import engine_of
from daglig.user_features import day_cutoff
from tasks.retry import io_task
from tasks.steps import count_rows


@io_task("check-complete-dates", timed=False)
def read_day_statuses(
    settings: Settings, days: list[date], challenges_per_user: int
) -> list[DayStatus]:
    """For each date: active users, users with a full set of assignments, assignments."""
    with engine_of(settings.database_url, settings.session_limits()) as engine:
        statuses = [
            read_day_status(engine, d, day_cutoff(d, settings.timezone), challenges_per_user)
            for d in days
        ]
    count_rows(len(days), sum(1 for s in statuses if s.complete))
    return statuses
