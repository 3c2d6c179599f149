"""Numbers, percentages and dates as a Norwegian reads them (Babel, ``nb_NO``).

Every number in an email or report goes through here: thousands separated by a
non-breaking space ("403 338"), decimal comma ("0,9"), percentages with a non-breaking
space before the sign ("62,5 %"), a real minus sign, dates as "23.11.2026" or "23. nov.".
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

LOCALE = "nb_NO"
DASH = "–"  # no value


def integer(n: int) -> str:
    """403338 -> '403 338' (non-breaking space)."""
    return format_decimal(n, format="#,##0", locale=LOCALE)


def decimal(v: float, digits: int = 1) -> str:
    """0.94 -> '0,9'."""
    return format_decimal(v, format="#,##0." + "0" * digits, locale=LOCALE)


def signed(v: float, digits: int = 1) -> str:
    """0.375 -> '+0,4'; -1.5 -> '−1,5' (with the sign always shown)."""
    body = "#,##0." + "0" * digits
    return format_decimal(v, format=f"+{body};−{body}", locale=LOCALE)


def percent(v: float | None, digits: int = 1) -> str:
    """0.625 -> '62,5 %'; None -> '–'."""
    if v is None:
        return DASH
    body = "#,##0." + "0" * digits if digits else "#,##0"
    return format_percent(v, format=f"{body}\u00a0%;−{body}\u00a0%", locale=LOCALE)


def points(v: float) -> str:
    """A rate difference in percentage points: 0.375 -> '+37,5'."""
    return signed(100 * v)


def day(d: date) -> str:
    """23.11.2026."""
    return format_date(d, "dd.MM.y", locale=LOCALE)


def day_short(d: date) -> str:
    """23. nov. (a chart's axis, a table's first column)."""
    return format_date(d, "d. MMM", locale=LOCALE)


def day_long(d: date) -> str:
    """mandag 23. november 2026."""
    return format_date(d, "EEEE d. MMMM y", locale=LOCALE)


def clock(t: datetime, zone: str = "Europe/Oslo") -> str:
    """The time of day in ``zone`` (the challenge day's), with the zone's name: '02:14:05
    CET' (a time stored with a bare offset, '+01:00', reads the same)."""
    return format_datetime(t, "HH:mm:ss zzz", tzinfo=ZoneInfo(zone), locale=LOCALE)
