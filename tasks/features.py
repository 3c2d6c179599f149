"""The feature step: read the answer log once, split by shard, features per shard.

``extract_user_features`` runs the ``read-answer-log`` task (tasks/read_log.py), then one
``extract-features`` task per shard (here) on the flow's task runner, and merges what the
whole run needs (every user's features, the quarantine, the input gate's frames, the
population statistics) into the run folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from daglig.config import Settings
from daglig.io.run_folder import RunFile, RunFolder
from daglig.io.shard_files import read_shard
from daglig.quality import last_day_answers
from daglig.shards import population_partials, population_stats
from daglig.user_features import ATTEMPTS_SCHEMA, extract_features
from tasks.common import failing_task, run_folder, save
from tasks.fanout import map_shards, worker_name
from tasks.read_log import ShardPlan, of_shard, read_answer_log
from tasks.steps import count_rows, step, step_task


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
    type_outcomes: Path | None = None
    type_rates: Path | None = None
    outcome_history: Path | None = None  # the shard's learners' (the completion model's)


@step_task("extract-features")
def extract_shard_features(
    shard: int, plan: ShardPlan, run_date: date, tz: str, now: datetime | None, learner: bool
) -> ShardRefs:
    """One shard's answers → its user and (user, category) features, quarantined rows,
    last day's answers for the input gate, and the population counts of its clean log."""
    t0 = time.perf_counter()
    folder = RunFolder(plan.folder).shard(shard).root
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
        user_features=save(fs.user_features, folder, RunFile.USER_FEATURES),
        user_category_features=save(
            fs.user_category_features, folder, RunFile.USER_CATEGORY_FEATURES
        ),
        previous=save(of_shard(plan.previous, shard), folder, RunFile.PREVIOUS),
        quarantine=save(fs.quarantine, folder, RunFile.QUARANTINE),
        last_day_answers=save(
            last_day_answers(attempts, fs.quarantine, run_date, tz),
            folder,
            RunFile.LAST_DAY_ANSWERS,
        ),
        bins=save(bins, folder, RunFile.POPULATION_BINS),
        cats=save(cats, folder, RunFile.POPULATION_CATS),
        users=users.height,
        answers=attempts.height,
        seconds=round(time.perf_counter() - t0, 3),
        worker=worker_name(),
        clean_log=save(fs.clean, folder, RunFile.CLEAN_LOG) if learner else None,
        exams=save(of_shard(plan.exams, shard), folder, RunFile.EXAMS)
        if learner and plan.exams is not None
        else None,
        type_outcomes=save(of_shard(plan.type_outcomes, shard), folder, RunFile.TYPE_OUTCOMES)
        if learner and plan.type_outcomes is not None
        else None,
        type_rates=plan.type_rates if learner else None,
        outcome_history=save(of_shard(plan.outcome_history, shard), folder, RunFile.OUTCOME_HISTORY)
        if learner and plan.outcome_history is not None
        else None,
    )
    count_rows(attempts.height, users.height, label=f"shard {shard}")
    return refs


@dataclass(frozen=True, slots=True)
class FeatureRefs:
    """Paths of the feature files of one run, and the counts the summary needs."""

    user_features: Path
    previous: Path
    quarantine: Path
    answers_read: int
    answers_used: int
    answers_after_cutoff: int
    quarantined: dict[str, int]
    # what the input data-quality gate validates: users, questions, last_day_answers
    quality_inputs: dict[str, Path] = field(default_factory=dict)
    # the learner model's inputs: "questions", "curve", "cat_accuracy" (when asked)
    learner: dict[str, Path] = field(default_factory=dict)
    shards: tuple[ShardRefs, ...] = ()
    folder: Path | None = None
    cutoff: datetime | None = None  # the day's start (naive UTC): the learner rows' "now"
    # every learner's outcome history (with ``shard``): the completion model's type rates
    outcome_history: Path | None = None

    @property
    def workers(self) -> list[str]:
        return sorted({s.worker for s in self.shards})


@step("extract-features")
def extract_user_features(
    settings: Settings,
    run_date: date,
    user_ids: list[int] | None,
    now: datetime | None = None,
    learner: bool = False,
    shards: int | None = None,
) -> FeatureRefs:
    """Users, questions and the answer log up to the day's cutoff → per-user and
    per-(user, category) features per shard, quarantined rows, yesterday's assignments.
    ``now`` (naive UTC, default: the step's start) dates answers "in the future"."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    folder = run_folder(settings, run_date)
    with failing_task("read-answer-log"):  # the summary names the task, not this step
        plan: ShardPlan = read_answer_log(settings, run_date, user_ids, folder, shards, learner)
    parts: list[ShardRefs] = map_shards(
        extract_shard_features,
        list(range(plan.shards)),
        plan,
        run_date,
        settings.timezone,
        now,
        learner,
    )
    refs = merge_features(plan, parts, learner)
    count_rows(plan.answers_read, plan.shards)
    return refs


def _concat(paths: list[Path], columns: list[str] | None = None) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p, columns=columns) for p in paths], how="vertical")


def merge_features(plan: ShardPlan, parts: list[ShardRefs], learner: bool) -> FeatureRefs:
    """What the whole run needs from the shards' feature files (sorted by user, so the
    files are the same whatever the shard count)."""
    folder = plan.folder
    users = pl.read_parquet(plan.users).drop("shard")
    quarantine = _concat([p.quarantine for p in parts]).sort("attempt_id", "reason")
    excluded = int((quarantine["reason"] != "bad_time_spent_seconds").sum())
    learner_paths: dict[str, Path] = {}
    if learner:
        curve, cat_acc = population_stats(
            [pl.read_parquet(p.bins) for p in parts], [pl.read_parquet(p.cats) for p in parts]
        )
        learner_paths = {
            "questions": plan.questions,
            "curve": save(curve, folder, RunFile.POPULATION_CURVE),
            "cat_accuracy": save(cat_acc, folder, RunFile.POPULATION_CAT_ACCURACY),
        }
    return FeatureRefs(
        user_features=save(
            _concat([p.user_features for p in parts]).sort("user_id"), folder, RunFile.USER_FEATURES
        ),
        previous=save(pl.read_parquet(plan.previous).drop("shard"), folder, RunFile.PREVIOUS),
        quarantine=save(quarantine, folder, RunFile.QUARANTINE),
        answers_read=plan.answers_read,
        answers_used=plan.answers_read - excluded,
        answers_after_cutoff=plan.answers_after_cutoff,
        quarantined={
            str(k): int(v)
            for k, v in quarantine.group_by("reason").len().sort("reason").iter_rows()
        },
        quality_inputs={
            "users": save(users, folder, RunFile.INPUT_USERS),
            "questions": plan.questions,
            "last_day_answers": save(
                _concat([p.last_day_answers for p in parts]).sort("attempt_id"),
                folder,
                RunFile.INPUT_LAST_DAY_ANSWERS,
            ),
        },
        learner=learner_paths,
        shards=tuple(parts),
        folder=folder,
        cutoff=plan.cutoff,
        outcome_history=plan.outcome_history if learner else None,
    )
