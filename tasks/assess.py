"""The assessment step: one ``assess-learners`` task per shard scores its active users
with the learner model (mastery per category, weak areas, skill, exam readiness)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from daglig.io.model_store import LoadedModel
from daglig.io.run_folder import RunFile
from daglig.learner.examples import PracticeCurve
from tasks.common import save
from tasks.fanout import map_shards, worker_name
from tasks.features import FeatureRefs, ShardRefs
from tasks.steps import count_rows, step, step_task


@dataclass(frozen=True, slots=True)
class AssessmentRefs:
    """One shard's assessment: per (user, category) mastery and per-user skill."""

    shard: int
    categories: Path
    users: Path
    rows: int
    seconds: dict[str, float]
    worker: str
    state: Path | None = None  # the learners' features at the cutoff, for the completion model


@step_task("assess-learners")
def assess_shard(
    refs: ShardRefs,
    questions: Path,
    population: tuple[Path, Path],
    model: object,
    cutoff: datetime,
    practice: PracticeCurve,
) -> AssessmentRefs:
    """Tonight's learner rows of one shard's active users, their evidence read through the
    model's practice curve, scored by the learner model."""
    from daglig.learner.assessment import assess_with
    from daglig.learner.completion import CATEGORY_FEATURES, USER_FEATURES
    from daglig.learner.evidence_state import scoring_rows_from

    if refs.tallies is None or refs.evidence is None or refs.exams is None:
        raise RuntimeError("the feature step did not keep the learner model's inputs")
    t0 = time.perf_counter()
    qs = pl.read_parquet(questions)
    users = pl.scan_parquet(refs.user_features).filter(pl.col("is_active")).select("user_id")
    # from the shard's carried state (tonight's, folded or made from the whole log): the
    # same rows examples.scoring_rows makes from the answer log, at a fraction of the cost
    rows = scoring_rows_from(
        pl.scan_parquet(refs.tallies),
        pl.scan_parquet(refs.evidence),
        pl.scan_parquet(refs.exams),
        users,
        qs.lazy(),
        cutoff,
        population=(pl.scan_parquet(population[0]), pl.scan_parquet(population[1])),
        practice=practice,
    ).collect()
    t1 = time.perf_counter()
    assessment = assess_with(model, rows, qs)
    t2 = time.perf_counter()
    out = AssessmentRefs(
        shard=refs.shard,
        categories=save(assessment.categories, refs.folder, RunFile.ASSESSMENT_CATEGORIES),
        users=save(assessment.users, refs.folder, RunFile.ASSESSMENT_USERS),
        rows=rows.height,
        seconds={"learner_rows": round(t1 - t0, 3), "score": round(t2 - t1, 3)},
        worker=worker_name(),
        state=save(
            rows.select("user_id", "category", *USER_FEATURES, *CATEGORY_FEATURES),
            refs.folder,
            RunFile.COMPLETION_STATE,
        ),
    )
    count_rows(rows.height, assessment.users.height, label=f"shard {refs.shard}")
    return out


@step("assess-learners")
def assess_learners(refs: FeatureRefs, loaded: LoadedModel) -> list[AssessmentRefs]:
    """Mastery per (user, category), weak areas, skill and exam readiness for every
    active user: one ``assess-learners`` task per shard, on the flow's task runner."""
    if not refs.learner or any(s.tallies is None for s in refs.shards):
        raise RuntimeError("the feature step did not produce the learner model's inputs")
    out: list[AssessmentRefs] = map_shards(
        assess_shard,
        list(refs.shards),
        refs.learner["questions"],
        (refs.learner["curve"], refs.learner["cat_accuracy"]),
        loaded.model,
        refs.cutoff,
        loaded.metadata.practice,
    )
    count_rows(sum(a.rows for a in out), len(out))
    return out
