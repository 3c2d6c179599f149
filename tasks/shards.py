"""The per-shard tasks of the nightly run, and the steps that fan them out and merge them.

``read-answer-log`` streams the answer log once from the database (ADBC → Arrow, only the
columns used) into one folder of Parquet parts per shard; then each shard is its own
task in every per-user step — ``extract-features``, ``assess-learners``,
``select-challenges``, ``key-challenges`` — submitted to the flow's task runner (threads
by default, Dask workers with ``--task-runner dask``). The number of Prefect tasks grows
with the number of shards, not of users; memory with the shard size. Tasks hand each other
paths in the run folder, never frames, so a shard task can run on another machine that
sees the same folder.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from prefect import task
from prefect.cache_policies import NONE
from prefect.futures import wait

from daglig.challenge_settings import ChallengeSettings
from daglig.challenges import distinct_challenges, with_content_key
from daglig.config import SessionLimits, Settings
from daglig.io.db import make_engine, read_frame, stream_answer_log
from daglig.io.shard_files import partition_to_parquet, read_shard
from daglig.learner.examples import EXAMS_SCHEMA
from daglig.quality import last_day_answers
from daglig.selection import PREVIOUS_SCHEMA, SelectionInputs, Selector
from daglig.shards import population_partials, shard_count, with_shard
from daglig.user_features import (
    ATTEMPTS_SCHEMA,
    QUESTIONS_SCHEMA,
    USERS_SCHEMA,
    day_cutoff,
    extract_features,
)
from tasks.common import failing_task, log_rows, save
from tasks.retry import RETRIES, RETRY_DELAYS, retry_if_transient

T = TypeVar("T")
R = TypeVar("R")


def worker_name() -> str:
    """Where a shard task ran: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def map_shards(fn: Any, items: Sequence[T], *args: Any) -> list[Any]:
    """Submit ``fn(item, *args)`` for every item to the flow's task runner and return the
    results in item order, after all have finished (the first failure is raised then)."""
    # Not wrapped in prefect's quote(): Dask turns its tuple subclass into a plain tuple
    # and the task gets ((value,),) (prefect-dask issue #43).
    futures = [fn.submit(item, *args) for item in items]
    wait(futures)
    with failing_task(fn.name):  # the summary names the shard task that failed
        return [f.result() for f in futures]


# ------------------------------------------------------------------------- the read


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


@task(
    name="read-answer-log",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_if_transient,
    cache_policy=NONE,
)
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
    t0 = time.perf_counter()
    url = settings.database_url
    limits = settings.session_limits()
    cutoff = day_cutoff(run_date, settings.timezone)
    users = read_frame(url, "read/users", {"cutoff": cutoff}, USERS_SCHEMA, limits)
    if user_ids is not None:
        users = users.filter(pl.col("user_id").is_in(user_ids))
    n = shard_count(users.height, settings.shard_users, shards)
    questions = read_frame(url, "read/questions", None, QUESTIONS_SCHEMA, limits)
    previous = _previous(url, run_date, limits)
    wanted = None if user_ids is None else pl.Series(user_ids, dtype=pl.Int64).implode()

    def batches() -> Any:
        for b in stream_answer_log(url, cutoff, limits):
            yield b if wanted is None else b.filter(pl.col("user_id").is_in(wanted))

    rows = partition_to_parquet(batches(), n, folder / "answers")
    after = read_frame(url, "read/attempts_after_cutoff", {"cutoff": cutoff}, limits=limits)
    exams = None
    if learner:
        exams = save(
            with_shard(
                read_frame(url, "read/exam_sessions", {"cutoff": cutoff}, EXAMS_SCHEMA, limits), n
            ),
            folder,
            "exams",
        )
    plan = ShardPlan(
        folder=folder,
        shards=n,
        cutoff=cutoff,
        users=save(with_shard(users, n), folder, "users"),
        questions=save(questions, folder, "questions"),
        previous=save(with_shard(previous, n), folder, "previous"),
        exams=exams,
        answers=folder / "answers",
        answers_read=sum(rows.values()),
        answers_after_cutoff=int(after["n"][0]) if after.height else 0,
        rows_per_shard=rows,
    )
    log_rows("read-answer-log", plan.answers_read, n, time.perf_counter() - t0)
    return plan


def _previous(url: str, run_date: date, limits: SessionLimits) -> pl.DataFrame:
    from sqlalchemy import inspect

    engine = make_engine(url, limits)
    try:
        has_pipeline = inspect(engine).has_table("user_daily_challenges")
    finally:
        engine.dispose()
    if not has_pipeline:
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


# ----------------------------------------------------------------------- features


@dataclass(frozen=True, slots=True)
class ShardRefs:
    """One shard's feature files and counts."""

    shard: int
    folder: Path
    user_features: Path
    user_category_features: Path
    previous: Path
    quarantine: Path
    last_day_answers: Path
    bins: Path
    cats: Path
    users: int
    answers: int
    seconds: float
    worker: str
    clean_log: Path | None = None
    exams: Path | None = None


@task(name="extract-features", cache_policy=NONE)
def extract_shard_features(
    shard: int, plan: ShardPlan, run_date: date, tz: str, now: datetime | None, learner: bool
) -> ShardRefs:
    """One shard's answers → its user and (user, category) features, quarantined rows,
    last day's answers for the input gate, and the population counts of its clean log."""
    t0 = time.perf_counter()
    folder = plan.folder / f"shard-{shard:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    users = of_shard(plan.users, shard)
    questions = pl.read_parquet(plan.questions)
    # stream order differs between databases and scans: sort, so "the first of duplicates"
    # is always the lowest id
    attempts = read_shard(plan.answers, shard, ATTEMPTS_SCHEMA).sort("attempt_id").collect()
    fs = extract_features(users, questions, attempts, run_date, tz, now)
    assert fs.clean is not None
    bins, cats = pl.collect_all(population_partials(fs.clean.lazy()))
    refs = ShardRefs(
        shard=shard,
        folder=folder,
        user_features=save(fs.user_features, folder, "user_features"),
        user_category_features=save(fs.user_category_features, folder, "user_category_features"),
        previous=save(of_shard(plan.previous, shard), folder, "previous"),
        quarantine=save(fs.quarantine, folder, "quarantine"),
        last_day_answers=save(
            last_day_answers(attempts, fs.quarantine, run_date, tz), folder, "last_day_answers"
        ),
        bins=save(bins, folder, "population_bins"),
        cats=save(cats, folder, "population_cats"),
        users=users.height,
        answers=attempts.height,
        seconds=round(time.perf_counter() - t0, 3),
        worker=worker_name(),
        clean_log=save(fs.clean, folder, "clean_log") if learner else None,
        exams=save(of_shard(plan.exams, shard), folder, "exams")
        if learner and plan.exams is not None
        else None,
    )
    log_rows(f"extract-features[{shard}]", attempts.height, users.height, refs.seconds)
    return refs


# ---------------------------------------------------------------------- assessment


@dataclass(frozen=True, slots=True)
class AssessmentRefs:
    """One shard's assessment: per (user, category) mastery and per-user skill."""

    shard: int
    categories: Path
    users: Path
    rows: int
    seconds: dict[str, float]
    worker: str


@task(name="assess-learners", cache_policy=NONE)
def assess_shard(
    refs: ShardRefs, questions: Path, population: tuple[Path, Path], model: object, cutoff: datetime
) -> AssessmentRefs:
    """Tonight's learner rows of one shard's active users, scored by the learner model."""
    from daglig.learner.assessment import assess_with
    from daglig.learner.examples import scoring_rows

    if refs.clean_log is None or refs.exams is None:
        raise RuntimeError("the feature step did not keep the learner model's inputs")
    t0 = time.perf_counter()
    qs = pl.read_parquet(questions)
    users = pl.scan_parquet(refs.user_features).filter(pl.col("is_active")).select("user_id")
    rows = scoring_rows(
        pl.scan_parquet(refs.clean_log),
        pl.scan_parquet(refs.exams),
        users,
        qs.lazy(),
        cutoff,
        population=(pl.scan_parquet(population[0]), pl.scan_parquet(population[1])),
    ).collect()
    t1 = time.perf_counter()
    assessment = assess_with(model, rows, qs)
    t2 = time.perf_counter()
    out = AssessmentRefs(
        shard=refs.shard,
        categories=save(assessment.categories, refs.folder, "assessment_categories"),
        users=save(assessment.users, refs.folder, "assessment_users"),
        rows=rows.height,
        seconds={"learner_rows": round(t1 - t0, 3), "score": round(t2 - t1, 3)},
        worker=worker_name(),
    )
    log_rows(f"assess-learners[{refs.shard}]", rows.height, assessment.users.height, t2 - t0)
    return out


# ----------------------------------------------------------------- selection, render


@dataclass(frozen=True, slots=True)
class SelectedRefs:
    """One shard's assignments."""

    shard: int
    assignments: Path
    users: int
    rows: int
    worker: str


@task(name="select-challenges", cache_policy=NONE)
def select_shard(
    refs: ShardRefs, challenge_settings: ChallengeSettings, run_date: date, selector: Selector
) -> SelectedRefs:
    """One shard's active users' features → assignments (user, slot, parameters, reason)."""
    t0 = time.perf_counter()
    chosen = selector
    for_shard: Callable[[int], Selector] | None = getattr(selector, "for_shard", None)
    if for_shard is not None:
        chosen = for_shard(refs.shard)
    users = pl.read_parquet(refs.user_features).filter(pl.col("is_active"))
    assignments = chosen.select(
        SelectionInputs(
            run_date=run_date,
            users=users,
            user_categories=pl.read_parquet(refs.user_category_features),
            previous=pl.read_parquet(refs.previous),
            settings=challenge_settings,
        )
    )
    out = SelectedRefs(
        refs.shard,
        save(assignments, refs.folder, "assignments"),
        users.height,
        assignments.height,
        worker_name(),
    )
    log_rows(f"select-challenges[{refs.shard}]", users.height, out.rows, time.perf_counter() - t0)
    return out


@dataclass(frozen=True, slots=True)
class KeyedShard:
    """One shard's assignments with their content key, and its distinct challenges (not
    yet rendered)."""

    shard: int
    distinct: Path
    assignments: Path
    worker: str


@task(name="key-challenges", cache_policy=NONE)
def key_shard(selected: SelectedRefs) -> KeyedShard:
    """One shard's assignments → content keys and the distinct challenges among them."""
    t0 = time.perf_counter()
    keyed = with_content_key(pl.read_parquet(selected.assignments))
    distinct = distinct_challenges(keyed)
    folder = selected.assignments.parent
    out = KeyedShard(
        selected.shard,
        save(distinct, folder, "distinct_challenges"),
        save(keyed, folder, "assignments_keyed"),
        worker_name(),
    )
    log_rows(
        f"key-challenges[{selected.shard}]",
        keyed.height,
        distinct.height,
        time.perf_counter() - t0,
    )
    return out
