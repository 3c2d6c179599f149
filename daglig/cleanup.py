"""Retention: delete daily challenges and assignments that were never started once they
are older than ``retention_days`` (default 90), counted back from the run date.

Never deleted: an assignment with progress or a completion, a challenge that any
assignment still references, a manual (admin-made) challenge. One transaction: a
failure leaves everything as it was. Old run folders (``data/runs/<date>/``) past the
same retention are removed too. The rules are here (pure); the deletions are
``daglig.io.deletions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class CleanupCounts:
    """What one cleanup deleted: rows older than ``before``, and run folders."""

    before: date
    assignments_deleted: int
    challenges_deleted: int
    run_folders_deleted: int = 0
    exam_path_rows_deleted: int = 0  # learner_exam_paths rows of plans older than ``before``

    def as_dict(self) -> dict[str, int]:
        """The counts, for the run summary (the cutoff date is reported in a note)."""
        return {
            "assignments_deleted": self.assignments_deleted,
            "challenges_deleted": self.challenges_deleted,
            "run_folders_deleted": self.run_folders_deleted,
            "exam_path_rows_deleted": self.exam_path_rows_deleted,
        }


def retention_cutoff(run_date: date, retention_days: int) -> date:
    """The first challenge date kept: rows dated strictly before it may be deleted."""
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, got {retention_days}")
    return run_date - timedelta(days=retention_days)


def expired_run_folders(names: list[str], before: date) -> list[str]:
    """The run folder names (``YYYY-MM-DD``) dated before ``before``, sorted; other names
    are not run folders and never expire."""
    expired = []
    for name in sorted(names):
        try:
            day = date.fromisoformat(name)
        except ValueError:
            continue
        if day < before:
            expired.append(name)
    return expired
