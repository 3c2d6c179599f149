"""The seed's design, written plainly as its authors would have: the yardstick for daglig.

``scripts/cron_generate_daily_challenges.py`` in the seed loops over the active users;
for each it asks the "ML service" for weak areas and a skill assessment (ORM queries of
that user's answers, scored in Python), picks challenges with ``random`` and the ML
weights, renders the Norwegian text, looks up or inserts the day's challenge row and
inserts the user's assignment, committing per user. It uses the same database, indexes
and catalogue as daglig (so it is not handicapped), and the contract's tables.

``python -m bench reference --users N`` simulates N learners and times this loop.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daglig.catalogue import CATEGORIES, CHALLENGE_TYPES, xp_for
from daglig.io.db import make_engine
from daglig.user_features import day_cutoff
from models import create_pipeline_tables
from models.tables import DailyChallenge, Question, QuestionAttempt, User, UserDailyChallenge

TITLES = {
    "quiz": ("Øv på {cat}", "Fullfør {n} quiz innen {cat_l}."),
    "perfect_score": ("Perfekt runde: {cat}", "Svar riktig på alle {n} spørsmål om {cat_l}."),
    "category_focus": (
        "[ML] Mestre {cat}",
        "Fullfør {n} spørsmål om {cat_l} for å forbedre dine svake områder.",
    ),
    "streak": ("Hold rekka", "Øv {n} dager på rad."),
    "accuracy_challenge": ("Treffsikker: {cat}", "Få minst {n} % riktige svar om {cat_l}."),
    "speed_challenge": ("Lynrask: {cat}", "Svar på {n} spørsmål om {cat_l} på kort tid."),
}


class MLService:
    """The seed's ``ml_service``: weak areas and skill from one user's answers."""

    def __init__(self, session: Session, cutoff: datetime) -> None:
        self.session = session
        self.cutoff = cutoff

    def _stats(self, user_id: int) -> dict[str, list[int]]:
        rows = self.session.execute(
            select(Question.category, QuestionAttempt.is_correct)
            .join(Question, Question.id == QuestionAttempt.question_id)
            .where(QuestionAttempt.user_id == user_id, QuestionAttempt.answered_at < self.cutoff)
        ).all()
        stats: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for category, correct in rows:
            stats[category][0] += 1
            stats[category][1] += int(correct)
        return stats

    def get_weak_areas(self, user_id: int) -> list[str]:
        stats = self._stats(user_id)
        scored = [(c / n, cat) for cat, (n, c) in stats.items() if n >= 3 and cat in CATEGORIES]
        return [cat for _, cat in sorted(scored)[:2]]

    def get_skill_assessment(self, user_id: int) -> dict[str, Any]:
        stats = self._stats(user_id)
        total = sum(n for n, _ in stats.values())
        correct = sum(c for _, c in stats.values())
        return {
            "overall_skill_level": correct / total if total else 0.0,
            "confidence_level": total / (total + 90),
            "total_practice_questions": total,
        }


def generate_for_user(
    session: Session, ml: MLService, user: User, run_date: date, per_user: int = 3
) -> int:
    """The seed's per-user generation; returns the assignments written."""
    rng = random.Random(f"{user.id}-{run_date}")
    skill = ml.get_skill_assessment(user.id)
    weak = ml.get_weak_areas(user.id)
    if skill["total_practice_questions"] < 30:
        source, types = "fallback", ["quiz", "category_focus", "streak"]
    else:
        source = "ml"
        types = sorted(
            CHALLENGE_TYPES,
            key=lambda t: -CHALLENGE_TYPES[t].ml_weight * (0.5 + rng.random()),
        )
    difficulty = round(min(0.95, max(0.1, 0.2 + 0.7 * skill["overall_skill_level"])) * 20) / 20
    written = 0
    for slot, kind in enumerate(types[:per_user], start=1):
        cat = weak[0] if (kind == "category_focus" and weak) else rng.choice(list(CATEGORIES))
        n = 10 if kind != "accuracy_challenge" else 80
        title, desc = TITLES[kind]
        name = CATEGORIES[cat].name_no
        key = f"{kind}|{cat}|t{n}|d{difficulty:.2f}|{source}"
        challenge = session.execute(
            select(DailyChallenge).where(
                DailyChallenge.challenge_date == run_date, DailyChallenge.content_key == key
            )
        ).scalar_one_or_none()
        if challenge is None:
            t = CHALLENGE_TYPES[kind]
            xp, bonus = xp_for(t.base_xp, difficulty, CATEGORIES[cat].weight, t.difficulty_scaling)
            challenge = DailyChallenge(
                challenge_date=run_date,
                content_key=key,
                challenge_type=kind,
                category=cat,
                title=title.format(cat=name),
                description=desc.format(n=n, cat_l=name.lower()),
                target_value=n,
                difficulty=difficulty,
                xp_reward=xp,
                bonus_xp=bonus,
                source=source,
                created_at=datetime.now(),
            )
            session.add(challenge)
            session.flush()
        session.add(
            UserDailyChallenge(
                user_id=user.id,
                challenge_date=run_date,
                slot=slot,
                challenge_id=challenge.id,
                reason=f'{{"weak_areas": {weak!r}}}'.replace("'", '"'),
                assigned_at=datetime.now(),
            )
        )
        written += 1
    session.commit()
    return written


def run_reference(url: str, run_date: date) -> int:
    """Generate the day for every active user, one user at a time; returns assignments."""
    engine = make_engine(url)
    create_pipeline_tables(engine)
    total = 0
    try:
        with Session(engine) as session:
            ml = MLService(session, day_cutoff(run_date))
            users = session.execute(select(User).where(User.is_active)).scalars().all()
            for user in users:
                total += generate_for_user(session, ml, user, run_date)
    finally:
        engine.dispose()
    return total


def reference_bench(
    users: int, seed: int, run_date: date, url: str | None = None
) -> dict[str, Any]:
    import os
    import tempfile
    import time
    from pathlib import Path

    from simulator import simulate

    url = (
        url
        or os.environ.get("DATABASE_URL")
        or (f"sqlite:///{Path(tempfile.mkdtemp(prefix='daglig-ref-')) / 'ref.db'}")
    )
    sim = simulate(url, users=users, seed=seed, end_date=run_date - timedelta(days=1))
    t0 = time.perf_counter()
    written = run_reference(url, run_date)
    seconds = time.perf_counter() - t0
    return {
        "scale": f"reference-{users}",
        "backend": url.split(":", 1)[0].split("+")[0],
        "users": users,
        "answers": sim.answers,
        "assignments": written,
        "seconds": round(seconds, 2),
        "seconds_per_1k_users": round(seconds / users * 1000, 3),
    }
