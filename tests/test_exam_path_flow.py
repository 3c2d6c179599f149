"""The week's path to the exam through the real nightly flow (issue 17 item 3), on SQLite
and PostgreSQL: a learner gets a plan on night 1 and follows day 2 on night 2 (slot 1 the
planned category, "Dag 2 av 7 mot teoriprøven: …"); a rerun of a night writes the same
plan rows; a dry run writes none; mastery that moved re-plans; a run for some users
writes only their plans."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from daglig.learner.exam_path import PATH_DAYS
from tests.builders import environ
from tests.dq_helpers import query

RUN = date(2026, 11, 24)
# where the learner is, first: "Dag 2 av 7 mot teoriprøven: …" (nn "teoriprøva"), or after a
# dash when the day's sentence has a colon of its own ("… – øv målrettet: svar på …")
WHERE = r"Dag {day} av 7 mot teoriprøv(en|a)(: [A-ZÆØÅ]| – [a-zæøå])"
pytestmark = pytest.mark.usefixtures("prefect_harness")


def plans(url: str) -> list[tuple[Any, ...]]:
    return [
        (int(u), str(s)[:10], int(d), c, round(float(m), 9))
        for u, s, d, c, m in query(
            url,
            "SELECT user_id, plan_start, day_no, category, planned_mastery "
            "FROM learner_exam_paths ORDER BY user_id, plan_start, day_no",
        )
    ]


def slot_ones(url: str, day: date) -> dict[int, tuple[str, str | None, str, str, str]]:
    """Per learner: slot 1's type, category, content key, description and reason."""
    found = query(
        url,
        "SELECT u.user_id, d.challenge_type, d.category, d.content_key, d.description, "
        "u.reason FROM user_daily_challenges u JOIN daily_challenges d ON d.id = u.challenge_id "
        "WHERE u.challenge_date = :d AND u.slot = 1",
        d=day,
    )
    return {int(r[0]): tuple(r[1:]) for r in found}  # type: ignore[misc]


def test_a_week_s_path_night_after_night(
    db_url: str, tmp_path: Path, night: Callable[..., dict[str, Any]]
) -> None:
    from flows.train_learner_model import train_learner_model
    from simulator import simulate

    simulate(db_url, users=300, seed=5, end_date=RUN - timedelta(days=1))
    data = tmp_path / "data"
    with environ(DATABASE_URL=db_url, DAGLIG_DATA_DIR=str(data)):
        train_learner_model(as_of=RUN)

    # night 1: learners on the path get a plan from tonight, day 1 in slot 1
    first = night(db_url, run_date=RUN)
    assert first["status"] == "ok" and first["ml_status"] == "used"
    written = plans(db_url)
    assert written and {p[1] for p in written} == {RUN.isoformat()}
    day1 = {u: c for u, s, d, c, _ in written if d == 1}
    day2 = {u: c for u, s, d, c, _ in written if d == 2}
    ones = slot_ones(db_url, RUN)
    on_path = {u for u, r in ones.items() if '"exam_path":' in r[4]}
    assert on_path == set(day1)
    for u in on_path:
        ctype, cat, key, text, reason = ones[u]
        assert (ctype, cat) == ("category_focus", day1[u]) and "p1of7" in key.split("|")
        assert re.search(WHERE.format(day=1), text), text  # after a kind opening, if any
        assert json.loads(reason)["exam_path"] == {
            "day": 1,
            "days": 7,
            "plan_start": RUN.isoformat(),
        }
    held = {u for u, r in ones.items() if '"path_holdout":true' in r[4]}
    assert held and not held & set(day1)  # the 5 % path holdout: no plan, day by day
    assert not any(ones[u][3].startswith("Dag ") or "|p" in ones[u][2] for u in held)

    # a rerun of night 1 (with --force too): the same plan rows
    again = night(db_url, run_date=RUN)
    assert again["written"]["exam_paths_written"] == len(written)
    assert plans(db_url) == written
    night(db_url, run_date=RUN, force=True)
    assert plans(db_url) == written

    # a dry run of night 2 writes no plan
    dry = night(db_url, run_date=RUN + timedelta(days=1), dry_run=True)
    assert dry["status"] == "dry_run" and plans(db_url) == written

    # night 2, no new answers: each learner follows day 2 of the plan, or (the learner
    # model's mastery of a category ahead moved 0.1 overnight: its time features) is
    # re-planned from tonight
    second = night(db_url, run_date=RUN + timedelta(days=1))
    assert second["status"] == "ok"
    ones2 = slot_ones(db_url, RUN + timedelta(days=1))
    followed = {u for u, r in ones2.items() if '"day":2,"days":7' in r[4]}
    replanned = {u for u, r in ones2.items() if '"day":1,"days":7' in r[4]}
    assert followed | replanned == set(day1) and not followed & replanned
    assert len(followed) >= 0.5 * len(day1)
    tomorrow = (RUN + timedelta(days=1)).isoformat()
    assert {p[0] for p in plans(db_url) if p[1] == tomorrow} == replanned
    for u in followed:
        ctype, cat, key, text, _ = ones2[u]
        assert (ctype, cat) == ("category_focus", day2[u]) and "p2of7" in key.split("|")
        assert re.search(WHERE.format(day=2), text), text
    assert any(t.startswith("Dag 2 av 7 mot teoriprøven") for _, _, _, t, _ in ones2.values())
    kept = {p for p in plans(db_url) if p[1] == RUN.isoformat()}
    assert kept == set(written)  # the plans followed are not rewritten

    # a learner's mastery moves: 60 wrong answers in a category still ahead on the path
    learner = min(followed)
    ahead = [c for u, s, d, c, _ in written if u == learner and d >= 3]
    moved = ahead[0]
    question = query(
        db_url, "SELECT MIN(id) FROM questions WHERE category = :c AND is_active", c=moved
    )[0][0]
    next_id = query(db_url, "SELECT MAX(id) FROM question_attempts")[0][0] + 1
    at = datetime(RUN.year, RUN.month, RUN.day + 1, 12, 0)
    from daglig.io.db import make_engine
    from models.tables import QuestionAttempt

    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            QuestionAttempt.__table__.insert(),
            [
                {
                    "id": next_id + i,
                    "user_id": learner,
                    "question_id": question,
                    "quiz_session_id": None,
                    "is_correct": False,
                    "time_spent_seconds": 10.0,
                    "answered_at": at + timedelta(seconds=20 * i),
                }
                for i in range(60)
            ],
        )
    engine.dispose()
    third = night(db_url, run_date=RUN + timedelta(days=2))
    assert third["status"] == "ok"
    mine = [p for p in plans(db_url) if p[0] == learner]
    assert {p[1] for p in mine} == {RUN.isoformat(), (RUN + timedelta(days=2)).isoformat()}
    ones3 = slot_ones(db_url, RUN + timedelta(days=2))
    assert json.loads(ones3[learner][4])["exam_path"]["day"] == 1
    # the others who followed day 2: day 3 of theirs, or re-planned
    day3 = {u for u, r in ones3.items() if '"day":3,"days":7' in r[4]}
    anew = {u for u, r in ones3.items() if '"day":1,"days":7' in r[4]}
    assert followed - {learner} <= day3 | anew and day3

    # a run for some users (a week on: the first plans are finished) plans only theirs
    week = RUN + timedelta(days=PATH_DAYS)
    chosen = min(day3)
    before = plans(db_url)
    some = night(db_url, run_date=week, user_ids=[chosen])
    assert some["status"] == "ok"
    after = plans(db_url)
    new = [p for p in after if p not in before]
    assert new and {p[0] for p in new} == {chosen} and {p[1] for p in new} == {week.isoformat()}
    assert [p for p in after if p[0] != chosen] == [p for p in before if p[0] != chosen]
