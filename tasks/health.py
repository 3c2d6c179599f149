"""Health check: fail the run at once, with one line, when the database cannot serve it."""

from __future__ import annotations

from prefect.logging import get_run_logger

from daglig.config import Settings
from daglig.io.db import engine_of
from daglig.io.store import HealthReport, check_health, check_requested_users
from tasks.steps import count_rows, step_task


@step_task("check-health")
def check_database(settings: Settings, dry_run: bool) -> HealthReport:
    """Database reachable, contract tables present, settings readable. No retries: a
    failing health check should stop the run now, not in a minute."""
    with engine_of(settings.database_url) as engine:
        report = check_health(engine, settings.safe_database_url(), create_missing=not dry_run)
    if report.created_pipeline_tables:
        get_run_logger().info(
            "created pipeline tables: %s", ", ".join(report.created_pipeline_tables)
        )
    # rows in: the pipeline tables that were missing; out: those created
    count_rows(len(report.missing_pipeline_tables), len(report.created_pipeline_tables))
    return report


@step_task("check-users")
def check_users(settings: Settings, user_ids: list[int]) -> int:
    """A run for some users (``user_ids``) fails at once, with one line, when one of them
    does not exist (an inactive one is skipped and reported, as in a full run)."""
    with engine_of(settings.database_url) as engine:
        check_requested_users(engine, settings.safe_database_url(), user_ids, allow_inactive=True)
    count_rows(len(user_ids), len(user_ids))
    return len(user_ids)
