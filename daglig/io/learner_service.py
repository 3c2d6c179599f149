"""The seed's ML service for the app: ``get_weak_areas(user_id)`` and
``get_skill_assessment(user_id)``, answered from the last night's persisted assessment
(``daglig/io/assessment_store.py``) of this database (its ``pipeline_identity``).

A user the last night did not assess (unknown, inactive, or no night with the learner
model yet) raises :class:`NotAssessed`, whose message is one line for a person: the CLI
prints it (exit 2), the HTTP API answers 404 with it. The app shows such a user its
onboarding challenges; the service does not invent an assessment.

    service = LearnerService(settings.database_url, settings.assessment_dir)
    service.get_weak_areas(42)        # ['traffic_signs', 'road_markings', 'parking']
    service.get_skill_assessment(42)  # {'overall_skill_level': 0.65, ...}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import DatabaseError

from daglig.io.assessment_store import AssessmentReader, NoAssessment
from daglig.io.db import make_engine, sql_statement
from daglig.io.identity import TABLE
from daglig.learner.assessment import WEAK_AREAS


class NotAssessed(LookupError):
    """The last night did not assess this user; the message says why, in one line."""


class LearnerService:
    """Weak areas and skill assessment of one user, for the database at ``database_url``.
    Cheap to keep for a process's lifetime (one read-only engine, the night's footer)."""

    def __init__(self, database_url: str, assessment_dir: Path) -> None:
        self.engine: Engine = make_engine(database_url, read_only=True, pooled=False)
        self.reader = AssessmentReader(assessment_dir)

    def close(self) -> None:
        self.engine.dispose()

    def _identity(self) -> str:
        """This database's identity, read on every call: a re-created database (a new
        ``daglig simulate``) has another, and never answers with the old one's nights."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(sql_statement("identity/read")).first()
        except DatabaseError:
            # no pipeline_identity table (nothing was ever trained on it), or the database
            # failed: asking it again says which (a failed connection raises here again)
            if inspect(self.engine).has_table(TABLE):
                raise
            row = None
        if row is None:
            raise NotAssessed(
                "no night has assessed this database's learners yet "
                "(train the learner model with `daglig train`, then run the night)"
            )
        return str(row.identity)

    def assessment(self, user_id: int) -> dict[str, Any]:
        """The user's whole assessment: the skill assessment, the night it is from, the
        model that made it and every category weakest first."""
        identity = self._identity()
        try:
            row, night = self.reader.row(identity, user_id)
        except NoAssessment as exc:
            raise NotAssessed(str(exc)) from None
        if row is None:
            raise NotAssessed(self._why_not(user_id, str(night["run_date"])))
        categories = [
            {
                "category": c["category"],
                "mastery": round(float(c["mastery"]), 4),
                "answers": int(c["attempts"]),
                "is_gap": bool(c["is_gap"]),
            }
            for c in row["categories"] or []
        ]
        return {
            "user_id": user_id,
            "weak_areas": [c["category"] for c in categories[:WEAK_AREAS]],
            "overall_skill_level": round(float(row["overall_skill_level"]), 4),
            "confidence_level": round(float(row["confidence_level"]), 4),
            "total_practice_questions": int(row["total_practice_questions"]),
            "exam_readiness": round(float(row["exam_readiness"]), 4),
            "assessed_on": night["run_date"],
            "model_version": night["model_version"],
            "categories": categories,
        }

    def get_weak_areas(self, user_id: int) -> list[str]:
        """The user's weakest categories (at most three), weakest first."""
        weak: list[str] = self.assessment(user_id)["weak_areas"]
        return weak

    def get_skill_assessment(self, user_id: int) -> dict[str, Any]:
        """The seed's skill assessment (``overall_skill_level``, ``confidence_level``,
        ``total_practice_questions``) with ``exam_readiness`` and the night it is from."""
        a = self.assessment(user_id)
        keys = (
            "overall_skill_level",
            "confidence_level",
            "total_practice_questions",
            "exam_readiness",
            "assessed_on",
            "model_version",
        )
        return {k: a[k] for k in keys}

    def _why_not(self, user_id: int, run_date: str) -> str:
        with self.engine.connect() as conn:
            user = conn.execute(sql_statement("admin/user"), {"user_id": user_id}).first()
        if user is None:
            return f"no user {user_id}"
        if not user.is_active:
            return f"user {user_id} is inactive: the night of {run_date} did not assess them"
        return (
            f"user {user_id} was not assessed on the night of {run_date} (new since, or no answers)"
        )
