"""The nightly flow: health → settings → features → select → render → upsert → summary.

``generate_daily_challenges`` is what the nightly deployment runs and what data engineers
trigger for a date. Each step is its own task; the flow only wires them, times them and
reports. A step that fails after its retries fails the run, and the admins still get a
summary saying which step failed and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import polars as pl
from prefect import flow, runtime
from prefect.logging import get_run_logger

from daglig.challenge_settings import ChallengeSettings
from daglig.config import Settings
from daglig.selection import FallbackSelector, Selector
from daglig.summary import RunSummary, assignment_counts
from tasks.features import extract_user_features
from tasks.health import check_database
from tasks.render import render_day
from tasks.report import publish_summary, send_summary_email
from tasks.select import select_challenges
from tasks.settings import load_challenge_settings
from tasks.write import upsert_challenges

T = TypeVar("T")


def resolve_run_date(run_date: date | None, tz: str = "Europe/Oslo") -> date:
    """The challenge day: as given; else the scheduled start's date in ``tz`` when a
    deployment's schedule started the run; else today in ``tz``."""
    if run_date is not None:
        return run_date
    scheduled = runtime.flow_run.scheduled_start_time
    if scheduled is not None and runtime.flow_run.id:
        return scheduled.astimezone(ZoneInfo(tz)).date()
    return datetime.now(ZoneInfo(tz)).date()


def _run_name() -> str:
    params = runtime.flow_run.parameters or {}
    day = params.get("run_date") or resolve_run_date(None)
    flags = "".join(f"-{k.replace('_', '')}" for k in ("force", "dry_run") if params.get(k))
    return f"daily-challenges-{day}{flags}"


def choose_selector(challenge_settings: ChallengeSettings) -> Selector:
    """The selector for this run. The learner model's selector takes over here once a
    valid model exists; until then every user goes down the fallback path."""
    return FallbackSelector()


class _Timer:
    """Runs steps, remembering each one's seconds and which step failed."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.current: str | None = None

    def __call__(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self.current = name
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds[name] = round(time.perf_counter() - t0, 3)
        self.current = None
        return result


@flow(name="daily-challenges", flow_run_name=_run_name, log_prints=True)
def generate_daily_challenges(
    run_date: date | None = None,
    force: bool = False,
    dry_run: bool = False,
    user_ids: list[int] | None = None,
) -> dict[str, Any]:
    """Give every active user today's challenges.

    Args:
        run_date: the challenge day (Europe/Oslo). Default: the scheduled day, else today.
        force: replace assignments nobody has started (progress 0, not completed).
        dry_run: compute and report, write nothing.
        user_ids: only these users (for tests and one-off fixes).
    """
    started = time.perf_counter()
    settings = Settings()
    day = resolve_run_date(run_date, settings.timezone)
    log = get_run_logger()
    summary = RunSummary(
        run_date=day,
        status="ok",
        database=settings.safe_database_url(),
        dry_run=dry_run,
        force=force,
    )
    if settings.prefect_ui_url and runtime.flow_run.id:
        summary.flow_run_url = (
            f"{settings.prefect_ui_url.rstrip('/')}/runs/flow-run/{runtime.flow_run.id}"
        )
    step = _Timer()
    try:
        step("check-health", check_database, settings, dry_run)
        cs = step("read-settings", load_challenge_settings, settings)
        summary.settings_problems = list(cs.problems)
        if not cs.generation_enabled:
            summary.status = "disabled"
            summary.notes.append("generation_enabled is false: nothing was generated or written")
        else:
            _generate(step, summary, settings, cs, day, force, dry_run, user_ids)
    except Exception as exc:
        summary.status = "failed"
        summary.failed_task = step.current or "flow"
        summary.error = (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        )
        log.error("run for %s failed in %s: %s", day, summary.failed_task, summary.error)
        _report(step, summary, settings, started)
        raise
    _report(step, summary, settings, started)
    return summary.as_dict()


def _generate(
    step: _Timer,
    summary: RunSummary,
    settings: Settings,
    cs: ChallengeSettings,
    day: date,
    force: bool,
    dry_run: bool,
    user_ids: list[int] | None,
) -> None:
    refs = step("extract-features", extract_user_features, settings, day, user_ids)
    selector = choose_selector(cs)
    summary.selector = selector.name
    assignments_path = step("select-challenges", select_challenges, refs, cs, day, selector)
    rendered = step("render-challenges", render_day, assignments_path)

    users = pl.read_parquet(refs.user_features, columns=["user_id", "is_active"])
    assignments = pl.read_parquet(assignments_path)
    c = assignment_counts(assignments)
    summary.users_total = users.height
    summary.users_active = int(users["is_active"].sum())
    summary.users_served = c["users_served"]
    summary.assignments = c["assignments"]
    summary.by_source, summary.by_type, summary.by_category = (
        c["by_source"],
        c["by_type"],
        c["by_category"],
    )
    summary.distinct_challenges = pl.read_parquet(
        rendered.challenges, columns=["content_key"]
    ).height
    summary.answers_used = refs.answers_used
    summary.answers_after_cutoff = refs.answers_after_cutoff
    summary.quarantined = refs.quarantined
    skipped = {
        "inactive": users.height - summary.users_active,
        "no_challenge_possible": summary.users_active - summary.users_served,
    }
    if user_ids is not None:
        summary.notes.append(f"restricted to {len(user_ids)} requested user ids")
    summary.users_skipped = {k: v for k, v in skipped.items() if v}
    short = (
        assignments.group_by("user_id").len().filter(pl.col("len") < cs.challenges_per_user).height
    )
    if short:
        summary.notes.append(
            f"{short} users got fewer than {cs.challenges_per_user} challenges "
            "(too few enabled types or categories once yesterday's are excluded)"
        )
    if dry_run:
        summary.status = "dry_run"
        summary.notes.append("dry run: nothing was written")
        return
    counts = step(
        "upsert-challenges",
        upsert_challenges,
        settings,
        day,
        rendered,
        force,
        cs.challenges_per_user,
    )
    summary.written = asdict(counts)
    if counts.assignments_inserted == 0 and counts.assignments_replaced == 0:
        summary.notes.append("the day was already complete: no new rows written")


def _report(step: _Timer, summary: RunSummary, settings: Settings, started: float) -> None:
    summary.task_seconds = dict(step.seconds)
    summary.total_seconds = round(time.perf_counter() - started, 3)
    publish_summary(summary)
    try:
        delivery = send_summary_email(summary, settings)
        summary.email = delivery.target
    except Exception as exc:  # the data is committed; say the email failed, do not fail the run
        summary.email = f"FAILED: {type(exc).__name__}: {exc}"
        summary.notes.append(f"summary email could not be sent: {type(exc).__name__}")
        get_run_logger().error("summary email failed after retries: %s", exc)
