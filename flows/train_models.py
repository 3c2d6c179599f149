"""The weekly training: the learner model, then the completion model (``daglig train``).

``train_models`` is what the weekly ``train`` deployment runs: the two training flows as
subflows, in the order ``daglig train`` runs them, with the same ``as_of``. A learner
model that fails to train fails the run before the completion model; no completion model
(too few outcomes, a new install) is a result, not a failure: the nights keep the rule
targets.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, runtime

from daglig.config import Settings
from flows.common import resolve_run_date
from flows.train_completion_model import train_completion_model
from flows.train_learner_model import train_learner_model


def _run_name() -> str:
    params = runtime.flow_run.parameters or {}
    return f"train-models-{params.get('as_of') or resolve_run_date(None)}"


@flow(name="train-models", flow_run_name=_run_name, log_prints=True)
def train_models(as_of: date | None = None) -> dict[str, Any]:
    """Train, validate and save the learner model and the completion model.

    Args:
        as_of: the answers and assignments used end at the start of this day (Europe/Oslo);
            the latest of them are held out for evaluation. Default: the scheduled day,
            else today.
    """
    day = resolve_run_date(as_of, Settings().timezone)  # one day for both, as scheduled
    learner = train_learner_model(as_of=day)
    completion = train_completion_model(as_of=day)
    return {"learner": learner, "completion": completion}
