"""Test a user: a dry run of the nightly flow for one user, and what it chose read from the
run folder (challenges with reasons, which selector served the user and why)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from daglig.admin.common import (
    AdminError,
    NotFound,
    jsonable,
)
from daglig.admin.settings_admin import settings_view
from daglig.catalogue import CATEGORIES
from daglig.challenge_settings import (
    parse_challenge_settings,
)
from daglig.config import Settings
from daglig.io.db import read_frame
from daglig.io.run_folder import RunFolder


def _why(source: str, user: dict[str, Any], result: dict[str, Any], min_answers: int) -> str:
    answers = user.get("total_answers", 0)
    if source == "ml":
        return (
            f"learner model {result.get('model_version')}: {answers} answers "
            f">= ml_min_answers {min_answers}"
        )
    if source == "onboarding":
        return "no answers before the day's cutoff: onboarding challenges"
    if result.get("ml_status") != "used":
        return f"learner model not used ({result.get('ml_status')}): {result.get('ml_reason')}"
    if user.get("holdout"):
        return "in the ML holdout: rule-based challenges for the ML-vs-fallback comparison"
    if answers < min_answers:
        return f"{answers} answers < ml_min_answers {min_answers}: rule-based challenges"
    return "not assessed by the learner model: rule-based challenges"


def dry_run_user(settings: Settings, user_id: int, day: date) -> dict[str, Any]:
    """Dry-run the nightly flow for one user and read what it chose from the run folder:
    the challenges (type, category, target, difficulty, XP, Norwegian text, reason) and
    which selector served the user and why. Writes nothing."""
    known = read_frame(
        settings.database_url,
        "admin/user",
        {"user_id": user_id},
        {"user_id": pl.Int64, "is_active": pl.Boolean, "created_at": pl.Datetime("us")},
    )
    if known.is_empty():
        raise NotFound(f"no user {user_id}")
    if not known["is_active"][0]:  # no need to run anything: inactive users get nothing
        return {
            "user_id": user_id,
            "run_date": day.isoformat(),
            "status": "skipped",
            "user": {"is_active": False},
            "selector": None,
            "why": "inactive user: no challenges",
            "challenges": [],
        }
    from flows.daily_challenges import generate_daily_challenges

    state = generate_daily_challenges(
        run_date=day, dry_run=True, user_ids=[user_id], notify=False, return_state=True
    )
    result = state.result(raise_on_failure=False)
    if state.is_failed() or not isinstance(result, dict):
        raise AdminError(f"the dry run failed: {result}")
    base: dict[str, Any] = {
        "user_id": user_id,
        "run_date": day.isoformat(),
        "status": result["status"],
        "ml_status": result.get("ml_status"),
        "ml_reason": result.get("ml_reason"),
        "model_version": result.get("model_version"),
        "settings_problems": result.get("settings_problems", []),
        "flow_run_id": str(state.state_details.flow_run_id),
    }
    if result["status"] == "disabled":
        return {**base, "selector": None, "why": "generation_enabled is false", "challenges": []}
    run = RunFolder.at(settings.runs_dir, day, str(state.state_details.flow_run_id))
    users = pl.read_parquet(run.user_features).filter(pl.col("user_id") == user_id)
    if users.is_empty():
        raise NotFound(f"no user {user_id} known before the cutoff of {day}")
    cols = ["is_active", "total_answers", "accuracy", "current_streak"]
    user = {k: jsonable(v) for k, v in users.select(cols).row(0, named=True).items()}
    challenges = [
        {k: v for k, v in c.items() if k != "user_id"}
        for c in chosen_challenges(run.root, [user_id])
    ]
    if not user["is_active"]:
        selector, why = None, "inactive user: no challenges"
    elif not challenges:
        selector, why = None, "no challenge possible with the current settings"
    else:
        source = challenges[0]["source"]
        user["holdout"] = bool(challenges[0]["reason"].get("ml_holdout"))
        min_answers = parse_challenge_settings(
            {r["key"]: r["value"] for r in settings_view(settings.database_url, 0)["stored"]}
        ).ml_min_answers
        selector, why = source, _why(source, user, result, min_answers)
    return {**base, "user": user, "selector": selector, "why": why, "challenges": challenges}


def chosen_challenges(folder: Path, user_ids: list[int]) -> list[dict[str, Any]]:
    """What a run (a dry run, typically) chose for ``user_ids``, read from its run folder:
    per user and slot the type, category, target, difficulty, XP, source, Norwegian text
    and reason (decoded JSON)."""
    # one file of keyed assignments per shard (tasks/render.py)
    run = RunFolder(folder)
    keyed = pl.read_parquet(run.keyed_assignments()).filter(pl.col("user_id").is_in(user_ids))
    texts = pl.read_parquet(run.challenges).select(
        "content_key", "title", "description", "xp_reward", "bonus_xp"
    )
    chosen = keyed.join(texts, on="content_key", how="left").sort("user_id", "slot")
    out = []
    for r in chosen.to_dicts():
        category = r["category"]
        out.append(
            {
                "user_id": r["user_id"],
                "slot": r["slot"],
                "challenge_type": r["challenge_type"],
                "category": category,
                "category_no": CATEGORIES[category].name_no if category in CATEGORIES else None,
                "target_value": r["target_value"],
                "difficulty": r["difficulty"],
                "xp_reward": r["xp_reward"],
                "bonus_xp": r["bonus_xp"],
                "source": r["source"],
                "title": r["title"],
                "description": r["description"],
                "reason": json.loads(r["reason"]) if r["reason"] else {},
            }
        )
    return out


def reason_gist(reason: Mapping[str, Any]) -> str:
    """A challenge's reason JSON in a few words: the rule that chose it and its evidence."""
    parts = []
    if reason.get("ml_holdout"):
        parts.append("ML holdout")
    if reason.get("rule"):
        parts.append(str(reason["rule"]).replace("_", " "))
    if reason.get("category_mastery") is not None:
        parts.append(f"mastery {reason['category_mastery']:.2f}")
    weak = [w for w in reason.get("weak_areas") or [] if isinstance(w, dict)]
    if weak:
        parts.append(
            "weakest "
            + ", ".join(
                f"{w.get('category')} {w['mastery']:.2f}"
                if w.get("mastery") is not None
                else str(w.get("category"))
                for w in weak
            )
        )
    if reason.get("level"):
        parts.append(f"level {reason['level']}")
    if reason.get("answers") is not None:
        parts.append(f"{reason['answers']} answers")
    if reason.get("accuracy") is not None:
        parts.append(f"accuracy {100 * reason['accuracy']:.0f} %")
    if reason.get("category_rule"):
        days = reason.get("category_days_since_practised")
        since = f" ({days} days ago)" if days is not None else ""
        parts.append(str(reason["category_rule"]).replace("_", " ") + since)
    return ", ".join(parts) or "–"
