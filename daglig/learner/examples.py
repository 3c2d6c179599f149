"""Point-in-time learner features: what was known about each (user, category) at a cutoff.

Everything here is computed from answers strictly before ``cutoff`` (a naive UTC instant),
so the same function builds training examples at past cutoffs and tonight's scoring rows
without leaking the future. One Polars lazy chain per feature set; nothing is collected
until the caller asks.

Inputs:

* ``log`` — the cleaned answer log (``daglig.user_features.clean_attempts``): user_id,
  question_id, category, difficulty (may be NULL), is_correct, time_spent_seconds,
  answered_at (naive UTC), local_date (Oslo).
* ``exams`` — completed exam quizzes: user_id, completed_at, total_questions,
  correct_answers.

Per (user, category): attempts, correct, Laplace accuracy, time-decayed accuracy at three
half-lives, last-k accuracy, the difficulty-adjusted residual (correct minus what the
question's difficulty predicts), days since last practice, seconds per answer, and the
online evidence (``ev_``: a logit posterior of the user's level and of the category's
deviation from it, with forgetting, read through a practice curve that training fits —
daglig/learner/curve.py — and the model keeps; :func:`evidence`). Per user:
answers, active days, accuracy, residual, recent accuracy, recency, exam-quiz scores. Per
category: the population's accuracy. Per question asked: its difficulty and the accuracy
that difficulty predicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from daglig.catalogue import CATEGORY_KEYS

HALF_LIVES_DAYS: tuple[int, ...] = (7, 30, 90)
LAST_K = 10
DIFFICULTY_BINS = 10
US_PER_DAY = 86_400_000_000
RELATIVE_PRIOR = 4.0  # pseudo-answers shrinking a category's deviation from the user's level
# Online evidence (``ev_``): a logit posterior per user and per (user, category), answers
# weighted by exp(−ln 2 · age / half-life) (forgetting) and priced by their difficulty.
EV_HALF_LIFE_DAYS = 365.0
EV_USER_PRECISION = 1.5  # prior precision of a user's level (SD ≈ 0.8 logits)
EV_CATEGORY_PRECISION = 1.0  # prior precision of a category's deviation from it (SD 1)
# The practice curve's defaults (:class:`PracticeCurve`): what a model saved without fitted
# constants (before they were fitted) was trained with, and what tests and tools use when
# given none. Training fits its own (daglig/learner/curve.py).
DEFAULT_PRACTICE_GAIN = 0.28  # logits gained per log1p(answers before) in a category
DEFAULT_GAIN_KEPT = 0.55  # the share of that gain never lost; the rest fades
DEFAULT_FADE_DAYS = 30.0  # with this time constant, in days since the last answer there
LN2 = 0.6931471805599453


@dataclass(frozen=True, slots=True)
class PracticeCurve:
    """The learning curve the online evidence reads answers through: a learner's skill in
    a category rises by ``practice_gain`` · log1p(answers before) · (``gain_kept`` + (1 −
    ``gain_kept``) · exp(−days since the last one / ``fade_days``)). Fitted at training
    and saved with the model (its metadata), so that scoring reads the evidence as the
    model was trained on it."""

    practice_gain: float = DEFAULT_PRACTICE_GAIN
    gain_kept: float = DEFAULT_GAIN_KEPT
    fade_days: float = DEFAULT_FADE_DAYS

    def __post_init__(self) -> None:
        if not (
            0.0 <= self.practice_gain < 5.0
            and 0.0 <= self.gain_kept <= 1.0
            and 0.0 < self.fade_days < 10_000.0
        ):
            raise ValueError(f"not a practice curve: {self}")

    def as_dict(self) -> dict[str, float]:
        return {
            "practice_gain": self.practice_gain,
            "gain_kept": self.gain_kept,
            "fade_days": self.fade_days,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PracticeCurve:
        return cls(
            practice_gain=float(raw["practice_gain"]),
            gain_kept=float(raw["gain_kept"]),
            fade_days=float(raw["fade_days"]),
        )


DEFAULT_CURVE = PracticeCurve()

EXAMS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "completed_at": pl.Datetime("us"),
    "total_questions": pl.Int32,
    "correct_answers": pl.Int32,
}

# The per-user features (of ``state_at``), also read by the completion model.
USER_FEATURES: tuple[str, ...] = (
    "u_log_answers",
    "u_active_days",
    "u_accuracy",
    "u_residual",
    "u_decayed_accuracy_30d",
    "u_days_since",
    "u_seconds_per_answer",
    "u_exams",
    "u_exam_score",
)

# The model's inputs, in order. Saved with the model; a model whose list differs is refused.
FEATURES: tuple[str, ...] = (
    "uc_log_attempts",
    "uc_accuracy",
    *(f"uc_decayed_accuracy_{h}d" for h in HALF_LIVES_DAYS),
    "uc_log_decayed_attempts_30d",
    f"uc_last{LAST_K}_accuracy",
    "uc_residual",
    "uc_relative_residual",
    "uc_days_since",
    "uc_seconds_per_answer",
    "ev_uc_logit",
    "ev_uc_relative",
    "ev_uc_sd",
    "ev_uc_z",
    "ev_u_logit",
    *USER_FEATURES,
    "cat_accuracy",
    "q_difficulty",
    "q_expected",
)


#: The order of "newest" for the last-k answers: answered_at, then attempt_id (both
#: descending): deterministic, since attempt ids are unique.
NEWEST_FIRST: tuple[str, ...] = ("answered_at", "attempt_id")


def _age_days(cutoff: datetime) -> pl.Expr:
    return (pl.lit(cutoff, pl.Datetime("us")) - pl.col("answered_at")).dt.total_microseconds() / (
        US_PER_DAY
    )


def difficulty_bin(d: pl.Expr) -> pl.Expr:
    """Ten bins over 0..1; unknown difficulty (NULL) is its own bin, -1."""
    return (
        pl.when(d.is_null())
        .then(-1)
        .otherwise((d * DIFFICULTY_BINS).floor().clip(0, DIFFICULTY_BINS - 1))
        .cast(pl.Int8)
    )


def _past(log: pl.LazyFrame, cutoff: datetime) -> pl.LazyFrame:
    return log.filter(pl.col("answered_at") < pl.lit(cutoff, pl.Datetime("us")))


def difficulty_curve(past: pl.LazyFrame) -> pl.LazyFrame:
    """The population's (Laplace) accuracy per difficulty bin: what a difficulty predicts."""
    return past.group_by(d_bin=difficulty_bin(pl.col("difficulty"))).agg(
        q_expected=(pl.col("is_correct").sum() + 1) / (pl.len() + 2)
    )


def _evidence_sums(cutoff: datetime) -> list[pl.Expr]:
    """The online evidence's per-(user, category) sums over answers priced by the
    population (``_ev_p0``): ``_ev_g`` = Σ w·(y − p₀), ``_ev_h`` = Σ w·p₀(1 − p₀)."""
    w = (-_age_days(cutoff) * (LN2 / EV_HALF_LIFE_DAYS)).exp()
    p0 = pl.col("_ev_p0")
    correct = pl.col("is_correct").cast(pl.Float64)
    return [(w * (correct - p0)).sum().alias("_ev_g"), (w * p0 * (1.0 - p0)).sum().alias("_ev_h")]


def _user_category(past: pl.LazyFrame, cutoff: datetime) -> pl.LazyFrame:
    correct = pl.col("is_correct").cast(pl.Float64)
    decayed = []
    for h in HALF_LIVES_DAYS:
        w = (-_age_days(cutoff) * (LN2 / h)).exp()
        decayed += [w.sum().alias(f"_w{h}"), (w * correct).sum().alias(f"_wc{h}")]
    # The newest LAST_K, ties in time broken by attempt id, so that the answers kept are
    # the same whatever the log's row order (and equal to evidence_state's carried ones).
    last_k = pl.col("is_correct").sort_by(NEWEST_FIRST, descending=True).head(LAST_K)
    return past.group_by("user_id", "category").agg(
        *decayed,
        *_evidence_sums(cutoff),
        _n=pl.len(),
        _c=correct.sum(),
        _k_n=last_k.len(),
        _k_c=last_k.cast(pl.Float64).sum(),
        _resid=pl.col("_resid").sum(),
        _last_at=pl.col("answered_at").max(),
        uc_seconds_per_answer=pl.col("time_spent_seconds").mean(),
    )


def _user(past: pl.LazyFrame, cutoff: datetime) -> pl.LazyFrame:
    w = (-_age_days(cutoff) * (LN2 / 30)).exp()
    return past.group_by("user_id").agg(
        _un=pl.len(),
        _uc=pl.col("is_correct").cast(pl.Float64).sum(),
        _uw=w.sum(),
        _uwc=(w * pl.col("is_correct").cast(pl.Float64)).sum(),
        _uresid=pl.col("_resid").sum(),
        _ulast=pl.col("answered_at").max(),
        u_active_days=pl.col("local_date").n_unique().cast(pl.Float64),
        u_seconds_per_answer=pl.col("time_spent_seconds").mean(),
    )


def _logit(p: pl.Expr) -> pl.Expr:
    p = p.clip(1e-4, 1 - 1e-4)
    return (p / (1 - p)).log()


def category_offsets(cat_acc: pl.LazyFrame) -> pl.LazyFrame:
    """Each category's population logit relative to the mean over categories (``_ev_c``):
    the prior mean of a learner's deviation in it, from the (possibly summed) population
    accuracy, so that shards agree."""
    return cat_acc.select(
        "category", _ev_c=_logit(pl.col("cat_accuracy")) - _logit(pl.col("cat_accuracy")).mean()
    )


def practice_gain(answers: pl.Expr, days_since: pl.Expr, practice: PracticeCurve) -> pl.Expr:
    """The logits ``answers`` earlier answers in a category add to a learner's skill in it
    (the learning curve the evidence is read through): practice_gain · log1p(answers) ·
    (gain_kept + (1 − gain_kept) · exp(−days since the last one / fade_days))."""
    fade = (
        practice.gain_kept + (1.0 - practice.gain_kept) * (-days_since / practice.fade_days).exp()
    )
    return practice.practice_gain * answers.cast(pl.Float64).log1p() * fade


def mean_log_practice(n: pl.Expr) -> pl.Expr:
    """The mean of log1p(k) over k = 0 … n − 1 (the practice behind a category's answers,
    on average): log(n!) / n, by Stirling's series (error under 0.003 at n = 1); NULL for
    n = 0."""
    x = n.cast(pl.Float64)
    log_factorial = x * x.log() - x + 0.5 * (2 * 3.141592653589793 * x).log() + 1 / (12 * x)
    return pl.when(x > 0).then(log_factorial / x)


def evidence(
    state: pl.LazyFrame, days_since: pl.Expr, practice: PracticeCurve = DEFAULT_CURVE
) -> pl.LazyFrame:
    """The online evidence of each (user, category) row of ``state``, from the per-row sums
    ``_ev_g`` = Σ w·(y − p₀) and ``_ev_h`` = Σ w·p₀(1 − p₀) over its answers (``_n``),
    p₀ = σ(b_i + δ_c) the population's prediction and w = exp(−ln 2 · age / half-life).

    The answer to question *i* of category *c* is modelled as
    P(right) = σ(b_i + δ_c + θ_u + θ_uc + gain): b_i the logit of the population's
    accuracy at the question's difficulty, δ_c the category's offset (``_ev_c``), θ_u ~
    N(0, 1/EV_USER_PRECISION) the learner's level, θ_uc ~ N(0, 1/EV_CATEGORY_PRECISION)
    their deviation in the category, gain the practice before the answer
    (:func:`practice_gain`, read through the curve ``practice``). Each posterior is one
    Newton step from its prior (the difficulty-adjusted surprise over the evidence, as in
    Elo), with θ_u and the practice
    behind the answers (:func:`mean_log_practice`) entered linearised around p₀, so that
    it needs only the sums: closed form, no pass over the answers of its own. Recent
    evidence counts more (forgetting); tonight's practice gain is added to θ_uc's.
    """
    info = pl.col("_ev_h").fill_null(0.0)
    surprise = pl.col("_ev_g").fill_null(0.0)
    level = surprise.sum().over("user_id") / (EV_USER_PRECISION + info.sum().over("user_id"))
    deviation = (
        surprise
        - info * (pl.col("_ev_u") + practice.practice_gain * mean_log_practice(pl.col("_n")))
    ) / (EV_CATEGORY_PRECISION + info)
    return (
        state.with_columns(_ev_u=pl.when(pl.col("_un") > 0).then(level))
        .with_columns(_ev_uc=pl.when(pl.col("_n") > 0).then(deviation))
        .with_columns(
            # The posterior logit is the prior (category offset + user level) where the
            # category was never answered; the rest is NULL where unknown.
            ev_uc_logit=pl.col("_ev_c").fill_null(0.0)
            + pl.col("_ev_u").fill_null(0.0)
            + pl.col("_ev_uc").fill_null(0.0)
            + practice_gain(pl.col("_n").fill_null(0), days_since, practice).fill_null(0.0),
            ev_uc_relative=pl.col("_ev_uc"),
            ev_uc_sd=pl.when(pl.col("_n") > 0).then(1.0 / (EV_CATEGORY_PRECISION + info).sqrt()),
            ev_uc_z=pl.col("_ev_uc") * (EV_CATEGORY_PRECISION + info).sqrt(),
            ev_u_logit=pl.col("_ev_u"),
        )
    )


def _exams(exams: pl.LazyFrame, cutoff: datetime) -> pl.LazyFrame:
    done = exams.filter(
        pl.col("completed_at").is_not_null()
        & (pl.col("completed_at") < pl.lit(cutoff, pl.Datetime("us")))
        & (pl.col("total_questions") > 0)
    )
    return done.group_by("user_id").agg(
        u_exams=pl.len().cast(pl.Float64),
        u_exam_score=(pl.col("correct_answers") / pl.col("total_questions")).mean(),
    )


def _laplace(c: str, n: str, a: float = 1.0) -> pl.Expr:
    return (pl.col(c).fill_null(0.0) + a) / (pl.col(n).fill_null(0.0) + 2 * a)


def _priced_past(
    log: pl.LazyFrame,
    cutoff: datetime,
    population: tuple[pl.LazyFrame, pl.LazyFrame] | None,
) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    """The answers before ``cutoff`` with the accuracy their difficulty predicts
    (``q_expected``) and their residual; the difficulty curve and the categories' accuracy
    (``population``'s, else the log's own)."""
    past = _past(log, cutoff)
    curve = difficulty_curve(past) if population is None else population[0]
    past = past.join(
        curve, left_on=difficulty_bin(pl.col("difficulty")), right_on="d_bin", how="left"
    ).with_columns(_resid=pl.col("is_correct").cast(pl.Float64) - pl.col("q_expected"))
    cat_acc = (
        past.group_by("category").agg(
            cat_accuracy=(pl.col("is_correct").sum() + 1) / (pl.len() + 2)
        )
        if population is None
        else population[1]
    )
    return past, curve, cat_acc


def _priced_for_evidence(past: pl.LazyFrame, cat_acc: pl.LazyFrame) -> pl.LazyFrame:
    """Each answer priced by the population for the online evidence: ``_ev_c`` (δ_c) and
    ``_ev_p0`` = σ(b_i + δ_c)."""
    return past.join(category_offsets(cat_acc), on="category", how="left").with_columns(
        _ev_p0=1.0
        / (
            1.0
            + (
                -(_logit(pl.col("q_expected").fill_null(0.5)) + pl.col("_ev_c").fill_null(0.0))
            ).exp()
        )
    )


def evidence_inputs(log: pl.LazyFrame, cutoff: datetime) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """What :func:`evidence` reads, alone: per (user, category) answered before ``cutoff``,
    ``_n``, ``_ev_g``, ``_ev_h``, ``_ev_c``, ``_un`` (the user's answers) and
    ``_last_at``; and the difficulty curve of those answers. None of it depends on the
    practice curve, so the curve's fit (daglig/learner/curve.py) computes it once."""
    past, curve, cat_acc = _priced_past(log, cutoff, None)
    sums = (
        _priced_for_evidence(past, cat_acc)
        .group_by("user_id", "category")
        .agg(
            *_evidence_sums(cutoff),
            _n=pl.len(),
            _ev_c=pl.col("_ev_c").first(),
            _last_at=pl.col("answered_at").max(),
        )
    )
    return sums.with_columns(_un=pl.col("_n").sum().over("user_id")), curve


def learner_grid(users: pl.LazyFrame, categories: tuple[str, ...]) -> pl.LazyFrame:
    """One row per (user in ``users``, category of ``categories``), sorted by user_id and
    then in the order of ``categories``: a defined row order (Polars keeps none of its
    own through a join unless told), so that two ways of computing the state can be
    compared row by row."""
    cats = pl.LazyFrame({"category": list(categories)}, schema={"category": pl.String})
    return (
        users.select("user_id")
        .unique()
        .join(cats.with_row_index("_category_order"), how="cross")
        .sort("user_id", "_category_order")
        .drop("_category_order")
    )


def state_features(
    sums: pl.LazyFrame, cutoff: datetime, practice: PracticeCurve = DEFAULT_CURVE
) -> pl.LazyFrame:
    """The state's features (the columns :func:`state_at` returns, in its order) from one
    row per (user, category) of sums, NULL where the user has none: per (user, category)
    ``_n``, ``_c``, ``_w{h}``/``_wc{h}`` (h in HALF_LIVES_DAYS), ``_k_n``, ``_k_c``,
    ``_resid``, ``_last_at``, ``uc_seconds_per_answer``, ``_ev_g``, ``_ev_h``; per user
    ``_un``, ``_uc``, ``_uw``, ``_uwc``, ``_uresid``, ``_ulast``, ``u_active_days``,
    ``u_seconds_per_answer``, ``u_exams``, ``u_exam_score``; per category
    ``cat_accuracy`` and ``_ev_c``. The one place the features are derived from sums,
    whether the sums come from the answer log (:func:`state_at`) or from the carried
    tables (daglig/learner/evidence_state.py)."""

    def days_since(col: str) -> pl.Expr:
        return (pl.lit(cutoff, pl.Datetime("us")) - pl.col(col)).dt.total_microseconds() / (
            US_PER_DAY
        )

    return (
        sums.with_columns(
            attempts=pl.col("_n").fill_null(0).cast(pl.Int64),
            correct=pl.col("_c").fill_null(0.0).cast(pl.Int64),
            uc_log_attempts=pl.col("_n").fill_null(0).cast(pl.Float64).log1p(),
            uc_accuracy=_laplace("_c", "_n"),
            **{f"uc_decayed_accuracy_{h}d": _laplace(f"_wc{h}", f"_w{h}") for h in HALF_LIVES_DAYS},
            uc_log_decayed_attempts_30d=pl.col("_w30").fill_null(0.0).log1p(),
            **{f"uc_last{LAST_K}_accuracy": _laplace("_k_c", "_k_n")},
            uc_residual=pl.col("_resid").fill_null(0.0) / (pl.col("_n").fill_null(0) + 2),
            # How far the category falls below the user's own level, shrunk towards 0.
            uc_relative_residual=(
                pl.col("_resid").fill_null(0.0)
                - pl.col("_n").fill_null(0) * pl.col("_uresid").fill_null(0.0) / pl.col("_un")
            ).fill_null(0.0)
            / (pl.col("_n").fill_null(0) + RELATIVE_PRIOR),
            uc_days_since=days_since("_last_at"),
            u_log_answers=pl.col("_un").fill_null(0).cast(pl.Float64).log1p(),
            u_active_days=pl.col("u_active_days").fill_null(0.0),
            u_accuracy=_laplace("_uc", "_un"),
            u_residual=pl.col("_uresid").fill_null(0.0) / (pl.col("_un").fill_null(0) + 2),
            u_decayed_accuracy_30d=_laplace("_uwc", "_uw"),
            u_days_since=days_since("_ulast"),
            u_exams=pl.col("u_exams").fill_null(0.0),
            cat_accuracy=pl.col("cat_accuracy").fill_null(0.5),
        )
        .pipe(evidence, days_since("_last_at"), practice)
        .select(
            "user_id",
            "category",
            "attempts",
            "correct",
            *[f for f in FEATURES if not f.startswith("q_")],
        )
    )


def state_at(
    log: pl.LazyFrame,
    exams: pl.LazyFrame,
    users: pl.LazyFrame,
    cutoff: datetime,
    categories: tuple[str, ...] = CATEGORY_KEYS,
    population: tuple[pl.LazyFrame, pl.LazyFrame] | None = None,
    practice: PracticeCurve = DEFAULT_CURVE,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """What was known at ``cutoff``: one row per (user in ``users``, category), with every
    feature except the question's own, and the difficulty curve to price a question with.

    Categories never practised get zero counts and NULL recency; the model treats them as
    the evidence-free gaps they are. ``population`` is the (difficulty curve, category
    accuracy) of the whole population when ``log`` holds only some users (a shard); by
    default both come from ``log`` itself. ``practice``: the practice curve the online
    evidence is read through (the model's own, from its metadata). Rows in
    :func:`learner_grid`'s order.
    """
    past, curve, cat_acc = _priced_past(log, cutoff, population)
    priced = _priced_for_evidence(past, cat_acc)
    state = (
        learner_grid(users, categories)
        .join(
            _user_category(priced, cutoff),
            on=["user_id", "category"],
            how="left",
            maintain_order="left",
        )
        .join(_user(past, cutoff), on="user_id", how="left", maintain_order="left")
        .join(_exams(exams, cutoff), on="user_id", how="left", maintain_order="left")
        .join(cat_acc, on="category", how="left", maintain_order="left")
        .join(category_offsets(cat_acc), on="category", how="left", maintain_order="left")
        .pipe(state_features, cutoff, practice)
    )
    return state, curve


def price_questions(frame: pl.LazyFrame, curve: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``q_expected`` (the accuracy the question's difficulty predicts) to rows that
    carry ``q_difficulty`` (in their order)."""
    return frame.join(
        curve,
        left_on=difficulty_bin(pl.col("q_difficulty")),
        right_on="d_bin",
        how="left",
        maintain_order="left",
    ).with_columns(pl.col("q_expected").fill_null(pl.col("q_expected").mean()))


def hash_sample(answers: pl.LazyFrame, fraction: float) -> pl.LazyFrame:
    """A stable hash sample of about ``fraction`` of the answers (all when ≥ 1)."""
    if fraction >= 1.0:
        return answers
    keep = pl.col("question_id").hash(seed=7) ^ pl.col("answered_at").hash(seed=11)
    return answers.filter((keep % 10_000) < int(fraction * 10_000))


def examples(
    log: pl.LazyFrame,
    exams: pl.LazyFrame,
    cutoff: datetime,
    horizon_days: int,
    sample_fraction: float = 1.0,
    practice: PracticeCurve = DEFAULT_CURVE,
) -> pl.LazyFrame:
    """Labelled rows: every answer in ``[cutoff, cutoff + horizon)`` with the features of
    its (user, category) as of ``cutoff``; ``label`` is whether it was right.

    ``sample_fraction`` < 1 keeps a stable hash sample of the answers (for big logs).
    ``practice``: the practice curve of the online evidence (see :func:`state_at`).
    """
    end = cutoff + timedelta(days=horizon_days)
    future = log.filter(
        (pl.col("answered_at") >= pl.lit(cutoff, pl.Datetime("us")))
        & (pl.col("answered_at") < pl.lit(end, pl.Datetime("us")))
    )
    answered = hash_sample(future, sample_fraction).select(
        "user_id",
        "question_id",
        "category",
        "answered_at",
        q_difficulty=pl.col("difficulty"),
        label=pl.col("is_correct").cast(pl.Int8),
    )
    state, curve = state_at(log, exams, answered.select("user_id"), cutoff, practice=practice)
    return price_questions(
        answered.join(state, on=["user_id", "category"], how="left"), curve
    ).with_columns(cutoff=pl.lit(cutoff, pl.Datetime("us")))


def category_medians(questions: pl.LazyFrame) -> pl.LazyFrame:
    """Each category's median question difficulty (active questions; 0.5 when unknown)."""
    return (
        questions.filter(pl.col("is_active").fill_null(True))
        .group_by("category")
        .agg(q_difficulty=pl.col("difficulty").median())
        .with_columns(pl.col("q_difficulty").fill_null(0.5))
    )


def scoring_rows(
    log: pl.LazyFrame,
    exams: pl.LazyFrame,
    users: pl.LazyFrame,
    questions: pl.LazyFrame,
    cutoff: datetime,
    population: tuple[pl.LazyFrame, pl.LazyFrame] | None = None,
    practice: PracticeCurve = DEFAULT_CURVE,
) -> pl.LazyFrame:
    """Tonight's rows: every (user, category) as of ``cutoff``, asked a question of the
    category's median difficulty — the model's answer is that category's mastery.
    ``population``, ``practice`` (the loaded model's practice curve): see
    :func:`state_at`."""
    state, curve = state_at(log, exams, users, cutoff, population=population, practice=practice)
    return ask_median_questions(state, curve, questions)


def ask_median_questions(
    state: pl.LazyFrame, curve: pl.LazyFrame, questions: pl.LazyFrame
) -> pl.LazyFrame:
    """``state``'s rows (in their order), each asked a question of its category's median
    difficulty (:func:`category_medians`) priced by ``curve``: the scoring rows."""
    medians = category_medians(questions)
    return price_questions(
        state.join(medians, on="category", how="left", maintain_order="left").with_columns(
            pl.col("q_difficulty").fill_null(0.5)
        ),
        curve,
    )


def learner_rows(
    users: pl.DataFrame,
    questions: pl.DataFrame,
    attempts: pl.DataFrame,
    exams: pl.DataFrame,
    cutoff: datetime,
    tz: str = "Europe/Oslo",
    practice: PracticeCurve = DEFAULT_CURVE,
) -> pl.DataFrame:
    """Tonight's scoring rows from the raw frames the nightly run reads (the answer log is
    cleaned the same way as for the other features); ``practice``: the model's practice
    curve."""
    from daglig.user_features import clean_attempts

    clean, _ = clean_attempts(attempts.lazy(), questions.lazy(), tz, users=users.lazy())
    return scoring_rows(
        clean, exams.lazy(), users.lazy(), questions.lazy(), cutoff, practice=practice
    ).collect()
