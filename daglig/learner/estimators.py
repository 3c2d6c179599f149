"""The learner model and its baselines, all behind scikit-learn's estimator API.

Each estimator takes a polars frame ``X`` of answer rows and ``y`` (1 = answered right)
and predicts the probability of a right answer. ``fit`` returns ``self``; what fitting
learns ends in ``_``; ``get_params``/``clone`` work. The baselines:

* AVG — :class:`sklearn.dummy.DummyClassifier` (``strategy="prior"``): the global mean.
* :class:`LaplaceBaseline` — the (user, category)'s smoothed accuracy so far.
* :class:`EloBaseline` — user ability and question difficulty, updated answer by answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from daglig.learner.examples import FEATURES


def _as_frame(X: Any) -> pl.DataFrame:
    if isinstance(X, pl.DataFrame):
        return X
    return pl.DataFrame(X)


def _two_columns(p: np.ndarray) -> np.ndarray:
    p = np.clip(p.astype(np.float64), 1e-6, 1 - 1e-6)
    return np.column_stack([1.0 - p, p])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class LearnerModel(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees on the point-in-time features, their probabilities
    calibrated by isotonic regression fitted on a *later* slice the trees did not see.

    When ``X`` has a ``cutoff`` column (training examples do), the rows of the latest
    cutoff calibrate and the earlier ones grow the trees — the calibration is then also
    checked against time drift; otherwise a seeded ``calibration_share`` of the rows
    calibrates. One model, not a cross-validated ensemble: scoring every (user, category)
    each night costs one tree pass: 3× cheaper than ``CalibratedClassifierCV(cv=3)``, whose
    held-out log loss on 10k simulated learners was 0.5159 against this model's 0.5169.
    Missing values (never-practised categories, no exams yet) are routed by the trees.

    60 trees of 15 leaves at learning rate 0.3 (issue 16): on 10k simulated learners,
    two simulations × three row orders, the held-out log loss is within 0.0007 of the
    former 150 trees of 31 leaves at 0.1 and predicting is 3.0× faster (1.6–1.7 s against
    4.9–5.0 s per million rows, one thread); `python -m bench scorer`, docs/learner-model.md.

    ``n_threads`` caps the trees' OpenMP threads (None: all cores). One is the default:
    OpenMP threads spin-wait, and on a shared 2-core machine two threads measured 4.4×
    slower than one (52.9 s vs 12.1 s for a 200k-row fit) while another process ran.
    """

    def __init__(
        self,
        features: tuple[str, ...] = FEATURES,
        max_iter: int = 60,
        learning_rate: float = 0.3,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 100,
        calibration_share: float = 0.2,
        random_state: int = 0,
        n_threads: int | None = 1,
    ) -> None:
        self.features = features
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.calibration_share = calibration_share
        self.random_state = random_state
        self.n_threads = n_threads

    def _matrix(self, X: Any) -> np.ndarray:
        frame = _as_frame(X)
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise ValueError(f"missing feature columns: {missing}")
        return frame.select(list(self.features)).cast(pl.Float64).to_numpy()

    def _calibration_rows(self, X: Any, n: int) -> np.ndarray:
        frame = _as_frame(X)
        if "cutoff" in frame.columns and frame["cutoff"].n_unique() > 1:
            return (frame["cutoff"] == frame["cutoff"].max()).to_numpy()
        rng = np.random.default_rng(self.random_state)
        return rng.random(n) < self.calibration_share

    def fit(self, X: Any, y: Any) -> LearnerModel:
        matrix = self._matrix(X)
        y = np.asarray(y).astype(np.int8)
        late = self._calibration_rows(X, y.size)
        if late.all() or not late.any() or np.unique(y[~late]).size < 2:
            late = np.zeros(y.size, dtype=bool)  # too little data to split: calibrate in-sample
        trees = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            early_stopping=False,
            random_state=self.random_state,
        )
        with threadpool_limits(self.n_threads):
            self.trees_ = trees.fit(matrix[~late], y[~late])
            cal = late if late.any() else ~late
            raw = self.trees_.predict_proba(matrix[cal])[:, 1]
        self.isotonic_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            raw, y[cal]
        )
        self.classes_ = self.trees_.classes_
        self.n_features_in_ = len(self.features)
        self.feature_names_in_ = np.asarray(self.features, dtype=object)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "isotonic_")
        with threadpool_limits(self.n_threads):
            raw = self.trees_.predict_proba(self._matrix(X))[:, 1]
        return _two_columns(self.isotonic_.predict(raw))

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int8)


class LaplaceBaseline(ClassifierMixin, BaseEstimator):
    """P(right) = (correct + alpha·m) / (attempts + alpha) for the (user, category) so far,
    with m the training labels' mean. Reads the ``correct`` and ``attempts`` columns."""

    def __init__(self, alpha: float = 2.0) -> None:
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> LaplaceBaseline:
        y = np.asarray(y).astype(np.float64)
        self.prior_ = float(y.mean()) if y.size else 0.5
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "prior_")
        f = _as_frame(X)
        c = f["correct"].fill_null(0).cast(pl.Float64).to_numpy()
        n = f["attempts"].fill_null(0).cast(pl.Float64).to_numpy()
        return _two_columns((c + self.alpha * self.prior_) / (n + self.alpha))

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int8)


class EloBaseline(ClassifierMixin, BaseEstimator):
    """Elo for learners (Pelánek 2016): P(right) = σ(bias + θ_user − b_question).

    ``fit`` plays the answer log forward: each answer moves the user's θ and the
    question's b by K(n)·(y − p), with K(n) = k / (1 + decay·n) shrinking as a rating
    gathers evidence. Answers are processed in rounds of "every user's i-th answer", so a
    user's ratings follow their own answers in time order exactly while the loop runs
    over rounds (hundreds), not answers (millions). ``X`` needs user_id, question_id and
    answered_at; prediction needs user_id and question_id. Unseen ids rate 0.
    """

    def __init__(self, k: float = 0.8, decay: float = 0.05) -> None:
        self.k = k
        self.decay = decay

    def fit(self, X: Any, y: Any) -> EloBaseline:
        f = _as_frame(X).select("user_id", "question_id", "answered_at")
        f = f.with_columns(_y=pl.Series(np.asarray(y).astype(np.float64)))
        f = f.sort("user_id", "answered_at", maintain_order=True)
        users, u_idx = np.unique(f["user_id"].to_numpy(), return_inverse=True)
        questions, q_idx = np.unique(f["question_id"].to_numpy(), return_inverse=True)
        yv = f["_y"].to_numpy()
        self.bias_ = float(np.log(yv.mean() / (1 - yv.mean()))) if 0 < yv.mean() < 1 else 0.0
        theta = np.zeros(users.size)
        b = np.zeros(questions.size)
        n_u = np.zeros(users.size)
        n_q = np.zeros(questions.size)
        # Round i holds every user's i-th answer: position minus the user's first position.
        first = np.r_[0, np.flatnonzero(np.diff(u_idx)) + 1]
        starts = np.repeat(first, np.diff(np.r_[first, u_idx.size]))
        rank = np.arange(u_idx.size) - starts
        order = np.argsort(rank, kind="stable")
        bounds = np.r_[0, np.flatnonzero(np.diff(rank[order])) + 1, order.size]
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            i = order[lo:hi]
            u, q, yy = u_idx[i], q_idx[i], yv[i]
            r = yy - _sigmoid(self.bias_ + theta[u] - b[q])
            theta[u] += self.k / (1 + self.decay * n_u[u]) * r
            np.subtract.at(b, q, self.k / (1 + self.decay * n_q[q]) * r)
            n_u[u] += 1
            np.add.at(n_q, q, 1)
        self.user_ids_, self.theta_ = users, theta
        self.question_ids_, self.b_ = questions, b
        self.classes_ = np.array([0, 1])
        return self

    @staticmethod
    def _lookup(ids: np.ndarray, known: np.ndarray, values: np.ndarray) -> np.ndarray:
        if known.size == 0:
            return np.zeros(ids.size)
        pos = np.clip(np.searchsorted(known, ids), 0, known.size - 1)
        return np.where(known[pos] == ids, values[pos], 0.0)

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "theta_")
        f = _as_frame(X)
        th = self._lookup(f["user_id"].to_numpy(), self.user_ids_, self.theta_)
        bq = self._lookup(f["question_id"].to_numpy(), self.question_ids_, self.b_)
        return _two_columns(_sigmoid(self.bias_ + th - bq))

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int8)
