"""The nightly flow: health → settings → features → select → render → upsert → summary.

``generate_daily_challenges`` is what the nightly deployment runs and what data engineers
trigger for a date. Each step is its own task; the flow only wires them, times them and
reports. A step that fails after its retries fails the run, and the admins still get a
summary saying which step failed and why.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, runtime
from prefect.logging import get_run_logger
from prefect.settings import PREFECT_API_URL
from prefect.states import Failed

from daglig import interrupt
from daglig.challenge_settings import ChallengeSettings
from daglig.config import Settings
from daglig.day_counts import count_day
from daglig.errors import error_line, tag_failure
from daglig.learner.selection import ShardedMLSelector
from daglig.quality import warm_up
from daglig.selection import FallbackSelector
from daglig.summary import RunSummary
from flows.common import OptionalDay, resolve_run_date
from flows.runners import default_runner
from tasks.carry_state import keep_carried_state
from tasks.cleanup import cleanup_expired
from tasks.common import failed_task_of, tidy_failed_run
from tasks.features import extract_user_features
from tasks.health import check_database, check_users
from tasks.keep_assessment import keep_assessment
from tasks.morning import build_morning_report
from tasks.progress import Progress
from tasks.quality import validate_inputs, validate_outputs
from tasks.render import day_frames, render_day, struggling_learners
from tasks.report import publish_summary, send_summary_email
from tasks.runs import begin_run, record_run_quietly
from tasks.select import choose_selector, ml_wanted, select_with_fallback
from tasks.settings import load_challenge_settings as _read_settings
from tasks.steps import StepClock, as_step, report_progress
from tasks.write import upsert_challenges

# the read-settings task, timed as a step (tasks/settings.py is declared with plain @task)
load_challenge_settings = as_step(_read_settings)


def _run_name() -> str:
    params = runtime.flow_run.parameters or {}
    day = params.get("run_date") or resolve_run_date(None)
    flags = "".join(
        f"-{k.replace('_', '')}"
        for k in ("force", "dry_run", "health_check_only", "cleanup")
        if params.get(k)
    )
    return f"daily-challenges-{day}{flags}"


@flow(
    name="daily-challenges",
    flow_run_name=_run_name,
    log_prints=True,
    task_runner=default_runner(),  # Settings.shard_threads threads (flows/runners.py)
)
def generate_daily_challenges(
    run_date: OptionalDay = None,
    force: bool = False,
    dry_run: bool = False,
    user_ids: list[int] | None = None,
    health_check_only: bool = False,
    cleanup: bool = False,
    no_ml: bool = False,
    notify: bool = True,
    shards: int | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """Give every active user today's challenges.

    Args:
        run_date: optional: the challenge day (Europe/Oslo). Leave it empty for the
            scheduled day (a Quick run: today).
        force: replace assignments nobody has started (progress 0, not completed).
        dry_run: compute and report, write nothing.
        user_ids: only these users (for tests and one-off fixes).
        health_check_only: only check the database can serve a run; fail with the reason
            when it cannot. Writes and creates nothing, sends no email when healthy.
        cleanup: also delete challenges and assignments older than the retention
            (DAGLIG_RETENTION_DAYS, default 90) that nobody started.
        no_ml: give everyone rule-based (fallback) challenges, whatever the model.
        notify: email the admins the summary (a failure is emailed whatever this says,
            unless the run is part of a backfill, which sends one email for its range).
        shards: split the users into this many shards (default: one per
            DAGLIG_SHARD_USERS users, 50,000; one shard on small data).
        full: recompute every feature from the whole answer log, not by folding the
            answers since the last good night into the state it carried (the night does
            that by itself when in doubt; the summary says which way it went and why).
    """
    return run_night(
        Settings(),
        run_date,
        force=force,
        dry_run=dry_run,
        user_ids=user_ids,
        health_check_only=health_check_only,
        cleanup=cleanup,
        no_ml=no_ml,
        notify=notify,
        shards=shards,
        full=full,
    )


def run_night(
    settings: Settings,
    run_date: date | None = None,
    *,
    force: bool = False,
    dry_run: bool = False,
    user_ids: list[int] | None = None,
    health_check_only: bool = False,
    cleanup: bool = False,
    no_ml: bool = False,
    notify: bool = True,
    shards: int | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """The night's run with ``settings`` (the flow passes ``Settings()``, from the
    environment; a test passes its own): the steps, timed, and the summary. Call it inside
    a flow run (its tasks and artifacts belong to one); the arguments are the flow's."""
    started = time.perf_counter()
    day = resolve_run_date(run_date, settings.timezone)
    summary = RunSummary(
        run_date=day,
        status="ok",
        database=settings.safe_database_url(),
        dry_run=dry_run,
        force=force,
        started_at=_now_iso(settings),
    )
    if settings.prefect_ui_url and runtime.flow_run.id:
        summary.flow_run_url = (
            f"{settings.prefect_ui_url.rstrip('/')}/runs/flow-run/{runtime.flow_run.id}"
        )
    if health_check_only:
        return _health_check_only(summary, settings, day)
    progress = Progress(f"daily-challenges-{day.isoformat()}-progress", PROGRESS_STEPS)
    log = get_run_logger()
    with StepClock(progress) as clock:
        try:
            check_database(settings, dry_run)
            _begin(summary, settings)
            cs = load_challenge_settings(settings)
            summary.settings_problems = list(cs.problems)
            if not cs.generation_enabled:
                summary.status = "disabled"
                summary.notes.append(
                    "generation_enabled is false: nothing was generated or written"
                )
            else:
                _generate(summary, settings, cs, day, force, dry_run, user_ids, no_ml, shards, full)
            if cleanup:
                _cleanup(summary, settings, day, dry_run)
        except Exception as exc:
            summary.status = "failed"
            summary.failed_task = failed_task_of(exc) or clock.failed or "flow"
            summary.failed_at = _now_iso(settings)
            summary.failed_step_seconds = clock.failed_step_seconds()  # its retries included
            summary.error = error_line(exc)  # one line; the statement and traceback: the log
            tidied = tidy_failed_run(settings, day, exc)  # a full disk: give the space back
            if tidied:
                summary.notes.append(tidied)
            line = f"run for {day} failed in {summary.failed_task}: {summary.error}"
            log.error("%s", line, exc_info=exc)
            tag_failure(exc, summary.failed_task, day)  # the CLI's one line names both
            progress.advance(0, f"failed in {summary.failed_task}: {summary.error}")
            # a failure is always emailed, except inside a backfill: the backfill's own email
            # reports every date (flows/backfill.py passes notify=False)
            _report(clock, summary, settings, started, notify or not _inside_another_run())
            # The flow run's state message is what the UI shows: one line, not Prefect's
            # "Flow run encountered an exception: <the exception's whole text>" (for a database
            # error the INSERT statement, its parameters and a link). A caller still gets the
            # exception itself: the state's data is the exception, raised by state.result().
            return Failed(message=line, data=exc)  # type: ignore[return-value]
        _report(clock, summary, settings, started, notify)
        progress.finish(summary.status)
        return summary.as_dict()


def _generate(
    summary: RunSummary,
    settings: Settings,
    cs: ChallengeSettings,
    day: date,
    force: bool,
    dry_run: bool,
    user_ids: list[int] | None,
    no_ml: bool = False,
    shards: int | None = None,
    full: bool = False,
) -> None:
    off_reason = ml_wanted(cs, no_ml)
    if user_ids is not None:  # an unknown id fails the run at once, with one line
        check_users(settings, user_ids)
    # the input gate's library imports in the background while the answer log streams in
    threading.Thread(target=warm_up, name="import-gx", daemon=True).start()
    refs = extract_user_features(
        settings, day, user_ids, learner=off_reason is None, shards=shards, full=full
    )
    summary.shards = len(refs.shards)
    if refs.path is not None:
        summary.features_path, summary.features_reason = refs.path.path, refs.path.reason
        summary.features_reason_code = refs.path.code
        summary.answers_read = refs.answers_read_tonight
        report_progress(f"features {_path_line(summary)}")
    summary.run_folder = str(refs.folder)
    summary.quarantined, summary.quarantine_file = refs.quarantined, str(refs.quarantine)
    # data-quality gates: a blocking failure raises DataQualityError before any write
    summary.quality["inputs"] = validate_inputs(refs, settings).as_dict()
    if off_reason is None:
        selector = choose_selector(summary, settings, day, refs)
    else:
        selector, summary.ml_status, summary.ml_reason = FallbackSelector(), "off", off_reason
    summary.selector = selector.name
    selected = select_with_fallback(summary, refs, cs, day, selector)
    rendered = render_day(selected, refs.folder, cs.ml_title_prefix)
    summary.shard_workers = sorted({*refs.workers, *(s.worker for s in selected)})
    summary.quality["outputs"] = validate_outputs(refs, rendered, cs).as_dict()

    summary.answers_used = refs.answers_used
    summary.answers_after_cutoff = refs.answers_after_cutoff
    summary.quarantined = refs.quarantined
    users, assignments, distinct = day_frames(refs.user_features, rendered)
    count_day(
        summary,
        users,
        assignments,
        distinct,
        cs.challenges_per_user,
        None if user_ids is None else len(user_ids),
        struggling_learners(refs),
    )
    if dry_run:
        summary.status = "dry_run"
        summary.notes.append("dry run: nothing was written")
        return
    counts = upsert_challenges(
        settings,
        day,
        rendered,
        force,
        cs.challenges_per_user,
        summary.run_row_id,
        # the exam paths planned tonight, one file per shard (positional, like the rest)
        tuple(s.exam_paths for s in selected if s.exam_paths is not None),
    )
    summary.written = asdict(counts)
    if counts.assignments_inserted == 0 and counts.assignments_replaced == 0:
        summary.notes.append("the day was already complete: no new rows written")
    if isinstance(selector, ShardedMLSelector):
        _keep_assessment(summary, settings, day, selector, user_ids)
    if refs.carried is not None:  # a run for some users carries none: the next night is full
        keep_carried_state(settings, refs)


def _path_line(s: RunSummary) -> str:
    return f"{s.features_path}: {s.features_reason} ({s.answers_read:,} answers read)"


def _keep_assessment(
    summary: RunSummary,
    settings: Settings,
    day: date,
    selector: ShardedMLSelector,
    user_ids: list[int] | None,
) -> None:
    """After the write: the night's assessment for the learner service. A run for some
    users keeps the last full night's; a failure here is a note, not a failed night (the
    challenges are written; the service answers from the night before)."""
    if user_ids is not None:
        summary.notes.append("a run for some users: the learner service keeps the last night's")
        return
    try:
        keep_assessment(settings, day, selector)
    except Exception as exc:
        summary.notes.append(f"the night's assessment was not kept: {error_line(exc)}")
        get_run_logger().error("keep-assessment failed: %s", exc, exc_info=exc)


def _inside_another_run() -> bool:
    """Whether this flow run is a subflow (of a backfill): its parent reports it."""
    return runtime.flow_run.parent_flow_run_id is not None


def _now_iso(settings: Settings) -> str:
    """Now in the challenge day's zone, to the second, with its offset."""
    return datetime.now(ZoneInfo(settings.timezone)).isoformat(timespec="seconds")


# The steps of a full run, for the progress artifact (health, settings, features, input
# gate, load model, assess learners, select, render, output gate, upsert, keep the
# assessment, summary); a run with fewer steps jumps to 100 % at its end, one with more
# waits just below it.
PROGRESS_STEPS = 13


def _begin(summary: RunSummary, settings: Settings) -> None:
    """The run's ``running`` row in pipeline_runs (crashed runs before it marked), and the
    run known to this process's Ctrl-C handling (``daglig.interrupt``)."""
    run = interrupt.RunInProgress(
        run_date=summary.run_date,
        database_url=settings.database_url,
        started_at=datetime.now(UTC).replace(tzinfo=None),
        flow_run_id=str(runtime.flow_run.id) if runtime.flow_run.id else None,
        api_url=PREFECT_API_URL.value() or None,
    )
    interrupt.start_run(run)  # before the row: a Ctrl-C in between finds it by flow run
    summary.run_row_id = run.row_id = begin_run(summary, settings)


def _health_check_only(summary: RunSummary, settings: Settings, day: date) -> dict[str, Any]:
    """Only the health check, creating nothing. Healthy: return its findings. Unhealthy:
    fail the run with the one-line reason (the failure email goes out as for any run)."""
    started = time.perf_counter()
    clock = StepClock()
    try:
        with clock:
            report = check_database(settings, True)
    except Exception as exc:
        summary.status = "failed"
        summary.failed_task = "check-health"
        summary.error = f"{type(exc).__name__}: {str(exc).strip()}"
        get_run_logger().error("health check for %s failed: %s", day, summary.error)
        _report(clock, summary, settings, started)
        raise
    return {
        "run_date": day.isoformat(),
        "status": "healthy",
        "database": report.database,
        "backend": report.backend,
        "missing_pipeline_tables": list(report.missing_pipeline_tables),
    }


def _morning(summary: RunSummary, settings: Settings) -> dict[str, Any]:
    """Yesterday's outcome for the admins' morning report; never fails the run."""
    try:
        return build_morning_report(settings, summary.run_date)
    except Exception as exc:  # the report is a courtesy: the night's work is what matters
        summary.notes.append(f"morning report unavailable: {error_line(exc)}")
        return {}


def _cleanup(summary: RunSummary, settings: Settings, day: date, dry_run: bool) -> None:
    """Retention cleanup after the day's write; nothing is deleted in a dry run."""
    if dry_run:
        summary.notes.append("dry run: cleanup skipped")
        return
    counts = cleanup_expired(settings, day)
    summary.cleaned = counts.as_dict()
    summary.notes.append(
        f"cleanup: {counts.assignments_deleted} never-started assignments and "
        f"{counts.challenges_deleted} unreferenced challenges dated before {counts.before} "
        f"deleted ({settings.retention_days} days retention)"
    )


def _report(
    clock: StepClock, summary: RunSummary, settings: Settings, started: float, notify: bool = True
) -> None:
    summary.task_seconds = dict(clock.seconds)
    summary.total_seconds = round(time.perf_counter() - started, 3)
    if summary.status in ("ok", "failed"):
        summary.morning = _morning(summary, settings)
    publish_summary(summary)
    if not notify:
        summary.notes.append("no summary email: notify is off for this run")
        record_run_quietly(summary, settings)
        return
    try:
        delivery = send_summary_email(summary, settings)
        summary.email = delivery.target
    except Exception as exc:  # the data is committed; say the email failed, do not fail the run
        summary.email = f"FAILED: {type(exc).__name__}: {exc}"
        summary.notes.append(f"summary email could not be sent: {type(exc).__name__}")
        get_run_logger().error("summary email failed after retries: %s", exc)
        publish_summary(summary)  # a new version of the artifact, saying the email failed
    record_run_quietly(summary, settings)  # a row in pipeline_runs; never fails the run
