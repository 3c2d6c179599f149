"""Training and evaluation of the learner model on a temporal split (pure functions).

The plan for ``as_of`` (a date; the data used ends at its start in Europe/Oslo):

* the **evaluation** window is the last ``horizon_days`` before ``as_of``: features at its
  start, labels = the answers inside it;
* the **training** windows are the ``windows`` windows of the same length before that,
  each with features at its own start. No training label is later than the evaluation
  window's start, so the evaluation period is later than anything trained on.

Every estimator — the model and the baselines AVG, Laplace and Elo — predicts the same
held-out answers from what was known at the evaluation window's start. The online
evidence's practice curve is fitted on the training windows first
(:func:`daglig.learner.curve.fit_practice_curve`) and every example's ``ev_`` features are
read through it (``build_examples(practice=...)``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sklearn.dummy import DummyClassifier
from sklearn.metrics import log_loss, roc_auc_score

from daglig.learner.curve import CurveFit
from daglig.learner.estimators import EloBaseline, LaplaceBaseline, LearnerModel
from daglig.learner.examples import DEFAULT_CURVE, PracticeCurve, examples
from daglig.user_features import day_cutoff

HORIZON_DAYS = 7
TRAIN_WINDOWS = 8
MAX_TRAIN_EXAMPLES = 400_000
MAX_EVAL_EXAMPLES = 500_000


@dataclass(frozen=True, slots=True)
class TrainingPlan:
    """The cutoffs of one training run (naive UTC instants)."""

    as_of: date
    horizon_days: int
    train_cutoffs: tuple[datetime, ...]
    eval_cutoff: datetime
    eval_end: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "horizon_days": self.horizon_days,
            "train_cutoffs": [c.isoformat() for c in self.train_cutoffs],
            "eval_cutoff": self.eval_cutoff.isoformat(),
            "eval_end": self.eval_end.isoformat(),
        }


def plan_training(
    as_of: date,
    tz: str = "Europe/Oslo",
    horizon_days: int = HORIZON_DAYS,
    windows: int = TRAIN_WINDOWS,
) -> TrainingPlan:
    """Cutoffs at day starts in ``tz``: evaluation on the last window, training before."""
    eval_day = as_of - timedelta(days=horizon_days)
    train_days = [eval_day - timedelta(days=horizon_days * j) for j in range(windows, 0, -1)]
    return TrainingPlan(
        as_of=as_of,
        horizon_days=horizon_days,
        train_cutoffs=tuple(day_cutoff(d, tz) for d in train_days),
        eval_cutoff=day_cutoff(eval_day, tz),
        eval_end=day_cutoff(as_of, tz),
    )


def build_examples(
    log: pl.DataFrame,
    exams: pl.DataFrame,
    plan: TrainingPlan,
    max_train_examples: int = MAX_TRAIN_EXAMPLES,
    max_eval_examples: int = MAX_EVAL_EXAMPLES,
    practice: PracticeCurve = DEFAULT_CURVE,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(training examples, evaluation examples) for the plan. When the log is large the
    training windows are hash-sampled down to ``max_train_examples`` in all, and the
    held-out window to ``max_eval_examples`` (the same sample for every estimator).
    ``practice``: the online evidence's practice curve (fitted on the training windows by
    :func:`daglig.learner.curve.fit_practice_curve`)."""
    lf, ex = log.lazy(), exams.lazy()
    in_train = log.filter(
        (pl.col("answered_at") >= plan.train_cutoffs[0])
        & (pl.col("answered_at") < plan.eval_cutoff)
    ).height
    in_eval = log.filter(
        (pl.col("answered_at") >= plan.eval_cutoff) & (pl.col("answered_at") < plan.eval_end)
    ).height
    fraction = min(1.0, max_train_examples / max(in_train, 1))
    train_parts = [
        examples(lf, ex, c, plan.horizon_days, fraction, practice) for c in plan.train_cutoffs
    ]
    test_part = examples(
        lf,
        ex,
        plan.eval_cutoff,
        plan.horizon_days,
        min(1.0, max_eval_examples / max(in_eval, 1)),
        practice,
    )
    frames = pl.collect_all([*train_parts, test_part])
    return pl.concat(frames[:-1]), frames[-1]


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE: the label-weighted mean |mean(y) − mean(p)| over equal-width probability bins."""
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    n = np.bincount(idx, minlength=bins)
    gap = np.abs(
        np.bincount(idx, weights=y, minlength=bins) - np.bincount(idx, weights=p, minlength=bins)
    )
    return float(gap.sum() / max(n.sum(), 1))


def score(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Log loss, AUC and ECE of probabilities ``p`` for labels ``y``."""
    return {
        "log_loss": round(float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])), 5),
        "auc": round(float(roc_auc_score(y, p)), 5) if 0 < y.mean() < 1 else float("nan"),
        "ece": round(expected_calibration_error(y, p), 5),
    }


@dataclass
class TrainingResult:
    """The fitted model, the metrics table (model and baselines on the held-out window),
    example counts, seconds, and the practice curve its evidence features were read
    through (with its fit; None: the defaults, not fitted)."""

    model: LearnerModel
    metrics: dict[str, dict[str, float]]
    n_train: int
    n_test: int
    seconds: dict[str, float] = field(default_factory=dict)
    practice_fit: CurveFit | None = None

    @property
    def practice(self) -> PracticeCurve:
        return DEFAULT_CURVE if self.practice_fit is None else self.practice_fit.practice


def fit_and_evaluate(
    log: pl.DataFrame,
    train: pl.DataFrame,
    test: pl.DataFrame,
    plan: TrainingPlan,
    model: LearnerModel | None = None,
    practice_fit: CurveFit | None = None,
) -> TrainingResult:
    """Fit the learner model on ``train``; fit the baselines on the same information; score
    all of them on ``test`` (the later window). ``practice_fit``: the practice curve the
    examples' evidence was read through, kept with the result (None: the defaults)."""
    if train.height == 0 or test.height == 0:
        raise ValueError(
            f"not enough answers to train: {train.height} training and {test.height} "
            f"evaluation examples (plan {plan.as_dict()})"
        )
    y_train = train["label"].to_numpy()
    y_test = test["label"].to_numpy().astype(np.float64)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    fitted = (model or LearnerModel()).fit(train, y_train)
    seconds["fit_model"] = round(time.perf_counter() - t0, 3)

    history = log.filter(pl.col("answered_at") < plan.eval_cutoff)
    t1 = time.perf_counter()
    elo = EloBaseline().fit(history, history["is_correct"].to_numpy())
    seconds["fit_elo"] = round(time.perf_counter() - t1, 3)
    avg = DummyClassifier(strategy="prior").fit(np.zeros((y_train.size, 1)), y_train)
    laplace = LaplaceBaseline().fit(train, y_train)

    t2 = time.perf_counter()
    predictions = {
        "model": fitted.predict_proba(test)[:, 1],
        "AVG": avg.predict_proba(np.zeros((test.height, 1)))[:, 1],
        "Laplace": laplace.predict_proba(test)[:, 1],
        "Elo": elo.predict_proba(test)[:, 1],
    }
    seconds["evaluate"] = round(time.perf_counter() - t2, 3)
    metrics = {name: score(y_test, p) for name, p in predictions.items()}
    return TrainingResult(fitted, metrics, train.height, test.height, seconds, practice_fit)


def metrics_markdown(metrics: dict[str, dict[str, float]], n_test: int) -> str:
    """The metrics table as markdown: one row per estimator, best first by log loss."""
    lines = [
        f"Held-out answers: {n_test:,}. Lower log loss and ECE are better; higher AUC is.",
        "",
        "| estimator | log loss | AUC | ECE |",
        "|---|---:|---:|---:|",
    ]
    for name, m in sorted(metrics.items(), key=lambda kv: kv[1]["log_loss"]):
        lines.append(f"| {name} | {m['log_loss']:.4f} | {m['auc']:.4f} | {m['ece']:.4f} |")
    return "\n".join(lines)
