"""The completion model and its baselines behind scikit-learn's estimator API, and the
training run's fit on the temporal split of :mod:`daglig.learner.completion`.

The model is the learner model's calibrated trees
(:class:`~daglig.learner.estimators.LearnerModel`) on the completion features: the latest
training night calibrates, the earlier ones grow the trees. Baselines: the completion
rate per type, and per learner × type smoothed. Model and baselines learn and are scored
on the assignments of days the learner practised (``practised``): the probability of
completing a challenge if the learner practises that day. With fewer than
``MIN_OUTCOMES`` such training assignments no model is fitted: the night keeps today's
rule targets and its summary says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from daglig.learner.completion import COMPLETION_FEATURES, temporal_split
from daglig.learner.estimators import LearnerModel, _two_columns
from daglig.learner.training import score

MIN_OUTCOMES = 2_000  # labelled training assignments below which no model is fitted


class CompletionModel(LearnerModel):
    """The learner model's calibrated trees on :data:`COMPLETION_FEATURES`: the latest
    training night calibrates, the earlier ones grow the trees."""

    def __init__(
        self,
        features: tuple[str, ...] = COMPLETION_FEATURES,
        max_iter: int = 150,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 50,
        calibration_share: float = 0.2,
        random_state: int = 0,
        n_threads: int | None = 1,
    ) -> None:
        super().__init__(
            features=features,
            max_iter=max_iter,
            learning_rate=learning_rate,
            max_leaf_nodes=max_leaf_nodes,
            min_samples_leaf=min_samples_leaf,
            calibration_share=calibration_share,
            random_state=random_state,
            n_threads=n_threads,
        )


class TypeRateBaseline(ClassifierMixin, BaseEstimator):
    """P(complete) = the training completion rate of the challenge's type (Laplace)."""

    def fit(self, X: Any, y: Any) -> TypeRateBaseline:
        f = pl.DataFrame({"challenge_type": X["challenge_type"], "y": np.asarray(y)})
        rates = f.group_by("challenge_type").agg(p=(pl.col("y").sum() + 1) / (pl.len() + 2))
        self.rates_ = dict(zip(rates["challenge_type"], rates["p"], strict=True))
        self.prior_ = float(np.mean(y)) if len(y) else 0.5
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "rates_")
        p = pl.Series(X["challenge_type"]).replace_strict(
            self.rates_, default=self.prior_, return_dtype=pl.Float64
        )
        return _two_columns(p.to_numpy())

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int8)


class LearnerTypeBaseline(ClassifierMixin, BaseEstimator):
    """P(complete) = the learner × type completion rate so far, smoothed towards the type's
    rate (the ``ut_rate`` feature, as of the night)."""

    def fit(self, X: Any, y: Any) -> LearnerTypeBaseline:
        self.classes_ = np.array([0, 1])
        self.fitted_ = True
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "fitted_")
        return _two_columns(X["ut_rate"].cast(pl.Float64).to_numpy())

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int8)


@dataclass
class CompletionResult:
    """The fitted model (None: too few outcomes, ``reason`` says so), its metrics against
    the baselines on the held-out nights, example counts, the nights, seconds."""

    model: CompletionModel | None
    metrics: dict[str, dict[str, float]]
    n_train: int
    n_test: int
    window: dict[str, Any]
    reason: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


def fit_completion(
    examples: pl.DataFrame,
    min_outcomes: int = MIN_OUTCOMES,
    model: CompletionModel | None = None,
) -> CompletionResult:
    """Split, fit and score on the assignments of practice days; no model when the
    training nights hold fewer than ``min_outcomes`` of them or only one outcome."""
    all_nights = examples.height
    if "practised" in examples.columns:
        examples = examples.filter(pl.col("practised"))
    train, test = temporal_split(examples)
    window = {
        "train_nights": sorted({d.isoformat() for d in train["challenge_date"].to_list()})
        if train.height
        else [],
        "eval_nights": sorted({d.isoformat() for d in test["challenge_date"].to_list()})
        if test.height
        else [],
        "label": "completed, on a day the learner practised",
        "assignments_all_days": all_nights,
    }
    y_train = train["label"].to_numpy() if train.height else np.zeros(0)
    if train.height < min_outcomes or test.height == 0 or np.unique(y_train).size < 2:
        reason = (
            f"too few challenge outcomes to learn from ({train.height:,} of the "
            f"{min_outcomes:,} needed before the held-out nights)"
        )
        return CompletionResult(None, {}, train.height, test.height, window, reason)
    y_test = test["label"].to_numpy().astype(np.float64)
    t0 = time.perf_counter()
    fitted = (model or CompletionModel()).fit(train, y_train)
    seconds = {"fit_model": round(time.perf_counter() - t0, 3)}
    predictions = {
        "model": fitted.predict_proba(test)[:, 1],
        "type rate": TypeRateBaseline().fit(train, y_train).predict_proba(test)[:, 1],
        "learner × type": LearnerTypeBaseline().fit(train, y_train).predict_proba(test)[:, 1],
    }
    metrics = {name: score(y_test, p) for name, p in predictions.items()}
    return CompletionResult(fitted, metrics, train.height, test.height, window, seconds=seconds)
