"""The selection step: which selector tonight (the learner model's when a valid model
loads and assesses the users, else the rule-based fallback), one ``select-challenges``
task per shard (pure compute: no retries), and the fall back from ML to the rules when ML
selection fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from prefect.logging import get_run_logger

from daglig.challenge_settings import ChallengeSettings
from daglig.challenges import with_language
from daglig.config import Settings
from daglig.errors import error_line
from daglig.io.model_store import ModelUnavailable
from daglig.io.run_folder import RunFile
from daglig.learner.completion import population_rates
from daglig.learner.selection import MLSelector, ShardedCompletion, ShardedMLSelector
from daglig.selection import FallbackSelector, SelectionInputs, Selector
from daglig.summary import RunSummary, completion_metrics
from tasks.assess import AssessmentRefs, assess_learners
from tasks.common import save
from tasks.completion import load_completion_model
from tasks.fanout import map_shards, worker_name
from tasks.features import FeatureRefs, ShardRefs
from tasks.ml import load_learner_model
from tasks.steps import count_rows, step, step_task


@dataclass(frozen=True, slots=True)
class SelectedRefs:
    """One shard's assignments."""

    shard: int
    assignments: Path
    users: int
    rows: int
    worker: str
    exam_paths: Path | None = None  # the exam paths planned tonight (the ML selector's)


@step_task("select-challenges")
def select_shard(
    refs: ShardRefs, challenge_settings: ChallengeSettings, run_date: date, selector: Selector
) -> SelectedRefs:
    """One shard's active users' features → assignments (user, slot, parameters, reason,
    and the learner's written form, ``language``)."""
    chosen = selector
    for_shard: Callable[[int], Selector] | None = getattr(selector, "for_shard", None)
    if for_shard is not None:
        chosen = for_shard(refs.shard)
    users = with_struggle(
        pl.read_parquet(refs.user_features).filter(pl.col("is_active")), refs.struggle
    )
    inputs = SelectionInputs(
        run_date=run_date,
        users=users,
        user_categories=pl.read_parquet(refs.user_category_features),
        previous=pl.read_parquet(refs.previous),
        settings=challenge_settings,
        type_outcomes=None if refs.type_outcomes is None else pl.read_parquet(refs.type_outcomes),
        type_rates=None if refs.type_rates is None else pl.read_parquet(refs.type_rates),
    )
    plans = None
    if isinstance(chosen, MLSelector):  # the week's path to the exam: the plans made tonight
        assignments, planned = chosen.select_and_plan(inputs)
        if chosen.exam_paths is not None:
            plans = save(planned, refs.folder, RunFile.EXAM_PATHS_PLANNED)
    else:
        assignments = chosen.select(inputs)
    assignments = with_language(assignments, users)
    out = SelectedRefs(
        refs.shard,
        save(assignments, refs.folder, RunFile.ASSIGNMENTS),
        users.height,
        assignments.height,
        worker_name(),
        exam_paths=plans,
    )
    count_rows(users.height, out.rows, label=f"shard {refs.shard}")
    return out


def with_struggle(users: pl.DataFrame, struggle: Path | None) -> pl.DataFrame:
    """The users with their ``struggle_signals`` (empty: not struggling) and
    ``struggle_holdout`` from the feature step's file (none: nobody struggles)."""
    if struggle is None:
        return users
    return users.join(
        pl.read_parquet(struggle), on="user_id", how="left", maintain_order="left"
    ).with_columns(
        pl.col("struggle_signals").fill_null(pl.lit([], pl.List(pl.String))),
        pl.col("struggle_holdout").fill_null(False),
    )


@step("select-challenges")
def select_challenges(
    refs: FeatureRefs, challenge_settings: ChallengeSettings, run_date: date, selector: Selector
) -> list[SelectedRefs]:
    """Every shard's active users → assignments, on the flow's task runner."""
    return map_shards(select_shard, list(refs.shards), challenge_settings, run_date, selector)


def ml_wanted(cs: ChallengeSettings, no_ml: bool) -> str | None:
    """Why the learner model is off for this run, or None when it should be used."""
    if no_ml:
        return "ML switched off for this run (no_ml / --no-ml)"
    if not cs.ml_enabled:
        return "ml_enabled is false in challenge_settings"
    return None


def choose_selector(
    summary: RunSummary, settings: Settings, day: date, refs: FeatureRefs
) -> Selector:
    """The learner model's selector when a valid model loads and assesses the users; else
    the fallback for everyone, with the reason in the summary. Never fails the run."""
    try:
        loaded = load_learner_model(settings, day)
        if isinstance(loaded, ModelUnavailable):
            raise loaded
        assessment = assess_learners(refs, loaded)
    except Exception as exc:  # no/old/mismatched/corrupt model, or the ML step failed
        summary.ml_status = "fallback"
        summary.ml_reason = f"{exc}" if isinstance(exc, ModelUnavailable) else error_line(exc)
        get_run_logger().warning("learner model not used: %s", summary.ml_reason)
        return FallbackSelector()
    summary.ml_status, summary.model_version = "used", loaded.version
    return ShardedMLSelector(
        {a.shard: (a.categories, a.users) for a in assessment},
        loaded.version,
        holdout_share=settings.ml_holdout_share,
        completion=choose_completion(summary, settings, day, refs, assessment),
        exam_paths=exam_paths_of(refs),
        path_holdout_share=settings.path_holdout_share,
    )


def exam_paths_of(refs: FeatureRefs) -> dict[int, Path] | None:
    """Each shard's exam paths in force, as the read step kept them; None (no paths
    followed tonight) when a shard has none kept."""
    found = {s.shard: s.exam_paths for s in refs.shards}
    if not found or any(p is None for p in found.values()):
        return None
    return {k: p for k, p in found.items() if p is not None}


def choose_completion(
    summary: RunSummary,
    settings: Settings,
    day: date,
    refs: FeatureRefs,
    assessment: list[AssessmentRefs],
) -> ShardedCompletion | None:
    """The completion model for the ML targets when one loads (with tonight's outcome
    history, per shard, as the read step saved it); else None, the rule targets, and the
    reason in the summary."""
    try:
        loaded = load_completion_model(settings, day)
        if isinstance(loaded, ModelUnavailable):
            raise loaded
        if any(a.state is None for a in assessment):
            raise RuntimeError("the assessment step did not keep the learners' state")
        histories = {s.shard: s.outcome_history for s in refs.shards}
        if refs.outcome_history is None or any(h is None for h in histories.values()):
            raise RuntimeError("the read step did not keep the outcome history")
        rates = population_rates(pl.scan_parquet(refs.outcome_history)).collect()
    except Exception as exc:  # none yet (too few outcomes), old, mismatched, corrupt
        summary.completion_reason = (
            f"{exc}" if isinstance(exc, ModelUnavailable) else error_line(exc)
        )
        get_run_logger().info("completion model not used: %s", summary.completion_reason)
        return None
    summary.completion_model_version = loaded.version
    summary.completion_metrics = completion_metrics(loaded.metadata.metrics)
    return ShardedCompletion(
        loaded.model,
        {a.shard: a.state for a in assessment if a.state is not None},
        {k: h for k, h in histories.items() if h is not None},
        rates,
        loaded.version,
    )


def select_with_fallback(
    summary: RunSummary,
    refs: FeatureRefs,
    cs: ChallengeSettings,
    day: date,
    selector: Selector,
) -> list[SelectedRefs]:
    """``select-challenges`` with ``selector``; an error inside ML selection sends everyone
    down the fallback path instead (said in the summary), any other error fails the run."""
    try:
        return select_challenges(refs, cs, day, selector)
    except Exception as exc:
        if selector.name != MLSelector.name:
            raise
        summary.ml_status, summary.ml_reason = "fallback", f"ML selection failed: {error_line(exc)}"
        summary.selector, summary.model_version = FallbackSelector.name, None
        summary.completion_model_version, summary.completion_metrics = None, {}
        get_run_logger().warning("%s", summary.ml_reason)
        return select_challenges(refs, cs, day, FallbackSelector())
