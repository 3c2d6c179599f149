"""The admin operations behind ``daglig admin`` and the HTTP admin API (no web framework here).

The seed's seven admin endpoints, as functions returning JSON-ready dicts (dates and
timestamps as ISO strings):

* :func:`overview` — settings, today's assignments and completion, the last run;
* :func:`performance` — the latest run attempts and their seconds (``pipeline_runs``);
* :func:`stats` — completion by source/type/category, engagement, ML effectiveness and
  error monitoring over a date range (``sql/analytics/``);
* :func:`recent` — the latest challenges with how many users hold/started/completed each;
* :func:`settings_view` / :func:`set_settings` — the admin's ``challenge_settings``, changed
  with validation against the contract's keys and bounds and recorded in
  ``challenge_settings_history`` (who, when, old → new);
* :func:`test_user` — a dry run of the nightly flow for one user: the challenges chosen, with
  reasons, and which selector served the user and why;
* :func:`generate` — the nightly deployment started through the Prefect API when a server
  is configured, else the nightly flow run in this process.

Bad input raises :class:`AdminInputError` (the API answers 422, the CLI exits 2); an
unknown user raises :class:`NotFound` (404).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import inspect

from daglig import sql as sqlfiles
from daglig.catalogue import CATEGORIES
from daglig.challenge_settings import (
    KEYS,
    SettingError,
    parse_challenge_settings,
    validate_update,
)
from daglig.config import Settings
from daglig.io.db import engine_of, make_engine, read_frame, sql_statement
from daglig.io.lock import LOCK_NAMESPACE
from daglig.io.run_folder import RunFolder
from models.tables import Base

NIGHTLY_DEPLOYMENT = "daily-challenges/nightly"
# Fallback assignments of the ML holdout carry {"ml_holdout":true,…} in their reason.
HOLDOUT_PATTERN = '%"ml_holdout":true%'
ANSWER_BUCKETS: tuple[str, ...] = ("0", "1-29", "30-99", "100-299", "300+")
SETTINGS_LOCK_KEY = 1  # advisory lock (LOCK_NAMESPACE, 1): one settings change at a time
LIST_KEYS = ("enabled_types", "enabled_categories")
MAX_RANGE_DAYS = 366
MAX_BY_LENGTH = 100

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


def _jsonable(v: Any) -> Any:
    """Dates as ISO 8601; timestamps as ISO 8601 with their zone. The database holds UTC
    without a zone (the contract): a naive timestamp is UTC and says so (+00:00)."""
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
    return v.isoformat() if isinstance(v, date) else v


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: _jsonable(v) for k, v in row.items()} for row in frame.to_dicts()]


def _tables(url: str) -> set[str]:
    with engine_of(url) as engine:
        return set(inspect(engine).get_table_names())


def _read(
    url: str,
    name: str,
    params: dict[str, Any] | None,
    schema: dict[str, Any],
    needs: tuple[str, ...],
    tables: set[str] | None,
) -> pl.DataFrame:
    """``sql/<name>.sql`` as a frame; empty when a table it ``needs`` does not exist yet
    (a database the pipeline has not written to)."""
    present = _tables(url) if tables is None else tables
    if not set(needs) <= present:
        return pl.DataFrame(schema=schema)
    return read_frame(url, name, params, schema)


def check_range(start: date, end: date) -> None:
    """A date range is ordered and at most MAX_RANGE_DAYS long."""
    if start > end:
        raise AdminInputError(f"start {start} is after end {end}")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise AdminInputError(f"the range {start} .. {end} is longer than {MAX_RANGE_DAYS} days")


# --- analytics ------------------------------------------------------------------------


def completion(
    url: str, by: str, start: date, end: date, tables: set[str] | None = None
) -> list[dict[str, Any]]:
    """Assigned/started/completed and their rates per ``by`` (source, challenge_type or
    category) for the challenge days ``start`` .. ``end``."""
    name = {"source": "source", "challenge_type": "type", "category": "category"}[by]
    frame = _read(
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
        for r in _records(frame)
    ]


def engagement(url: str, start: date, end: date, tables: set[str] | None = None) -> dict[str, Any]:
    """Per day and in total (user-days): users assigned, engaged (any progress), done."""
    frame = _read(
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
        for r in _records(frame)
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
    frame = _read(
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
    if "pipeline_runs" not in (_tables(url) if tables is None else tables):
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
        "failed_runs": _records(failed),
    }


FAILED_COLS = ("run_date", "started_at", "finished_at", "total_seconds", "error", "flow_run_id")


def _subset(schema: dict[str, Any], cols: tuple[str, ...]) -> dict[str, Any]:
    return {c: schema[c] for c in cols}


def stats(url: str, start: date, end: date) -> dict[str, Any]:
    """Completion (by source, type, category), engagement, ML effectiveness and error
    monitoring for the challenge days ``start`` .. ``end``."""
    check_range(start, end)
    tables = _tables(url)
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
    if "pipeline_runs" not in _tables(url):
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
    return {"runs": _records(runs), "seconds": seconds}


def recent(url: str, since: date, limit: int = 50) -> dict[str, Any]:
    """The latest challenges (days from ``since`` on), with users holding, started and
    completed each."""
    if not 1 <= limit <= 1000:
        raise AdminInputError(f"limit {limit} is outside 1 .. 1000")
    if "daily_challenges" not in _tables(url):
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
    rows = [{**r, "completion_rate": rate(r["completed"], r["assigned"])} for r in _records(frame)]
    return {"since_date": since.isoformat(), "challenges": rows}


def last_run(url: str) -> dict[str, Any] | None:
    """The latest run attempt that was not a dry run, or None."""
    if "pipeline_runs" not in _tables(url):
        return None
    rows = _records(read_frame(url, "admin/last_run", None, RUN_SCHEMA))
    return rows[0] if rows else None


def day_run(url: str, day: date, tables: set[str] | None = None) -> dict[str, Any] | None:
    """The latest run attempt for ``day`` that was not a dry run, or None: no run."""
    if "pipeline_runs" not in (_tables(url) if tables is None else tables):
        return None
    rows = _records(read_frame(url, "admin/day_run", {"run_date": day}, RUN_SCHEMA))
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
    tables = _tables(url)
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


# --- settings -------------------------------------------------------------------------


def settings_view(url: str, history: int = 20) -> dict[str, Any]:
    """The settings in force (defaults filled in), problems with stored values, the stored
    rows with who changed each last, and the latest ``history`` changes."""
    tables = _tables(url)
    stored: list[dict[str, Any]] = []
    if "challenge_settings" in tables:
        frame = read_frame(
            url,
            "admin/settings_rows",
            None,
            {
                "key": pl.String,
                "value": pl.String,
                "updated_at": pl.Datetime("us"),
                "updated_by": pl.String,
            },
        )
        stored = _records(frame)
    effective = parse_challenge_settings({r["key"]: r["value"] for r in stored})
    changes: list[dict[str, Any]] = []
    if history and "challenge_settings_history" in tables:
        changes = _records(
            read_frame(
                url,
                "admin/settings_history",
                {"row_limit": history},
                {
                    "key": pl.String,
                    "old_value": pl.String,
                    "new_value": pl.String,
                    "changed_at": pl.Datetime("us"),
                    "changed_by": pl.String,
                },
            )
        )
    return {
        "settings": effective.as_dict(),
        "problems": list(effective.problems),
        "stored": stored,
        "history": changes,
    }


def parse_cli_value(key: str, raw: str) -> Any:
    """A setting value typed on the command line: JSON (``true``, ``0.3``, ``["quiz"]``);
    for the list keys also comma-separated keys (``quiz,streak``)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        if key in LIST_KEYS:
            return [part.strip() for part in raw.split(",") if part.strip()]
        raise AdminInputError(
            f'{key}: {raw!r} is not a JSON value (e.g. true, 0.3, 3, ["quiz"])'
        ) from None


def validate_changes(changes: Mapping[str, Any], stored: Mapping[str, str]) -> dict[str, str]:
    """The JSON text to store per changed key; raises AdminInputError naming the problem
    (the nightly run's own validator, ``daglig.challenge_settings.validate_update``: an
    unknown key, a malformed or out-of-range value, a combination that makes no sense)."""
    if not changes:
        raise AdminInputError(f"no setting given; known: {', '.join(KEYS)}")
    try:
        return validate_update(stored, changes)
    except SettingError as exc:
        raise AdminInputError(str(exc)) from None


def check_changed_by(changed_by: str | None) -> str | None:
    """Who makes a change, stripped (None when blank); refuses one that is too long or
    holds control characters (NUL cannot even be stored in PostgreSQL text)."""
    who = (changed_by or "").strip() or None
    if who is None:
        return None
    if len(who) > MAX_BY_LENGTH:
        raise AdminInputError(f"changed_by is longer than {MAX_BY_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in who):
        raise AdminInputError("changed_by must not contain control characters (e.g. NUL)")
    return who


def set_settings(
    url: str, changes: Mapping[str, Any], changed_by: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """Validate and store ``changes`` ({key: value}) in one transaction, recording each
    actual change (old → new, who, when) in ``challenge_settings_history``. Keys whose
    stored value is already the new one are reported as unchanged and not recorded."""
    who = check_changed_by(changed_by)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    engine = make_engine(url)
    meta = Base.metadata.tables
    try:
        meta["challenge_settings"].create(engine, checkfirst=True)
        meta["challenge_settings_history"].create(engine, checkfirst=True)
        changed: list[dict[str, Any]] = []
        unchanged: list[str] = []
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    sql_statement("admin/lock_settings_postgresql"),
                    {"namespace": LOCK_NAMESPACE, "lock_key": SETTINGS_LOCK_KEY},
                )
            elif conn.dialect.name == "sqlite":
                conn.exec_driver_sql(sqlfiles.load("admin/lock_settings_sqlite"))
            stored = {k: v for k, v in conn.execute(sql_statement("read/challenge_settings"))}
            encoded = validate_changes(changes, stored)
            for key, new in encoded.items():
                old = stored.get(key)
                if old is not None and json.loads(old) == json.loads(new):
                    unchanged.append(key)
                    continue
                row = {
                    "key": key,
                    "value": new,
                    "old_value": old,
                    "new_value": new,
                    "changed_at": now,
                    "changed_by": who,
                }
                conn.execute(sql_statement("admin/upsert_setting"), row)
                conn.execute(sql_statement("admin/insert_setting_history"), row)
                changed.append({"key": key, "old_value": old, "new_value": new})
    finally:
        engine.dispose()
    view = settings_view(url, history=0)
    return {
        "changed": changed,
        "unchanged": unchanged,
        "changed_by": who,
        "changed_at": _jsonable(now),
        "settings": view["settings"],
        "problems": view["problems"],
    }


# --- test a user, generate ------------------------------------------------------------


def _why(source: str, user: dict[str, Any], result: dict[str, Any], min_answers: int) -> str:
    answers = user.get("total_answers", 0)
    if source == "ml":
        return (
            f"learner model {result.get('model_version')}: {answers} answers "
            f">= ml_min_answers {min_answers}"
        )
    if source == "onboarding":
        return "no answers before the day's cutoff: onboarding challenges"
    if result.get("ml_status") != "used":
        return f"learner model not used ({result.get('ml_status')}): {result.get('ml_reason')}"
    if user.get("holdout"):
        return "in the ML holdout: rule-based challenges for the ML-vs-fallback comparison"
    if answers < min_answers:
        return f"{answers} answers < ml_min_answers {min_answers}: rule-based challenges"
    return "not assessed by the learner model: rule-based challenges"


def dry_run_user(settings: Settings, user_id: int, day: date) -> dict[str, Any]:
    """Dry-run the nightly flow for one user and read what it chose from the run folder:
    the challenges (type, category, target, difficulty, XP, Norwegian text, reason) and
    which selector served the user and why. Writes nothing."""
    known = read_frame(
        settings.database_url,
        "admin/user",
        {"user_id": user_id},
        {"user_id": pl.Int64, "is_active": pl.Boolean, "created_at": pl.Datetime("us")},
    )
    if known.is_empty():
        raise NotFound(f"no user {user_id}")
    if not known["is_active"][0]:  # no need to run anything: inactive users get nothing
        return {
            "user_id": user_id,
            "run_date": day.isoformat(),
            "status": "skipped",
            "user": {"is_active": False},
            "selector": None,
            "why": "inactive user: no challenges",
            "challenges": [],
        }
    from flows.daily_challenges import generate_daily_challenges

    state = generate_daily_challenges(
        run_date=day, dry_run=True, user_ids=[user_id], notify=False, return_state=True
    )
    result = state.result(raise_on_failure=False)
    if state.is_failed() or not isinstance(result, dict):
        raise AdminError(f"the dry run failed: {result}")
    base: dict[str, Any] = {
        "user_id": user_id,
        "run_date": day.isoformat(),
        "status": result["status"],
        "ml_status": result.get("ml_status"),
        "ml_reason": result.get("ml_reason"),
        "model_version": result.get("model_version"),
        "settings_problems": result.get("settings_problems", []),
        "flow_run_id": str(state.state_details.flow_run_id),
    }
    if result["status"] == "disabled":
        return {**base, "selector": None, "why": "generation_enabled is false", "challenges": []}
    run = RunFolder.at(settings.runs_dir, day, str(state.state_details.flow_run_id))
    users = pl.read_parquet(run.user_features).filter(pl.col("user_id") == user_id)
    if users.is_empty():
        raise NotFound(f"no user {user_id} known before the cutoff of {day}")
    cols = ["is_active", "total_answers", "accuracy", "current_streak"]
    user = {k: _jsonable(v) for k, v in users.select(cols).row(0, named=True).items()}
    challenges = [
        {k: v for k, v in c.items() if k != "user_id"}
        for c in chosen_challenges(run.root, [user_id])
    ]
    if not user["is_active"]:
        selector, why = None, "inactive user: no challenges"
    elif not challenges:
        selector, why = None, "no challenge possible with the current settings"
    else:
        source = challenges[0]["source"]
        user["holdout"] = bool(challenges[0]["reason"].get("ml_holdout"))
        min_answers = parse_challenge_settings(
            {r["key"]: r["value"] for r in settings_view(settings.database_url, 0)["stored"]}
        ).ml_min_answers
        selector, why = source, _why(source, user, result, min_answers)
    return {**base, "user": user, "selector": selector, "why": why, "challenges": challenges}


def chosen_challenges(folder: Path, user_ids: list[int]) -> list[dict[str, Any]]:
    """What a run (a dry run, typically) chose for ``user_ids``, read from its run folder:
    per user and slot the type, category, target, difficulty, XP, source, Norwegian text
    and reason (decoded JSON)."""
    # one file of keyed assignments per shard (tasks/render.py)
    run = RunFolder(folder)
    keyed = pl.read_parquet(run.keyed_assignments()).filter(pl.col("user_id").is_in(user_ids))
    texts = pl.read_parquet(run.challenges).select(
        "content_key", "title", "description", "xp_reward", "bonus_xp"
    )
    chosen = keyed.join(texts, on="content_key", how="left").sort("user_id", "slot")
    out = []
    for r in chosen.to_dicts():
        category = r["category"]
        out.append(
            {
                "user_id": r["user_id"],
                "slot": r["slot"],
                "challenge_type": r["challenge_type"],
                "category": category,
                "category_no": CATEGORIES[category].name_no if category in CATEGORIES else None,
                "target_value": r["target_value"],
                "difficulty": r["difficulty"],
                "xp_reward": r["xp_reward"],
                "bonus_xp": r["bonus_xp"],
                "source": r["source"],
                "title": r["title"],
                "description": r["description"],
                "reason": json.loads(r["reason"]) if r["reason"] else {},
            }
        )
    return out


def reason_gist(reason: Mapping[str, Any]) -> str:
    """A challenge's reason JSON in a few words: the rule that chose it and its evidence."""
    parts = []
    if reason.get("ml_holdout"):
        parts.append("ML holdout")
    if reason.get("rule"):
        parts.append(str(reason["rule"]).replace("_", " "))
    if reason.get("category_mastery") is not None:
        parts.append(f"mastery {reason['category_mastery']:.2f}")
    weak = [w for w in reason.get("weak_areas") or [] if isinstance(w, dict)]
    if weak:
        parts.append(
            "weakest "
            + ", ".join(
                f"{w.get('category')} {w['mastery']:.2f}"
                if w.get("mastery") is not None
                else str(w.get("category"))
                for w in weak
            )
        )
    if reason.get("level"):
        parts.append(f"level {reason['level']}")
    if reason.get("answers") is not None:
        parts.append(f"{reason['answers']} answers")
    if reason.get("accuracy") is not None:
        parts.append(f"accuracy {100 * reason['accuracy']:.0f} %")
    if reason.get("category_rule"):
        days = reason.get("category_days_since_practised")
        since = f" ({days} days ago)" if days is not None else ""
        parts.append(str(reason["category_rule"]).replace("_", " ") + since)
    return ", ".join(parts) or "–"


def prefect_api_url() -> str | None:
    """The Prefect API this process talks to (``PREFECT_API_URL``), or None: no server."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def generate(
    day: date, *, force: bool = False, local: bool = False, wait_seconds: float = 0
) -> dict[str, Any]:
    """Start the nightly deployment for ``day`` through the Prefect API when a server is
    configured (and ``local`` is false), waiting up to ``wait_seconds`` (0: return once it
    is scheduled); else run the nightly flow in this process and return its summary."""
    api = None if local else prefect_api_url()
    if api:
        from prefect.client.schemas.objects import FlowRun
        from prefect.deployments import run_deployment
        from prefect.exceptions import ObjectNotFound

        try:
            fr = run_deployment(
                NIGHTLY_DEPLOYMENT,
                parameters={"run_date": day.isoformat(), "force": force},
                timeout=wait_seconds,
            )
        except ObjectNotFound:
            raise Unavailable(
                f"deployment {NIGHTLY_DEPLOYMENT} not found at {api} "
                "(deploy it: prefect --no-prompt deploy --all)"
            ) from None
        assert isinstance(fr, FlowRun)  # called from sync code: not a coroutine
        return {
            "mode": "deployment",
            "deployment": NIGHTLY_DEPLOYMENT,
            "api_url": api,
            "run_date": day.isoformat(),
            "flow_run_id": str(fr.id),
            "flow_run_name": fr.name,
            "state": fr.state.name if fr.state else None,
        }
    from flows.daily_challenges import generate_daily_challenges

    state = generate_daily_challenges(run_date=day, force=force, return_state=True)
    result = state.result(raise_on_failure=False)
    if state.is_failed() or not isinstance(result, dict):
        raise AdminError(f"the run for {day} failed: {result}")
    return {
        "mode": "local",
        "run_date": day.isoformat(),
        "flow_run_id": str(state.state_details.flow_run_id),
        "state": state.name,
        "result": result,
    }


def default_range(day: date, days: int = 7) -> tuple[date, date]:
    """The ``days`` challenge days ending ``day``."""
    return day - timedelta(days=days - 1), day
