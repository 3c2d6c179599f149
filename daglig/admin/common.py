"""What the admin operations share: their errors, today's challenge day, JSON-ready
records and the read of an analytics/admin SQL file that tolerates a database the pipeline
has not written to yet."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import inspect

from daglig.io.db import engine_of, read_frame

MAX_RANGE_DAYS = 366


class AdminError(Exception):
    """An admin operation could not be done; the message says why, in one line."""


class AdminInputError(AdminError, ValueError):
    """Bad input: an unknown setting, a value out of range, a bad date range."""


class NotFound(AdminError):
    """The thing asked about does not exist (e.g. an unknown user id)."""


class Unavailable(AdminError):
    """What the operation needs is not there (e.g. the nightly deployment on the Prefect
    server): a matter of how the API is set up, not of the request (HTTP 503)."""


def today(tz: str = "Europe/Oslo") -> date:
    """Today's challenge day."""
    return datetime.now(ZoneInfo(tz)).date()


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places; None when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


def jsonable(v: Any) -> Any:
    """Dates as ISO 8601; timestamps as ISO 8601 with their zone. The database holds UTC
    without a zone (the contract): a naive timestamp is UTC and says so (+00:00)."""
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
    return v.isoformat() if isinstance(v, date) else v


def records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in row.items()} for row in frame.to_dicts()]


def table_names(url: str) -> set[str]:
    with engine_of(url) as engine:
        return set(inspect(engine).get_table_names())


def read_or_empty(
    url: str,
    name: str,
    params: dict[str, Any] | None,
    schema: dict[str, Any],
    needs: tuple[str, ...],
    tables: set[str] | None,
) -> pl.DataFrame:
    """``sql/<name>.sql`` as a frame; empty when a table it ``needs`` does not exist yet
    (a database the pipeline has not written to)."""
    present = table_names(url) if tables is None else tables
    if not set(needs) <= present:
        return pl.DataFrame(schema=schema)
    return read_frame(url, name, params, schema)


def check_range(start: date, end: date) -> None:
    """A date range is ordered and at most MAX_RANGE_DAYS long."""
    if start > end:
        raise AdminInputError(f"start {start} is after end {end}")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise AdminInputError(f"the range {start} .. {end} is longer than {MAX_RANGE_DAYS} days")
