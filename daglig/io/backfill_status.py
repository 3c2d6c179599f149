"""What a date of a backfill holds already, read from the database."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, inspect

from daglig.backfill import DayStatus
from daglig.io.db import sql_statement


def read_day_status(
    engine: Engine, day: date, cutoff: datetime, challenges_per_user: int
) -> DayStatus:
    """The date's :class:`DayStatus`; an empty one when the pipeline tables do not exist."""
    if not inspect(engine).has_table("user_daily_challenges"):
        return DayStatus(day, 0, 0, 0)
    # SQLite keeps timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text: compare in that form
    at: datetime | str = (
        cutoff.strftime("%Y-%m-%d %H:%M:%S.%f") if engine.dialect.name == "sqlite" else cutoff
    )
    with engine.connect() as conn:
        row = conn.execute(
            sql_statement("read/backfill_day_status"),
            {
                "challenge_date": day,
                "cutoff": at,
                "challenges_per_user": challenges_per_user,
            },
        ).one()
    return DayStatus(day, int(row.active_users), int(row.complete_users), int(row.assignments))
