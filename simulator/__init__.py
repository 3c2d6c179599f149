"""Learner simulator: realistic app data (users, questions, quiz sessions, answers) plus the
learners' true per-category skill, for developing and testing the daglig pipeline.

``generate`` is pure (frames in memory); ``simulate`` generates and bulk-loads a database.
The model is described in docs/simulator.md.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import polars as pl

from simulator.learners import ARCHETYPES, FirstIds, SimulatedData, simulate_frames
from simulator.load import GROUND_TRUTH, Frames, LoadTimings, load_chunks, load_frames

__all__ = [
    "ARCHETYPES",
    "CHUNK_USERS",
    "GROUND_TRUTH",
    "SimulationSummary",
    "chunk_sizes",
    "generate",
    "generate_chunks",
    "load_frames",
    "simulate",
    "simulate_frames",
]

# Learners generated (and loaded) at a time by simulate: about 10M answers, 3 GB at peak.
CHUNK_USERS = 100_000

T = TypeVar("T")


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`simulate` wrote. ``active_users`` counts ``users.is_active``;
    ``by_archetype`` counts users per archetype (new, casual, heavy, lapsed, inactive).

    Seconds: ``generate_seconds`` is the time spent generating (summed over chunks, partly
    in a background thread), ``write_seconds`` the loader's wall time: the rows
    (``write_seconds - index_seconds``) plus ``index_seconds`` for the keys, indexes, foreign
    keys and ANALYZE after the last chunk; ``total_seconds`` the whole call. ``index_steps``
    splits ``index_seconds`` by statement.
    """

    users: int
    active_users: int
    answers: int
    sessions: int
    questions: int
    generate_seconds: float
    write_seconds: float
    by_archetype: dict[str, int] = field(default_factory=dict)
    chunks: int = 1
    index_seconds: float = 0.0
    total_seconds: float = 0.0
    index_steps: dict[str, float] = field(default_factory=dict)


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


def chunk_sizes(users: int, chunk_users: int) -> list[int]:
    """Learners per chunk: ``chunk_users`` each, the rest in the last (one chunk for 0)."""
    if users < 0 or chunk_users < 1:
        raise ValueError("users must be >= 0 and chunk_users >= 1")
    full, rest = divmod(users, chunk_users)
    return [chunk_users] * full + ([rest] if rest or not full else [])


@dataclass
class _ChunkStats:
    """Running totals of the chunks generated so far (filled by :func:`_generate_chunks`)."""

    users: int = 0
    active_users: int = 0
    answers: int = 0
    sessions: int = 0
    questions: int = 0
    seconds: float = 0.0
    archetypes: np.ndarray = field(default_factory=lambda: np.zeros(len(ARCHETYPES), np.int64))


def _generate_chunks(
    sizes: list[int],
    stats: _ChunkStats,
    *,
    seed: int,
    end_date: dt.date,
    history_days: int,
    answers_per_user: float,
    questions_per_category: int,
) -> Iterator[Frames]:
    """The frames of each chunk in turn, ids numbered on from the previous chunks; the
    question bank comes with the first chunk only (the later chunks draw the same one)."""
    first = FirstIds()
    for i, n in enumerate(sizes):
        t0 = time.perf_counter()
        data: SimulatedData = simulate_frames(
            users=n,
            seed=seed,
            end_date=end_date,
            history_days=history_days,
            answers_per_user=answers_per_user,
            questions_per_category=questions_per_category,
            chunk=i,
            first_ids=first,
        )
        frames = data.frames
        first = first.after(frames)
        stats.users += frames["users"].height
        stats.active_users += int(frames["users"]["is_active"].sum())
        stats.answers += frames["question_attempts"].height
        stats.sessions += frames["quiz_sessions"].height
        stats.archetypes += np.bincount(data.archetype, minlength=len(ARCHETYPES))
        if i == 0:
            stats.questions = frames["questions"].height
        else:
            frames = {k: v for k, v in frames.items() if k != "questions"}
        del data
        stats.seconds += time.perf_counter() - t0
        yield frames


def generate_chunks(
    *,
    users: int,
    seed: int,
    end_date: dt.date,
    chunk_users: int = CHUNK_USERS,
    history_days: int = 180,
    answers_per_user: float = 100.0,
    questions_per_category: int = 100,
) -> Iterator[Frames]:
    """The frames :func:`simulate` loads, one chunk of ``chunk_users`` learners at a time
    (lazily; pure and deterministic for the arguments). The ``questions`` frame comes with
    the first chunk only. With ``users <= chunk_users`` the one chunk is :func:`generate`'s
    frames."""
    return _generate_chunks(
        chunk_sizes(users, chunk_users),
        _ChunkStats(),
        seed=seed,
        end_date=end_date,
        history_days=history_days,
        answers_per_user=answers_per_user,
        questions_per_category=questions_per_category,
    )


def _read_ahead(items: Iterator[T]) -> Iterator[T]:
    """``items``, with the next one computed in a background thread while the caller works
    on the current one. numpy, polars and the ADBC COPY release the GIL, so generating
    chunk i + 1 overlaps loading chunk i."""
    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="simulate-chunk") as pool:
        pending = pool.submit(next, items, done)
        while (item := pending.result()) is not done:
            pending = pool.submit(next, items, done)
            yield item  # type: ignore[misc]
            del item


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
    chunk_users: int = CHUNK_USERS,
    read_ahead: bool = True,
) -> SimulationSummary:
    """Generate (as :func:`generate`) and bulk-load into ``database_url`` (SQLite file or
    PostgreSQL), ``chunk_users`` learners at a time.

    With ``users <= chunk_users`` the data is exactly :func:`generate`'s. Larger runs are
    chunks of :func:`simulate_frames` sharing the question bank, each from its own random
    stream (``seed``, chunk index) with ids numbered on from the previous chunks, so ids stay
    unique and dense (docs/simulator.md, "Large scale"). ``read_ahead`` generates the next
    chunk while the current one loads.

    ``replace=True`` drops every table of ``models.Base.metadata`` (pipeline tables too)
    and ``sim_ground_truth`` if present, then creates the app tables and the ground-truth
    table and loads them. ``replace=False`` creates missing tables and refuses (ValueError)
    to load into any that already holds rows. Pipeline tables are never created.
    """
    t0 = time.perf_counter()
    sizes = chunk_sizes(users, chunk_users)
    stats = _ChunkStats()
    chunks = _generate_chunks(
        sizes,
        stats,
        seed=seed,
        end_date=end_date,
        history_days=history_days,
        answers_per_user=answers_per_user,
        questions_per_category=questions_per_category,
    )
    if len(sizes) == 1:  # generated before the load starts, as the single-shot loader did
        chunks = iter(list(chunks))
    elif read_ahead:
        chunks = _read_ahead(chunks)
    timings: LoadTimings = load_chunks(database_url, chunks, replace=replace)
    total = time.perf_counter() - t0
    return SimulationSummary(
        users=stats.users,
        active_users=stats.active_users,
        answers=stats.answers,
        sessions=stats.sessions,
        questions=stats.questions,
        generate_seconds=round(stats.seconds, 3),
        write_seconds=round(timings.prepare + timings.rows + timings.finish, 3),
        by_archetype={name: int(stats.archetypes[i]) for i, name in enumerate(ARCHETYPES)},
        chunks=len(sizes),
        index_seconds=round(timings.finish, 3),
        total_seconds=round(total, 3),
        index_steps=timings.steps,
    )
