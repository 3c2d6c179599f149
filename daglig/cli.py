"""The ``daglig`` command line: demo, simulate, run, train, health-check."""

from __future__ import annotations

import sys
import time
from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import typer

from daglig.prefect_env import apply_offline_settings

app = typer.Typer(
    name="daglig",
    help="Personalised daily challenges for every active learner, every night.",
    no_args_is_help=True,
    add_completion=False,
)

apply_offline_settings()  # before anything imports prefect

from daglig.admin.cli import admin_app  # noqa: E402 (after the offline settings)

app.add_typer(admin_app, name="admin")


def _today(tz: str = "Europe/Oslo") -> date:
    return datetime.now(ZoneInfo(tz)).date()


def _echo_summary(result: dict) -> None:  # type: ignore[type-arg]
    typer.echo(
        f"{result['run_date']}: {result['status']} — {result['users_served']} of "
        f"{result['users_active']} active users served, {result['assignments']} assignments "
        f"({result['distinct_challenges']} distinct); by source {result['by_source']}"
    )
    if result.get("written"):
        typer.echo(f"written: {result['written']}")
    for note in result.get("notes", []):
        typer.echo(f"note: {note}")
    if result.get("ml_status") == "fallback":
        typer.echo(f"note: learner model not used: {result.get('ml_reason')}")
    for problem in result.get("settings_problems", []):
        typer.echo(f"settings problem: {problem}")
    typer.echo(f"summary email: {result.get('email')}")


@app.command()
def simulate(
    users: Annotated[int, typer.Option(help="How many learners.")] = 2000,
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
) -> None:
    """Write a simulated app database (users, questions, quiz sessions, answers) to DATABASE_URL."""
    from daglig.config import Settings
    from simulator import simulate as run_simulation

    settings = Settings()
    end = end_date.date() if end_date else _today(settings.timezone) - timedelta(days=1)
    if days:
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


def _play(settings: object, users: int, seed: int, start: date, days: int) -> None:
    """``simulate --days``: history up to the day before ``start``, then ``days`` days of
    nightly runs and learners acting on them; prints ML vs holdout, saves the JSON."""
    import json

    from daglig.config import Settings
    from simulator.days import DayResult, play_days

    assert isinstance(settings, Settings)

    def progress(d: DayResult) -> None:
        typer.echo(
            f"{d.day}: nightly {d.flow_seconds:.1f} s (ML {d.ml_status}), "
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
    for label, d in (
        ("completion per learner", r.completion),
        ("weak-category mastery gain", r.weak_mastery_gain),
        ("answers in weak categories", r.weak_answers_per_user),
    ):
        if "ci_low" in d:
            typer.echo(
                f"{label}: ML {d['ml']:.4f} vs holdout {d['holdout']:.4f}, difference "
                f"{d['diff']:+.4f} (95 % CI {d['ci_low']:+.4f} .. {d['ci_high']:+.4f})"
            )
    typer.echo(f"saved {out}")


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
            envvar="DAGLIG_DASK_ADDRESS",
            help="Scheduler of an existing Dask cluster, e.g. tcp://host:8786 (implies "
            "--task-runner dask). Unset: a local cluster of --dask-workers processes.",
        ),
    ] = None,
    dask_workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes of the local Dask cluster.")
    ] = 2,
    shards: Annotated[
        int | None,
        typer.Option(min=1, help="Split the users into this many shards (default: by count)."),
    ] = None,
) -> None:
    """Run the nightly job once, for one date."""
    from contextlib import nullcontext

    from daglig.runners import api_reachable_from_workers
    from daglig.runners import task_runner as make_task_runner
    from flows.daily_challenges import generate_daily_challenges

    # an explicit --task-runner threads wins over a DAGLIG_DASK_ADDRESS in the environment
    kind = task_runner or ("dask" if dask_address else "threads")
    address = dask_address if kind == "dask" else None
    # threads: the flow's own runner (its thread count is bounded for memory)
    flow = (
        generate_daily_challenges.with_options(
            task_runner=make_task_runner(kind, address, dask_workers)
        )
        if kind == "dask"
        else generate_daily_challenges
    )
    try:
        # Dask workers are other processes: they need a Prefect API URL, not the
        # in-process temporary server (daglig/runners.py)
        with api_reachable_from_workers() if kind == "dask" else nullcontext() as api:
            if address and api and api.startswith("http://127.0.0.1:"):
                typer.echo(
                    f"note: task runs report to {api}; Dask workers on other machines need "
                    "PREFECT_API_URL set to a Prefect server they can reach"
                )
            result = flow(
                run_date=run_date.date() if run_date else None,
                force=force,
                dry_run=dry_run,
                user_ids=list(user_id) if user_id else None,
                no_ml=no_ml,
                cleanup=cleanup,
                shards=shards,
            )
    except Exception as exc:
        typer.echo(
            f"run failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            err=True,
        )
        raise typer.Exit(1) from None
    _echo_summary(result)
    if "shards" in result:
        workers = result.get("shard_workers") or []
        typer.echo(
            f"shards: {result['shards']} on {kind} ({len(workers)} worker process(es): "
            f"{', '.join(workers)})"
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
    """Train, validate and save the learner model; print its metrics against baselines."""
    from daglig.learner.training import metrics_markdown
    from flows.train_learner_model import train_learner_model

    try:
        result = train_learner_model(as_of=as_of.date() if as_of else None)
    except Exception as exc:
        typer.echo(f"training failed: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"learner model {result['version']} (answers up to {result['trained_as_of']}) of "
        f"{result['database_url']}, saved in {result['folder']}"
    )
    typer.echo(metrics_markdown(result["metrics"], result["n_test"]))


def _ensure_model(today: date) -> None:
    """Train once when there is no valid model for ``today`` (the demo shows ML)."""
    from daglig.config import Settings
    from daglig.learner.model_store import ModelUnavailable, load_model
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
        reason = result if isinstance(result, BaseException) else state.message
        typer.echo(f"backfill failed: {reason}", err=True)
        raise typer.Exit(1)


@app.command("health-check")
def health_check() -> None:
    """Check the database can serve a run; exit 1 with the reason when it cannot."""
    from daglig.config import Settings
    from daglig.db import make_engine
    from daglig.store import HealthCheckFailed, check_health

    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        report = check_health(engine, settings.safe_database_url(), create_missing=False)
    except HealthCheckFailed as exc:
        typer.echo(f"unhealthy: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    missing = (
        f"; pipeline tables to create on first run: {', '.join(report.missing_pipeline_tables)}"
        if (report.missing_pipeline_tables)
        else ""
    )
    typer.echo(f"healthy: {report.database} ({report.backend}){missing}")


@app.command()
def demo(
    users: Annotated[int, typer.Option(help="How many simulated learners.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
) -> None:
    """Simulate learners into the default SQLite database and run tonight's job on it."""
    import polars as pl

    from daglig.config import Settings
    from daglig.db import read_frame
    from flows.daily_challenges import generate_daily_challenges
    from simulator import simulate as run_simulation

    settings = Settings()
    today = _today(settings.timezone)
    t0 = time.perf_counter()
    s = run_simulation(
        settings.database_url, users=users, seed=seed, end_date=today - timedelta(days=1)
    )
    typer.echo(
        f"simulated {s.users} learners ({s.active_users} active), {s.answers} answers "
        f"into {settings.safe_database_url()} in {time.perf_counter() - t0:.1f} s"
    )
    _ensure_model(today)
    result = generate_daily_challenges(run_date=today)
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
        f"check: assignments per active user {active_counts}; "
        f"inactive users with assignments: {inactive_with}"
    )
    typer.echo(f"The summary email went to {result.get('email')}")
    if result["status"] != "ok":
        sys.exit(1)


if __name__ == "__main__":
    app()
