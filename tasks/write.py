"""Write the day into the app's database in one transaction: staging + upsert, or (on
PostgreSQL, a date with no rows yet) COPY straight into the tables."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from prefect.logging import get_run_logger

from daglig.config import Settings
from daglig.interrupt import guarded_commits
from daglig.io.db import engine_of
from daglig.io.store import WriteCounts, write_day
from tasks.render import RenderedRefs
from tasks.retry import io_task
from tasks.runs import mark_written
from tasks.steps import count_rows


@io_task("upsert-challenges")
def upsert_challenges(
    settings: Settings,
    run_date: date,
    refs: RenderedRefs,
    force: bool,
    challenges_per_user: int,
    run_row: int | None = None,
    exam_paths: tuple[Path, ...] = (),
) -> WriteCounts:
    """Write the day in one transaction. Its commit passes the interrupt gate
    (``daglig.interrupt``: after Ctrl-C no write starts committing) and takes the run's
    ``pipeline_runs`` row (``run_row``) to ``written`` in the same transaction, with the
    learners' exam paths planned tonight (``exam_paths``: one file per shard)."""
    challenges = pl.read_parquet(refs.challenges)
    # one shard's assignments in memory at a time, staged one after the other
    assignments = (
        pl.read_parquet(p, columns=["user_id", "slot", "content_key", "reason"])
        for p in refs.assignments
    )
    limits = settings.session_limits()
    with (
        engine_of(settings.database_url, limits) as engine,
        guarded_commits(
            engine, run_date, before_commit=lambda conn: mark_written(conn, run_row)
        ) as committed,
    ):
        counts = write_day(
            engine,
            run_date,
            challenges,
            assignments,
            force=force,
            challenges_per_user=challenges_per_user,
            # when the row was written: I/O metadata, not an input of any decision
            written_at=datetime.now(UTC).replace(tzinfo=None),
            limits=limits,
            log=get_run_logger(),
            exam_paths=_frames(exam_paths),
        )
        committed(asdict(counts))
    count_rows(counts.assignments_staged, counts.assignments_inserted)
    return counts


def _frames(paths: tuple[Path, ...]) -> Iterator[pl.DataFrame]:
    """One shard's file at a time."""
    for p in paths:
        yield pl.read_parquet(p)
