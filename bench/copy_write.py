"""The day's write, two ways, on one PostgreSQL database (issue 16, item 5).

``python -m bench copy-write --database-url postgresql+psycopg://…/copy_100k --night DIR``
takes one night's rendered files (``DIR/challenges.parquet`` and the shards'
``assignments_keyed*.parquet``, as a run folder holds them) and writes them for a date
with no rows, alternately through today's staging + ``INSERT … ON CONFLICT``
(``write_day(copy_when_empty=False)``) and through COPY straight into the final tables
(the default for such a date). Before each run the date's rows are deleted and both
tables vacuumed, so every run starts from the same table. ``--history N`` first writes
the same night for the N days before, so the tables are as big as N nights make them.

Each run is timed around ``write_day`` (lock, check, COPY or staging and upsert, commit);
the frames are read before the clock starts. After each run the date's rows are
fingerprinted (user, slot, content_key, reason, progress, completed_at, assigned_at and
the challenge's columns: ids are generated, so not compared) and every run must match the
first. Into ``bench/results/copy-write-<N>.json``.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import text

from daglig.io.db import make_engine
from daglig.io.store import write_day
from models import create_pipeline_tables

FINGERPRINT = """
SELECT COUNT(*), md5(string_agg(concat_ws('|', u.user_id, u.slot, d.content_key, u.reason,
       u.progress, u.completed_at, u.assigned_at, d.challenge_type, d.category, d.title,
       d.description, d.target_value, d.difficulty, d.xp_reward, d.bonus_xp, d.source,
       d.created_at), ',' ORDER BY u.user_id, u.slot))
FROM user_daily_challenges u JOIN daily_challenges d ON d.id = u.challenge_id
WHERE u.challenge_date = :d
"""


def _night(folder: Path) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    challenges = pl.read_parquet(folder / "challenges.parquet")
    shards = sorted(folder.glob("**/assignments_keyed*.parquet")) or sorted(
        p for p in folder.glob("*.parquet") if p.name != "challenges.parquet"
    )
    frames = [
        pl.read_parquet(p, columns=["user_id", "slot", "content_key", "reason"]) for p in shards
    ]
    return challenges, frames


def _reset(url: str, day: date) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            # the day's assignments go first, so its challenges are unreferenced; skip the
            # foreign-key check of each deleted challenge (user_daily_challenges.challenge_id
            # has no index: a scan of the table per challenge, minutes at 1M rows)
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(
                text("DELETE FROM user_daily_challenges WHERE challenge_date = :d"), {"d": day}
            )
            conn.execute(text("DELETE FROM daily_challenges WHERE challenge_date = :d"), {"d": day})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) user_daily_challenges, daily_challenges"))
            conn.execute(text("CHECKPOINT"))
    finally:
        engine.dispose()


def copy_write_bench(url: str, night: Path, day: date, runs: int, history: int) -> dict[str, Any]:
    challenges, frames = _night(night)
    engine = make_engine(url)
    create_pipeline_tables(engine)
    at = datetime(day.year, day.month, day.day) - timedelta(hours=2)

    def write(d: date, copy: bool) -> Any:
        return write_day(
            engine,
            d,
            challenges,
            iter(frames),
            force=False,
            challenges_per_user=3,
            written_at=at,
            copy_when_empty=copy,
        )

    for back in range(history, 0, -1):
        prior = day - timedelta(days=back)
        _reset(url, prior)
        write(prior, True)
    seconds: dict[str, list[float]] = {"upsert": [], "copy": []}
    counts: dict[str, dict[str, Any]] = {}
    prints: set[tuple[Any, ...]] = set()
    order = ["upsert", "copy"] * runs
    for path in order:
        _reset(url, day)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        c = write(day, path == "copy")
        seconds[path].append(round(time.perf_counter() - t0, 3))
        assert c.path == path, (c.path, path)
        counts[path] = asdict(c)
        with engine.connect() as conn:
            prints.add(tuple(conn.execute(text(FINGERPRINT), {"d": day}).one()))
        print(f"{path:6} {seconds[path][-1]:7.3f} s  load {load:.2f}", flush=True)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        table_rows = conn.execute(text("SELECT COUNT(*) FROM user_daily_challenges")).scalar_one()
    engine.dispose()
    same_counts = {k: v for k, v in counts["upsert"].items() if k != "path"} == {
        k: v for k, v in counts["copy"].items() if k != "path"
    }
    med = {k: statistics.median(v) for k, v in seconds.items()}
    return {
        "scale": f"copy-write-{sum(f.height for f in frames)}",
        "run_date": day.isoformat(),
        "assignments": sum(f.height for f in frames),
        "challenges": challenges.height,
        "history_days": history,
        "user_daily_challenges_rows_after": table_rows,
        "database_mib": round(size / 2**20),
        "runs_each": runs,
        "order": "alternating, upsert first",
        "seconds": seconds,
        "median_seconds": med,
        "copy_over_upsert": round(med["copy"] / med["upsert"], 3),
        "counts": counts,
        "same_counts": same_counts,
        "same_rows": len(prints) == 1,
        "rows_fingerprint": list(next(iter(prints))) if len(prints) == 1 else sorted(prints),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "load_end": os.getloadavg(),
    }
