"""The read step: ``read-answer-log`` streams the answer log once from the database (ADBC →
Arrow, only the columns used) into one folder of Parquet parts per shard, with the small
tables (users, questions, yesterday's assignments, the recent quiz sessions for the
struggle signals, completed exams) beside it, and for the
learner model the past assignments, read once: the type mix's and the completion model's
outcome histories are both built from that one read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from daglig import night_path
from daglig.config import SessionLimits, Settings
from daglig.io import state_store
from daglig.io.db import engine_of, read_frame, stream_answer_log
from daglig.io.identity import read_identity
from daglig.io.run_folder import RunFile, RunFolder
from daglig.io.shard_files import partition_to_parquet
from daglig.learner.completion import ASSIGNMENTS_SCHEMA, HISTORY_DAYS, outcome_history
from daglig.learner.examples import EXAMS_SCHEMA
from daglig.learner.outcomes import type_outcomes, type_rates
from daglig.learner.struggle import SESSION_WINDOW_DAYS, SESSIONS_SCHEMA
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
    # full or incremental, and why (daglig/night_path.py); the carried state folded into
    path: night_path.NightPath = night_path.full("no_state", "no carried state yet")
    prior: Path | None = None
    identity: str | None = None
    questions_fingerprint: str = ""
    max_attempt_id: int = 0  # the largest attempt id read tonight (0: none)
    sessions: Path | None = None  # quiz sessions of the struggle window, with their shard
    exam_paths: Path | None = None  # the learners' exam paths in force (learner runs)


@io_task("read-answer-log")
def read_answer_log(
    settings: Settings,
    run_date: date,
    user_ids: list[int] | None,
    folder: Path,
    shards: int | None = None,
    learner: bool = False,
    force_full: bool = False,
) -> ShardPlan:
    """Users, questions, yesterday's assignments (and completed exams for the learner
    model) and the answer log before the day's cutoff, split by shard into ``folder``:
    the whole log on a full night, only the answers the carried state does not hold on an
    incremental one (:func:`night_path.choose_path` decides; ``force_full``: ``--full``)."""
    url = settings.database_url
    limits = settings.session_limits()
    cutoff = day_cutoff(run_date, settings.timezone)
    shape = inspect_database(url, limits)
    users = with_preferred_language(
        read_frame(url, "read/users", {"cutoff": cutoff}, USERS_SCHEMA, limits),
        url,
        cutoff,
        limits,
        shape,
    )
    if user_ids is not None:
        users = users.filter(pl.col("user_id").is_in(user_ids))
    n = shard_count(users.height, settings.shard_users, shards)
    questions = read_frame(url, "read/questions", None, QUESTIONS_SCHEMA, limits)
    previous = _previous(url, run_date, limits, shape)
    wanted = None if user_ids is None else pl.Series(user_ids, dtype=pl.Int64).implode()
    identity = shape.identity
    qprint = night_path.questions_fingerprint(questions)
    found = state_store.newest(settings.state_dir, identity, cutoff.isoformat())
    path = night_path.choose_path(
        None if found is None else found[1],
        run_date=run_date,
        cutoff=cutoff,
        identity=identity,
        schema=carried_schema(),
        shards=n,
        questions=qprint,
        force_full=force_full,
        some_users=user_ids is not None,
        max_age_days=settings.state_max_age_days,
        full_every_days=settings.full_every_days,
    )
    if path.incremental:
        path = _check_prior(url, limits, path, users, found[0] if found else None)

    def batches() -> Any:
        if path.incremental:
            assert path.prior is not None
            yield _unfolded(url, limits, path.prior, cutoff)
            return
        for b in stream_answer_log(url, cutoff, limits):
            yield b if wanted is None else b.filter(pl.col("user_id").is_in(wanted))

    written = partition_to_parquet(batches(), n, RunFolder(folder).answers)
    rows, max_id = written.rows, written.max_attempt_id
    if path.incremental and path.prior is not None:
        max_id = max(max_id, path.prior.max_attempt_id)
    after = read_frame(url, "read/attempts_after_cutoff", {"cutoff": cutoff}, limits=limits)
    sessions = read_frame(
        url,
        "read/recent_sessions",
        {"since": cutoff - timedelta(days=SESSION_WINDOW_DAYS), "cutoff": cutoff},
        SESSIONS_SCHEMA,
        limits,
    )
    exams = outcomes = rates = history = paths = None
    if learner:
        # the HISTORY_DAYS before the night: at the type mix's 14-day half-life an
        # assignment 90 days old weighs 1 %
        since = run_date - timedelta(days=HISTORY_DAYS)
        past = past_assignments(url, since, run_date, limits, shape)
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
        paths = save(
            with_shard(exam_paths_in_force(url, run_date, limits, shape), n),
            folder,
            RunFile.EXAM_PATHS,
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
        path=path,
        prior=found[0] if found is not None and path.incremental else None,
        identity=identity,
        questions_fingerprint=qprint,
        max_attempt_id=max_id,
        sessions=save(with_shard(sessions, n), folder, RunFile.RECENT_SESSIONS),
        exam_paths=paths,
    )
    count_rows(plan.answers_read, n)
    return plan


def carried_schema() -> str:
    """The fingerprint of the carried tables' meaning (their schemas and the constants
    their sums are made with)."""
    from daglig.answer_tallies import TALLIES_SCHEMA
    from daglig.learner import examples
    from daglig.learner.evidence_state import EVIDENCE_SCHEMA
    from daglig.user_features import MAX_SECONDS_PER_ANSWER

    return night_path.feature_schema(
        TALLIES_SCHEMA,
        EVIDENCE_SCHEMA,
        examples.HALF_LIVES_DAYS,
        examples.LAST_K,
        examples.EV_HALF_LIFE_DAYS,
        examples.DIFFICULTY_BINS,
        MAX_SECONDS_PER_ANSWER,
    )


def _check_prior(
    url: str,
    limits: SessionLimits | None,
    path: night_path.NightPath,
    users: pl.DataFrame,
    state: Path | None,
) -> night_path.NightPath:
    """The doubts only the database can settle: answers deleted or inserted beneath the
    state, an account whose creation time moved."""
    assert path.prior is not None and state is not None
    counted = read_frame(
        url,
        "read/answers_under_state",
        {"max_id": path.prior.max_attempt_id, "state_cutoff": path.prior.cutoff},
        limits=limits,
    )
    path = night_path.check_counts(
        path, int(counted["below_max"][0]), int(counted["below_max_after_cutoff"][0])
    )
    if path.incremental:
        moved = night_path.changed_accounts(pl.read_parquet(state_store.users_file(state)), users)
        if moved:
            return night_path.full("accounts", f"{moved:,} account(s) changed their creation time")
    return path


def _unfolded(
    url: str, limits: SessionLimits | None, prior: night_path.CarriedManifest, cutoff: datetime
) -> pl.DataFrame:
    """The answers before ``cutoff`` the carried state does not hold, with
    ``dup_of_carried`` (sql/read/answers_since_state.sql). One day's answers: fetched whole
    (a query with bind parameters is not streamed, see sql/read/answer_log.sql)."""
    from daglig.user_features import ATTEMPTS_SCHEMA

    return read_frame(
        url,
        "read/answers_since_state",
        {"cutoff": cutoff, "state_cutoff": prior.cutoff, "max_id": prior.max_attempt_id},
        {**ATTEMPTS_SCHEMA, "dup_of_carried": pl.Boolean},
        limits,
    )


@dataclass(frozen=True, slots=True)
class DatabaseShape:
    """What the night needs to know of the database before it reads: its identity (None
    before anything was trained on it), whether ``users`` has the optional
    ``preferred_language`` column, and whether the pipeline's tables exist yet."""

    identity: str | None
    language_column: bool
    pipeline_tables: bool
    exam_paths_table: bool = False


def inspect_database(url: str, limits: SessionLimits | None) -> DatabaseShape:
    """The database's shape, from one connection and one inspection."""
    from sqlalchemy import inspect

    with engine_of(url, limits) as engine:
        found = inspect(engine)
        language = found.has_table("users") and any(
            c["name"] == "preferred_language" for c in found.get_columns("users")
        )
        return DatabaseShape(
            identity=read_identity(engine),
            language_column=language,
            pipeline_tables=found.has_table("user_daily_challenges"),
            exam_paths_table=found.has_table("learner_exam_paths"),
        )


def with_preferred_language(
    users: pl.DataFrame,
    url: str,
    cutoff: datetime,
    limits: SessionLimits | None = None,
    shape: DatabaseShape | None = None,
) -> pl.DataFrame:
    """The users with the app's optional ``users.preferred_language`` filled in where the
    table has the column (sql/read/user_languages.sql: only the learners who set one);
    without it the column stays NULL, which means Bokmål (the contract, docs/contract.md).
    ``shape``: the database as already inspected (else inspected here)."""
    if not (shape or inspect_database(url, limits)).language_column:
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


def past_assignments(
    url: str,
    since: date,
    as_of: date,
    limits: SessionLimits | None = None,
    shape: DatabaseShape | None = None,
) -> pl.DataFrame:
    """The assignments of ``since`` ≤ challenge date < ``as_of`` with what was asked and
    their outcomes (sql/read/past_assignments.sql: the one read of them, for the night and
    for training); none before the pipeline tables exist (a new install). ``shape``: the
    database as already inspected (else inspected here)."""
    if not (shape or inspect_database(url, limits)).pipeline_tables:
        return pl.DataFrame(schema=ASSIGNMENTS_SCHEMA)
    return read_frame(
        url, "read/past_assignments", {"since": since, "as_of": as_of}, ASSIGNMENTS_SCHEMA, limits
    )


def exam_paths_in_force(
    url: str, run_date: date, limits: SessionLimits | None, shape: DatabaseShape
) -> pl.DataFrame:
    """The learners' exam paths in force on ``run_date`` (sql/read/exam_paths.sql:
    plan_start < run_date ≤ plan_start + 6); none before the table exists (a new install,
    or a dry run on a database from before it)."""
    from daglig.learner.exam_path import PATH_DAYS, PLAN_SCHEMA

    if not shape.exam_paths_table:
        return pl.DataFrame(schema=PLAN_SCHEMA)
    return read_frame(
        url,
        "read/exam_paths",
        {"run_date": run_date, "earliest": run_date - timedelta(days=PATH_DAYS - 1)},
        PLAN_SCHEMA,
        limits,
    )


def _previous(
    url: str, run_date: date, limits: SessionLimits, shape: DatabaseShape
) -> pl.DataFrame:
    if not shape.pipeline_tables:
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
