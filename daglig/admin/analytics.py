"""The admin analytics: completion by source/type/category, engagement, ML effectiveness,
run errors and performance, the recent challenges and the day's overview
(``sql/analytics/``, ``sql/admin/``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl

from daglig.admin.common import (
    AdminInputError,
    check_range,
    rate,
    read_or_empty,
    records,
    table_names,
)
from daglig.admin.settings_admin import settings_view
from daglig.io.db import read_frame

# Fallback assignments of the ML holdout carry {"ml_holdout":true,…} in their reason.
HOLDOUT_PATTERN = '%"ml_holdout":true%'
ANSWER_BUCKETS: tuple[str, ...] = ("0", "1-29", "30-99", "100-299", "300+")

ASSIGNMENT_TABLES = ("daily_challenges", "user_daily_challenges")
COUNTS: dict[str, Any] = {"assigned": pl.Int64, "started": pl.Int64, "completed": pl.Int64}
RUN_SCHEMA: dict[str, Any] = {
    "run_date": pl.Date,
    "started_at": pl.Datetime("us"),
    "finished_at": pl.Datetime("us"),
    "status": pl.String,
    "total_seconds": pl.Float64,
    "users_served": pl.Int64,
    "assignments": pl.Int64,
    "quarantined": pl.Int64,
    "ml_status": pl.String,
    "error": pl.String,
    "flow_run_id": pl.String,
}


def completion(
    url: str, by: str, start: date, end: date, tables: set[str] | None = None
) -> list[dict[str, Any]]:
    """Assigned/started/completed and their rates per ``by`` (source, challenge_type or
    category) for the challenge days ``start`` .. ``end``."""
    name = {"source": "source", "challenge_type": "type", "category": "category"}[by]
    frame = read_or_empty(
        url,
        f"analytics/completion_by_{name}",
        {"start_date": start, "end_date": end},
        {by: pl.String, **COUNTS},
        ASSIGNMENT_TABLES,
        tables,
    )
    return [
        {
            **r,
            "start_rate": rate(r["started"], r["assigned"]),
            "completion_rate": rate(r["completed"], r["assigned"]),
        }
        for r in records(frame)
    ]


def engagement(url: str, start: date, end: date, tables: set[str] | None = None) -> dict[str, Any]:
    """Per day and in total (user-days): users assigned, engaged (any progress), done."""
    frame = read_or_empty(
        url,
        "analytics/engagement",
        {"start_date": start, "end_date": end},
        {
            "challenge_date": pl.Date,
            "assigned_users": pl.Int64,
            "engaged_users": pl.Int64,
            "completed_all_users": pl.Int64,
        },
        ASSIGNMENT_TABLES,
        tables,
    )
    days = [
        {**r, "engagement_rate": rate(r["engaged_users"], r["assigned_users"])}
        for r in records(frame)
    ]
    assigned = int(frame["assigned_users"].sum())
    engaged = int(frame["engaged_users"].sum())
    return {
        "assigned_user_days": assigned,
        "engaged_user_days": engaged,
        "completed_all_user_days": int(frame["completed_all_users"].sum()),
        "engagement_rate": rate(engaged, assigned),
        "days": days,
    }


def ml_effectiveness(
    url: str, start: date, end: date, tables: set[str] | None = None
) -> dict[str, Any]:
    """Completion of ML vs rule-based (fallback, incl. the ML holdout) challenges for users
    with comparable answer counts (buckets), and the difference weighted by ML assignments."""
    frame = read_or_empty(
        url,
        "analytics/ml_effectiveness",
        {"start_date": start, "end_date": end, "holdout_pattern": HOLDOUT_PATTERN},
        {"arm": pl.String, "bucket": pl.String, "users": pl.Int64, **COUNTS},
        ASSIGNMENT_TABLES,
        tables,
    )
    cells = {(r["arm"], r["bucket"]): r for r in frame.drop("started").to_dicts()}
    buckets = []
    weighted = weight = 0.0
    for b in ANSWER_BUCKETS:
        row: dict[str, Any] = {"bucket": b}
        for arm in ("ml", "fallback", "holdout", "onboarding"):
            c = cells.get((arm, b))
            if c:
                row[arm] = {
                    "users": c["users"],
                    "assigned": c["assigned"],
                    "completed": c["completed"],
                    "completion_rate": rate(c["completed"], c["assigned"]),
                }
        rb = [row[a] for a in ("fallback", "holdout") if a in row]
        if rb:
            n, k = sum(x["assigned"] for x in rb), sum(x["completed"] for x in rb)
            row["rule_based"] = {"assigned": n, "completed": k, "completion_rate": rate(k, n)}
        if len(row) == 1:
            continue
        if "ml" in row and "rule_based" in row:
            diff = row["ml"]["completion_rate"] - row["rule_based"]["completion_rate"]
            row["difference"] = round(diff, 4)
            weighted += diff * row["ml"]["assigned"]
            weight += row["ml"]["assigned"]
        buckets.append(row)
    return {
        "buckets": buckets,
        "difference": round(weighted / weight, 4) if weight else None,
        "note": "difference = ML − rule-based completion rate within answer-count buckets, "
        "weighted by ML assignments; not a randomised comparison (see the ML holdout).",
    }


def run_errors(url: str, start: date, end: date, tables: set[str] | None = None) -> dict[str, Any]:
    """Run attempts per status, failed runs with their errors, quarantined rows."""
    if "pipeline_runs" not in (table_names(url) if tables is None else tables):
        return {
            "runs": 0,
            "runs_by_status": {},
            "failed": 0,
            "failure_rate": None,
            "quarantined": 0,
            "failed_runs": [],
        }
    params = {"start_date": start, "end_date": end}
    outcomes = read_frame(
        url,
        "analytics/run_outcomes",
        params,
        {
            "status": pl.String,
            "runs": pl.Int64,
            "quarantined": pl.Int64,
            "last_finished_at": pl.Datetime("us"),
        },
    )
    failed = read_frame(url, "analytics/failed_runs", params, _subset(RUN_SCHEMA, FAILED_COLS))
    by_status = {r["status"]: r["runs"] for r in outcomes.to_dicts()}
    runs = sum(by_status.values())
    return {
        "runs": runs,
        "runs_by_status": by_status,
        "failed": by_status.get("failed", 0),
        "failure_rate": rate(by_status.get("failed", 0), runs),
        # dry runs only repeat what a real run of the day reports
        "quarantined": int(outcomes.filter(pl.col("status") != "dry_run")["quarantined"].sum()),
        "failed_runs": records(failed),
    }


FAILED_COLS = ("run_date", "started_at", "finished_at", "total_seconds", "error", "flow_run_id")


def _subset(schema: dict[str, Any], cols: tuple[str, ...]) -> dict[str, Any]:
    return {c: schema[c] for c in cols}


def stats(url: str, start: date, end: date) -> dict[str, Any]:
    """Completion (by source, type, category), engagement, ML effectiveness and error
    monitoring for the challenge days ``start`` .. ``end``."""
    check_range(start, end)
    tables = table_names(url)
    by_source = completion(url, "source", start, end, tables)
    assigned = sum(r["assigned"] for r in by_source)
    started = sum(r["started"] for r in by_source)
    completed = sum(r["completed"] for r in by_source)
    return {
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "totals": {
            "assigned": assigned,
            "started": started,
            "completed": completed,
            "start_rate": rate(started, assigned),
            "completion_rate": rate(completed, assigned),
        },
        "by_source": by_source,
        "by_type": completion(url, "challenge_type", start, end, tables),
        "by_category": completion(url, "category", start, end, tables),
        "engagement": engagement(url, start, end, tables),
        "ml_effectiveness": ml_effectiveness(url, start, end, tables),
        "errors": run_errors(url, start, end, tables),
    }


def performance(url: str, limit: int = 20) -> dict[str, Any]:
    """The latest ``limit`` run attempts, newest first, and the seconds of the real runs
    among them (dry runs excluded)."""
    if not 1 <= limit <= 1000:
        raise AdminInputError(f"limit {limit} is outside 1 .. 1000")
    if "pipeline_runs" not in table_names(url):
        return {"runs": [], "seconds": None}
    runs = read_frame(url, "analytics/recent_runs", {"row_limit": limit}, RUN_SCHEMA)
    # the real runs that ended: not dry runs, not one still running (or never finished)
    real = runs.filter(~pl.col("status").is_in(["dry_run", "running", "written"]))["total_seconds"]
    seconds = (
        {
            "runs": real.len(),
            "last": round(float(real[0]), 3),
            "mean": round(float(real.mean()), 3),  # type: ignore[arg-type]
            "max": round(float(real.max()), 3),  # type: ignore[arg-type]
        }
        if real.len()
        else None
    )
    return {"runs": records(runs), "seconds": seconds}


def recent(url: str, since: date, limit: int = 50) -> dict[str, Any]:
    """The latest challenges (days from ``since`` on), with users holding, started and
    completed each."""
    if not 1 <= limit <= 1000:
        raise AdminInputError(f"limit {limit} is outside 1 .. 1000")
    if "daily_challenges" not in table_names(url):
        return {"since_date": since.isoformat(), "challenges": []}
    frame = read_frame(
        url,
        "admin/recent_challenges",
        {"since_date": since, "row_limit": limit},
        {
            "challenge_date": pl.Date,
            "challenge_type": pl.String,
            "category": pl.String,
            "title": pl.String,
            "target_value": pl.Int64,
            "difficulty": pl.Float64,
            "xp_reward": pl.Int64,
            "bonus_xp": pl.Int64,
            "source": pl.String,
            **COUNTS,
        },
    )
    rows = [{**r, "completion_rate": rate(r["completed"], r["assigned"])} for r in records(frame)]
    return {"since_date": since.isoformat(), "challenges": rows}


def last_run(url: str) -> dict[str, Any] | None:
    """The latest run attempt that was not a dry run, or None."""
    if "pipeline_runs" not in table_names(url):
        return None
    rows = records(read_frame(url, "admin/last_run", None, RUN_SCHEMA))
    return rows[0] if rows else None


def day_run(url: str, day: date, tables: set[str] | None = None) -> dict[str, Any] | None:
    """The latest run attempt for ``day`` that was not a dry run, or None: no run."""
    if "pipeline_runs" not in (table_names(url) if tables is None else tables):
        return None
    rows = records(read_frame(url, "admin/day_run", {"run_date": day}, RUN_SCHEMA))
    return rows[0] if rows else None


def day_note(day: date, run: Mapping[str, Any] | None, assignments: int) -> str:
    """One line on what ``day``'s numbers mean: no run, still running, failed, ok."""
    if run is None:
        if assignments:
            return f"no run recorded for {day}; {assignments} assignments are from elsewhere"
        return f"no run for {day}: no challenges generated for this day (all counts are 0)"
    status = run["status"]
    if status == "running":
        return f"the run for {day} is still running (started {run['started_at']})"
    if status in ("failed", "interrupted"):
        return f"the run for {day} {status}: {run['error'] or 'no reason recorded'}"
    return f"the run for {day}: {status}, finished {run['finished_at']}"


def overview(url: str, day: date) -> dict[str, Any]:
    """The settings in force, ``day``'s assignments and completion, its run (None: no run,
    and ``note`` says so), and the last run."""
    tables = table_names(url)
    view = settings_view(url, history=0)
    by_source = completion(url, "source", day, day, tables)
    users = engagement(url, day, day, tables)["assigned_user_days"]
    assigned = sum(r["assigned"] for r in by_source)
    completed = sum(r["completed"] for r in by_source)
    run = day_run(url, day, tables)
    return {
        "date": day.isoformat(),
        "settings": view["settings"],
        "settings_problems": view["problems"],
        "today": {
            "users": users,
            "assignments": assigned,
            "started": sum(r["started"] for r in by_source),
            "completed": completed,
            "completion_rate": rate(completed, assigned),
            "by_source": by_source,
            "run": run,
            "note": day_note(day, run, assigned),
        },
        "last_run": last_run(url),
    }
