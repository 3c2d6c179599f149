"""The I/O floor: what a nightly run cannot go below on this database.

Only the unavoidable work, measured: read the answer log's needed columns (ADBC → Arrow,
as the run does), aggregate it per (user, category) in DuckDB, and write as many rows as
the run writes (staging COPY + ``INSERT … ON CONFLICT`` in one transaction, into a
scratch table that is dropped afterwards). The run is compared with this (issue 7's
"within 3× of the I/O floor").
"""

from __future__ import annotations

import io
import time
from datetime import date
from typing import Any

import duckdb
import polars as pl

from daglig.io.db import make_engine, read_frame, stream_answer_log
from daglig.night_path import CarriedManifest
from daglig.user_features import ATTEMPTS_SCHEMA, QUESTIONS_SCHEMA, day_cutoff

SINK_DDL = (
    "CREATE TABLE IF NOT EXISTS io_floor_sink (user_id BIGINT, challenge_date DATE, "
    "slot SMALLINT, reason TEXT, PRIMARY KEY (user_id, challenge_date, slot))"
)
STAGE_DDL = (
    "CREATE TEMP TABLE io_floor_stage (user_id BIGINT, challenge_date DATE, slot SMALLINT, "
    "reason TEXT) ON COMMIT DROP"
)
UPSERT = (
    "INSERT INTO io_floor_sink SELECT * FROM io_floor_stage "
    "ON CONFLICT (user_id, challenge_date, slot) DO NOTHING"
)


def incremental_floor(
    url: str, run_date: date, prior: CarriedManifest, rows_to_write: int
) -> dict[str, Any]:
    """An incremental night's floor: read the answers the carried state ``prior`` does not
    hold (the night's own query, sql/read/answers_since_state.sql) and write as many rows
    as the night wrote."""
    t0 = time.perf_counter()
    attempts = read_frame(
        url,
        "read/answers_since_state",
        {
            "cutoff": day_cutoff(run_date),
            "state_cutoff": prior.cutoff,
            "max_id": prior.max_attempt_id,
        },
        {**ATTEMPTS_SCHEMA, "dup_of_carried": pl.Boolean},
    )
    read = time.perf_counter() - t0
    write = _write_rows(url, run_date, rows_to_write)
    return {
        "answers": attempts.height,
        "rows_written": rows_to_write,
        "seconds": {"read": round(read, 2), "write": round(write, 2)},
        "total_seconds": round(read + write, 2),
    }


def io_floor(url: str, run_date: date, rows_to_write: int) -> dict[str, Any]:
    """Seconds to read, aggregate and write (PostgreSQL only: the run's target)."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    cutoff = day_cutoff(run_date)
    # streamed as the run streams it (a query without bind parameters goes through COPY)
    attempts = pl.concat(list(stream_answer_log(url, cutoff)))
    questions = read_frame(url, "read/questions", None, QUESTIONS_SCHEMA)
    seconds["read"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    con = duckdb.connect()
    con.register("a", attempts.select("user_id", "question_id", "is_correct").to_arrow())
    con.register("q", questions.select("question_id", "category").to_arrow())
    agg = con.sql(
        "SELECT a.user_id, q.category, COUNT(*) AS n, SUM(a.is_correct::INT) AS c "
        "FROM a JOIN q USING (question_id) GROUP BY ALL"
    ).to_arrow_table()
    con.close()
    seconds["aggregate"] = time.perf_counter() - t1

    users = max(1, rows_to_write // 3)
    seconds["write"] = _write_rows(url, run_date, rows_to_write)
    return {
        "answers": attempts.height,
        "user_categories": agg.num_rows,
        "rows_written": rows_to_write,
        "users_written": users,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "total_seconds": round(sum(seconds.values()), 2),
    }


def _write_rows(url: str, run_date: date, rows_to_write: int) -> float:
    """Seconds to write ``rows_to_write`` assignment-like rows: staging COPY + upsert."""
    t2 = time.perf_counter()
    out = pl.DataFrame(
        {
            "user_id": pl.int_range(0, rows_to_write, eager=True) // 3 + 1,
            "challenge_date": [run_date] * rows_to_write,
            "slot": (pl.int_range(0, rows_to_write, eager=True) % 3 + 1).cast(pl.Int16),
            "reason": ['{"selector":"ml","weak_areas":[],"model_version":"x"}'] * rows_to_write,
        }
    )
    buf = io.BytesIO()
    out.write_csv(buf, include_header=False)
    engine = make_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(SINK_DDL)
            cur.execute(STAGE_DDL)
            with cur.copy("COPY io_floor_stage FROM STDIN (FORMAT csv)") as copy:  # type: ignore[attr-defined]
                copy.write(buf.getvalue())
            cur.execute(UPSERT)
            raw.commit()
            cur.execute("DROP TABLE io_floor_sink")
            raw.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()
    return time.perf_counter() - t2
