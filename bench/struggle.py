"""``python -m bench struggle --users N``: how often the struggle signals built so far fire
on N simulated learners (issue 17 item 2; ``daglig/learner/struggle.py``).

Simulates N learners into a temporary SQLite file (history ending the day before
``--date``), reads and cleans the answer log as the night does, makes the carried state's
two tables from it (tallies, evidence: the same functions a full night uses), reads the
recent quiz sessions (sql/read/recent_sessions.sql) and counts, among the active learners
with answers, how many each signal fires for (the trailing run of wrong answers, falling
accuracy, abandoned sessions, shorter sessions), and how many fire one, two or more. Into
``bench/results/struggle-<N>.json``.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

SIGNALS = ("wrong_run", "accuracy_drop", "abandoned", "shorter")


def struggle(users: int, seed: int, run_date: date) -> dict[str, Any]:
    from daglig.answer_tallies import tally
    from daglig.io.db import read_frame
    from daglig.learner.evidence_state import summarise_evidence
    from daglig.learner.struggle import (
        SESSION_WINDOW_DAYS,
        SESSIONS_SCHEMA,
        abandoned_sessions,
        accuracy_drop,
        shorter_sessions,
        wrong_run,
    )
    from daglig.user_features import (
        ATTEMPTS_SCHEMA,
        QUESTIONS_SCHEMA,
        USERS_SCHEMA,
        clean_attempts,
        day_cutoff,
    )
    from simulator import simulate

    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='daglig-bench-struggle-')) / 'bench.db'}"
    t0 = time.perf_counter()
    sim = simulate(url, users=users, seed=seed, end_date=run_date - timedelta(days=1))
    seconds = {"simulate": time.perf_counter() - t0}
    cutoff = day_cutoff(run_date)
    t = time.perf_counter()
    questions = read_frame(url, "read/questions", None, QUESTIONS_SCHEMA)
    attempts = read_frame(url, "read/attempts", {"cutoff": cutoff}, ATTEMPTS_SCHEMA)
    active = read_frame(url, "read/users", {"cutoff": cutoff}, USERS_SCHEMA).filter(
        pl.col("is_active")
    )
    clean = clean_attempts(attempts.lazy(), questions.lazy())[0].collect()
    since = cutoff - timedelta(days=SESSION_WINDOW_DAYS)
    sessions = read_frame(
        url, "read/recent_sessions", {"since": since, "cutoff": cutoff}, SESSIONS_SCHEMA
    ).lazy()
    seconds["read_and_clean"] = time.perf_counter() - t
    t = time.perf_counter()
    runs = wrong_run(summarise_evidence(clean.lazy(), cutoff), cutoff).collect()
    drops = accuracy_drop(tally(clean.lazy()), run_date).collect()
    abandoned = abandoned_sessions(sessions, cutoff).collect()
    shorter = shorter_sessions(sessions, cutoff).collect()
    seconds["signals"] = time.perf_counter() - t
    learners = (
        active.select("user_id")
        .join(runs, on="user_id", how="inner")
        .join(drops, on="user_id", how="left")
        .join(abandoned, on="user_id", how="left")
        .join(shorter, on="user_id", how="left")
        .with_columns(pl.col(f"{s}_fired").fill_null(False) for s in SIGNALS)
        .with_columns(fired=pl.sum_horizontal(pl.col(f"{s}_fired").cast(pl.Int32) for s in SIGNALS))
    )
    counts = learners.select(
        learners=pl.len(),
        **{s: pl.col(f"{s}_fired").sum() for s in SIGNALS},
        any_signal=(pl.col("fired") >= 1).sum(),
        two_or_more=(pl.col("fired") >= 2).sum(),
    ).row(0, named=True)
    run_lengths = (
        learners.group_by(pl.col("wrong_run").clip(0, 8).alias("wrong_run")).len().sort("wrong_run")
    )
    return {
        "scale": f"struggle-{users}",
        "backend": "sqlite",
        "users": users,
        "active_users": active.height,
        "answers": sim.answers,
        "sessions_read": sessions.select(pl.len()).collect().item(),
        "run_date": run_date.isoformat(),
        "counts": {k: int(v) for k, v in counts.items()},
        "trailing_wrong_run": {  # 8 means 8 or more
            str(r["wrong_run"]): int(r["len"]) for r in run_lengths.iter_rows(named=True)
        },
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }
