"""Backfills: which dates to run, whether a date is already complete, how many at once,
and the rows of the backfill's table artifact. Pure: the database read is
``daglig.io.backfill_status``; the flow is ``flows/backfill.py``.

A date is *complete* when every active user known before the day's cutoff already holds
at least ``challenges_per_user`` assignments for it; a backfill skips complete dates
unless forced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from daglig import markdown

MAX_DATES = 366
MAX_CONCURRENCY = 8


def backfill_dates(start: date, end: date, max_dates: int = MAX_DATES) -> list[date]:
    """Every date from ``start`` to ``end``, both included, oldest first."""
    if end < start:
        raise ValueError(f"end_date {end} is before start_date {start}")
    n = (end - start).days + 1
    if n > max_dates:
        raise ValueError(f"{n} dates from {start} to {end}: at most {max_dates} per backfill")
    return [start + timedelta(days=i) for i in range(n)]


def effective_concurrency(separate_processes: bool, requested: int, n_dates: int) -> int:
    """How many dates run at once: ``requested`` (1..MAX_CONCURRENCY), at most one per date,
    when each date runs in a process of its own (a deployment run); 1 when the dates run
    inside the backfill's process. In one process, steps are not all thread-safe (the
    great_expectations gate) and SQLite would mix the ADBC library (reads) with Python's
    (writes) on one file, which does not lock safely (docs/stack-notes.md)."""
    if not 1 <= requested <= MAX_CONCURRENCY:
        raise ValueError(f"max_concurrency must be 1..{MAX_CONCURRENCY}, got {requested}")
    if not separate_processes:
        return 1
    return max(1, min(requested, n_dates))


@dataclass(frozen=True, slots=True)
class DayStatus:
    """What a date holds already: active users, those with a full set, all assignments."""

    day: date
    active_users: int
    complete_users: int
    assignments: int

    @property
    def complete(self) -> bool:
        return self.active_users > 0 and self.complete_users == self.active_users


@dataclass(frozen=True, slots=True)
class DayOutcome:
    """One date of a backfill. ``outcome``: skipped (already complete), ok, or failed.
    Counts are read from the database after the date's run: active users, those holding a
    full set, the day's assignments, and how many of them the run added."""

    day: date
    outcome: str
    active_users: int = 0
    users_complete: int = 0
    assignments: int = 0
    assignments_added: int = 0
    seconds: float = 0.0
    error: str = ""  # the one line (``IntegrityError: …``), without the step
    flow_run: str = ""
    failed_step: str = ""  # the nightly run's step that failed, when it says

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    @property
    def error_text(self) -> str:
        """The error as the table artifact shows it: ``failed in <step>: <line>``."""
        if self.failed_step and self.error:
            return f"failed in {self.failed_step}: {self.error}"
        return self.error


def day_failure(message: str, day: date) -> tuple[str, str]:
    """(failed step, one line) of a nightly run's state message ``run for <day> failed in
    <step>: <line>`` (the only thing a run in another process hands back); ("", the first
    line) for any other message."""
    lines = message.strip().splitlines()
    line = lines[0].removeprefix(f"run for {day.isoformat()} ") if lines else ""
    head, sep, rest = line.partition(": ")
    if sep and head.startswith("failed in ") and " " not in head.removeprefix("failed in "):
        return head.removeprefix("failed in "), rest
    return "", line


def skipped(status: DayStatus) -> DayOutcome:
    return DayOutcome(
        status.day,
        "skipped: already complete",
        active_users=status.active_users,
        users_complete=status.complete_users,
        assignments=status.assignments,
    )


def finished(
    before: DayStatus,
    after: DayStatus,
    *,
    ok: bool,
    seconds: float,
    error: str = "",
    flow_run: str = "",
    failed_step: str = "",
) -> DayOutcome:
    """The outcome of a date that ran, from its database state before and after."""
    return DayOutcome(
        after.day,
        "ok" if ok else "failed",
        active_users=after.active_users,
        users_complete=after.complete_users,
        assignments=after.assignments,
        assignments_added=max(0, after.assignments - before.assignments),
        seconds=round(seconds, 2),
        error=error,
        flow_run=flow_run,
        failed_step=failed_step,
    )


def table_rows(outcomes: list[DayOutcome]) -> list[dict[str, Any]]:
    """The backfill's table artifact: one row per date, oldest first (dicts, not a frame:
    Prefect stores a DataFrame transposed)."""
    return [
        {
            "date": o.day.isoformat(),
            "outcome": o.outcome,
            "active_users": o.active_users,
            "users_complete": o.users_complete,
            "assignments": o.assignments,
            "assignments_added": o.assignments_added,
            "seconds": o.seconds,
            "error": o.error_text,
            "flow_run": o.flow_run,
        }
        for o in sorted(outcomes, key=lambda o: o.day)
    ]


# The table artifact's columns: the short ones first, the run's link before the long
# error text (a 600 px row used to push flow_run off the screen).
ARTIFACT_COLUMNS = (
    "date",
    "outcome",
    "flow_run",
    "active_users",
    "users_complete",
    "assignments",
    "assignments_added",
    "seconds",
    "error",
)


def run_link(flow_run: str, ui_url: str | None) -> str:
    """A markdown link to a flow run in the Prefect UI (the id's first 8 characters as its
    text), or the id as escaped text without a UI address; empty for no run."""
    if not flow_run:
        return ""
    if not ui_url or not re.fullmatch(r"[0-9a-fA-F-]{32,36}", flow_run):
        return markdown.text(flow_run)
    return f"[{flow_run[:8]}]({ui_url.rstrip('/')}/runs/flow-run/{flow_run})"


def artifact_rows(rows: list[dict[str, Any]], ui_url: str | None) -> list[dict[str, Any]]:
    """:func:`table_rows` as the UI shows them: in ``ARTIFACT_COLUMNS`` order, every string
    cell escaped (app data, error texts) but ``flow_run``, a link to the run."""
    out = []
    for raw, escaped in zip(rows, markdown.cells(rows), strict=True):
        cells = {k: escaped[k] for k in ARTIFACT_COLUMNS if k in escaped}
        cells["flow_run"] = run_link(raw["flow_run"], ui_url)
        out.append(cells)
    return out


def failure_message(outcomes: list[DayOutcome]) -> str | None:
    """One line naming every failed date and why; None when none failed."""
    bad = sorted((o for o in outcomes if o.failed), key=lambda o: o.day)
    if not bad:
        return None
    which = "; ".join(f"{o.day.isoformat()} ({o.error_text})" for o in bad)
    return f"backfill failed for {len(bad)} of {len(outcomes)} dates: {which}"
