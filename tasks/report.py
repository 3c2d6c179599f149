"""Publish the run summary: a Prefect markdown artifact and the admins' email."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.logging import get_run_logger

from daglig.config import Settings
from daglig.notify import Delivery, deliver
from daglig.rendering import make_environment
from daglig.summary import RunSummary, compose_email, to_markdown


@task(name="publish-summary", cache_policy=NONE)
def publish_summary(summary: RunSummary) -> str:
    """The markdown artifact, keyed by run date so the UI shows each day's history."""
    md = to_markdown(summary)
    create_markdown_artifact(
        key=f"daily-challenges-{summary.run_date.isoformat()}",
        markdown=md,
        description=f"Daily challenges {summary.run_date.isoformat()}: {summary.status}",
    )
    get_run_logger().info("summary:\n%s", md)
    return md


@task(name="send-summary-email", retries=3, retry_delay_seconds=[2, 5, 15], cache_policy=NONE)
def send_summary_email(summary: RunSummary, settings: Settings) -> Delivery:
    msg = compose_email(summary, settings.email_from, settings.admin_emails, make_environment())
    d = deliver(
        msg,
        settings,
        f"daily-challenges-{summary.run_date.isoformat()}-{summary.status}",
        datetime.now(UTC),
    )
    get_run_logger().info("summary email delivered via %s to %s", d.channel, d.target)
    return d
