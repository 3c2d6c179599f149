"""The feature step: read the answer log once, split by shard, features per shard.

``extract_user_features`` runs the ``read-answer-log`` task (tasks/read_log.py), then one
``extract-features`` task per shard (here) on the flow's task runner, and merges what the
whole run needs (every user's features, the quarantine, the input gate's frames, the
population statistics) into the run folder.

Every feature comes from the shard's carried state: the sufficient statistics of its
answers (tallies, evidence sums, population counts). On a full night that state is made
from the whole answer log; on an incremental one (daglig/night_path.py) the answers read
tonight are folded into the state the last good night left. Either way the state is
staged in the run folder for the next night (kept once the night has written:
tasks/carry_state.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from daglig import answer_tallies as tallies_
from daglig.config import Settings
from daglig.io import state_store
from daglig.io.run_folder import RunFile, RunFolder
from daglig.io.shard_files import read_shard
from daglig.learner import evidence_state
from daglig.learner.struggle import SESSIONS_SCHEMA, struggle_signals
from daglig.night_path import CarriedManifest, NightPath
from daglig.quality import last_day_answers
from daglig.shards import population_partials, population_stats
from daglig.user_features import ATTEMPTS_SCHEMA, clean_attempts
from tasks.common import failing_task, run_folder, save
from tasks.fanout import map_shards, worker_name
from tasks.read_log import ShardPlan, carried_schema, of_shard, read_answer_log
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
    tallies: Path | None = None  # the shard's carried state (staged): the learner rows' input
    evidence: Path | None = None
    exams: Path | None = None
    type_outcomes: Path | None = None
    type_rates: Path | None = None
    outcome_history: Path | None = None  # the shard's learners' (the completion model's)
    struggle: Path | None = None  # the shard's struggling learners (STRUGGLE_SCHEMA)
    exam_paths: Path | None = None  # the shard's learners' exam paths in force


@step_task("extract-features")
def extract_shard_features(
    shard: int,
    plan: ShardPlan,
    run_date: date,
    tz: str,
    now: datetime | None,
    learner: bool,
    struggle_holdout_share: float = 0.0,
) -> ShardRefs:
    """One shard's answers read tonight → its carried state (folded into the last night's
    on an incremental night), its user and (user, category) features from that state,
    its struggling learners (from that state and the recent sessions), quarantined rows,
    last day's answers for the input gate, the population counts."""
    t0 = time.perf_counter()
    folder = RunFolder(plan.folder).shard(shard).root
    folder.mkdir(parents=True, exist_ok=True)
    users = of_shard(plan.users, shard)
    questions = pl.read_parquet(plan.questions)
    # stream order differs between databases and scans: sort, so "the first of duplicates"
    # is always the lowest id
    attempts = read_shard(plan.answers, shard, ATTEMPTS_SCHEMA).sort("attempt_id").collect()
    clean_lf, quarantine_lf = clean_attempts(
        attempts.lazy(), questions.lazy(), tz, now, users.lazy()
    )
    clean, quarantine = pl.collect_all([clean_lf, quarantine_lf])
    state = fold_shard(
        clean, plan.prior, shard, plan.path.prior, plan.cutoff, state_store.staged(plan.folder)
    )
    tallies = pl.scan_parquet(state["tallies"])
    uf = tallies_.user_features_from_tallies(users.lazy(), tallies, run_date).collect()
    ucf = tallies_.user_category_features_from_tallies(tallies, run_date)
    sessions = (
        pl.LazyFrame(schema=SESSIONS_SCHEMA)
        if plan.sessions is None
        else of_shard(plan.sessions, shard).lazy()
    )
    struggle = struggle_signals(
        pl.scan_parquet(state["evidence"]),
        tallies,
        sessions,
        plan.cutoff,
        run_date,
        struggle_holdout_share,
    )
    refs = ShardRefs(
        shard=shard,
        folder=folder,
        user_features=save(uf, folder, RunFile.USER_FEATURES),
        user_category_features=save(ucf, folder, RunFile.USER_CATEGORY_FEATURES),
        previous=save(of_shard(plan.previous, shard), folder, RunFile.PREVIOUS),
        quarantine=save(quarantine, folder, RunFile.QUARANTINE),
        last_day_answers=save(
            last_day_answers(
                attempts.drop("dup_of_carried", strict=False), quarantine, run_date, tz
            ),
            folder,
            RunFile.LAST_DAY_ANSWERS,
        ),
        bins=state["bins"],
        cats=state["cats"],
        users=users.height,
        answers=attempts.height,
        seconds=round(time.perf_counter() - t0, 3),
        worker=worker_name(),
        tallies=state["tallies"],
        evidence=state["evidence"],
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
        struggle=save(struggle, folder, RunFile.STRUGGLE),
        exam_paths=save(of_shard(plan.exam_paths, shard), folder, RunFile.EXAM_PATHS)
        if learner and plan.exam_paths is not None
        else None,
    )
    count_rows(attempts.height, users.height, label=f"shard {shard}")
    return refs


def fold_shard(
    clean: pl.DataFrame,
    prior: Path | None,
    shard: int,
    manifest: CarriedManifest | None,
    cutoff: datetime,
    staged: Path,
) -> dict[str, Path]:
    """The shard's state after tonight: the statistics of ``clean`` (tonight's usable
    answers), folded into the carried state ``prior`` when there is one; written into the
    staged state folder. Returns each table's path."""
    new_tallies = tallies_.tally(clean.lazy())
    new_evidence = evidence_state.summarise_evidence(clean.lazy(), cutoff)
    new_bins, new_cats = population_partials(clean.lazy())
    if prior is not None and manifest is not None:

        def carried(table: str) -> pl.LazyFrame:
            return pl.scan_parquet(state_store.shard_table(prior, shard, table))

        tallies = tallies_.fold_tallies(carried("tallies"), new_tallies)
        evidence = evidence_state.fold_evidence(
            carried("evidence"), manifest.cutoff, new_evidence, cutoff
        )
        bins = _add_counts(carried("bins"), new_bins, "d_bin")
        cats = _add_counts(carried("cats"), new_cats, "category")
    else:
        tallies, evidence, bins, cats = new_tallies, new_evidence, new_bins, new_cats
    frames = dict(
        zip(state_store.SHARD_TABLES, pl.collect_all([tallies, evidence, bins, cats]), strict=True)
    )
    out: dict[str, Path] = {}
    for table, frame in frames.items():
        path = state_store.shard_table(staged, shard, table)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path)
        out[table] = path
    return out


def _add_counts(carried: pl.LazyFrame, new: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """Population counts (``n``, ``c`` per ``key``) of two disjoint sets of answers."""
    return (
        pl.concat([carried, new.select(carried.collect_schema().names())])
        .group_by(key)
        .agg(pl.col("n").sum(), pl.col("c").sum())
        .sort(key)
    )


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
    # full or incremental, and why; the state staged for the next night and its manifest
    # (None for a run of some users: such a run carries nothing)
    path: NightPath | None = None
    answers_read_tonight: int = 0
    carried: CarriedManifest | None = None
    staged_state: Path | None = None

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
    full: bool = False,
) -> FeatureRefs:
    """Users, questions and the answer log up to the day's cutoff → per-user and
    per-(user, category) features per shard, quarantined rows, yesterday's assignments.
    ``now`` (naive UTC, default: the step's start) dates answers "in the future"."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    folder = run_folder(settings, run_date)
    with failing_task("read-answer-log"):  # the summary names the task, not this step
        plan: ShardPlan = read_answer_log(
            settings, run_date, user_ids, folder, shards, learner, force_full=full
        )
    parts: list[ShardRefs] = map_shards(
        extract_shard_features,
        list(range(plan.shards)),
        plan,
        run_date,
        settings.timezone,
        now,
        learner,
        settings.struggle_holdout_share,
    )
    refs = merge_features(plan, parts, learner, run_date, some_users=user_ids is not None)
    count_rows(plan.answers_read, plan.shards)
    return refs


def _concat(paths: list[Path], columns: list[str] | None = None) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p, columns=columns) for p in paths], how="vertical")


def merge_features(
    plan: ShardPlan,
    parts: list[ShardRefs],
    learner: bool,
    run_date: date | None = None,
    some_users: bool = False,
) -> FeatureRefs:
    """What the whole run needs from the shards' feature files (sorted by user, so the
    files are the same whatever the shard count), and the manifest of the state staged for
    the next night."""
    folder = plan.folder
    users = pl.read_parquet(plan.users).drop("shard")
    staged = state_store.staged(folder)
    carried = None
    if not some_users and run_date is not None:
        users.select("user_id", "created_at").write_parquet(state_store.users_file(staged))
        prior = plan.path.prior
        carried = CarriedManifest(
            schema=carried_schema(),
            identity=plan.identity or "",
            cutoff=plan.cutoff,
            run_date=run_date,
            shards=plan.shards,
            max_attempt_id=plan.max_attempt_id,
            folded=plan.answers_read + (prior.folded if plan.path.incremental and prior else 0),
            questions=plan.questions_fingerprint,
            last_full=prior.last_full if plan.path.incremental and prior else run_date,
        )
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
        path=plan.path,
        answers_read_tonight=plan.answers_read,
        carried=carried,
        staged_state=staged if carried is not None else None,
    )
