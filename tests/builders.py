"""Builder factories for tiny app databases: literal users, questions and answers.

``AppDataBuilder`` collects rows and writes them through the SQLAlchemy models, so tests
read like the situation they set up::

    b = AppDataBuilder()
    uid = b.user()                          # active, no answers
    b.answers(uid, "traffic_signs", n=40, correct=0.9, day=date(2026, 11, 23))
    b.write(url)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy import insert

from daglig.catalogue import CATEGORY_KEYS
from daglig.io.db import make_engine
from daglig.learner.completion import ASSIGNMENTS_SCHEMA
from models import (
    DailyChallenge,
    Question,
    QuestionAttempt,
    QuizSession,
    User,
    UserDailyChallenge,
    UserProgress,
    create_app_tables,
    create_pipeline_tables,
)

QUESTIONS_PER_CATEGORY = 5


@contextmanager
def environ(**values: str) -> Iterator[None]:
    """Set environment variables for a block (session fixtures cannot use monkeypatch),
    restoring what was there before."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def question_id(category: str, k: int = 0) -> int:
    """Id of the k-th test question of a category (ids are laid out per category)."""
    return CATEGORY_KEYS.index(category) * 100 + 1 + (k % QUESTIONS_PER_CATEGORY)


def day_assignments(
    user_ids: list[int],
    challenge_type: str,
    target: int,
    difficulty: float = 0.5,
    category: str | None = "traffic_signs",
    question_count: int | None = None,
    seconds_limit: int | None = None,
    source: str = "ml",
    reason: str = '{"ml_holdout":false}',
    slot: int = 1,
) -> pl.DataFrame:
    """One day's assignments as the simulator reads them (sql/sim/day_assignments.sql):
    the same challenge in ``slot`` for every user in ``user_ids``, its ``content_key`` built
    by the pipeline's own expression."""
    from daglig.challenges import with_content_key
    from simulator.days import DAY_SCHEMA

    n = len(user_ids)
    frame = pl.DataFrame(
        {
            "user_id": user_ids,
            "slot": [slot] * n,
            "challenge_type": [challenge_type] * n,
            "category": [category] * n,
            "target_value": [target] * n,
            "question_count": [question_count] * n,
            "seconds_limit": [seconds_limit] * n,
            "difficulty": [difficulty] * n,
            "xp_reward": [50] * n,
            "source": [source] * n,
            "reason": [reason] * n,
        },
        schema_overrides={
            "category": pl.String,
            "question_count": pl.Int32,
            "seconds_limit": pl.Int32,
        },
    )
    return with_content_key(frame).select([pl.col(k).cast(v) for k, v in DAY_SCHEMA.items()])


@dataclass
class AppDataBuilder:
    users: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    extra_questions: list[dict[str, Any]] = field(default_factory=list)
    past_assignments: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)

    def user(
        self, active: bool = True, created: date = date(2026, 1, 1), language: str | None = None
    ) -> int:
        uid = len(self.users) + 1
        self.users.append(
            {
                "id": uid,
                "username": f"elev{uid:05d}",
                "email": f"elev{uid}@example.no",
                "is_active": active,
                "created_at": datetime.combine(created, time(12)),
                "last_login_at": None,
                "preferred_language": language,
            }
        )
        return uid

    def answers(
        self,
        user_id: int,
        category: str,
        n: int,
        correct: float = 0.8,
        day: date = date(2026, 11, 23),
        hour: int = 17,
        seconds: float | None = 12.0,
        question: int | None = None,
    ) -> None:
        """``n`` answers on ``day`` (Oslo evening, stored as UTC), the first ``correct``
        share of them right."""
        right = round(n * correct)
        start = datetime.combine(day, time(hour))
        for i in range(n):
            self.attempts.append(
                {
                    "id": len(self.attempts) + 1,
                    "user_id": user_id,
                    "question_id": question if question is not None else question_id(category, i),
                    "quiz_session_id": None,
                    "is_correct": i < right,
                    "time_spent_seconds": seconds,
                    "answered_at": start + timedelta(seconds=20 * i),
                }
            )

    def session(
        self,
        user_id: int,
        day: date = date(2026, 11, 23),
        completed: bool = True,
        questions: int = 10,
        hour: int = 17,
    ) -> None:
        """A quiz session started on ``day`` (Oslo evening, stored as UTC) of ``questions``
        questions, completed 15 minutes later or never (``completed`` False: abandoned)."""
        start = datetime.combine(day, time(hour))
        self.sessions.append(
            {
                "id": len(self.sessions) + 1,
                "user_id": user_id,
                "quiz_type": "category",
                "category": None,
                "started_at": start,
                "completed_at": start + timedelta(minutes=15) if completed else None,
                "total_questions": questions,
                "correct_answers": 0,
            }
        )

    def daily(
        self, user_id: int, category: str, last_day: date, days: int, per_day: int = 10
    ) -> None:
        """Practice every day for ``days`` days ending ``last_day`` (a streak)."""
        for d in range(days):
            self.answers(user_id, category, per_day, day=last_day - timedelta(days=d))

    def challenge(
        self,
        user_id: int,
        day: date,
        challenge_type: str = "quiz",
        category: str | None = None,
        target: int = 3,
        difficulty: float = 0.5,
        completed_at: datetime | None = None,
        progress: int = 0,
    ) -> None:
        """A past daily challenge given to the user on ``day`` (slot after the user's others
        that day) with its outcome as the app recorded it (``completed_at`` None: not done):
        written by :meth:`write`, and the completion model's rows in :meth:`challenge_frame`."""
        slot = 1 + sum(
            a["user_id"] == user_id and a["challenge_date"] == day for a in self.past_assignments
        )
        self.past_assignments.append(
            {
                "user_id": user_id,
                "challenge_date": day,
                "slot": slot,
                "challenge_type": challenge_type,
                "category": category,
                "target_value": target,
                "difficulty": difficulty,
                "progress": progress,
                "completed_at": completed_at,
            }
        )

    def challenge_frame(self) -> pl.DataFrame:
        """The past assignments as sql/read/past_assignments.sql reads them back."""
        return pl.DataFrame(self.past_assignments, schema=ASSIGNMENTS_SCHEMA)

    def question_rows(self) -> list[dict[str, Any]]:
        """The test question bank (one difficulty in five unknown) plus any extra questions."""
        return [
            {
                "id": question_id(c, k),
                "category": c,
                "difficulty": None if k == 4 else 0.2 * k,
                "is_active": True,
            }
            for c in CATEGORY_KEYS
            for k in range(QUESTIONS_PER_CATEGORY)
        ] + self.extra_questions

    def write(self, url: str) -> None:
        engine = make_engine(url)
        create_app_tables(engine)
        questions = self.question_rows()
        with engine.begin() as conn:
            conn.execute(insert(User), self.users)
            conn.execute(insert(UserProgress), [{"user_id": u["id"]} for u in self.users])
            conn.execute(insert(Question), questions)
            if self.sessions:
                conn.execute(insert(QuizSession), self.sessions)
            if self.attempts:
                conn.execute(insert(QuestionAttempt), self.attempts)
        if self.past_assignments:
            self._write_assigned(engine)
        engine.dispose()

    def _write_assigned(self, engine: Any) -> None:
        create_pipeline_tables(engine)
        made = datetime(2026, 1, 1)
        asked = ("challenge_date", "challenge_type", "category", "target_value", "difficulty")
        challenges = {tuple(a[k] for k in asked) for a in self.past_assignments}
        ids = {key: i for i, key in enumerate(sorted(challenges, key=str), start=1)}
        with engine.begin() as conn:
            conn.execute(
                insert(DailyChallenge),
                [
                    {
                        "id": i,
                        "challenge_date": day,
                        "content_key": f"{kind}-{i}",
                        "challenge_type": kind,
                        "category": category,
                        "title": kind,
                        "description": kind,
                        "target_value": target,
                        "difficulty": difficulty,
                        "xp_reward": 10,
                        "bonus_xp": 0,
                        "source": "test",
                        "created_at": made,
                    }
                    for (day, kind, category, target, difficulty), i in ids.items()
                ],
            )
            conn.execute(
                insert(UserDailyChallenge),
                [
                    {
                        "user_id": a["user_id"],
                        "challenge_date": a["challenge_date"],
                        "slot": a["slot"],
                        "challenge_id": ids[tuple(a[k] for k in asked)],
                        "progress": a["progress"],
                        "completed_at": a["completed_at"],
                        "assigned_at": made,
                    }
                    for a in self.past_assignments
                ],
            )
