"""The training flow: fit the learner model on the answer log, validate it, save it.

``train_learner_model`` is what the weekly ``train`` deployment runs. It reads the answer
log once, builds examples from a temporal split (features at each window's start, labels
= the answers inside the window), fits the calibrated model, scores it and the AVG,
Laplace and Elo baselines on a later held-out window, saves it as a new version with its
metadata, and leaves the metrics table as a markdown artifact.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, runtime

from daglig.config import Settings
from daglig.io.model_store import model_folder
from daglig.learner.training import plan_training
from flows.common import resolve_run_date
from tasks.ml import (
    fit_learner_model,
    publish_model_report,
    read_training_data,
    save_learner_model,
)


def _run_name() -> str:
    params = runtime.flow_run.parameters or {}
    return f"train-learner-model-{params.get('as_of') or resolve_run_date(None)}"


@flow(name="train-learner-model", flow_run_name=_run_name, log_prints=True)
def train_learner_model(as_of: date | None = None) -> dict[str, Any]:
    """Train, validate and save the learner model.

    Args:
        as_of: the answers used end at the start of this day (Europe/Oslo); the last
            week before it is held out for evaluation. Default: the scheduled day, else
            today.
    """
    settings = Settings()
    plan = plan_training(resolve_run_date(as_of, settings.timezone), settings.timezone)
    data = read_training_data(settings, plan)
    result = fit_learner_model(data, plan)
    meta = save_learner_model(settings, result, plan)
    publish_model_report(meta)
    return {
        "version": meta.version,
        "trained_as_of": meta.trained_as_of,
        "metrics": meta.metrics,
        "n_train": meta.n_train,
        "n_test": meta.n_test,
        "seconds": meta.seconds,
        "practice_curve": meta.practice_curve,
        "database_url": meta.database_url,
        "folder": str(model_folder(settings.model_dir, meta.database_identity) / meta.version),
    }
