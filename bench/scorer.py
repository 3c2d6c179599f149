"""``python -m bench scorer --users N``: is there a cheaper scorer, and what moves in a night?

Issue 16 item 4. One process, one simulation (temporary SQLite), one temporal split, the
same training and held-out examples for every variant:

* **variants**: ``LearnerModel`` with the given hyperparameters (the features never
  change), each fitted on the same training examples; held-out log loss, AUC, ECE, fit
  seconds, and ``predict_proba`` seconds per million scoring rows — tonight's rows
  repeated to at least ``predict_rows``, the median of ``repeats`` runs, the variants
  alternating within each round so a shared machine's load hits them alike. The load
  average (``/proc/loadavg``) is recorded beside every timing.
* **what moved**: the scoring rows (``scoring_rows``) of the same users at two
  consecutive nightly cutoffs C and C + 1 day: the share of (user, category) rows whose
  every feature is unchanged, and — were yesterday's mastery reused for learners who did
  not answer on that day — the max and 99th percentile of |Δ mastery| (the first variant,
  the former default, scoring both nights) and the share of those learners whose weakest
  category (``weak_rank`` 1) would differ.

Training rows are put in a fixed order (``build_examples``' order comes from polars joins
and varies between runs); ``shuffles`` > 1 also fits every variant on seeded permutations.
A variant qualifies when its worst paired log loss is within ``LOG_LOSS_TOLERANCE`` of the
first variant's.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

#: (name, LearnerModel keyword arguments); the first is the model the others are judged by.
VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("150 it, lr 0.1, 31 leaves", {"max_iter": 150, "learning_rate": 0.1, "max_leaf_nodes": 31}),
    ("80 it, lr 0.2, 31 leaves", {"max_iter": 80, "learning_rate": 0.2, "max_leaf_nodes": 31}),
    ("60 it, lr 0.25, 31 leaves", {"max_iter": 60, "learning_rate": 0.25, "max_leaf_nodes": 31}),
    ("40 it, lr 0.35, 31 leaves", {"max_iter": 40, "learning_rate": 0.35, "max_leaf_nodes": 31}),
    ("100 it, lr 0.2, 15 leaves", {"max_iter": 100, "learning_rate": 0.2, "max_leaf_nodes": 15}),
    ("80 it, lr 0.25, 15 leaves", {"max_iter": 80, "learning_rate": 0.25, "max_leaf_nodes": 15}),
    ("60 it, lr 0.3, 15 leaves", {"max_iter": 60, "learning_rate": 0.3, "max_leaf_nodes": 15}),
    ("120 it, lr 0.25, 7 leaves", {"max_iter": 120, "learning_rate": 0.25, "max_leaf_nodes": 7}),
)
LOG_LOSS_TOLERANCE = 0.002


def loadavg() -> str:
    """The 1-, 5- and 15-minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _share(s: pl.Series) -> float:
    """The share of true values of a boolean series."""
    return round(float(np.mean(s.to_numpy())), 4) if s.len() else 0.0


def _feature_diff(a: pl.DataFrame, b: pl.DataFrame, features: tuple[str, ...]) -> pl.DataFrame:
    """Per (user, category) of ``a`` joined to ``b``: whether every feature is equal (NaN
    and null equal to themselves)."""
    j = a.join(b, on=["user_id", "category"], how="inner", suffix="_b")
    same = [
        (pl.col(f).is_null() & pl.col(f"{f}_b").is_null())
        | (pl.col(f).is_nan().fill_null(False) & pl.col(f"{f}_b").is_nan().fill_null(False))
        | (pl.col(f) == pl.col(f"{f}_b")).fill_null(False)
        for f in features
    ]
    return j.select(
        "user_id",
        "category",
        all_same=pl.all_horizontal(same),
        **{f"same_{f}": s for f, s in zip(features, same, strict=True)},
    )


def what_moved(
    model: Any,
    clean: pl.DataFrame,
    exams: pl.DataFrame,
    users: pl.DataFrame,
    questions: pl.DataFrame,
    cutoff: Any,
    practice: Any,
) -> dict[str, Any]:
    """Tonight (``cutoff``) against last night (``cutoff`` − 1 day), same users."""
    from daglig.learner.assessment import assess, exam_allocation
    from daglig.learner.examples import FEATURES, scoring_rows

    before = cutoff - timedelta(days=1)
    nights = {}
    for name, c in (("yesterday", before), ("tonight", cutoff)):
        nights[name] = (
            scoring_rows(
                clean.lazy(), exams.lazy(), users.lazy(), questions.lazy(), c, practice=practice
            )
            .collect()
            .sort("user_id", "category")
        )
    y, t = nights["yesterday"], nights["tonight"]
    diff = _feature_diff(y, t, FEATURES)
    per_feature = {f: round(1 - _share(diff[f"same_{f}"]), 4) for f in FEATURES}
    answered = (
        clean.filter((pl.col("answered_at") >= before) & (pl.col("answered_at") < cutoff))
        .select("user_id")
        .unique()
    )
    allocation = exam_allocation(questions)
    m_y = model.predict_proba(y)[:, 1]
    m_t = model.predict_proba(t)[:, 1]
    a_y, a_t = assess(y, m_y, allocation), assess(t, m_t, allocation)
    delta = y.select("user_id", "category").with_columns(
        d=pl.Series(np.abs(m_t - m_y)), equal=pl.Series(m_t == m_y)
    )
    idle = delta.join(answered, on="user_id", how="anti")
    top = {
        name: a.categories.filter(pl.col("weak_rank") == 1).select("user_id", "category")
        for name, a in (("y", a_y), ("t", a_t))
    }
    tops = (
        top["y"].join(top["t"], on="user_id", suffix="_t").join(answered, on="user_id", how="anti")
    )
    d = idle["d"].to_numpy()
    idle_rows = diff.join(answered, on="user_id", how="anti")
    return {
        "yesterday_cutoff": before.isoformat(),
        "tonight_cutoff": cutoff.isoformat(),
        "users": users.height,
        "rows": diff.height,
        "users_answered_that_day": answered.join(users, on="user_id", how="semi").height,
        "share_rows_every_feature_unchanged": _share(diff["all_same"]),
        "share_idle_rows_every_feature_unchanged": _share(idle_rows["all_same"]),
        "share_rows_changed_by_feature": per_feature,
        "idle_users": tops.height,
        "idle_rows": idle.height,
        "idle_max_abs_delta_mastery": round(float(d.max()), 5) if d.size else 0.0,
        "idle_p99_abs_delta_mastery": round(float(np.quantile(d, 0.99)), 5) if d.size else 0.0,
        "idle_median_abs_delta_mastery": round(float(np.median(d)), 5) if d.size else 0.0,
        "idle_share_rows_mastery_exactly_equal": _share(idle["equal"]),
        "idle_share_users_weakest_differs": _share(tops["category"] != tops["category_t"]),
    }


def scorer_bench(
    users: int,
    seed: int,
    run_date: date,
    predict_rows: int = 1_000_000,
    repeats: int = 3,
    shuffles: int = 1,
) -> dict[str, Any]:
    from bench.learner import weak_area_quality
    from daglig.io.db import read_frame
    from daglig.learner.assessment import assess_with
    from daglig.learner.curve import fit_practice_curve
    from daglig.learner.estimators import LearnerModel
    from daglig.learner.examples import EXAMS_SCHEMA, scoring_rows
    from daglig.learner.training import build_examples, plan_training, score
    from daglig.user_features import (
        ATTEMPTS_SCHEMA,
        QUESTIONS_SCHEMA,
        USERS_SCHEMA,
        clean_attempts,
        day_cutoff,
    )
    from simulator import simulate

    tmp = Path(tempfile.mkdtemp(prefix="daglig-bench-scorer-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    sim = simulate(url, users=users, seed=seed, end_date=run_date - timedelta(days=1))
    cutoff = day_cutoff(run_date)
    questions = read_frame(url, "read/questions", None, QUESTIONS_SCHEMA)
    attempts = read_frame(url, "read/attempts", {"cutoff": cutoff}, ATTEMPTS_SCHEMA)
    exams = read_frame(url, "read/exam_sessions", {"cutoff": cutoff}, EXAMS_SCHEMA)
    all_users = read_frame(url, "read/users", {"cutoff": cutoff}, USERS_SCHEMA)
    clean = clean_attempts(attempts.lazy(), questions.lazy(), users=all_users.lazy())[0].collect()
    # The active users who existed at last night's cutoff: both nights score the same ones.
    active = all_users.filter(
        pl.col("is_active") & (pl.col("created_at") < day_cutoff(run_date - timedelta(days=1)))
    )

    plan = plan_training(run_date)
    curve = fit_practice_curve(clean, plan.train_cutoffs, plan.horizon_days)
    train, test = build_examples(clean, exams, plan, practice=curve.practice)
    y_test = test["label"].to_numpy().astype(np.float64)

    rows = scoring_rows(
        clean.lazy(),
        exams.lazy(),
        active.lazy(),
        questions.lazy(),
        cutoff,
        practice=curve.practice,
    ).collect()
    with sqlite3.connect(tmp / "bench.db") as con:
        truth = pl.read_database("SELECT user_id, category, mastery FROM sim_ground_truth", con)
    big = pl.concat([rows] * max(1, -(-predict_rows // rows.height)))

    # A fixed row order, so a run repeats; ``shuffles`` > 1 refits every variant on further
    # seeded permutations of the same rows (the trees' binning sample and ties depend on the
    # order) and judges each variant by its worst paired difference.
    train = train.sort("cutoff", "user_id", "category", "answered_at", "question_id")
    y_train = train["label"].to_numpy()
    orders = [np.arange(train.height)] + [
        np.random.default_rng(k).permutation(train.height) for k in range(1, shuffles)
    ]
    fitted: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    for k, order in enumerate(orders):
        x_k, y_k = train[order], y_train[order]
        for name, params in VARIANTS:
            load = loadavg()
            t = time.perf_counter()
            model = LearnerModel(**params).fit(x_k, y_k)
            fit_s = time.perf_counter() - t
            scores = score(y_test, model.predict_proba(test)[:, 1])
            if k:
                out[name]["log_losses"].append(scores["log_loss"])
                continue
            fitted[name] = model
            tonight = assess_with(model, rows, questions)
            p_at_1 = weak_area_quality(rows, tonight.categories, truth)[">=50"]
            out[name] = {
                "params": params,
                **scores,
                "log_losses": [scores["log_loss"]],
                "p_at_1_k1": p_at_1["model_k1"],
                "p_at_1_k2": p_at_1["model_k2"],
                "fit_seconds": round(fit_s, 2),
                "fit_loadavg": load,
                "predict_seconds": [],
                "predict_loadavg": [],
            }
    for _ in range(repeats):  # alternate: every round times every variant once
        for name, _params in VARIANTS:
            load = loadavg()
            t = time.perf_counter()
            fitted[name].predict_proba(big)
            out[name]["predict_seconds"].append(round(time.perf_counter() - t, 3))
            out[name]["predict_loadavg"].append(load)
    base_name = VARIANTS[0][0]
    for r in out.values():
        med = statistics.median(r["predict_seconds"])
        r["predict_s_per_1m_rows"] = round(med / big.height * 1e6, 3)
    base = out[base_name]
    for r in out.values():
        paired = np.subtract(r["log_losses"], base["log_losses"])
        r["log_loss"] = round(float(np.mean(r["log_losses"])), 5)  # over the orders
        r["delta_log_loss"] = round(float(paired.mean()), 5)
        r["delta_log_loss_max"] = round(float(paired.max()), 5)
        r["speedup"] = round(base["predict_s_per_1m_rows"] / r["predict_s_per_1m_rows"], 2)
        r["qualifies"] = r["delta_log_loss_max"] <= LOG_LOSS_TOLERANCE
    moved = what_moved(fitted[base_name], clean, exams, active, questions, cutoff, curve.practice)
    moved["model"] = base_name
    return {
        "scale": f"scorer-{users}" + (f"-seed{seed}" if seed != 1 else ""),
        "backend": "sqlite",
        "users": users,
        "seed": seed,
        "answers": sim.answers,
        "train_examples": train.height,
        "row_orders": shuffles,
        "heldout_answers": test.height,
        "scoring_rows": rows.height,
        "predict_rows": big.height,
        "variants": out,
        "what_moved": moved,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
    }


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"### {r['users']:,} learners, {r['answers']:,} answers ({r['train_examples']:,} "
        f"training examples, {r['heldout_answers']:,} held out; predict on "
        f"{r['predict_rows']:,} rows = tonight's {r['scoring_rows']:,} repeated; log loss: the "
        f"mean over {r['row_orders']} row order(s), Δ paired, AUC/ECE/p@1: the first order)",
        "",
        "| variant | log loss | Δ (worst) | AUC | ECE | p@1 k=1 (≥50) | fit s | "
        "predict s / 1M rows (median) | speed-up | runs s | load avg at runs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for name, v in r["variants"].items():
        lines.append(
            f"| {name} | {v['log_loss']:.5f} | {v['delta_log_loss']:+.5f} "
            f"({v['delta_log_loss_max']:+.5f}) | {v['auc']:.4f} | "
            f"{v['ece']:.4f} | {v['p_at_1_k1']:.3f} | {v['fit_seconds']} | "
            f"{v['predict_s_per_1m_rows']:.3f} | "
            f"{v['speedup']:.2f}× | {', '.join(map(str, v['predict_seconds']))} | "
            f"{'; '.join(la.split()[0] for la in v['predict_loadavg'])} |"
        )
    m = r["what_moved"]
    lines += [
        "",
        f"What moved between {m['yesterday_cutoff']} and {m['tonight_cutoff']}: "
        f"{m['rows']:,} rows of {m['users']:,} learners, {m['users_answered_that_day']:,} "
        f"answered that day; every feature unchanged in "
        f"{m['share_rows_every_feature_unchanged']:.2%} of the rows "
        f"({m['share_idle_rows_every_feature_unchanged']:.2%} of the idle learners' rows). "
        f"Reusing yesterday's mastery for the {m['idle_users']:,} idle learners: "
        f"max |Δ| {m['idle_max_abs_delta_mastery']}, p99 {m['idle_p99_abs_delta_mastery']}, "
        f"median {m['idle_median_abs_delta_mastery']}; mastery exactly equal in "
        f"{m['idle_share_rows_mastery_exactly_equal']:.2%} of their rows; weakest category "
        f"differs for {m['idle_share_users_weakest_differs']:.2%} of them.",
    ]
    return "\n".join(lines)
