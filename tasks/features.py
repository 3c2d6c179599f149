"""The feature step: read the answer log once, split by shard, features per shard.

``extract_user_features`` is a step of the flow, not a task: it runs the
``read-answer-log`` task, then one ``extract-features`` task per shard on the flow's task
runner, and merges what the whole run needs (every user's features, the quarantine, the
input gate's frames, the population statistics) into the run folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from daglig.config import Settings
from daglig.shards import population_stats
from tasks.common import failing_task, log_rows, run_folder, save
from tasks.shards import ShardPlan, ShardRefs, extract_shard_features, map_shards, read_answer_log


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

    @property
    def workers(self) -> list[str]:
        return sorted({s.worker for s in self.shards})


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
    t0 = time.perf_counter()
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
    log_rows("extract-features", plan.answers_read, plan.shards, time.perf_counter() - t0)
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
            "curve": save(curve, folder, "population_curve"),
            "cat_accuracy": save(cat_acc, folder, "population_cat_accuracy"),
        }
    return FeatureRefs(
        user_features=save(
            _concat([p.user_features for p in parts]).sort("user_id"), folder, "user_features"
        ),
        previous=save(pl.read_parquet(plan.previous).drop("shard"), folder, "previous"),
        quarantine=save(quarantine, folder, "quarantine"),
        answers_read=plan.answers_read,
        answers_used=plan.answers_read - excluded,
        answers_after_cutoff=plan.answers_after_cutoff,
        quarantined={
            str(k): int(v)
            for k, v in quarantine.group_by("reason").len().sort("reason").iter_rows()
        },
        quality_inputs={
            "users": save(users, folder, "input_users"),
            "questions": plan.questions,
            "last_day_answers": save(
                _concat([p.last_day_answers for p in parts]).sort("attempt_id"),
                folder,
                "input_last_day_answers",
            ),
        },
        learner=learner_paths,
        shards=tuple(parts),
        folder=folder,
        cutoff=plan.cutoff,
    )
