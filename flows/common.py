"""What the flows share: the day a run is for."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from prefect import runtime
from pydantic import WithJsonSchema

# An optional day for a flow parameter. ``date | None`` would give the parameter form an
# ``anyOf`` [date, null], which Prefect's UI renders as a "date | None" switch whose None
# side says 'Property is type "None"'; as a plain date (not required, default null) the
# Custom run form shows a date picker that may be left empty (omitted → None).
OptionalDay = Annotated[date | None, WithJsonSchema({"type": "string", "format": "date"})]

#: The nightly deployment (prefect.yaml: flow ``daily-challenges``, deployment ``nightly``):
#: what a backfill and the admin's "generate" start through the Prefect API.
NIGHTLY_DEPLOYMENT = "daily-challenges/nightly"


def plain_date(day: date) -> date:
    """``day`` as a plain ``datetime.date``. Prefect's runtime gives a ``Date`` subclass
    (from its DateTime type) that sqlite3 cannot bind (``type 'Date' is not supported``):
    dates are converted here, at the edge, before anything uses them."""
    return date(day.year, day.month, day.day)


def resolve_run_date(run_date: date | None, tz: str = "Europe/Oslo") -> date:
    """The day a run is for, a plain ``datetime.date``: as given; else, for a run of a
    deployment, the date in ``tz`` of its scheduled start (a scheduled run at 00:00 Oslo is
    for that day, even when it starts late); else today in ``tz``. A run not from a
    deployment (``daglig run``, a test, a subflow called in-process) has no schedule: its
    "scheduled start" is only the moment it was created."""
    if run_date is not None:
        return plain_date(run_date)
    scheduled = runtime.flow_run.scheduled_start_time
    if scheduled is not None and runtime.deployment.id:
        return plain_date(scheduled.astimezone(ZoneInfo(tz)).date())
    return datetime.now(ZoneInfo(tz)).date()
