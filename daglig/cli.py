"""The ``daglig`` command line: demo, simulate, run, health-check."""

from __future__ import annotations

import sys
import time
from datetime import date, datetime, timedelta
from typing import Annotated
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
    for problem in result.get("settings_problems", []):
        typer.echo(f"setting ignored: {problem}")
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
) -> None:
    """Write a simulated app database (users, questions, quiz sessions, answers) to DATABASE_URL."""
    from daglig.config import Settings
    from simulator import simulate as run_simulation

    settings = Settings()
    end = end_date.date() if end_date else _today(settings.timezone) - timedelta(days=1)
    t0 = time.perf_counter()
    s = run_simulation(
        settings.database_url,
        users=users,
        seed=seed,
        end_date=end,
        history_days=history_days,
        answers_per_user=answers_per_user,
    )
    typer.echo(
        f"simulated {s.users} users ({s.active_users} active), {s.answers} answers, "
        f"{s.sessions} quiz sessions up to {end} into {settings.safe_database_url()} "
        f"in {time.perf_counter() - t0:.1f} s"
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
) -> None:
    """Run the nightly job once, for one date."""
    from flows.daily_challenges import generate_daily_challenges

    try:
        result = generate_daily_challenges(
            run_date=run_date.date() if run_date else None,
            force=force,
            dry_run=dry_run,
            user_ids=list(user_id) if user_id else None,
        )
    except Exception as exc:
        typer.echo(
            f"run failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            err=True,
        )
        raise typer.Exit(1) from None
    _echo_summary(result)


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
