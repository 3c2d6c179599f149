"""The learner state carried from night to night (pure): the evidence table, and the
state and scoring rows computed from it and the answer tallies instead of the whole log.

:func:`daglig.learner.examples.state_at` reads every answer before the cutoff each night.
Everything it computes is a sum over answers, or a function of such sums; the sums that
depend on the cutoff are decayed weights 2^(−age/h), and those that depend on tonight's
population price an answer only through its difficulty bin and category. So the state is
equal (counts exactly, floats to rounding) when computed from

* the tallies (daglig/answer_tallies.py, one row per (user, category, local_date): ``n``,
  ``c``, ``sec_sum``, ``sec_n``, ``first_at``, ``last_at``): counts, right answers,
  seconds, last answer, active days; and
* the evidence table of this module, one row per (user, category) answered before its
  ``cutoff`` (naive UTC), every decayed sum referenced to that cutoff:

  - ``w{h}``, ``wc{h}`` (h in HALF_LIVES_DAYS): Σ 2^(−age/h) and the same · is_correct;
  - per difficulty bin b (:func:`~daglig.learner.examples.difficulty_bin`; ``m1`` for the
    NULL bin −1): ``n_b{b}`` answers, ``w_b{b}`` Σ 2^(−age/EV_HALF_LIFE_DAYS) and
    ``wy_b{b}`` the same · is_correct;
  - ``k_at``, ``k_id``, ``k_c``: the LAST_K newest answers (answered_at, attempt_id
    descending): when, which, right or not.

Moving the reference from one cutoff to a later one multiplies every decayed sum by
2^(−Δ/h) (Δ the days between them: 2^(−(a+Δ)/h) = 2^(−a/h)·2^(−Δ/h)); adding a batch of
answers adds its sums; the last-k of a union is the last-k of the two last-k's. Hence
:func:`fold_evidence`. Why the bins suffice: with q_b the population's accuracy in bin b
and p0_{b,c} = σ(logit q_b + δ_c) the evidence's prior prediction (both tonight's, both
functions of (bin, category) only),

  Σ (y − q) = c − Σ_b n_b·q_b,   Σ w·(y − p0) = Σ_b (wy_b − p0_{b,c}·w_b),
  Σ w·p0·(1 − p0) = Σ_b w_b·p0_{b,c}·(1 − p0_{b,c}),

so the residuals and the evidence sums are exact for any population curve, priced tonight.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import polars as pl

from daglig.catalogue import CATEGORY_KEYS
from daglig.learner.examples import (
    DEFAULT_CURVE,
    DIFFICULTY_BINS,
    EV_HALF_LIFE_DAYS,
    HALF_LIVES_DAYS,
    LAST_K,
    LN2,
    NEWEST_FIRST,
    US_PER_DAY,
    PracticeCurve,
    _age_days,
    _exams,
    _logit,
    ask_median_questions,
    category_offsets,
    difficulty_bin,
    learner_grid,
    state_features,
)

KEY: tuple[str, str] = ("user_id", "category")
#: The difficulty bins (−1, the NULL bin, first) and their column suffixes.
BINS: tuple[int, ...] = (-1, *range(DIFFICULTY_BINS))


def _bin(b: int) -> str:
    return "m1" if b < 0 else str(b)


#: The decayed sums at the half-lives of the decayed accuracies.
DECAYED: tuple[str, ...] = tuple(c for h in HALF_LIVES_DAYS for c in (f"w{h}", f"wc{h}"))
#: The evidence's per-bin sums, decayed at EV_HALF_LIFE_DAYS.
EV_WEIGHTED: tuple[str, ...] = tuple(c for b in BINS for c in (f"w_b{_bin(b)}", f"wy_b{_bin(b)}"))
LAST: tuple[str, ...] = ("k_at", "k_id", "k_c")

EVIDENCE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "category": pl.String,
    **{c: pl.Float64 for c in DECAYED},
    **{
        c: t
        for b in BINS
        for c, t in (
            (f"n_b{_bin(b)}", pl.Int64),
            (f"w_b{_bin(b)}", pl.Float64),
            (f"wy_b{_bin(b)}", pl.Float64),
        )
    },
    "k_at": pl.List(pl.Datetime("us")),
    "k_id": pl.List(pl.Int64),
    "k_c": pl.List(pl.Boolean),
}
SUMMED: tuple[str, ...] = tuple(c for c in EVIDENCE_SCHEMA if c not in (*KEY, *LAST))


def _weight(age: pl.Expr, half_life: float) -> pl.Expr:
    """2^(−age/half_life), written as examples' weights are: exp(−age · ln 2 / h)."""
    return (-age * (LN2 / half_life)).exp()


def _factor(days: float, half_life: float) -> float:
    """What moving the reference ``days`` later multiplies a weight by: 2^(−days/h)."""
    return math.exp(-days * (LN2 / half_life))


def _newest(columns: tuple[str, ...]) -> list[pl.Expr]:
    """A group's LAST_K newest answers as the lists ``k_at``, ``k_id``, ``k_c``, from
    ``columns`` (their time, attempt id and rightness, in that order), newest first by
    time, then attempt id (examples' ``NEWEST_FIRST``)."""
    by = [pl.col(c) for c in columns[:2]]
    return [
        pl.col(src).sort_by(by, descending=True).head(LAST_K).alias(dst)
        for src, dst in zip(columns, LAST, strict=True)
    ]


def summarise_evidence(clean: pl.LazyFrame, cutoff: datetime) -> pl.LazyFrame:
    """The evidence table (``EVIDENCE_SCHEMA``) of the answers of ``clean`` before
    ``cutoff``: one row per (user, category) with any, its decayed sums referenced to
    ``cutoff``, sorted by (user_id, category). The sums are the ones examples'
    ``_user_category`` and ``_evidence_sums`` take over the same answers, split by
    difficulty bin where tonight's population prices them."""
    past = clean.filter(pl.col("answered_at") < pl.lit(cutoff, pl.Datetime("us")))
    age = _age_days(cutoff)
    correct = pl.col("is_correct").cast(pl.Float64)
    d_bin = difficulty_bin(pl.col("difficulty"))
    decayed = []
    for h in HALF_LIVES_DAYS:
        w = _weight(age, h)
        decayed += [w.sum().alias(f"w{h}"), (w * correct).sum().alias(f"wc{h}")]
    per_bin = []
    for b in BINS:
        inside = pl.col("_d_bin") == b
        per_bin += [
            inside.sum().cast(pl.Int64).alias(f"n_b{_bin(b)}"),
            pl.col("_w_ev").filter(inside).sum().alias(f"w_b{_bin(b)}"),
            (pl.col("_w_ev") * correct).filter(inside).sum().alias(f"wy_b{_bin(b)}"),
        ]
    return (
        past.with_columns(_d_bin=d_bin, _w_ev=_weight(age, EV_HALF_LIFE_DAYS))
        .group_by(*KEY)
        .agg(*decayed, *per_bin, *_newest((*NEWEST_FIRST, "is_correct")))
        .select(pl.col(c).cast(t) for c, t in EVIDENCE_SCHEMA.items())
        .sort(*KEY)
    )


def _days_between(earlier: datetime, later: datetime) -> float:
    """Days from ``earlier`` to ``later`` as examples counts them (µs / US_PER_DAY)."""
    return ((later - earlier) // timedelta(microseconds=1)) / US_PER_DAY


def rescale_evidence(evidence: pl.LazyFrame, since: datetime, cutoff: datetime) -> pl.LazyFrame:
    """``evidence`` (referenced to ``since``) referenced to the later ``cutoff``: each
    decayed sum times 2^(−Δ/h), Δ the days between them — exact, since every term's
    weight 2^(−age/h) is multiplied by the same factor. Counts and last-k unchanged."""
    if cutoff < since:
        raise ValueError(f"cannot move the evidence back from {since} to {cutoff}")
    days = _days_between(since, cutoff)
    return evidence.with_columns(
        *(pl.col(f"w{h}", f"wc{h}") * _factor(days, h) for h in HALF_LIVES_DAYS),
        pl.col(*EV_WEIGHTED) * _factor(days, EV_HALF_LIFE_DAYS),
    )


def fold_evidence(
    prev: pl.LazyFrame, prev_cutoff: datetime, new: pl.LazyFrame, cutoff: datetime
) -> pl.LazyFrame:
    """The evidence table at ``cutoff`` of the union of two disjoint batches of answers:
    ``prev`` (the table at ``prev_cutoff`` ≤ ``cutoff``) and ``new``
    (:func:`summarise_evidence` at ``cutoff`` of answers not in ``prev``, late ones
    answered before ``prev_cutoff`` included). ``prev``'s decayed sums are moved to
    ``cutoff`` (:func:`rescale_evidence`), then every sum is added per (user, category),
    and the last-k lists are merged: the LAST_K newest of the two lists together are the
    LAST_K newest of the union, since each list holds its batch's newest. Rows without new
    answers are only rescaled. Sorted by (user_id, category)."""
    columns = list(EVIDENCE_SCHEMA)
    moved = rescale_evidence(prev, prev_cutoff, cutoff).select(columns)
    new = new.select(columns)
    # Only the (user, category) rows with new answers change beyond the rescaling.
    keys = new.select(*KEY)
    both = pl.concat([moved.join(keys, on=list(KEY), how="semi"), new])
    sums = both.group_by(*KEY).agg(pl.col(*SUMMED).sum())
    last = both.select(*KEY, *LAST).explode(*LAST).group_by(*KEY).agg(*_newest(LAST))
    merged = sums.join(last, on=list(KEY), how="left").select(columns)
    return (
        pl.concat([moved.join(keys, on=list(KEY), how="anti"), merged])
        .select(pl.col(c).cast(t) for c, t in EVIDENCE_SCHEMA.items())
        .sort(*KEY)
    )


def _priced(evidence: pl.LazyFrame, population: tuple[pl.LazyFrame, pl.LazyFrame]) -> pl.LazyFrame:
    """``evidence`` with tonight's price of each bin b: ``q_b{b}``, the accuracy its
    difficulty predicts (NULL where the curve lacks the bin, as examples' left join leaves
    it), and ``p0_b{b}`` = σ(logit q_b + δ_c), the evidence's prior prediction in the row's
    category (as examples' ``_priced_for_evidence``: q NULL reads as 0.5, δ_c NULL as 0)."""
    curve, cat_acc = population
    per_bin = curve.select(
        pl.col("q_expected").filter(pl.col("d_bin") == b).first().alias(f"q_b{_bin(b)}")
        for b in BINS
    )
    offset = pl.col("_ev_c").fill_null(0.0)
    return (
        evidence.join(category_offsets(cat_acc), on="category", how="left")
        .join(per_bin, how="cross")
        .with_columns(
            (
                1.0 / (1.0 + (-(_logit(pl.col(f"q_b{_bin(b)}").fill_null(0.5)) + offset)).exp())
            ).alias(f"p0_b{_bin(b)}")
            for b in BINS
        )
    )


def _before(tallies: pl.LazyFrame, cutoff: datetime) -> pl.LazyFrame:
    """The tallies' (user, category, day) rows before ``cutoff``. A day is before or after
    it as a whole when ``cutoff`` is a midnight of the tallies' time zone (the night's
    cutoff, ``day_cutoff``), so its last answer tells which."""
    return tallies.filter(pl.col("last_at") < pl.lit(cutoff, pl.Datetime("us")))


def _user_category_sums(
    tallies: pl.LazyFrame,
    evidence: pl.LazyFrame,
    population: tuple[pl.LazyFrame, pl.LazyFrame],
) -> pl.LazyFrame:
    """Per (user, category) answered: the sums :func:`state_features` reads —
    counts, right answers, seconds and the last answer from the tallies; the decayed
    sums, last-k and (priced tonight by bin) ``_resid``, ``_ev_g``, ``_ev_h`` from the
    evidence."""
    counts = tallies.group_by(*KEY).agg(
        _n=pl.col("n").sum(),
        _c=pl.col("c").sum(),
        _last_at=pl.col("last_at").max(),
        _sec_sum=pl.col("sec_sum").sum(),
        _sec_n=pl.col("sec_n").sum(),
    )
    n = [pl.col(f"n_b{_bin(b)}") for b in BINS]
    w = [pl.col(f"w_b{_bin(b)}") for b in BINS]
    wy = [pl.col(f"wy_b{_bin(b)}") for b in BINS]
    q = [pl.col(f"q_b{_bin(b)}") for b in BINS]
    p0 = [pl.col(f"p0_b{_bin(b)}") for b in BINS]
    sums = _priced(evidence, population).select(
        *KEY,
        *(pl.col(f"w{h}").alias(f"_w{h}") for h in HALF_LIVES_DAYS),
        *(pl.col(f"wc{h}").alias(f"_wc{h}") for h in HALF_LIVES_DAYS),
        _k_n=pl.col("k_c").list.len(),
        _k_c=pl.col("k_c").list.sum().cast(pl.Float64),
        _nq=pl.sum_horizontal(n_b * q_b for n_b, q_b in zip(n, q, strict=True)),
        _ev_g=pl.sum_horizontal(
            wy_b - p0_b * w_b for w_b, wy_b, p0_b in zip(w, wy, p0, strict=True)
        ),
        _ev_h=pl.sum_horizontal(w_b * p0_b * (1.0 - p0_b) for w_b, p0_b in zip(w, p0, strict=True)),
    )
    return counts.join(sums, on=list(KEY), how="left").select(
        *KEY,
        *(c for h in HALF_LIVES_DAYS for c in (f"_w{h}", f"_wc{h}")),
        "_ev_g",
        "_ev_h",
        "_n",
        "_c",
        "_k_n",
        "_k_c",
        _resid=pl.col("_c").cast(pl.Float64) - pl.col("_nq"),
        _last_at="_last_at",
        uc_seconds_per_answer=pl.when(pl.col("_sec_n") > 0).then(
            pl.col("_sec_sum") / pl.col("_sec_n")
        ),
    )


def _user_sums(tallies: pl.LazyFrame, per_category: pl.LazyFrame) -> pl.LazyFrame:
    """Per user answered: ``_un``, ``_uc``, ``_ulast``, ``u_active_days`` (distinct days),
    ``u_seconds_per_answer`` from the tallies; ``_uw``, ``_uwc`` (30-day decayed) and
    ``_uresid`` summed over the user's categories."""
    counts = tallies.group_by("user_id").agg(
        _un=pl.col("n").sum(),
        _uc=pl.col("c").sum().cast(pl.Float64),
        _ulast=pl.col("last_at").max(),
        u_active_days=pl.col("local_date").n_unique().cast(pl.Float64),
        _sec_sum=pl.col("sec_sum").sum(),
        _sec_n=pl.col("sec_n").sum(),
    )
    decayed = per_category.group_by("user_id").agg(
        _uw=pl.col("_w30").sum(), _uwc=pl.col("_wc30").sum(), _uresid=pl.col("_resid").sum()
    )
    return counts.join(decayed, on="user_id", how="left").select(
        "user_id",
        "_un",
        "_uc",
        "_uw",
        "_uwc",
        "_uresid",
        "_ulast",
        "u_active_days",
        u_seconds_per_answer=pl.when(pl.col("_sec_n") > 0).then(
            pl.col("_sec_sum") / pl.col("_sec_n")
        ),
    )


def learner_state_from(
    tallies: pl.LazyFrame,
    evidence: pl.LazyFrame,
    exams: pl.LazyFrame,
    users: pl.LazyFrame,
    cutoff: datetime,
    population: tuple[pl.LazyFrame, pl.LazyFrame],
    practice: PracticeCurve = DEFAULT_CURVE,
    categories: tuple[str, ...] = CATEGORY_KEYS,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """What :func:`~daglig.learner.examples.state_at` returns — (state, difficulty curve),
    the same columns, dtypes and row order — from the carried tables instead of the log:
    ``tallies`` (answer_tallies' schema; days after ``cutoff`` are left out, so it may hold
    the answers that arrived after the cutoff), ``evidence`` (this module's table *at*
    ``cutoff``: :func:`summarise_evidence` / :func:`fold_evidence`), ``exams``, ``users``,
    and the whole ``population``'s (difficulty curve, category accuracy), as the night's
    shards pass it (daglig/shards.py). ``cutoff`` must be a midnight of the tallies' time
    zone (:func:`_before`).

    Equal to the full recompute because every feature is a function of sums over the
    answers before ``cutoff`` (:func:`~daglig.learner.examples.state_features` derives
    them, for both): the counts exactly, the floats to rounding. One assumption: the curve
    has a ``q_expected`` for each bin the answers fall in (the population's own curve,
    built from all of them, does); a bin it lacks would leave the residual of its answers
    out of examples' sum but not out of c − Σ n_b·q_b here.
    """
    curve, cat_acc = population
    past = _before(tallies, cutoff)
    per_category = _user_category_sums(past, evidence, population)
    state = (
        learner_grid(users, categories)
        .join(per_category, on=list(KEY), how="left", maintain_order="left")
        .join(_user_sums(past, per_category), on="user_id", how="left", maintain_order="left")
        .join(_exams(exams, cutoff), on="user_id", how="left", maintain_order="left")
        .join(cat_acc, on="category", how="left", maintain_order="left")
        .join(category_offsets(cat_acc), on="category", how="left", maintain_order="left")
        .pipe(state_features, cutoff, practice)
    )
    return state, curve


def scoring_rows_from(
    tallies: pl.LazyFrame,
    evidence: pl.LazyFrame,
    exams: pl.LazyFrame,
    users: pl.LazyFrame,
    questions: pl.LazyFrame,
    cutoff: datetime,
    population: tuple[pl.LazyFrame, pl.LazyFrame],
    practice: PracticeCurve = DEFAULT_CURVE,
) -> pl.LazyFrame:
    """Tonight's scoring rows from the carried tables: equal to
    :func:`~daglig.learner.examples.scoring_rows` with ``population`` given (see
    :func:`learner_state_from`)."""
    state, curve = learner_state_from(tallies, evidence, exams, users, cutoff, population, practice)
    return ask_median_questions(state, curve, questions)
