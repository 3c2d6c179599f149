"""Retention: delete daily challenges and assignments that were never started once they
are older than ``retention_days`` (default 90), counted back from the run date.

Never deleted: an assignment with progress or a completion, a challenge that any
assignment still references, a manual (admin-made) challenge. One transaction: a
failure leaves everything as it was. Old run folders (``data/runs/<date>/``) past the
same retention are removed too.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, inspect

from daglig import sql as sqlfiles


@dataclass(frozen=True, slots=True)
class CleanupCounts:
    """What one cleanup deleted: rows older than ``before``, and run folders."""

    before: date
    assignments_deleted: int
    challenges_deleted: int
    run_folders_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts, for the run summary (the cutoff date is reported in a note)."""
        return {
            "assignments_deleted": self.assignments_deleted,
            "challenges_deleted": self.challenges_deleted,
            "run_folders_deleted": self.run_folders_deleted,
        }


def retention_cutoff(run_date: date, retention_days: int) -> date:
    """The first challenge date kept: rows dated strictly before it may be deleted."""
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, got {retention_days}")
    return run_date - timedelta(days=retention_days)


def delete_unstarted_before(engine: Engine, before: date) -> CleanupCounts:
    """Delete never-started assignments dated before ``before``, then the challenges of
    those dates that nothing references any more. Nothing to do without pipeline tables."""
    if not inspect(engine).has_table("user_daily_challenges"):
        return CleanupCounts(before, 0, 0)
    params = {"before": before}
    with engine.begin() as conn:
        assignments = conn.execute(sqlfiles.statement("write/cleanup_assignments"), params)
        challenges = conn.execute(sqlfiles.statement("write/cleanup_challenges"), params)
        return CleanupCounts(before, assignments.rowcount, challenges.rowcount)


def delete_run_folders_before(runs_dir: Path, before: date) -> int:
    """Remove ``runs_dir/<YYYY-MM-DD>/`` folders dated before ``before``; other names are
    left alone. Returns how many were removed."""
    if not runs_dir.is_dir():
        return 0
    removed = 0
    for folder in sorted(runs_dir.iterdir()):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and day < before:
            shutil.rmtree(folder)
            removed += 1
    return removed
