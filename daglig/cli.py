"""The ``daglig`` command line: demo, simulate, run, train, health-check, backfill, admin.

Every failure is one line on standard error naming what is wrong and what to do; the full
traceback goes to ``data/logs/daglig.log`` (``daglig --debug …`` prints it too). See
``daglig.terminal``; Ctrl-C during a run: ``daglig.interrupt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" or Path(sys.argv[0]).name == "daglig":  # the command itself
    from daglig.interrupt import take_over_sigint

    take_over_sigint()  # before any import starts a thread (daglig/interrupt.py)

import time  # noqa: E402
from datetime import date, datetime, timedelta  # noqa: E402
from typing import Annotated, Any, Literal  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import typer  # noqa: E402

from daglig.terminal import FrontDoor, flow_session, require_database, set_debug  # noqa: E402
from flows.prefect_env import apply_offline_settings  # noqa: E402

app = typer.Typer(
    name="daglig",
    help="Personalised daily challenges for every active learner, every night.",
    no_args_is_help=True,
    add_completion=False,
    cls=FrontDoor,
    pretty_exceptions_enable=False,
)

apply_offline_settings()  # before anything imports prefect

from daglig.admin.cli import admin_app  # noqa: E402 (after the offline settings)
from daglig.errors import BadInput  # noqa: E402

app.add_typer(admin_app, name="admin")
learner_app = typer.Typer(
    name="learner",
    help="What the learner service answers: a learner's weak areas and skill assessment.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(learner_app, name="learner")


@app.callback()
def _main(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="On failure, print the full traceback and Prefect's log on the terminal "
            "(they always go to data/logs/daglig.log).",
        ),
    ] = False,
) -> None:
    """Personalised daily challenges for every active learner, every night."""
    set_debug(debug)


def _today(tz: str = "Europe/Oslo") -> date:
    return datetime.now(ZoneInfo(tz)).date()


def _counts(d: dict[str, Any]) -> str:
    """{"fallback": 3, "ml": 10} as people read it: "fallback 3, ml 10" ("none" if empty)."""
    return ", ".join(f"{k} {v:,}" for k, v in d.items()) if d else "none"


def _written(w: dict[str, Any]) -> str:
    return (
        f"{w.get('assignments_inserted', 0):,} assignments added, "
        f"{w.get('assignments_replaced', 0):,} replaced, {w.get('assignments_kept', 0):,} kept; "
        f"{w.get('challenges_inserted', 0):,} challenges added"
        + (
            f"; {w['surplus_slots_deleted']:,} surplus slots and "
            f"{w.get('orphan_challenges_deleted', 0):,} orphaned challenges removed"
            if w.get("surplus_slots_deleted") or w.get("orphan_challenges_deleted")
            else ""
        )
        + ("; by COPY (the date had no rows yet)" if w.get("path") == "copy" else "")
    )


def _echo_summary(result: dict[str, Any]) -> None:
    typer.echo(
        f"{result['run_date']}: {result['status']} — {result['users_served']:,} of "
        f"{result['users_active']:,} active users served, {result['assignments']:,} "
        f"assignments ({result['distinct_challenges']:,} distinct); "
        f"by source: {_counts(result['by_source'])}"
    )
    if result.get("ml_status") == "used":
        typer.echo(f"learner model: {result.get('model_version')}")
        if result.get("completion_model_version"):
            typer.echo(f"completion model: {result['completion_model_version']}")
        else:
            typer.echo(f"ML targets by the rules: {result.get('completion_reason')}")
    elif result.get("ml_reason"):
        typer.echo(f"learner model not used ({result['ml_status']}): {result['ml_reason']}")
    if result.get("written"):
        typer.echo(f"written: {_written(result['written'])}")
    for note in result.get("notes", []):
        typer.echo(f"note: {note}")
    if result.get("ml_status") == "fallback":
        typer.echo(f"note: learner model not used: {result.get('ml_reason')}")
    for problem in result.get("settings_problems", []):
        typer.echo(f"settings problem: {problem}")
    typer.echo(f"summary email: {result.get('email') or 'not sent'}")


def _refuse_to_overwrite(url: str, safe_url: str, replace: bool) -> dict[str, int]:
    """What the database holds that a simulation would drop; BadInput naming it unless
    ``replace``. Returns the counts (empty for a new database)."""
    from simulator.load import existing_rows

    rows = existing_rows(url)
    if rows and not replace:
        raise BadInput(f"{safe_url} holds {_holdings(rows)}; add --replace to overwrite them")
    return rows


def _holdings(rows: dict[str, int]) -> str:
    named = [
        (rows.get("users", 0), "users"),
        (rows.get("question_attempts", 0), "answers"),
        (rows.get("user_daily_challenges", 0), "assignments of the pipeline"),
    ]
    parts = [f"{n:,} {what}" for n, what in named if n]
    others = sorted(
        t for t in rows if t not in ("users", "question_attempts", "user_daily_challenges")
    )
    if not parts:
        return f"rows in {', '.join(others)}"
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


@app.command()
def simulate(
    users: Annotated[int, typer.Option(help="How many learners.", min=0)] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same data.")] = 1,
    end_date: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Last simulated day (default: yesterday, Oslo)."),
    ] = None,
    history_days: Annotated[int, typer.Option(help="Days of history before end-date.")] = 180,
    answers_per_user: Annotated[float, typer.Option(help="Mean answers per user.")] = 100.0,
    chunk_users: Annotated[
        int,
        typer.Option(
            help="Learners generated and loaded at a time (bounds memory; up to this many "
            "users the data is the same as unchunked).",
            min=1,
        ),
    ] = 100_000,
    days: Annotated[
        int,
        typer.Option(
            help="Then play this many days: the real nightly flow each night, the learners "
            "acting on their challenges each day (the last day is end-date).",
            min=0,
            max=365,
        ),
    ] = 0,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Overwrite a database that holds data: every app and pipeline table is "
            "dropped first (without it, simulate refuses and says what it would destroy).",
        ),
    ] = False,
    add_day: Annotated[
        bool,
        typer.Option(
            "--add-day",
            help="Append one day of answers to the simulated database at DATABASE_URL: the "
            "day after its latest answer (Oslo), or end-date; uses seed only.",
        ),
    ] = False,
) -> None:
    """Write a simulated app database (users, questions, quiz sessions, answers) to DATABASE_URL."""
    from daglig.config import Settings
    from simulator import simulate as run_simulation

    settings = Settings()
    if add_day:
        if days or replace:
            raise BadInput("--add-day appends to the database as it is; leave out --days/--replace")
        _add_day(settings, seed, end_date.date() if end_date else None)
        return
    end = end_date.date() if end_date else _today(settings.timezone) - timedelta(days=1)
    held = _refuse_to_overwrite(settings.database_url, settings.safe_database_url(), replace)
    if held:
        typer.echo(f"replacing {settings.safe_database_url()} (it held {_holdings(held)})")
    if days:
        with flow_session():
            _play(settings, users, seed, end - timedelta(days=days - 1), days)
        return
    t0 = time.perf_counter()
    s = run_simulation(
        settings.database_url,
        users=users,
        seed=seed,
        end_date=end,
        history_days=history_days,
        answers_per_user=answers_per_user,
        chunk_users=chunk_users,
    )
    typer.echo(
        f"simulated {s.users} users ({s.active_users} active), {s.answers} answers, "
        f"{s.sessions} quiz sessions up to {end} into {settings.safe_database_url()} "
        f"in {time.perf_counter() - t0:.1f} s ({s.chunks} chunk(s); generate "
        f"{s.generate_seconds:.1f} s, write {s.write_seconds:.1f} s of which keys and "
        f"indexes {s.index_seconds:.1f} s)"
    )


def _add_day(settings: object, seed: int, day: date | None) -> None:
    """``simulate --add-day``: one more day of answers on the simulated history."""
    from daglig.config import Settings
    from simulator.add_day import AddDayRefused
    from simulator.add_day import add_day as run_add_day

    assert isinstance(settings, Settings)
    safe = settings.safe_database_url()
    try:
        s = run_add_day(settings.database_url, seed=seed, day=day, safe_url=safe)
    except AddDayRefused as exc:
        raise BadInput(str(exc)) from exc
    typer.echo(
        f"added {s.day} to {safe}: {s.practised:,} of {s.active:,} active learners practised, "
        f"{s.sessions:,} quiz sessions, {s.answers:,} answers ({s.late_answers:,} late, "
        f"timestamped the day before; ids after {s.last_attempt_id:,}), "
        f"{s.progress_rows:,} user_progress rows updated, in {s.total_seconds:.1f} s "
        f"(read {s.read_seconds:.1f} s, draw {s.plan_seconds:.1f} s, write {s.write_seconds:.1f} s)"
    )


def _play(settings: object, users: int, seed: int, start: date, days: int) -> None:
    """``simulate --days``: history up to the day before ``start``, then ``days`` days of
    nightly runs and learners acting on them; prints ML vs holdout, saves the JSON."""
    import json

    from daglig.config import Settings
    from simulator.days import DayResult, play_days

    assert isinstance(settings, Settings)

    def progress(d: DayResult) -> None:
        typer.echo(
            f"{d.day}: nightly {d.flow_seconds:.1f} s (ML {d.ml_status}; targets "
            f"{'by ' + d.completion_model if d.completion_model else 'by the rules'}), "
            f"{d.assignments} assignments; {d.opened} learners opened the app, "
            f"{d.taken_up} challenges taken up, {d.completed} completed, {d.answers} answers"
        )

    r = play_days(
        settings.database_url, users=users, seed=seed, start=start, days=days, on_day=progress
    )
    out = settings.data_dir / "simulations" / f"days-{start.isoformat()}-{days}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r.as_dict(), indent=2) + "\n")
    typer.echo(
        f"ML group {r.ml_users} learners, holdout {r.holdout_users} "
        f"(holdout share {r.holdout_share:.0%} of the ML-eligible)"
    )
    typer.echo(_comparison_table(r))
    st = r.struggle
    if st:
        typer.echo(
            f"struggling learners {st['learners']} (first found on some night): adapted "
            f"{st['adapted']}, held out {st['held_out']}"
        )
        typer.echo(
            _table(
                ("figure (per struggling learner)", "adapted", "held out", "difference", "95 % CI"),
                [("completion rate", st["completion"]), ("return rate", st["return_rate"])],
                ("adapted", "held_out"),
            )
        )
    g = r.exam_path.get("exam_readiness_gain", {})
    if "ci_low" in g:
        typer.echo(
            f"week's path to the exam: {r.exam_path['path_users']} learners on a path, "
            f"{r.exam_path['holdout_users']} in the path holdout; exam-readiness gain "
            f"{g['ml']:.4f} vs {g['holdout']:.4f}, difference {g['diff']:+.4f} "
            f"(95 % CI {g['ci_low']:+.4f} .. {g['ci_high']:+.4f})"
        )
    typer.echo(f"saved {out}")


def _comparison_table(report: object) -> str:
    """ML vs holdout, one line per figure, each difference with its 95 % interval."""
    from simulator.days import DaysReport

    assert isinstance(report, DaysReport)
    return _table(
        ("figure (per learner)", "ML", "holdout", "difference", "95 % CI"),
        [
            ("completion rate", report.completion),
            ("weak-category mastery gain", report.weak_mastery_gain),
            ("exam-readiness gain", report.exam_readiness_gain),
            ("answers in weak categories", report.weak_answers_per_user),
            ("answers given", report.answers_per_user),
        ],
    )


def _table(
    header: tuple[str, str, str, str, str],
    figures: list[tuple[str, dict[str, Any]]],
    sides: tuple[str, str] = ("ml", "holdout"),
) -> str:
    """One line per figure with a 95 % interval: the two sides' means, the difference."""
    a, b = sides
    rows = [header]
    for label, d in figures:
        if "ci_low" in d:
            rows.append(
                (
                    label,
                    f"{d[a]:.4f}",
                    f"{d[b]:.4f}",
                    f"{d['diff']:+.4f}",
                    f"{d['ci_low']:+.4f} .. {d['ci_high']:+.4f}",
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


@app.command()
def run(
    run_date: Annotated[
        datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="Challenge day (default: today, Oslo)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace assignments nobody has started.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Compute and report, write nothing.")] = False,
    user_id: Annotated[list[int] | None, typer.Option(help="Only this user (repeatable).")] = None,
    no_ml: Annotated[
        bool, typer.Option("--no-ml", help="Rule-based (fallback) challenges for everyone.")
    ] = False,
    cleanup: Annotated[
        bool,
        typer.Option(
            help="Also delete never-started challenges older than DAGLIG_RETENTION_DAYS (90)."
        ),
    ] = False,
    task_runner: Annotated[
        Literal["threads", "dask"] | None,
        typer.Option(
            help="Where the shard tasks run: threads of this process, or a Dask cluster "
            "(default: dask when a Dask address is given, else threads)."
        ),
    ] = None,
    dask_address: Annotated[
        str | None,
        typer.Option(
            help="Scheduler of an existing Dask cluster, e.g. tcp://host:8786 (implies "
            "--task-runner dask; default: DAGLIG_DASK_ADDRESS, Settings.dask_address). "
            "Unset: a local cluster of --dask-workers processes.",
        ),
    ] = None,
    dask_workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes of the local Dask cluster.")
    ] = 2,
    shards: Annotated[
        int | None,
        typer.Option(min=1, help="Split the users into this many shards (default: by count)."),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Recompute every feature from the whole answer log instead of folding the "
            "answers since the last good night into the state it left (the run does so by "
            "itself when in doubt).",
        ),
    ] = False,
) -> None:
    """Run the nightly job once, for one date (Ctrl-C: stops in seconds, exit 130)."""
    from contextlib import nullcontext

    from daglig.config import Settings
    from flows.runners import api_reachable_from_workers
    from flows.runners import task_runner as make_task_runner

    settings = Settings()
    require_database(settings)
    if user_id:
        _check_users(settings, list(user_id))
    dask_address = dask_address or settings.dask_address or None
    # an explicit --task-runner threads wins over a DAGLIG_DASK_ADDRESS in the environment
    kind = task_runner or ("dask" if dask_address else "threads")
    address = dask_address if kind == "dask" else None
    with flow_session():
        from flows.daily_challenges import generate_daily_challenges

        # threads: the flow's own runner (its thread count is bounded for memory)
        flow = (
            generate_daily_challenges.with_options(
                task_runner=make_task_runner(kind, address, dask_workers)
            )
            if kind == "dask"
            else generate_daily_challenges
        )
        # Dask workers are other processes: they need a Prefect API URL, not the
        # in-process temporary server (flows/runners.py)
        with api_reachable_from_workers() if kind == "dask" else nullcontext() as api:
            if address and api and api.startswith("http://127.0.0.1:"):
                typer.echo(
                    f"note: task runs report to {api}; Dask workers on other machines need "
                    "PREFECT_API_URL set to a Prefect server they can reach"
                )
            state = flow(
                run_date=run_date.date() if run_date else None,
                force=force,
                dry_run=dry_run,
                user_ids=list(user_id) if user_id else None,
                no_ml=no_ml,
                cleanup=cleanup,
                shards=shards,
                full=full,
                return_state=True,
            )
        result = state.result(raise_on_failure=False)
    if not state.is_completed() or not isinstance(result, dict):
        raise typer.Exit(_run_failed(result, state, settings))
    _echo_summary(result)
    if result.get("features_path"):
        typer.echo(
            f"features: {result['features_path']}: {result['features_reason']} "
            f"({result.get('answers_read', 0):,} answers read)"
        )
    if "shards" in result:
        workers = result.get("shard_workers") or []
        typer.echo(
            f"shards: {result['shards']} on {kind} ({len(workers)} worker process(es): "
            f"{', '.join(workers)})"
        )
    if dry_run and user_id and result.get("run_folder"):
        _echo_chosen(result, list(user_id))


def _check_users(settings: Any, user_ids: list[int]) -> None:
    """--user-id of a user who does not exist or is inactive: exit 2 with one line."""
    from daglig.io.db import make_engine
    from daglig.io.store import UnknownUsers, check_requested_users

    engine = make_engine(settings.database_url, read_only=True)
    try:
        check_requested_users(engine, settings.safe_database_url(), user_ids, allow_inactive=False)
    except UnknownUsers as exc:
        raise BadInput(str(exc)) from None
    finally:
        engine.dispose()


def _run_failed(result: Any, state: Any, settings: Any) -> int:
    """A failed run as one line ("run for <date> failed in <step>: …"); its exit code."""
    from daglig.errors import failure_of
    from daglig.terminal import report

    exc = result if isinstance(result, BaseException) else RuntimeError(state.message or "")
    step, day = failure_of(exc)
    where = f" in {step}" if step and step != "flow" else ""
    return report(exc, prefix=f"run for {day or 'the day'} failed{where}: ")


def _echo_chosen(result: dict[str, Any], user_ids: list[int]) -> None:
    """What a dry run would give each requested user, challenge by challenge."""
    from pathlib import Path

    from daglig.admin.dry_run import chosen_challenges, reason_gist

    chosen = chosen_challenges(Path(result["run_folder"]), user_ids)
    for uid in user_ids:
        mine = [c for c in chosen if c["user_id"] == uid]
        typer.echo(f"user {uid}: {len(mine)} challenges" + (":" if mine else ""))
        for c in mine:
            category = c["category"] or "no category"
            typer.echo(
                f"  {c['slot']}. {c['challenge_type']} · {category} · «{c['title']}» · "
                f"target {c['target_value']} · {c['xp_reward']} XP + {c['bonus_xp']} bonus · "
                f"{c['source']} — {reason_gist(c['reason'])}"
            )


@app.command()
def train(
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Answers used end at this day's start, Oslo (default: today).",
        ),
    ] = None,
) -> None:
    """Train, validate and save the learner model and the completion model; print their
    metrics against baselines."""
    from daglig.config import Settings
    from daglig.learner.training import metrics_markdown

    require_database(Settings())  # bad settings: one line now, not a failed flow run
    day = as_of.date() if as_of else None
    with flow_session():
        from flows.train_completion_model import train_completion_model
        from flows.train_learner_model import train_learner_model

        result = _flow_result(train_learner_model(as_of=day, return_state=True))
        typer.echo(
            f"learner model {result['version']} (answers up to {result['trained_as_of']}) of "
            f"{result['database_url']}, saved in {result['folder']}"
        )
        typer.echo(metrics_markdown(result["metrics"], result["n_test"]))
        curve = result["practice_curve"]
        typer.echo(
            f"practice curve of the online evidence: gain {curve['practice_gain']:g}, "
            f"kept {curve['gain_kept']:g}, fading over {curve['fade_days']:g} days"
        )
        completion = _flow_result(train_completion_model(as_of=day, return_state=True))
    if completion["version"] is None:
        typer.echo(f"no completion model: {completion['reason']}; the nights keep the rule targets")
        return
    typer.echo(f"completion model {completion['version']}, saved in {completion['folder']}")
    typer.echo(
        metrics_markdown(completion["metrics"], completion["n_test"]).replace(
            "answers", "assignments", 1
        )
    )


def _flow_result(state: Any) -> dict[str, Any]:
    """A finished training flow's result; a failed one exits with one line."""
    result = state.result(raise_on_failure=False)
    if not state.is_completed() or not isinstance(result, dict):
        from daglig.terminal import report

        exc = result if isinstance(result, BaseException) else RuntimeError(state.message or "")
        raise typer.Exit(report(exc, prefix="training failed: "))
    return result


def _ensure_model(today: date) -> None:
    """Train once when there is no valid model for ``today`` (the demo shows ML)."""
    from daglig.config import Settings
    from daglig.io.model_store import ModelUnavailable, load_model
    from tasks.ml import database_identity

    settings = Settings()
    try:
        identity = database_identity(settings)
        loaded = load_model(settings.model_dir, today, settings.model_max_age_days, identity)
        typer.echo(f"learner model {loaded.version} is current: not retraining")
        return
    except ModelUnavailable as exc:
        typer.echo(f"training the learner model ({exc})")
    from flows.train_learner_model import train_learner_model

    t0 = time.perf_counter()
    result = train_learner_model(as_of=today)
    m = result["metrics"]
    typer.echo(
        f"learner model {result['version']} trained in {time.perf_counter() - t0:.1f} s, "
        f"saved in {result['folder']}: "
        + ", ".join(f"{k} log loss {v['log_loss']:.4f} AUC {v['auc']:.3f}" for k, v in m.items())
    )


@app.command()
def backfill(
    start: Annotated[
        datetime, typer.Option("--start", formats=["%Y-%m-%d"], help="First date, included.")
    ],
    end: Annotated[
        datetime, typer.Option("--end", formats=["%Y-%m-%d"], help="Last date, included.")
    ],
    force: Annotated[
        bool, typer.Option(help="Rerun complete dates too, replacing unstarted assignments.")
    ] = False,
    max_concurrency: Annotated[
        int, typer.Option(min=1, max=8, help="Dates at once from a deployment (here: 1).")
    ] = 1,
) -> None:
    """Run the nightly job for every date from --start to --end; exit 1 naming failed dates."""
    if end < start:
        raise BadInput(
            f"--end {end.date()} is before --start {start.date()}: give the first date with "
            "--start and the last with --end"
        )
    from daglig.config import Settings

    require_database(Settings())  # bad settings: one line now, not a failed flow run
    with flow_session():
        from flows.backfill import backfill_daily_challenges

        state = backfill_daily_challenges(
            start_date=start.date(),
            end_date=end.date(),
            force=force,
            max_concurrency=max_concurrency,
            return_state=True,
        )
        result = state.result(raise_on_failure=False)
    rows = result if isinstance(result, list) else getattr(result, "rows", [])
    for r in rows:
        typer.echo(
            f"{r['date']}: {r['outcome']} — {r['users_complete']} of {r['active_users']} active "
            f"users complete, {r['assignments']} assignments ({r['assignments_added']} new), "
            f"{r['seconds']} s"
        )
    if not state.is_completed():
        from daglig.terminal import report

        exc = result if isinstance(result, BaseException) else RuntimeError(state.message or "")
        raise typer.Exit(report(exc, prefix="backfill failed: "))


@app.command("health-check")
def health_check(
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check what a dry run needs (reading): a read-only database is then healthy.",
        ),
    ] = False,
) -> None:
    """Check the database can serve a run (exit 1 with the reason); writes nothing."""
    from daglig.config import Settings
    from daglig.io.db import make_engine, sqlite_file
    from daglig.io.store import HealthCheckFailed, check_health
    from daglig.terminal import report

    settings = Settings()
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        typer.echo(
            f"unhealthy: no SQLite database at {path} — check DATABASE_URL "
            "(`daglig simulate` creates a demo database)",
            err=True,
        )
        raise typer.Exit(1)
    engine = make_engine(settings.database_url, read_only=True)
    try:
        found = check_health(
            engine, settings.safe_database_url(), create_missing=False, for_write=not dry_run
        )
    except HealthCheckFailed as exc:
        raise typer.Exit(report(exc, prefix="unhealthy: ")) from None
    finally:
        engine.dispose()
    missing = (
        f"; pipeline tables to create on first run: {', '.join(found.missing_pipeline_tables)}"
        if found.missing_pipeline_tables
        else ""
    )
    read_only = (
        f"; read-only ({found.read_only}): only dry runs can work" if found.read_only else ""
    )
    typer.echo(f"healthy: {found.database} ({found.backend}){missing}{read_only}")


@learner_app.command("show")
def learner_show(
    user_id: Annotated[int, typer.Argument(min=1, help="The user's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")] = False,
) -> None:
    """A learner's weak areas and skill assessment, from the last night's assessment (what
    the app's learner service and GET /api/ml/users/ID/… answer)."""
    import json

    from daglig.config import Settings
    from daglig.io.learner_service import LearnerService, NotAssessed

    settings = Settings()
    require_database(settings)
    service = LearnerService(settings.database_url, settings.assessment_dir)
    try:
        a = service.assessment(user_id)
    except NotAssessed as exc:
        raise BadInput(str(exc)) from None
    finally:
        service.close()
    if as_json:
        typer.echo(json.dumps(a, indent=2, ensure_ascii=False))
        return
    typer.echo(
        f"user {user_id}, assessed on the night of {a['assessed_on']} "
        f"(learner model {a['model_version']})"
    )
    typer.echo(f"weak areas: {', '.join(a['weak_areas']) or 'none'}")
    typer.echo(
        f"overall skill {a['overall_skill_level']:.2f}, confidence {a['confidence_level']:.2f} "
        f"({a['total_practice_questions']:,} practice questions), "
        f"exam readiness {100 * a['exam_readiness']:.0f} %"
    )
    typer.echo("categories, weakest first:")
    width = max((len(c["category"]) for c in a["categories"]), default=0)
    for c in a["categories"]:
        gap = "  never practised" if c["is_gap"] else ""
        typer.echo(
            f"  {c['category'].ljust(width)}  mastery {c['mastery']:.2f}  "
            f"{c['answers']:>5,} answers{gap}"
        )


@app.command()
def demo(
    users: Annotated[int, typer.Option(help="How many simulated learners.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Overwrite DATABASE_URL even when it is not the demo's own database "
            "(data/daglig.db, which the demo always replaces) and holds data.",
        ),
    ] = False,
) -> None:
    """Simulate learners into the default SQLite database and run tonight's job on it."""
    import polars as pl

    from daglig.config import Settings
    from daglig.io.db import read_frame
    from simulator import simulate as run_simulation

    settings = Settings()
    own = settings.database_url == Settings.model_fields["database_url"].default
    held = _refuse_to_overwrite(settings.database_url, settings.safe_database_url(), replace or own)
    if held:
        what = "the demo's own database" if own else "the database"
        typer.echo(f"replacing {what} {settings.safe_database_url()} (it held {_holdings(held)})")
    today = _today(settings.timezone)
    t0 = time.perf_counter()
    s = run_simulation(
        settings.database_url, users=users, seed=seed, end_date=today - timedelta(days=1)
    )
    typer.echo(
        f"simulated {s.users} learners ({s.active_users} active), {s.answers} answers "
        f"into {settings.safe_database_url()} in {time.perf_counter() - t0:.1f} s"
    )
    with flow_session():
        from flows.daily_challenges import generate_daily_challenges

        _ensure_model(today)
        state = generate_daily_challenges(run_date=today, return_state=True)
        result = state.result(raise_on_failure=False)
    if not state.is_completed() or not isinstance(result, dict):
        raise typer.Exit(_run_failed(result, state, settings))
    _echo_summary(result)
    per_user = read_frame(
        settings.database_url,
        "read/assignments_per_user",
        {"challenge_date": today},
        {"user_id": pl.Int64, "is_active": pl.Boolean, "assignments": pl.Int64},
    )
    active_counts = per_user.filter(pl.col("is_active"))["assignments"].unique().sort().to_list()
    inactive_with = per_user.filter(~pl.col("is_active") & (pl.col("assignments") > 0)).height
    typer.echo(
        f"check: assignments per active user {', '.join(map(str, active_counts)) or 'none'}; "
        f"inactive users with assignments: {inactive_with}"
    )
    typer.echo(f"The summary email went to {result.get('email')}")
    if result["status"] != "ok":
        sys.exit(1)


if __name__ == "__main__":
    app()
