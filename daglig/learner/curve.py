"""The online evidence's practice curve, fitted to the training log (pure functions).

The evidence (:func:`daglig.learner.examples.evidence`) reads a learner's answers through a
practice curve, (practice_gain, gain_kept, fade_days): the logits that practice in a
category adds, the share of them never lost and how fast the rest fades. Training fits the
three on its own log instead of assuming them:

* **data**: inside the training period only (nothing of the held-out window). For each of
  the plan's last ``FIT_WINDOWS`` training cutoffs S, the evidence at S (answers before S)
  predicts every answer of [S, S + horizon) in a category the learner had answered
  before: P(right) = σ(b_i + ``ev_uc_logit``), b_i the logit of the accuracy the
  question's difficulty predicts at S — the evidence's own prediction, fitted on the
  earlier answers and scored on the later ones. A hash sample keeps at most
  ``MAX_FIT_ANSWERS`` of them.
* **search**: ``ev_uc_logit`` is affine in practice_gain, and at a given fade_days affine
  in gain_kept, so :func:`evidence` is evaluated three times per fade_days
  (``FADE_GRID``) and each candidate's logit is a sum of columns. For every (gain_kept in
  ``KEPT_GRID``, fade_days) the gain is the log loss's exact minimiser on
  [0, ``MAX_GAIN``] (the loss is convex in it: Newton steps), and the triple with the
  lowest log loss wins. A loop over the 88 grid pairs, never over users.

Too few answers to fit (``MIN_FIT_ANSWERS``, a new install): the defaults, and the fit
says it was not fitted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from daglig.learner.examples import (
    DEFAULT_CURVE,
    US_PER_DAY,
    PracticeCurve,
    difficulty_bin,
    evidence,
    evidence_inputs,
    hash_sample,
)

FIT_WINDOWS = 3
MAX_FIT_ANSWERS = 150_000
MIN_FIT_ANSWERS = 2_000
MAX_GAIN = 0.5
KEPT_GRID: tuple[float, ...] = tuple(k / 10 for k in range(11))
FADE_GRID: tuple[float, ...] = (7.0, 10.0, 14.0, 21.0, 30.0, 45.0, 63.0, 90.0)
NEWTON_STEPS = 8
MAX_ROUNDS = 5


@dataclass(frozen=True, slots=True)
class CurveFit:
    """The fitted practice curve, the log loss of the evidence's predictions with it, with
    the defaults and with no practice gain, on how many answers."""

    practice: PracticeCurve
    fitted: bool
    answers: int
    log_loss: float
    log_loss_default: float
    log_loss_flat: float
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "fitted": self.fitted,
            "answers": self.answers,
            "log_loss": round(self.log_loss, 6),
            "log_loss_default": round(self.log_loss_default, 6),
            "log_loss_flat": round(self.log_loss_flat, 6),
            "seconds": round(self.seconds, 3),
        }


def _logit(p: pl.Expr) -> pl.Expr:
    p = p.clip(1e-4, 1 - 1e-4)
    return (p / (1 - p)).log()


def _logits(inputs: pl.DataFrame, cutoff: datetime, practice: PracticeCurve) -> pl.Series:
    """``ev_uc_logit`` of each row of ``inputs`` (:func:`evidence_inputs` at ``cutoff``),
    read through ``practice``, in the rows' order."""
    days_since = (
        pl.lit(cutoff, pl.Datetime("us")) - pl.col("_last_at")
    ).dt.total_microseconds() / US_PER_DAY
    return evidence(inputs.lazy(), days_since, practice).collect()["ev_uc_logit"]


def fit_frame(
    log: pl.LazyFrame,
    cutoffs: tuple[datetime, ...],
    horizon_days: int,
    sample_fraction: float = 1.0,
) -> pl.DataFrame:
    """One row per later answer scored (its user_id, question_id, answered_at and
    ``label``), with the evidence's logit at its cutoff as columns: ``base`` (b_i +
    ``ev_uc_logit`` with no practice gain), ``x_kept`` (what one logit of practice_gain
    adds to it when all of the gain is kept) and ``x_fade_<F>`` (the same when none is
    kept and it fades over F days), F in ``FADE_GRID``. The logit of the curve (g, k, F)
    is base + g·(k·x_kept + (1 − k)·x_fade_F)."""
    computed = pl.collect_all([part for c in cutoffs for part in evidence_inputs(log, c)])
    parts = []
    for j, cutoff in enumerate(cutoffs):
        inputs, curve = computed[2 * j], computed[2 * j + 1]
        flat = _logits(inputs, cutoff, PracticeCurve(0.0, 1.0, DEFAULT_CURVE.fade_days))
        kept = _logits(inputs, cutoff, PracticeCurve(1.0, 1.0, DEFAULT_CURVE.fade_days))
        ev = inputs.select("user_id", "category").with_columns(
            _flat=flat,
            x_kept=kept - flat,
            **{
                f"x_fade_{f:g}": _logits(inputs, cutoff, PracticeCurve(1.0, 0.0, f)) - flat
                for f in FADE_GRID
            },
        )
        end = cutoff + timedelta(days=horizon_days)
        later = hash_sample(
            log.filter(
                (pl.col("answered_at") >= pl.lit(cutoff, pl.Datetime("us")))
                & (pl.col("answered_at") < pl.lit(end, pl.Datetime("us")))
            ),
            sample_fraction,
        )
        parts.append(
            later.join(
                curve.lazy(),
                left_on=difficulty_bin(pl.col("difficulty")),
                right_on="d_bin",
                how="left",
            )
            .join(ev.lazy(), on=["user_id", "category"], how="inner")
            .select(
                "user_id",
                "question_id",
                "answered_at",
                label=pl.col("is_correct").cast(pl.Float64),
                base=pl.col("_flat") + _logit(pl.col("q_expected").fill_null(0.5)),
                x_kept=pl.col("x_kept"),
                **{f"x_fade_{f:g}": pl.col(f"x_fade_{f:g}") for f in FADE_GRID},
            )
        )
    return pl.concat(pl.collect_all(parts))


def _x(kept: float, fade: float) -> pl.Expr:
    """What one logit of practice_gain adds under (gain_kept = kept, fade_days = fade)."""
    return kept * pl.col("x_kept") + (1.0 - kept) * pl.col(f"x_fade_{fade:g}")


def _loss(z: pl.Expr) -> pl.Expr:
    """Mean log loss of logits ``z`` for ``label``: softplus(z) − y·z, stably."""
    softplus = pl.max_horizontal(z, pl.lit(0.0)) + (-z.abs()).exp().log1p()
    return (softplus - pl.col("label") * z).mean()


def _best_gain(frame: pl.DataFrame, kept: float, fade: float, start: float) -> float:
    """The practice_gain minimising the log loss on [0, MAX_GAIN] at (kept, fade): Newton
    steps from ``start``, clipped (the loss is convex in the gain)."""
    x = _x(kept, fade)
    gain = start
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + (-(pl.col("base") + gain * x)).exp())
        g, h = frame.select(
            ((p - pl.col("label")) * x).sum().alias("g"), (p * (1.0 - p) * x * x).sum().alias("h")
        ).row(0)
        step = g / h if h > 0 else 0.0
        new = min(max(gain - step, 0.0), MAX_GAIN)
        if abs(new - gain) < 1e-5:
            return new
        gain = new
    return gain


def _best_shape(frame: pl.DataFrame, gain: float) -> tuple[float, float, float]:
    """(gain_kept, fade_days, log loss): the best pair of ``KEPT_GRID`` × ``FADE_GRID`` at
    this practice_gain, all pairs' losses in one pass."""
    pairs = [(k, f) for f in FADE_GRID for k in KEPT_GRID]
    losses = frame.select(
        _loss(pl.col("base") + gain * _x(k, f)).alias(str(i)) for i, (k, f) in enumerate(pairs)
    ).row(0)
    i = min(range(len(pairs)), key=lambda j: losses[j])
    return pairs[i][0], pairs[i][1], float(losses[i])


def search(frame: pl.DataFrame) -> PracticeCurve:
    """The practice curve of least log loss on ``frame`` (:func:`fit_frame`): the gain by
    Newton given the shape, then the shape (gain_kept, fade_days) over the whole grid given
    the gain, in turns until neither moves. It starts from all of the gain kept (fade_days
    then plays no part)."""
    kept, fade = 1.0, FADE_GRID[0]
    gain = _best_gain(frame, kept, fade, 0.0)
    for _ in range(MAX_ROUNDS):
        new_kept, new_fade, _ = _best_shape(frame, gain)
        new_gain = _best_gain(frame, new_kept, new_fade, gain)
        settled = (new_kept, new_fade) == (kept, fade) and abs(new_gain - gain) < 1e-4
        kept, fade, gain = new_kept, new_fade, new_gain
        if settled:
            break
    return PracticeCurve(round(gain, 4), kept, fade)


def curve_loss(frame: pl.DataFrame, practice: PracticeCurve) -> float:
    """The log loss of the evidence's predictions read through ``practice`` (its fade_days
    one of ``FADE_GRID``)."""
    x = _x(practice.gain_kept, practice.fade_days)
    return float(frame.select(_loss(pl.col("base") + practice.practice_gain * x)).item())


def fit_practice_curve(
    log: pl.DataFrame,
    train_cutoffs: tuple[datetime, ...],
    horizon_days: int,
    max_answers: int = MAX_FIT_ANSWERS,
    min_answers: int = MIN_FIT_ANSWERS,
) -> CurveFit:
    """The practice curve that makes the evidence predict the training windows best: see
    the module's doc. ``train_cutoffs``: the training plan's (all before its held-out
    window); the last ``FIT_WINDOWS`` are scored."""
    t0 = time.perf_counter()
    cutoffs = tuple(train_cutoffs[-FIT_WINDOWS:])
    if not cutoffs:
        raise ValueError("no training cutoffs to fit the practice curve on")
    end = cutoffs[-1] + timedelta(days=horizon_days)
    in_windows = log.filter(
        (pl.col("answered_at") >= cutoffs[0]) & (pl.col("answered_at") < end)
    ).height
    frame = fit_frame(log.lazy(), cutoffs, horizon_days, min(1.0, max_answers / max(in_windows, 1)))
    flat = PracticeCurve(0.0, DEFAULT_CURVE.gain_kept, DEFAULT_CURVE.fade_days)
    if frame.height < min_answers:
        nan = float("nan")
        loss = curve_loss(frame, DEFAULT_CURVE) if frame.height else nan
        return CurveFit(
            DEFAULT_CURVE,
            fitted=False,
            answers=frame.height,
            log_loss=loss,
            log_loss_default=loss,
            log_loss_flat=curve_loss(frame, flat) if frame.height else nan,
            seconds=time.perf_counter() - t0,
        )
    fitted = search(frame)
    return CurveFit(
        fitted,
        fitted=True,
        answers=frame.height,
        log_loss=curve_loss(frame, fitted),
        log_loss_default=curve_loss(frame, DEFAULT_CURVE),
        log_loss_flat=curve_loss(frame, flat),
        seconds=time.perf_counter() - t0,
    )
