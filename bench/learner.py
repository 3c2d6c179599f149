"""``python -m bench learner --users N``: the learner model on N simulated learners.

Simulates N learners (temporary SQLite), then, timing each step without Prefect:
training (read, fit the evidence's practice curve, examples, fit, evaluate against AVG /
Laplace / Elo on the later held-out week), tonight's scoring (learner rows, their evidence
read through the fitted curve, + assessment for every active user), and the weak-area
quality against the simulator's ground truth: precision@1 of the top weak area
among the user's truly weakest k categories (k = 1, 2, 3), for users with at least 50
answers, beside the naive choice (lowest lifetime accuracy) and the evidence's choice
(lowest ``ev_uc_logit``, the online evidence's posterior logit), also by answer band.
"""

from __future__ import annotations

import os
import platform
import resource
import sqlite3
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

MIN_ANSWERS = 50
BANDS = ((50, 100), (100, 300), (300, 10**9))


def _precision(top: pl.DataFrame, truth: pl.DataFrame, k: int) -> float:
    hit = top.join(truth.filter(pl.col("true_rank") <= k), on=["user_id", "category"], how="semi")
    return round(hit.height / max(top.height, 1), 4)


def weak_area_quality(
    rows: pl.DataFrame, categories: pl.DataFrame, truth: pl.DataFrame
) -> dict[str, Any]:
    """precision@1 (model vs naive) against the truly weakest k categories, overall and by
    answer band, for users with at least ``MIN_ANSWERS`` answers."""
    totals = rows.group_by("user_id").agg(n=pl.col("attempts").sum())
    truth = truth.with_columns(true_rank=pl.col("mastery").rank("ordinal").over("user_id")).select(
        "user_id", "category", "true_rank"
    )
    model_top = categories.filter(pl.col("weak_rank") == 1).select("user_id", "category")
    evidence_top = (
        rows.sort(["user_id", "ev_uc_logit", "category"])
        .group_by("user_id", maintain_order=True)
        .first()
        .select("user_id", "category")
    )
    naive_top = (
        rows.filter(pl.col("attempts") > 0)
        .with_columns(acc=pl.col("correct") / pl.col("attempts"))
        .sort(["user_id", "acc", "attempts"], descending=[False, False, True])
        .group_by("user_id", maintain_order=True)
        .first()
        .select("user_id", "category")
    )
    out: dict[str, Any] = {}
    for lo, hi in ((MIN_ANSWERS, 10**9), *BANDS):
        users = totals.filter(pl.col("n").is_between(lo, hi - 1)).select("user_id")
        m = model_top.join(users, on="user_id", how="semi")
        n = naive_top.join(users, on="user_id", how="semi")
        e = evidence_top.join(users, on="user_id", how="semi")
        label = f">={lo}" if hi == 10**9 else f"{lo}-{hi - 1}"
        out[label] = {
            "users": m.height,
            **{f"model_k{k}": _precision(m, truth, k) for k in (1, 2, 3)},
            **{f"naive_k{k}": _precision(n, truth, k) for k in (1, 2, 3)},
            **{f"evidence_k{k}": _precision(e, truth, k) for k in (1, 2, 3)},
        }
    return out


def learner(users: int, seed: int, run_date: date) -> dict[str, Any]:
    from daglig.io.db import read_frame
    from daglig.learner.assessment import assess_with
    from daglig.learner.curve import fit_practice_curve
    from daglig.learner.examples import EXAMS_SCHEMA, learner_rows
    from daglig.learner.training import build_examples, fit_and_evaluate, plan_training
    from daglig.user_features import (
        ATTEMPTS_SCHEMA,
        QUESTIONS_SCHEMA,
        USERS_SCHEMA,
        clean_attempts,
        day_cutoff,
    )
    from simulator import simulate

    tmp = Path(tempfile.mkdtemp(prefix="daglig-bench-learner-"))
    path = tmp / "bench.db"
    url = f"sqlite:///{path}"
    t0 = time.perf_counter()
    sim = simulate(url, users=users, seed=seed, end_date=run_date - timedelta(days=1))
    seconds: dict[str, float] = {"simulate": time.perf_counter() - t0}

    cutoff = day_cutoff(run_date)
    t = time.perf_counter()
    questions = read_frame(url, "read/questions", None, QUESTIONS_SCHEMA)
    attempts = read_frame(url, "read/attempts", {"cutoff": cutoff}, ATTEMPTS_SCHEMA)
    exams = read_frame(url, "read/exam_sessions", {"cutoff": cutoff}, EXAMS_SCHEMA)
    all_users = read_frame(url, "read/users", {"cutoff": cutoff}, USERS_SCHEMA)
    clean = clean_attempts(attempts.lazy(), questions.lazy())[0].collect()
    seconds["read"] = time.perf_counter() - t

    plan = plan_training(run_date)
    t = time.perf_counter()
    curve = fit_practice_curve(clean, plan.train_cutoffs, plan.horizon_days)
    seconds["fit_practice_curve"] = time.perf_counter() - t
    t = time.perf_counter()
    train, test = build_examples(clean, exams, plan, practice=curve.practice)
    seconds["build_examples"] = time.perf_counter() - t
    t = time.perf_counter()
    result = fit_and_evaluate(clean, train, test, plan, practice_fit=curve)
    seconds["fit_and_evaluate"] = time.perf_counter() - t
    seconds.update({f"  {k}": v for k, v in result.seconds.items()})

    t = time.perf_counter()
    active = all_users.filter(pl.col("is_active"))
    rows = learner_rows(active, questions, attempts, exams, cutoff, practice=curve.practice)
    seconds["score_rows"] = time.perf_counter() - t
    t = time.perf_counter()
    assessment = assess_with(result.model, rows, questions)
    seconds["score_assess"] = time.perf_counter() - t

    with sqlite3.connect(path) as con:
        truth = pl.read_database("SELECT user_id, category, mastery FROM sim_ground_truth", con)
    quality = weak_area_quality(rows, assessment.categories, truth)
    return {
        "scale": f"learner-{users}",
        "backend": "sqlite",
        "users": users,
        "active_users": active.height,
        "answers": sim.answers,
        "train_examples": result.n_train,
        "heldout_answers": result.n_test,
        "metrics": result.metrics,
        "practice_curve": curve.practice.as_dict(),
        "practice_curve_fit": curve.as_dict(),
        "weak_area_precision_at_1": quality,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
    }


def markdown(r: dict[str, Any]) -> str:
    """The metrics and precision tables of one run."""
    lines = [
        f"### {r['users']:,} learners, {r['answers']:,} answers "
        f"({r['train_examples']:,} training examples, {r['heldout_answers']:,} held out)",
        "",
        "| estimator | log loss | AUC | ECE |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, m in sorted(r["metrics"].items(), key=lambda kv: kv[1]["log_loss"]):
        lines.append(f"| {name} | {m['log_loss']:.4f} | {m['auc']:.4f} | {m['ece']:.4f} |")
    lines += [
        "",
        "| answers | users | model p@1 (k=1) | naive (k=1) | evidence (k=1) | model (k=2) "
        "| naive (k=2) | model (k=3) | naive (k=3) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for band, q in r["weak_area_precision_at_1"].items():
        lines.append(
            f"| {band} | {q['users']:,} | {q['model_k1']:.3f} | {q['naive_k1']:.3f} | "
            f"{q.get('evidence_k1', float('nan')):.3f} | "
            f"{q['model_k2']:.3f} | {q['naive_k2']:.3f} | {q['model_k3']:.3f} | "
            f"{q['naive_k3']:.3f} |"
        )
    s = r["seconds"]
    if "practice_curve" in r:
        c, f = r["practice_curve"], r["practice_curve_fit"]
        lines += [
            "",
            f"Practice curve (fitted on {f['answers']:,} training-window answers): gain "
            f"{c['practice_gain']:g}, kept {c['gain_kept']:g}, fade {c['fade_days']:g} days; "
            f"the evidence's log loss {f['log_loss']:.4f} (defaults {f['log_loss_default']:.4f}, "
            f"no gain {f['log_loss_flat']:.4f}).",
        ]
    lines += [
        "",
        "Seconds: " + ", ".join(f"{k.strip()} {v}" for k, v in s.items()),
        f"; peak RSS {r['peak_rss_mib']:,} MiB.",
    ]
    return "\n".join(lines)
