"""Data-quality gates as tasks: validate-inputs after extraction, validate-outputs before the
write. Pure compute over the run folder's Parquet files: no retries. A blocking failure
raises :class:`daglig.quality.DataQualityError`, which fails the run before anything is
written (the flow's failure path emails the admins)."""

from __future__ import annotations

import polars as pl
from prefect.logging import get_run_logger

from daglig.challenge_settings import ChallengeSettings
from daglig.config import Settings
from daglig.quality import GateReport, check_input_gate, check_output_gate
from flows.prefect_env import apply_offline_settings
from tasks.features import FeatureRefs
from tasks.render import RenderedRefs
from tasks.steps import step_task

apply_offline_settings()  # Great Expectations offline, in a worker's flow run too


def _log(report: GateReport) -> None:
    log = get_run_logger()
    for w in report.warnings:
        log.warning("%s gate warning: %s", report.gate, w.line())
    for f in report.failures:
        log.error("%s gate failure: %s", report.gate, f.line())
    log.info(
        "%s gate: %d checks, %d passed, %.2f s",
        report.gate,
        len(report.checks),
        sum(c.success for c in report.checks),
        report.seconds,
    )


@step_task("validate-inputs")
def validate_inputs(refs: FeatureRefs, settings: Settings) -> GateReport:
    """The input gate over what extract-features read (users, questions, last day's answers
    with their quarantine reasons)."""
    paths = refs.quality_inputs
    report = check_input_gate(
        pl.read_parquet(paths["users"]),
        pl.read_parquet(paths["questions"]),
        pl.read_parquet(paths["last_day_answers"]),
        max_excluded_share=settings.dq_max_excluded_share,
        min_answers=settings.dq_min_answers,
    )
    _log(report)
    report.raise_for_failures()
    return report


@step_task("validate-outputs")
def validate_outputs(
    refs: FeatureRefs, rendered: RenderedRefs, challenge_settings: ChallengeSettings
) -> GateReport:
    """The output gate over the day's rendered challenges and keyed assignments."""
    report = check_output_gate(
        pl.read_parquet(rendered.challenges),
        pl.read_parquet(list(rendered.assignments), columns=["user_id", "slot", "content_key"]),
        pl.read_parquet(refs.user_features, columns=["user_id", "is_active"]),
        pl.read_parquet(refs.previous),
        challenge_settings,
    )
    _log(report)
    report.raise_for_failures()
    return report
