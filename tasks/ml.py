"""The learner model's tasks: training (read, fit and evaluate, save, report) and, in the
nightly run, loading the saved model (the assessment step is tasks/assess.py).

The nightly run trains nothing. Loading validates the model (age, features, checksum,
a probe prediction); any failure raises ``ModelUnavailable`` with the reason, and the
flow sends everyone down the fallback path.
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
from daglig.io.db import engine_of, read_frame, stream_answer_log
from daglig.io.identity import ensure_identity, read_identity, url_without_credentials
from daglig.io.model_store import (
    LoadedModel,
    ModelMetadata,
    ModelUnavailable,
    load_model,
    model_folder,
    save_model,
)
from daglig.io.run_folder import RunFile
from daglig.learner.examples import EXAMS_SCHEMA, FEATURES
from daglig.shards import shard_count, shard_of
from daglig.user_features import ATTEMPTS_SCHEMA, QUESTIONS_SCHEMA, clean_attempts
from tasks.common import save
from tasks.retry import io_task
from tasks.steps import count_rows, step_task

if TYPE_CHECKING:  # scikit-learn takes seconds to import: the nightly run needs none of it
    from daglig.learner.training import TrainingPlan, TrainingResult


@step_task("load-model")
def load_learner_model(settings: Settings, run_date: date) -> LoadedModel | ModelUnavailable:
    """The current learner model of this database, validated for ``run_date``, or the
    ``ModelUnavailable`` saying why there is none (no retries: a bad model stays bad; the
    flow falls back). Reads the database's identity, creates none: a database without one
    has no model trained on it.

    Returned, not raised: no usable model is an expected outcome, not a failed task, and a
    raised exception would be logged at ERROR with its traceback in every fallback run
    (and in every date of a backfill). The flow logs it once, as a WARNING."""
    try:
        loaded = load_model(
            settings.model_dir, run_date, settings.model_max_age_days, database_identity(settings)
        )
    except ModelUnavailable as exc:
        return exc
    get_run_logger().info(
        "learner model %s (data up to %s) loaded",
        loaded.version,
        loaded.metadata.trained_as_of,
    )
    return loaded


def database_identity(settings: Settings) -> str | None:
    """The identity of the run's database (``pipeline_identity``), or None: none yet."""
    with engine_of(settings.database_url) as engine:
        return read_identity(engine)


@dataclass(frozen=True, slots=True)
class TrainingData:
    """Paths of the cleaned answer log and exam sessions a training run reads."""

    log: Path
    exams: Path
    answers: int


@io_task("read-training-log")
def read_training_data(settings: Settings, plan: TrainingPlan) -> TrainingData:
    """The cleaned answer log and completed exams before ``plan.eval_end`` of at most
    ``DAGLIG_TRAIN_MAX_USERS`` learners (a stable hash sample: one shard of
    ``ceil(users / max)``), as Parquet in the training run's folder (the only step that
    touches the database). The log is streamed, so memory follows the sample, not the app."""
    url = settings.database_url
    questions = read_frame(url, "read/questions", None, QUESTIONS_SCHEMA)
    users = read_frame(
        url,
        "read/users",
        {"cutoff": plan.eval_end},
        {"user_id": pl.Int64, "created_at": pl.Datetime("us")},
    )
    n = shard_count(users.height, settings.train_max_users)

    def sample(frame: pl.DataFrame) -> pl.DataFrame:
        return frame if n == 1 else frame.filter(shard_of(frame["user_id"], n) == 0)

    attempts = pl.concat(
        [sample(b) for b in stream_answer_log(url, plan.eval_end)]
        or [pl.DataFrame(schema=ATTEMPTS_SCHEMA)]
    ).sort("attempt_id")
    exams = sample(read_frame(url, "read/exam_sessions", {"cutoff": plan.eval_end}, EXAMS_SCHEMA))
    clean, _ = clean_attempts(
        attempts.lazy(), questions.lazy(), settings.timezone, users=sample(users).lazy()
    )
    log = clean.collect()
    folder = settings.runs_dir / f"train-{plan.as_of.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    data = TrainingData(
        save(log, folder, RunFile.ANSWER_LOG), save(exams, folder, RunFile.EXAMS), log.height
    )
    count_rows(attempts.height, log.height)
    return data


@step_task("fit-and-evaluate")
def fit_learner_model(data: TrainingData, plan: TrainingPlan) -> TrainingResult:
    """The evidence's practice curve fitted on the training windows; examples from the
    temporal split read through it; the model and the baselines fitted and scored on the
    later, held-out window."""
    from daglig.learner.curve import fit_practice_curve
    from daglig.learner.training import build_examples, fit_and_evaluate, metrics_markdown

    t0 = time.perf_counter()
    log, exams = pl.read_parquet(data.log), pl.read_parquet(data.exams)
    curve = fit_practice_curve(log, plan.train_cutoffs, plan.horizon_days)
    t1 = time.perf_counter()
    train, test = build_examples(log, exams, plan, practice=curve.practice)
    t2 = time.perf_counter()
    result = fit_and_evaluate(log, train, test, plan, practice_fit=curve)
    result.seconds["fit_practice_curve"] = round(t1 - t0, 3)
    result.seconds["build_examples"] = round(t2 - t1, 3)
    count_rows(data.answers, train.height + test.height)
    logger = get_run_logger()
    logger.info("practice curve %s (%s)", curve.practice.as_dict(), curve.as_dict())
    logger.info("held-out metrics:\n%s", metrics_markdown(result.metrics, result.n_test))
    return result


@io_task("save-model")
def save_learner_model(
    settings: Settings, result: TrainingResult, plan: TrainingPlan
) -> ModelMetadata:
    """Save the model as a new version of this database's models (creating the
    database's identity when it has none) with its metadata, and make it current."""
    with engine_of(settings.database_url) as engine:
        identity = ensure_identity(engine)
    meta = ModelMetadata(
        version="",
        trained_as_of=plan.as_of.isoformat(),
        training_window=plan.as_dict(),
        features=list(FEATURES),
        metrics=result.metrics,
        n_train=result.n_train,
        n_test=result.n_test,
        seconds=result.seconds,
        database_identity=identity,
        database_url=url_without_credentials(settings.database_url),
        practice_curve=result.practice.as_dict(),
        practice_curve_fit=None if result.practice_fit is None else result.practice_fit.as_dict(),
    )
    saved = save_model(settings.model_dir, result.model, meta)
    get_run_logger().info(
        "learner model %s of %s saved in %s",
        saved.version,
        saved.database_url,
        model_folder(settings.model_dir, identity) / saved.version,
    )
    return saved


@step_task("publish-model-report")
def publish_model_report(meta: ModelMetadata) -> str:
    """The metrics table as a markdown artifact (key ``learner-model``)."""
    md = model_report(meta)
    create_markdown_artifact(
        key="learner-model", markdown=md, description=f"Learner model {meta.version}"
    )
    return md


def _practice_line(meta: ModelMetadata) -> str:
    """The practice curve the evidence features were read through, and how it was found."""
    p = meta.practice
    curve = (
        f"practice gain {p.practice_gain:g}, share kept {p.gain_kept:g}, "
        f"fading over {p.fade_days:g} days"
    )
    fit = meta.practice_curve_fit
    if fit is None:
        return f"Practice curve of the online evidence: {curve} (the defaults; not fitted)."
    if not fit["fitted"]:
        return (
            f"Practice curve of the online evidence: {curve} (the defaults: "
            f"{fit['answers']:,} answers are too few to fit it)."
        )
    return (
        f"Practice curve of the online evidence: {curve}, fitted on {fit['answers']:,} "
        f"answers of the training windows (the evidence's log loss {fit['log_loss']:.4f}; "
        f"{fit['log_loss_default']:.4f} with the defaults, {fit['log_loss_flat']:.4f} "
        "with no practice gain)."
    )


def model_report(meta: ModelMetadata) -> str:
    """Markdown: version, training window, the metrics table, beats-every-baseline verdict."""
    from daglig.learner.training import metrics_markdown

    model = meta.metrics["model"]
    baselines = {k: v for k, v in meta.metrics.items() if k != "model"}
    beats = all(
        model["log_loss"] < b["log_loss"] and model["auc"] > b["auc"] for b in baselines.values()
    )
    w = meta.training_window
    return "\n".join(
        [
            f"# Learner model {meta.version}",
            "",
            f"Answers up to {meta.trained_as_of} (Europe/Oslo). Training windows start "
            f"{w['train_cutoffs'][0]} … {w['train_cutoffs'][-1]} ({w['horizon_days']} days each, "
            f"{meta.n_train:,} examples); held out: {w['eval_cutoff']} … {w['eval_end']}.",
            "",
            metrics_markdown(meta.metrics, meta.n_test),
            "",
            f"Beats every baseline on log loss and AUC: **{'yes' if beats else 'NO'}**.",
            "",
            _practice_line(meta),
            "",
            "Seconds: " + ", ".join(f"{k} {v}" for k, v in meta.seconds.items()),
        ]
    )
