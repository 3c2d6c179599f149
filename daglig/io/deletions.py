"""Retention's deletions: never-started rows in the database, old run folders on disk
(which ones: the pure rules in ``daglig.cleanup``)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, inspect

from daglig.cleanup import CleanupCounts, expired_run_folders
from daglig.io.db import sql_statement


def delete_unstarted_before(engine: Engine, before: date) -> CleanupCounts:
    """Delete never-started assignments dated before ``before``, then the challenges of
    those dates that nothing references any more, and the exam paths planned before it.
    Nothing to do without pipeline tables."""
    tables = inspect(engine)
    if not tables.has_table("user_daily_challenges"):
        return CleanupCounts(before, 0, 0)
    paths = tables.has_table("learner_exam_paths")  # made by the first night that plans
    params = {"before": before}
    with engine.begin() as conn:
        assignments = conn.execute(sql_statement("write/cleanup_assignments"), params)
        challenges = conn.execute(sql_statement("write/cleanup_challenges"), params)
        plans = conn.execute(sql_statement("write/cleanup_exam_paths"), params) if paths else None
        return CleanupCounts(
            before,
            assignments.rowcount,
            challenges.rowcount,
            exam_path_rows_deleted=0 if plans is None else plans.rowcount,
        )


def delete_run_folders_before(runs_dir: Path, before: date) -> int:
    """Remove ``runs_dir/<YYYY-MM-DD>/`` folders dated before ``before``; other names are
    left alone. Returns how many were removed."""
    if not runs_dir.is_dir():
        return 0
    folders = [p.name for p in runs_dir.iterdir() if p.is_dir()]
    expired = expired_run_folders(folders, before)
    for name in expired:
        shutil.rmtree(runs_dir / name)
    return len(expired)
