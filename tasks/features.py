"""Read the answer log and build user features (one pass), saved to the run folder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import inspect

from daglig.config import Settings
from daglig.db import make_engine, read_frame
from daglig.features import (
    ATTEMPTS_SCHEMA,
    QUESTIONS_SCHEMA,
    USERS_SCHEMA,
    day_cutoff,
    extract_features,
)
from daglig.learner.features import EXAMS_SCHEMA, learner_rows
from daglig.quality import last_day_answers
from daglig.selection import PREVIOUS_SCHEMA
from tasks.common import log_rows, run_folder, save


@dataclass(frozen=True, slots=True)
class FeatureRefs:
    """Paths of the feature files of one run, and the counts the summary needs."""

    user_features: Path
    user_category_features: Path
    previous: Path
    quarantine: Path
    answers_read: int
    answers_used: int
    answers_after_cutoff: int
    quarantined: dict[str, int]
    # what the input data-quality gate validates: users, questions, last_day_answers
    quality_inputs: dict[str, Path] = field(default_factory=dict)
    # the learner model's scoring rows and question bank ("rows", "questions"), when asked
    learner: dict[str, Path] = field(default_factory=dict)


@task(name="extract-features", retries=3, retry_delay_seconds=[2, 5, 15], cache_policy=NONE)
def extract_user_features(
    settings: Settings,
    run_date: date,
    user_ids: list[int] | None,
    now: datetime | None = None,
    learner: bool = False,
) -> FeatureRefs:
    """Users, questions and the answer log up to the day's cutoff → per-user and
    per-(user, category) features, quarantined rows, and yesterday's assignments.
    ``now`` (naive UTC, default: the task's start) dates answers "in the future"."""
    t0 = time.perf_counter()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    url = settings.database_url
    cutoff = day_cutoff(run_date, settings.timezone)
    users = read_frame(url, "read/users", {"cutoff": cutoff}, USERS_SCHEMA)
    if user_ids is not None:
        users = users.filter(pl.col("user_id").is_in(user_ids))
    questions = read_frame(url, "read/questions", None, QUESTIONS_SCHEMA)
    attempts = read_frame(url, "read/attempts", {"cutoff": cutoff}, ATTEMPTS_SCHEMA)
    if user_ids is not None:
        attempts = attempts.filter(pl.col("user_id").is_in(user_ids))
    after = read_frame(url, "read/attempts_after_cutoff", {"cutoff": cutoff})
    engine = make_engine(url)
    try:
        has_pipeline = inspect(engine).has_table("user_daily_challenges")
    finally:
        engine.dispose()
    previous = (
        read_frame(
            url,
            "read/previous_assignments",
            {"previous_date": run_date - timedelta(days=1)},
            PREVIOUS_SCHEMA,
        )
        if has_pipeline
        else pl.DataFrame(schema=PREVIOUS_SCHEMA)
    )
    fs = extract_features(users, questions, attempts, run_date, settings.timezone, now)
    folder = run_folder(settings, run_date)
    refs = FeatureRefs(
        user_features=save(fs.user_features, folder, "user_features"),
        user_category_features=save(fs.user_category_features, folder, "user_category_features"),
        previous=save(previous, folder, "previous"),
        quarantine=save(fs.quarantine, folder, "quarantine"),
        answers_read=attempts.height,
        answers_used=attempts.height
        - int((fs.quarantine["reason"] != "bad_time_spent_seconds").sum()),
        answers_after_cutoff=int(after["n"][0]) if after.height else 0,
        quarantined={
            str(k): int(v)
            for k, v in fs.quarantine.group_by("reason").len().sort("reason").iter_rows()
        },
        quality_inputs={
            "users": save(users, folder, "input_users"),
            "questions": save(questions, folder, "input_questions"),
            "last_day_answers": save(
                last_day_answers(attempts, fs.quarantine, run_date, settings.timezone),
                folder,
                "input_last_day_answers",
            ),
        },
    )
    if learner:  # the learner model's rows, from the same reads
        exams = read_frame(url, "read/exam_sessions", {"cutoff": cutoff}, EXAMS_SCHEMA)
        rows = learner_rows(
            users.filter(pl.col("is_active")), questions, attempts, exams, cutoff, settings.timezone
        )
        refs = replace(
            refs,
            learner={
                "rows": save(rows, folder, "learner_rows"),
                "questions": save(questions, folder, "learner_questions"),
            },
        )
    log_rows("extract-features", attempts.height, fs.user_features.height, time.perf_counter() - t0)
    return refs
