"""The run summary's counts of a day, from its users and assignments (pure): who was
served, who was skipped and why, who got fewer challenges than asked."""

from __future__ import annotations

import polars as pl

from daglig.summary import RunSummary, assignment_counts


def count_day(
    summary: RunSummary,
    users: pl.DataFrame,
    assignments: pl.DataFrame,
    distinct_challenges: int,
    challenges_per_user: int,
    requested_users: int | None = None,
    struggle: pl.DataFrame | None = None,
) -> None:
    """Fill ``summary``'s user and assignment counts and their notes. ``users``: every
    user's ``user_id`` and ``is_active``; ``assignments``: the day's ``user_id``, ``source``,
    ``challenge_type`` and ``category``; ``requested_users``: how many ids a restricted run
    asked for (None: everyone); ``struggle``: the feature step's struggling learners
    (``user_id``, ``struggle_holdout``), counted among those served."""
    c = assignment_counts(assignments)
    summary.users_total = users.height
    summary.users_active = int(users["is_active"].sum())
    summary.users_served = c["users_served"]
    summary.assignments = c["assignments"]
    summary.by_source, summary.by_type, summary.by_category = (
        c["by_source"],
        c["by_type"],
        c["by_category"],
    )
    summary.distinct_challenges = distinct_challenges
    if struggle is not None and assignments.height:
        served = struggle.join(assignments.select("user_id").unique(), on="user_id", how="semi")
        summary.struggling = {
            "learners": served.height,
            "held_out": int(served["struggle_holdout"].sum()),
        }
    # the completion model (when one was used) set the target of every ML slot
    summary.completion_slots = (
        summary.by_source.get("ml", 0) if summary.completion_model_version else 0
    )
    skipped = {
        "inactive": users.height - summary.users_active,
        "no_challenge_possible": summary.users_active - summary.users_served,
    }
    if requested_users is not None:
        summary.notes.append(f"restricted to {requested_users} requested user ids")
    summary.users_skipped = {k: v for k, v in skipped.items() if v}
    short = assignments.group_by("user_id").len().filter(pl.col("len") < challenges_per_user)
    if short.height:
        summary.notes.append(
            f"{short.height} users got fewer than {challenges_per_user} challenges "
            "(too few enabled types or categories once yesterday's are excluded)"
        )
