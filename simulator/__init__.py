"""Learner simulator: realistic app data (users, questions, quiz sessions, answers) plus the
learners' true per-category skill, for developing and testing the daglig pipeline.

``generate`` is pure (frames in memory); ``simulate`` generates and bulk-loads a database.
The model is described in docs/simulator.md.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import polars as pl

from simulator.load import GROUND_TRUTH, load_frames
from simulator.model import ARCHETYPES, SimulatedData, simulate_frames

__all__ = [
    "ARCHETYPES",
    "GROUND_TRUTH",
    "SimulationSummary",
    "generate",
    "simulate",
    "simulate_frames",
]


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`simulate` wrote. ``active_users`` counts ``users.is_active``;
    ``by_archetype`` counts users per archetype (new, casual, heavy, lapsed, inactive)."""

    users: int
    active_users: int
    answers: int
    sessions: int
    questions: int
    generate_seconds: float
    write_seconds: float
    by_archetype: dict[str, int] = field(default_factory=dict)


def generate(
    *,
    users: int,
    seed: int,
    end_date: dt.date,
    history_days: int = 180,
    answers_per_user: float = 100.0,
    questions_per_category: int = 100,
) -> dict[str, pl.DataFrame]:
    """Simulate the app's tables; pure and deterministic for its arguments.

    Returns frames keyed by table name: ``users``, ``user_progress``, ``questions``,
    ``quiz_sessions``, ``question_attempts`` (column names and types of the contract:
    BIGINT → Int64, INTEGER → Int32, REAL → Float64, BOOLEAN → Boolean,
    TIMESTAMP → naive-UTC Datetime('us'), DATE → Date) and ``sim_ground_truth``
    (user_id, category, theta, mastery, answers: each user's true state at the end of
    ``end_date``, one row per user and category). Nothing is dated after ``end_date``
    23:59:59 Europe/Oslo.
    """
    return simulate_frames(
        users=users,
        seed=seed,
        end_date=end_date,
        history_days=history_days,
        answers_per_user=answers_per_user,
        questions_per_category=questions_per_category,
    ).frames


def simulate(
    database_url: str,
    *,
    users: int,
    seed: int,
    end_date: dt.date,
    history_days: int = 180,
    answers_per_user: float = 100.0,
    questions_per_category: int = 100,
    replace: bool = True,
) -> SimulationSummary:
    """Generate (as :func:`generate`) and bulk-load into ``database_url`` (SQLite file or
    PostgreSQL).

    ``replace=True`` drops every table of ``models.Base.metadata`` (pipeline tables too)
    and ``sim_ground_truth`` if present, then creates the app tables and the ground-truth
    table and loads them. ``replace=False`` creates missing tables and refuses (ValueError)
    to load into any that already holds rows. Pipeline tables are never created.
    """
    t0 = time.perf_counter()
    data: SimulatedData = simulate_frames(
        users=users,
        seed=seed,
        end_date=end_date,
        history_days=history_days,
        answers_per_user=answers_per_user,
        questions_per_category=questions_per_category,
    )
    t1 = time.perf_counter()
    load_frames(database_url, data.frames, replace=replace)
    t2 = time.perf_counter()
    f = data.frames
    return SimulationSummary(
        users=f["users"].height,
        active_users=int(f["users"]["is_active"].sum()),
        answers=f["question_attempts"].height,
        sessions=f["quiz_sessions"].height,
        questions=f["questions"].height,
        generate_seconds=round(t1 - t0, 3),
        write_seconds=round(t2 - t1, 3),
        by_archetype=data.by_archetype,
    )
