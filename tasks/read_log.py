"""The read step: ``read-answer-log`` streams the answer log once from the database (ADBC →
Arrow, only the columns used) into one folder of Parquet parts per shard, with the small
tables (users, questions, yesterday's assignments, completed exams) beside it, and for the
learner model the past assignments, read once: the type mix's and the completion model's
outcome histories are both built from that one read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from daglig.config import SessionLimits, Settings
from daglig.io.db import engine_of, read_frame, stream_answer_log
from daglig.io.run_folder import RunFile, RunFolder
from daglig.io.shard_files import partition_to_parquet
from daglig.learner.completion import ASSIGNMENTS_SCHEMA, HISTORY_DAYS, outcome_history
from daglig.learner.examples import EXAMS_SCHEMA
from daglig.learner.outcomes import type_outcomes, type_rates
from daglig.selection import PREVIOUS_SCHEMA
from daglig.shards import shard_count, with_shard
from daglig.user_features import QUESTIONS_SCHEMA, USERS_SCHEMA, day_cutoff
from tasks.common import save
from tasks.retry import io_task
from tasks.steps import count_rows


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """What ``read-answer-log`` wrote: the run folder, the shard count, every user and the
    small tables with their ``shard`` column, the answer log split per shard."""

    folder: Path
    shards: int
    cutoff: datetime
    users: Path
    questions: Path
    previous: Path
    exams: Path | None
    answers: Path
    answers_read: int
    answers_after_cutoff: int
    rows_per_shard: dict[int, int]
    type_outcomes: Path | None = None  # the learner model's: per (user, type) history
    type_rates: Path | None = None  # and per type, the population's completion rate
    outcome_history: Path | None = None  # the completion model's: per (user, type) history


@io_task("read-answer-log")
def read_answer_log(
    settings: Settings,
    run_date: date,
    user_ids: list[int] | None,
    folder: Path,
    shards: int | None = None,
    learner: bool = False,
) -> ShardPlan:
    """Users, questions, yesterday's assignments (and completed exams for the learner
    model) and the answer log before the day's cutoff, split by shard into ``folder``."""
    url = settings.database_url
    limits = settings.session_limits()
    cutoff = day_cutoff(run_date, settings.timezone)
    users = with_preferred_language(
        read_frame(url, "read/users", {"cutoff": cutoff}, USERS_SCHEMA, limits), url, cutoff, limits
    )
    if user_ids is not None:
        users = users.filter(pl.col("user_id").is_in(user_ids))
    n = shard_count(users.height, settings.shard_users, shards)
    questions = read_frame(url, "read/questions", None, QUESTIONS_SCHEMA, limits)
    previous = _previous(url, run_date, limits)
    wanted = None if user_ids is None else pl.Series(user_ids, dtype=pl.Int64).implode()

    def batches() -> Any:
        for b in stream_answer_log(url, cutoff, limits):
            yield b if wanted is None else b.filter(pl.col("user_id").is_in(wanted))

    rows = partition_to_parquet(batches(), n, RunFolder(folder).answers)
    after = read_frame(url, "read/attempts_after_cutoff", {"cutoff": cutoff}, limits=limits)
    exams = outcomes = rates = history = None
    if learner:
        # the HISTORY_DAYS before the night: at the type mix's 14-day half-life an
        # assignment 90 days old weighs 1 %
        past = past_assignments(url, run_date - timedelta(days=HISTORY_DAYS), run_date, limits)
        mix = type_outcomes(past, cutoff)
        outcomes = save(with_shard(mix, n), folder, RunFile.TYPE_OUTCOMES)
        rates = save(type_rates(mix), folder, RunFile.TYPE_RATES)
        history = save(
            with_shard(outcome_history(past.lazy(), run_date, cutoff).collect(), n),
            folder,
            RunFile.OUTCOME_HISTORY,
        )
        exams = save(
            with_shard(
                read_frame(url, "read/exam_sessions", {"cutoff": cutoff}, EXAMS_SCHEMA, limits), n
            ),
            folder,
            RunFile.EXAMS,
        )
    plan = ShardPlan(
        folder=folder,
        shards=n,
        cutoff=cutoff,
        users=save(with_shard(users, n), folder, RunFile.USERS),
        questions=save(questions, folder, RunFile.QUESTIONS),
        previous=save(with_shard(previous, n), folder, RunFile.PREVIOUS),
        exams=exams,
        answers=RunFolder(folder).answers,
        answers_read=sum(rows.values()),
        answers_after_cutoff=int(after["n"][0]) if after.height else 0,
        rows_per_shard=rows,
        type_outcomes=outcomes,
        type_rates=rates,
        outcome_history=history,
    )
    count_rows(plan.answers_read, n)
    return plan


def _has_language_column(url: str, limits: SessionLimits | None) -> bool:
    from sqlalchemy import inspect

    with engine_of(url, limits) as engine:
        return any(c["name"] == "preferred_language" for c in inspect(engine).get_columns("users"))


def with_preferred_language(
    users: pl.DataFrame, url: str, cutoff: datetime, limits: SessionLimits | None = None
) -> pl.DataFrame:
    """The users with the app's optional ``users.preferred_language`` filled in where the
    table has the column (sql/read/user_languages.sql: only the learners who set one);
    without it the column stays NULL, which means Bokmål (the contract, docs/contract.md)."""
    if not _has_language_column(url, limits):
        return users
    chosen = read_frame(
        url,
        "read/user_languages",
        {"cutoff": cutoff},
        {"user_id": pl.Int64, "preferred_language": pl.String},
        limits,
    )
    return (
        users.drop("preferred_language")
        .join(chosen, on="user_id", how="left", maintain_order="left")
        .select(users.columns)
    )


def _has_pipeline_tables(url: str, limits: SessionLimits | None) -> bool:
    from sqlalchemy import inspect

    with engine_of(url, limits) as engine:
        return inspect(engine).has_table("user_daily_challenges")


def past_assignments(
    url: str, since: date, as_of: date, limits: SessionLimits | None = None
) -> pl.DataFrame:
    """The assignments of ``since`` ≤ challenge date < ``as_of`` with what was asked and
    their outcomes (sql/read/past_assignments.sql: the one read of them, for the night and
    for training); none before the pipeline tables exist (a new install)."""
    if not _has_pipeline_tables(url, limits):
        return pl.DataFrame(schema=ASSIGNMENTS_SCHEMA)
    return read_frame(
        url, "read/past_assignments", {"since": since, "as_of": as_of}, ASSIGNMENTS_SCHEMA, limits
    )


def _previous(url: str, run_date: date, limits: SessionLimits) -> pl.DataFrame:
    if not _has_pipeline_tables(url, limits):
        return pl.DataFrame(schema=PREVIOUS_SCHEMA)
    return read_frame(
        url,
        "read/previous_assignments",
        {"previous_date": run_date - timedelta(days=1)},
        PREVIOUS_SCHEMA,
        limits,
    )


def of_shard(path: Path, shard: int) -> pl.DataFrame:
    """The rows of one shard from a Parquet file with a ``shard`` column."""
    return pl.scan_parquet(path).filter(pl.col("shard") == shard).drop("shard").collect()
