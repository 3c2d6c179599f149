"""The online evidence's practice curve fitted from the training log
(daglig/learner/curve.py): it recovers a known gain, its predictions are the evidence's
own, and it reads nothing of the held-out window."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

import simulator.learners as sim
from daglig.learner.curve import (
    FADE_GRID,
    curve_loss,
    fit_frame,
    fit_practice_curve,
)
from daglig.learner.examples import DEFAULT_CURVE, EXAMS_SCHEMA, PracticeCurve, examples
from daglig.learner.training import plan_training
from daglig.user_features import clean_attempts
from tests.test_learner import clean_log, practice_log

pytestmark = pytest.mark.pure  # the fast tier: no database, no Prefect, no process

RUN = dt.date(2026, 11, 24)
NO_EXAMS = pl.DataFrame(schema=EXAMS_SCHEMA)


def simulated_log(monkeypatch: pytest.MonkeyPatch, gain: float, users: int = 1000) -> pl.DataFrame:
    """The cleaned answer log of ``users`` simulated learners whose practice gain is
    ``gain`` (the simulator's population mean; each learner's is it × a log-normal factor of
    mean 1.06)."""
    monkeypatch.setattr(sim, "LEARN_RATE", gain)
    frames = sim.simulate_frames(users=users, seed=5, end_date=RUN - dt.timedelta(days=1)).frames
    attempts = frames["question_attempts"].rename({"id": "attempt_id"})
    questions = frames["questions"].rename({"id": "question_id"})
    return clean_attempts(attempts.lazy(), questions.lazy())[0].collect()


def fit(log: pl.DataFrame) -> PracticeCurve:
    plan = plan_training(RUN)
    result = fit_practice_curve(log, plan.train_cutoffs, plan.horizon_days)
    assert result.fitted and result.answers > 10_000
    # the fitted curve predicts the later answers no worse than no gain or the defaults
    assert result.log_loss <= min(result.log_loss_default, result.log_loss_flat)
    return result.practice


def test_the_fit_recovers_the_practice_gain_of_the_data(monkeypatch: pytest.MonkeyPatch) -> None:
    low = fit(simulated_log(monkeypatch, 0.1))
    high = fit(simulated_log(monkeypatch, 0.4))
    # the learners' mean gain is 1.06 × the set one: 0.106 and 0.425
    assert low.practice_gain == pytest.approx(0.106, abs=0.06)
    assert high.practice_gain == pytest.approx(0.425, abs=0.08)
    assert high.practice_gain - low.practice_gain > 0.2
    assert 0.0 <= low.gain_kept <= 1.0 and high.fade_days in FADE_GRID


def test_the_fit_scores_the_evidence_s_own_prediction(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fit frame's logit for a curve is b_i + ev_uc_logit of the training examples
    built with that curve, answer by answer."""
    log = simulated_log(monkeypatch, 0.28, users=300)
    cutoff = plan_training(RUN).train_cutoffs[-1]
    frame = fit_frame(log.lazy(), (cutoff,), 7)
    curve = PracticeCurve(0.35, 0.3, 14.0)
    ex = examples(log.lazy(), NO_EXAMS.lazy(), cutoff, 7, practice=curve).collect()
    logit_q = (pl.col("q_expected") / (1 - pl.col("q_expected"))).log()
    want = ex.filter(pl.col("attempts") > 0).select(
        "user_id", "question_id", "answered_at", want=logit_q + pl.col("ev_uc_logit")
    )
    got = frame.select(
        "user_id",
        "question_id",
        "answered_at",
        got=pl.col("base") + 0.35 * (0.3 * pl.col("x_kept") + 0.7 * pl.col("x_fade_14")),
    )
    both = got.join(want, on=["user_id", "question_id", "answered_at"], how="full")
    assert frame.height > 1_000 and both.height == frame.height == want.height
    assert (both["got"] - both["want"]).abs().max() < 1e-9  # type: ignore[operator]
    # its loss is the mean log loss of σ(that logit)
    y, z = frame["label"].to_numpy(), got["got"].to_numpy()
    p = 1 / (1 + np.exp(-z))
    by_hand = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert curve_loss(frame, curve) == pytest.approx(by_hand, rel=1e-9)


def test_the_fit_reads_nothing_of_the_held_out_window(monkeypatch: pytest.MonkeyPatch) -> None:
    log = simulated_log(monkeypatch, 0.28, users=300)
    plan = plan_training(RUN)
    before = fit_practice_curve(log, plan.train_cutoffs, plan.horizon_days)
    # every answer of the held-out window (and after) turned wrong
    flipped = log.with_columns(
        is_correct=pl.when(pl.col("answered_at") >= plan.eval_cutoff)
        .then(False)
        .otherwise(pl.col("is_correct"))
    )
    assert flipped["is_correct"].sum() < log["is_correct"].sum()
    after = fit_practice_curve(flipped, plan.train_cutoffs, plan.horizon_days)
    assert (after.practice, after.answers) == (before.practice, before.answers)
    # the same rows and curve; the sum's order may differ by thread (last bit of a float)
    assert after.log_loss == pytest.approx(before.log_loss, rel=1e-12)


def test_too_few_answers_keep_the_defaults_and_say_so() -> None:
    log = clean_log(practice_log())  # three learners
    plan = plan_training(RUN)
    result = fit_practice_curve(log, plan.train_cutoffs, plan.horizon_days)
    assert not result.fitted and result.practice == DEFAULT_CURVE
    assert result.answers == 120 and result.as_dict()["fitted"] is False  # 3 weeks × 40
    assert math.isfinite(result.log_loss)


def test_a_practice_curve_out_of_bounds_is_refused() -> None:
    for bad in ((-0.1, 0.5, 30.0), (0.3, 1.5, 30.0), (0.3, 0.5, 0.0), (math.nan, 0.5, 30.0)):
        with pytest.raises(ValueError, match="not a practice curve"):
            PracticeCurve(*bad)
    curve = PracticeCurve(0.3369, 0.4, 90.0)
    assert PracticeCurve.from_dict(curve.as_dict()) == curve
