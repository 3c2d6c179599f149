"""Table definitions, identical on SQLite and PostgreSQL.

Types follow the contract's PostgreSQL types. ``daily_challenges.id`` is generated: an
IDENTITY column on PostgreSQL and the rowid alias on SQLite (a SQLite ``BIGINT`` primary key
is not a rowid alias and would not auto-increment, hence the variant).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

GeneratedBigInt = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base for every contract table."""


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(Text, nullable=False)
    email: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=text("TRUE")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    # OPTIONAL (docs/contract.md, issue 17): 'nb' or 'nn', the written form the learner
    # reads; NULL, anything else or an app table without the column means Bokmål.
    preferred_language: Mapped[str | None] = mapped_column(Text)


class UserProgress(Base):
    """Gamification state the app keeps per user."""

    __tablename__ = "user_progress"
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id"), primary_key=True, autoincrement=False
    )
    total_xp: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    level: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    current_streak: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    longest_streak: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_activity_date: Mapped[date | None] = mapped_column(Date)


class Question(Base):
    __tablename__ = "questions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(Text, nullable=False)
    difficulty: Mapped[float | None] = mapped_column(
        Float(precision=24).with_variant(Float(), "sqlite")
    )
    is_active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=text("TRUE")
    )


class QuizSession(Base):
    __tablename__ = "quiz_sessions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False)
    quiz_type: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    total_questions: Mapped[int] = mapped_column(Integer, nullable=False)
    correct_answers: Mapped[int] = mapped_column(Integer, nullable=False)


class QuestionAttempt(Base):
    """The answer log: one row per answered question."""

    __tablename__ = "question_attempts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False)
    question_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("questions.id"), nullable=False)
    quiz_session_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("quiz_sessions.id"))
    is_correct: Mapped[bool] = mapped_column(Boolean, nullable=False)
    time_spent_seconds: Mapped[float | None] = mapped_column(
        Float(precision=24).with_variant(Float(), "sqlite")
    )
    answered_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    __table_args__ = (
        Index("ix_question_attempts_answered_at", "answered_at"),
        Index("ix_question_attempts_user", "user_id", "answered_at"),
    )


class DailyChallenge(Base):
    """One row per distinct challenge of a day; many users can share one."""

    __tablename__ = "daily_challenges"
    id: Mapped[int] = mapped_column(GeneratedBigInt, Identity(), primary_key=True)
    challenge_date: Mapped[date] = mapped_column(Date, nullable=False)
    content_key: Mapped[str] = mapped_column(Text, nullable=False)
    challenge_type: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    target_value: Mapped[int] = mapped_column(Integer, nullable=False)
    difficulty: Mapped[float] = mapped_column(
        Float(precision=24).with_variant(Float(), "sqlite"), nullable=False
    )
    xp_reward: Mapped[int] = mapped_column(Integer, nullable=False)
    bonus_xp: Mapped[int] = mapped_column(Integer, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    __table_args__ = (UniqueConstraint("challenge_date", "content_key"),)


class UserDailyChallenge(Base):
    """Which user gets which challenge on which day. ``progress``/``completed_at`` are the app's."""

    __tablename__ = "user_daily_challenges"
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id"), primary_key=True, autoincrement=False
    )
    challenge_date: Mapped[date] = mapped_column(Date, primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    challenge_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("daily_challenges.id"), nullable=False
    )
    reason: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    assigned_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class ChallengeSetting(Base):
    """Admin controls: one row per key, the value JSON."""

    __tablename__ = "challenge_settings"
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_by: Mapped[str | None] = mapped_column(Text)


APP_TABLES: tuple[str, ...] = (
    "users",
    "user_progress",
    "questions",
    "quiz_sessions",
    "question_attempts",
)
PIPELINE_TABLES: tuple[str, ...] = (
    "daily_challenges",
    "user_daily_challenges",
    "challenge_settings",
)


def create_pipeline_tables(bind: Engine | Connection) -> None:
    """Create the pipeline's own tables when missing; never touches the app's tables."""
    Base.metadata.create_all(
        bind,
        tables=[Base.metadata.tables[n] for n in PIPELINE_TABLES + PIPELINE_RECORD_TABLES],
        checkfirst=True,
    )


def create_app_tables(bind: Engine | Connection) -> None:
    """Create the app's tables (used by the simulator and tests, never by the nightly run)."""
    Base.metadata.create_all(
        bind, tables=[Base.metadata.tables[name] for name in APP_TABLES], checkfirst=True
    )


# The pipeline's own records (not part of the app contract; the app never reads them).
# Created by create_pipeline_tables with the contract's pipeline tables; the health check
# does not require them, so a database set up before they existed gets them on first use.


class PipelineRun(Base):
    """One row per nightly-run attempt: inserted ``running`` when the run starts
    (``record-run-start``), ``written`` inside the day's write transaction, and given its
    end by ``record-run``; a later run marks a row whose process is gone ``crashed``.
    ``finished_at`` equals ``started_at`` until the run ends."""

    __tablename__ = "pipeline_runs"
    id: Mapped[int] = mapped_column(GeneratedBigInt, Identity(), primary_key=True)
    run_date: Mapped[date] = mapped_column(Date, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    finished_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    # ok | dry_run | disabled | failed | running | written | crashed | interrupted
    status: Mapped[str] = mapped_column(Text, nullable=False)
    total_seconds: Mapped[float] = mapped_column(
        Float(precision=53).with_variant(Float(), "sqlite"), nullable=False
    )
    users_served: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    assignments: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    quarantined: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    ml_status: Mapped[str | None] = mapped_column(Text)  # used | fallback | off
    error: Mapped[str | None] = mapped_column(Text)  # "<step>: <one line>" when failed
    flow_run_id: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(Text)  # where the run's process ran
    pid: Mapped[int | None] = mapped_column(Integer)  # and its process id

    __table_args__ = (Index("ix_pipeline_runs_run_date", "run_date"),)


class ChallengeSettingHistory(Base):
    """Every admin change of a ``challenge_settings`` key: who, when, from what to what."""

    __tablename__ = "challenge_settings_history"
    id: Mapped[int] = mapped_column(GeneratedBigInt, Identity(), primary_key=True)
    key: Mapped[str] = mapped_column(Text, nullable=False)
    old_value: Mapped[str | None] = mapped_column(Text)  # NULL: the key was not set
    new_value: Mapped[str] = mapped_column(Text, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    changed_by: Mapped[str | None] = mapped_column(Text)


class PipelineIdentity(Base):
    """One row naming this database: a random id and when it was made (``daglig/io/identity.py``).
    A learner model records the identity of the database it was trained on, and a run
    uses only a model of its own database. A copy of the database (a SQLite file copied,
    a PostgreSQL dump restored) carries the row, so its models go with it."""

    __tablename__ = "pipeline_identity"
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    identity: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    __table_args__ = (CheckConstraint("slot = 1", name="ck_pipeline_identity_one_row"),)


class LearnerExamPath(Base):
    """A learner's week's path to the exam (issue 17 item 3, docs/exam-path.md): seven
    days of focus categories from ``plan_start`` (day 1) to ``plan_start`` + 6, with the
    mastery each category had when planned. Written in the night's write transaction;
    the app never reads it."""

    __tablename__ = "learner_exam_paths"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    plan_start: Mapped[date] = mapped_column(Date, primary_key=True)
    day_no: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(Text, nullable=False)
    planned_mastery: Mapped[float] = mapped_column(
        Float(precision=53).with_variant(Float(), "sqlite"), nullable=False
    )

    __table_args__ = (
        CheckConstraint("day_no BETWEEN 1 AND 7", name="ck_learner_exam_paths_day_no"),
        Index("ix_learner_exam_paths_plan_start", "plan_start"),
    )


PIPELINE_RECORD_TABLES: tuple[str, ...] = (
    "pipeline_runs",
    "challenge_settings_history",
    "pipeline_identity",
    "learner_exam_paths",
)
