"""The completion model's training flow: will a learner complete what they are asked?

A sibling of ``train_learner_model`` (``daglig train`` runs both): it reads the same
training log and the past assignments, builds point-in-time examples per night, fits the
calibrated model on the earlier nights, scores it and the baselines (rate per type, per
learner × type smoothed) on the latest nights, and saves it as a ``cm-…`` version in the
same model store. Too few outcomes: no model is saved; the result says why and the store
notes it for the nightly run's summary.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, runtime

from daglig.config import Settings
from daglig.io.model_store import model_folder
from daglig.learner.training import plan_training
from flows.common import resolve_run_date
from tasks.completion import (
    CompletionReport,
    fit_completion_model,
    publish_completion_report,
    read_past_assignments,
    record_no_completion_model,
    save_completion_model,
)
from tasks.ml import read_training_data


def _run_name() -> str:
    params = runtime.flow_run.parameters or {}
    return f"train-completion-model-{params.get('as_of') or resolve_run_date(None)}"


@flow(name="train-completion-model", flow_run_name=_run_name, log_prints=True)
def train_completion_model(as_of: date | None = None) -> dict[str, Any]:
    """Train, validate and save the completion model (none with too few outcomes).

    Args:
        as_of: the assignments used are of the nights before this day (Europe/Oslo), their
            outcomes as known at its start. Default: the scheduled day, else today.
    """
    settings = Settings()
    plan = plan_training(resolve_run_date(as_of, settings.timezone), settings.timezone)
    data = read_training_data(settings, plan)
    assignments = read_past_assignments(settings, data, plan.as_of)
    result = fit_completion_model(data, assignments, plan.as_of, settings.timezone)
    if result.model is None:
        record_no_completion_model(settings, result.reason, plan.as_of)
        publish_completion_report(CompletionReport(None, result.reason))
        return {"version": None, "reason": result.reason, "n_train": result.n_train}
    meta = save_completion_model(settings, result, plan.as_of)
    publish_completion_report(CompletionReport(meta))
    return {
        "version": meta.version,
        "trained_as_of": meta.trained_as_of,
        "metrics": meta.metrics,
        "n_train": meta.n_train,
        "n_test": meta.n_test,
        "folder": str(model_folder(settings.model_dir, meta.database_identity) / meta.version),
    }
