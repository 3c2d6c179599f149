"""Retention cleanup: delete never-started challenges older than the retention."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from daglig.cleanup import CleanupCounts, retention_cutoff
from daglig.config import Settings
from daglig.io.db import engine_of
from daglig.io.deletions import delete_run_folders_before, delete_unstarted_before
from tasks.retry import io_task
from tasks.steps import count_rows


@io_task("cleanup-expired")
def cleanup_expired(settings: Settings, run_date: date) -> CleanupCounts:
    """Assignments and challenges dated more than ``settings.retention_days`` before
    ``run_date`` that nobody started → deleted; old run folders → removed."""
    before = retention_cutoff(run_date, settings.retention_days)
    with engine_of(settings.database_url, settings.session_limits()) as engine:
        counts = delete_unstarted_before(engine, before)
    counts = replace(
        counts, run_folders_deleted=delete_run_folders_before(settings.runs_dir, before)
    )
    count_rows(counts.assignments_deleted + counts.challenges_deleted, 0)
    return counts
