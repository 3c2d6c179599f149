"""The run folder: ``data/runs/<run date>/<flow run id>/``, the files one run's steps hand
each other. :class:`RunFolder` names them, so no reader builds a path or globs the folder
itself (the steps write them: tasks/; the admin's dry run and ``daglig run --dry-run
--user-id`` read them; cleanup removes whole dates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

SHARD_PREFIX = "shard-"


class RunFile(StrEnum):
    """Every file a run's steps hand each other (``<name>.parquet``), named in one place."""

    USERS = "users"  # the active users to assess tonight, with their shard (read-answer-log)
    QUESTIONS = "questions"  # the question bank (read-answer-log)
    PREVIOUS = "previous"  # yesterday's assignments, for the no-repeat rule
    EXAMS = "exams"  # completed exam sessions (the learner model's features)
    RECENT_SESSIONS = "recent_sessions"  # quiz sessions of the struggle signals' window
    STRUGGLE = "struggle"  # a shard's struggling learners: their signals, holdout or not
    EXAM_PATHS = "exam_paths"  # the learners' exam paths in force on the run date
    EXAM_PATHS_PLANNED = "exam_paths_planned"  # a shard's paths planned tonight (to write)
    INPUT_USERS = "input_users"  # the users the input gate checked
    LAST_DAY_ANSWERS = "last_day_answers"  # a shard's last day of answers (the input gate)
    INPUT_LAST_DAY_ANSWERS = "input_last_day_answers"  # every shard's, for the input gate
    USER_FEATURES = "user_features"  # every user's features, sorted by user
    USER_CATEGORY_FEATURES = "user_category_features"  # per (user, category) features
    QUARANTINE = "quarantine"  # answers set aside by the input gate, with their reason
    POPULATION_BINS = "population_bins"  # the population's accuracy by difficulty bin
    POPULATION_CATS = "population_cats"  # the population's accuracy by category
    POPULATION_CURVE = "population_curve"  # the learner model's difficulty curve
    POPULATION_CAT_ACCURACY = "population_cat_accuracy"  # the learner model's per-category accuracy
    ASSESSMENT_USERS = "assessment_users"  # skill, confidence and exam readiness per learner
    ASSESSMENT_CATEGORIES = "assessment_categories"  # mastery per (learner, category)
    ASSIGNMENTS = "assignments"  # a shard's selected assignments
    ASSIGNMENTS_KEYED = "assignments_keyed"  # a shard's assignments with their content key
    DISTINCT_CHALLENGES = "distinct_challenges"  # a shard's distinct challenges, before rendering
    CHALLENGES = "challenges"  # the day's distinct challenges, rendered and priced
    TYPE_OUTCOMES = "type_outcomes"  # each learner's completion history by challenge type
    TYPE_RATES = "type_rates"  # each type's completion rate over the population
    COMPLETION_STATE = "completion_state"  # the learners' features the completion model reads
    OUTCOME_HISTORY = "outcome_history"  # per learner × type: past assignments, completions
    PAST_ASSIGNMENTS = "past_assignments"  # the training log's learners' past assignments
    ANSWER_LOG = "answer_log"  # the training run's sampled answer log


@dataclass(frozen=True, slots=True)
class RunFolder:
    """One run's folder (or one shard's folder inside it: :meth:`shard`)."""

    root: Path

    @classmethod
    def at(cls, runs_dir: Path, run_date: date, flow_run_id: str) -> RunFolder:
        """The folder of the flow run ``flow_run_id`` for ``run_date`` under ``runs_dir``."""
        return cls(runs_dir / run_date.isoformat() / flow_run_id)

    def file(self, name: RunFile) -> Path:
        """``<name>.parquet`` in this folder (or in a shard's: :meth:`shard`)."""
        return self.root / f"{name}.parquet"

    def shard(self, shard: int) -> RunFolder:
        """The folder of shard ``shard``: ``shard-NNNN/``."""
        return RunFolder(self.root / f"{SHARD_PREFIX}{shard:04d}")

    def shard_files(self, name: RunFile) -> list[Path]:
        """``<name>.parquet`` of every shard that wrote one, in shard order."""
        return sorted(self.root.glob(f"{SHARD_PREFIX}*/{name}.parquet"))

    @property
    def answers(self) -> Path:
        """The answer log up to the day's cutoff, one folder of Parquet parts per shard
        (``answers/shard-NNNN/part-*.parquet``, daglig/io/shard_files.py)."""
        return self.root / "answers"

    @property
    def user_features(self) -> Path:
        """Every user's features, sorted by user (the merge of the shards')."""
        return self.file(RunFile.USER_FEATURES)

    @property
    def challenges(self) -> Path:
        """The day's distinct challenges, rendered and priced."""
        return self.file(RunFile.CHALLENGES)

    def keyed_assignments(self) -> list[Path]:
        """Every shard's assignments with their content key (one file per shard)."""
        return self.shard_files(RunFile.ASSIGNMENTS_KEYED)
