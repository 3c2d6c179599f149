"""Publish the run summary: a Prefect markdown artifact and the admins' email."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.message import EmailMessage

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.logging import get_run_logger

from daglig import markdown
from daglig.backfill import DayOutcome
from daglig.backfill_email import compose_backfill_email
from daglig.config import Settings
from daglig.notify import Delivery, deliver
from daglig.rendering import make_environment
from daglig.report_tables import count_tables
from daglig.summary import RunSummary, compose_email, to_markdown
from tasks.retry import io_task
from tasks.steps import count_rows, step_task


@step_task("publish-summary", timed=False)
def publish_summary(summary: RunSummary) -> str:
    """The markdown artifact and the count tables (by type, category, source), keyed by
    run date so the UI shows each day's history."""
    md = to_markdown(summary)
    create_markdown_artifact(
        key=f"daily-challenges-{summary.run_date.isoformat()}",
        markdown=md,
        description=f"Daily challenges {summary.run_date.isoformat()}: {summary.status}",
    )
    tables = count_tables(summary)
    for key, rows in tables.items():
        create_table_artifact(
            key=key,
            table=markdown.cells(rows),  # the UI renders string cells as markdown
            description=f"Assignments by {key.rsplit('-by-', 1)[1]} {summary.run_date.isoformat()}",
        )
    get_run_logger().info("summary:\n%s", md)
    count_rows(summary.assignments, 1 + sum(len(r) for r in tables.values()))
    return md


@io_task("send-summary-email", timed=False)
def send_summary_email(summary: RunSummary, settings: Settings) -> Delivery:
    msg = compose_email(summary, settings.email_from, settings.admin_emails, make_environment())
    d = _deliver(msg, settings, f"daily-challenges-{summary.run_date.isoformat()}-{summary.status}")
    count_rows(1, len(settings.admin_emails))
    return d


def _deliver(msg: EmailMessage, settings: Settings, key: str) -> Delivery:
    """Send (or file) ``msg`` under ``key`` and log where it went."""
    d = deliver(msg, settings, key, datetime.now(UTC))
    get_run_logger().info("%s delivered via %s to %s", key, d.channel, d.target)
    return d


@io_task("send-backfill-email", timed=False)
def send_backfill_email(
    start: date,
    end: date,
    outcomes: list[DayOutcome],
    settings: Settings,
    flow_run_url: str | None = None,
) -> Delivery:
    """The backfill's one email: the whole range, a row per date."""
    msg = compose_backfill_email(
        start,
        end,
        outcomes,
        settings.email_from,
        settings.admin_emails,
        make_environment(),
        flow_run_url,
    )
    failed = any(o.failed for o in outcomes)
    outcome = "failed" if failed else "ok"
    d = _deliver(msg, settings, f"backfill-{start.isoformat()}-to-{end.isoformat()}-{outcome}")
    count_rows(len(outcomes), len(settings.admin_emails))
    return d
