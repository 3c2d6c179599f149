"""The completion model's tasks: training (read past assignments, fit and evaluate, save,
report) and, in the nightly run, loading the saved model (the night's outcome history is
read with the answer log: tasks/read_log.py).

Training reuses the learner model's training log (``tasks.ml.read_training_data``: the
same learners, the same cleaned answers); the assignments read here are those learners'.
Too few outcomes is a result, not a failure: no model is saved, the reason is returned and
noted in the model store, so the nightly run can say "none yet, too few outcomes".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger

from daglig.config import Settings
from daglig.io.db import engine_of
from daglig.io.identity import ensure_identity, url_without_credentials
from daglig.io.model_store import (
    COMPLETION,
    LoadedModel,
    ModelMetadata,
    ModelUnavailable,
    load_model,
    model_folder,
    record_not_trained,
    save_model,
)
from daglig.io.run_folder import RunFile
from daglig.learner.completion import COMPLETION_FEATURES
from tasks.common import save
from tasks.ml import TrainingData, database_identity
from tasks.read_log import past_assignments
from tasks.retry import io_task
from tasks.steps import count_rows, step_task

if TYPE_CHECKING:  # scikit-learn takes seconds to import: the nightly run needs none of it
    from daglig.learner.completion_model import CompletionResult


@step_task("load-completion-model")
def load_completion_model(settings: Settings, run_date: date) -> LoadedModel | ModelUnavailable:
    """The current completion model of this database, validated for ``run_date`` (the
    learner model's checks), or the ``ModelUnavailable`` saying why there is none: the
    night then keeps the rule targets. Returned, not raised (see ``load_learner_model``)."""
    try:
        loaded = load_model(
            settings.model_dir,
            run_date,
            settings.model_max_age_days,
            database_identity(settings),
            COMPLETION,
        )
    except ModelUnavailable as exc:
        return exc
    get_run_logger().info("completion model %s loaded", loaded.version)
    return loaded


@io_task("read-past-assignments")
def read_past_assignments(settings: Settings, data: TrainingData, as_of: date) -> Path:
    """The assignments before ``as_of`` of the training log's learners, as Parquet beside
    the log (none on a new install, whose pipeline tables do not exist yet)."""
    rows = past_assignments(settings.database_url, date(1970, 1, 1), as_of)
    learners = pl.read_parquet(data.log, columns=["user_id"]).unique()
    mine = rows.join(learners, on="user_id", how="semi")
    path = save(mine, data.log.parent, RunFile.PAST_ASSIGNMENTS)
    count_rows(rows.height, mine.height)
    return path


@step_task("fit-completion-model")
def fit_completion_model(
    data: TrainingData, assignments: Path, as_of: date, timezone: str
) -> CompletionResult:
    """Examples (features as of each night), the temporal split, the model and the
    baselines scored on the held-out nights."""
    from daglig.learner.completion import completion_examples
    from daglig.learner.completion_model import fit_completion
    from daglig.learner.training import metrics_markdown

    t0 = time.perf_counter()
    examples = completion_examples(
        pl.read_parquet(assignments),
        pl.read_parquet(data.log),
        pl.read_parquet(data.exams),
        as_of,
        timezone,
    )
    t1 = time.perf_counter()
    result = fit_completion(examples)
    result.seconds["build_examples"] = round(t1 - t0, 3)
    count_rows(examples.height, examples.height)
    logger = get_run_logger()
    if result.model is None:
        logger.info("no completion model: %s", result.reason)
    else:
        logger.info("held-out metrics:\n%s", metrics_markdown(result.metrics, result.n_test))
    return result


@io_task("save-completion-model")
@io_task("record-no-completion-model")
def record_no_completion_model(settings: Settings, reason: str, as_of: date) -> Path:
    """Note in this database's models that the training as of ``as_of`` fitted no completion
    model and why (too few outcomes): the nightly run's summary then says so."""
    with engine_of(settings.database_url) as engine:
        identity = ensure_identity(engine)
    return record_not_trained(settings.model_dir, identity, COMPLETION, as_of, reason)


def save_completion_model(
    settings: Settings, result: CompletionResult, as_of: date
) -> ModelMetadata:
    """Save the fitted completion model as a new version (``cm-…``) of this database's
    completion models and make it current."""
    if result.model is None:
        raise ValueError(f"no completion model to save: {result.reason}")
    with engine_of(settings.database_url) as engine:
        identity = ensure_identity(engine)
    meta = ModelMetadata(
        version="",
        trained_as_of=as_of.isoformat(),
        training_window={"as_of": as_of.isoformat(), **result.window},
        features=list(COMPLETION_FEATURES),
        metrics=result.metrics,
        n_train=result.n_train,
        n_test=result.n_test,
        seconds=result.seconds,
        database_identity=identity,
        database_url=url_without_credentials(settings.database_url),
    )
    saved = save_model(settings.model_dir, result.model, meta, COMPLETION)
    get_run_logger().info(
        "completion model %s saved in %s",
        saved.version,
        model_folder(settings.model_dir, identity) / saved.version,
    )
    return saved


@dataclass(frozen=True, slots=True)
class CompletionReport:
    """What the training run says of the completion model: the saved model's metadata,
    or why there is none."""

    meta: ModelMetadata | None
    reason: str = ""


@step_task("publish-completion-report")
def publish_completion_report(report: CompletionReport) -> str:
    """The completion model's metrics (or why there is none) as a markdown artifact (key
    ``completion-model``)."""
    md = completion_report(report)
    create_markdown_artifact(key="completion-model", markdown=md, description="Completion model")
    return md


def completion_report(report: CompletionReport) -> str:
    """Markdown: version, nights, the metrics table against the baselines; or the reason
    there is no model (the night keeps the rule targets)."""
    from daglig.learner.training import metrics_markdown

    if report.meta is None:
        return "\n".join(
            [
                "# Completion model: none",
                "",
                f"No completion model: {report.reason}. The nightly run keeps the rule targets.",
            ]
        )
    meta = report.meta
    w = meta.training_window
    model = meta.metrics["model"]
    beats = all(
        model["log_loss"] < b["log_loss"] and model["auc"] > b["auc"]
        for k, b in meta.metrics.items()
        if k != "model"
    )
    return "\n".join(
        [
            f"# Completion model {meta.version}",
            "",
            f"Assignments of {len(w['train_nights'])} nights trained ({meta.n_train:,}); "
            f"held out: {', '.join(w['eval_nights'])} ({meta.n_test:,}).",
            "",
            metrics_markdown(meta.metrics, meta.n_test).replace("answers", "assignments", 1),
            "",
            f"Beats every baseline on log loss and AUC: **{'yes' if beats else 'NO'}**.",
        ]
    )
