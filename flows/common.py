"""What the flows share: the day a run is for."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from prefect import runtime


def resolve_run_date(run_date: date | None, tz: str = "Europe/Oslo") -> date:
    """The day a run is for: as given; else the scheduled start's date in ``tz`` when a
    deployment's schedule started the run; else today in ``tz``."""
    if run_date is not None:
        return run_date
    scheduled = runtime.flow_run.scheduled_start_time
    if scheduled is not None and runtime.flow_run.id:
        return scheduled.astimezone(ZoneInfo(tz)).date()
    return datetime.now(ZoneInfo(tz)).date()
