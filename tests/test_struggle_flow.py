"""A learner who struggles, through the night (issue 17 item 2), on SQLite and PostgreSQL:
the recent quiz sessions read, the signals from the carried state and those sessions, the
adapted day written with its kind phrasing, and the struggle holdout left as it was."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from daglig.hashing import uniform
from daglig.io.db import read_frame
from daglig.learner.struggle import (
    HOLDOUT_EPOCH,
    HOLDOUT_SALT,
    SESSION_WINDOW_DAYS,
    SESSIONS_SCHEMA,
)
from daglig.selection import STRUGGLE_EXCLUDED_TYPES
from daglig.user_features import day_cutoff
from tests.builders import AppDataBuilder
from tests.dq_helpers import query
from tests.test_flow import RUN

pytestmark = pytest.mark.usefixtures("prefect_harness")

SHARE = 0.5
KIND_OPENINGS = ("Ta det i ditt eget tempo.", "I dag tar vi det litt roligere.",
                 "Litt om gangen er helt fint.")  # fmt: skip
CATEGORIES = ("traffic_rules", "right_of_way", "winter_driving")


def held_out(ids: list[int]) -> set[int]:
    frame = pl.DataFrame({"user_id": ids}, schema={"user_id": pl.Int64})
    held = frame.filter(uniform("user_id", HOLDOUT_EPOCH, HOLDOUT_SALT) < SHARE)
    return set(held["user_id"])


def history(b: AppDataBuilder, uid: int) -> None:
    """A good week: 30 right answers a day in three categories."""
    for k, c in enumerate(CATEGORIES):
        b.answers(uid, c, 30, correct=1.0, day=RUN - timedelta(days=4 - k))


def build(url: str) -> dict[str, int]:
    """Roles by the holdout's hash: a wrong run and abandoned sessions among the adapted,
    a wrong run in the holdout, a learner doing fine."""
    b = AppDataBuilder()
    ids = [b.user() for _ in range(12)]
    held = held_out(ids)
    free = [u for u in ids if u not in held]
    roles = {"wrong_run": free[0], "abandoned": free[1], "held": min(held), "fine": free[2]}
    for uid in roles.values():
        history(b, uid)
    for role in ("wrong_run", "held"):  # then the last day goes wrong: 10 wrong in a row
        b.answers(roles[role], "traffic_rules", 20, correct=0.5, day=RUN - timedelta(days=1))
    for d in range(4):  # three of four sessions this week left unfinished
        b.session(roles["abandoned"], day=RUN - timedelta(days=1 + d), completed=d == 0)
    b.session(roles["fine"], day=RUN - timedelta(days=2))
    b.write(url)
    return roles


def day_of(url: str, uid: int) -> list[dict[str, Any]]:
    rows = query(
        url,
        "SELECT a.reason, d.content_key, d.challenge_type, d.description FROM "
        "user_daily_challenges a JOIN daily_challenges d ON d.id = a.challenge_id "
        "WHERE a.challenge_date = :d AND a.user_id = :u ORDER BY a.slot",
        d=RUN,
        u=uid,
    )
    return [
        {"reason": json.loads(r), "key": k, "type": t, "description": text}
        for r, k, t, text in rows
    ]


def test_a_struggling_learner_gets_a_gentler_day(
    db_url: str, night: Callable[..., dict[str, Any]]
) -> None:
    roles = build(db_url)
    result = night(db_url, run_date=RUN, settings={"struggle_holdout_share": SHARE})
    assert result["status"] == "ok", result
    for role in ("wrong_run", "abandoned"):
        day = day_of(db_url, roles[role])
        assert day, role
        for c in day:
            assert c["reason"]["struggle"] == {"signals": [role]}, (role, c)
            assert c["key"].endswith("|kind"), c
            assert c["type"] not in STRUGGLE_EXCLUDED_TYPES
            assert c["description"].startswith(KIND_OPENINGS), c
    held = day_of(db_url, roles["held"])
    assert held
    for c in held:
        assert c["reason"]["struggle"] == {"signals": ["wrong_run"], "holdout": True}
        assert not c["key"].endswith("|kind")
        assert not c["description"].startswith(KIND_OPENINGS)
    fine = day_of(db_url, roles["fine"])
    assert fine and all("struggle" not in c["reason"] for c in fine)
    # the admins are told, in the summary and the email
    assert result["struggling"] == {"learners": 3, "held_out": 1}
    msg = email.message_from_bytes(Path(result["email"]).read_bytes(), policy=email.policy.default)
    parts = [p.get_content() for p in msg.walk() if p.get_content_type().startswith("text/")]
    line = (
        "2 elever som strever, fikk en roligere dag: kortere og lettere utfordringer, uten "
        "feilfri- og fartsutfordringer; 1 i kontrollgruppen fikk dagen som valgt."
    )
    assert len(parts) == 2 and all(line in " ".join(p.split()) for p in parts)


def test_the_recent_sessions_are_read_as_of_the_cutoff(db_url: str) -> None:
    # sql/read/recent_sessions.sql: started in the window before the cutoff; completed
    # only when that was before the cutoff
    b = AppDataBuilder()
    uid = b.user()
    b.session(uid, day=RUN - timedelta(days=1))  # done the evening before: counts
    b.session(uid, day=RUN - timedelta(days=1), hour=22)  # 22:00 UTC, 23:00 in Oslo
    late = b.sessions[-1]  # started 23:55 Oslo time, done 00:10: after the cutoff
    late["started_at"] += timedelta(minutes=55)
    late["completed_at"] += timedelta(minutes=55)
    b.session(uid, day=RUN)  # started after the cutoff: not read
    b.session(uid, day=RUN - timedelta(days=SESSION_WINDOW_DAYS + 1))  # before the window
    b.write(db_url)
    cutoff = day_cutoff(RUN)
    got = read_frame(
        db_url,
        "read/recent_sessions",
        {"since": cutoff - timedelta(days=SESSION_WINDOW_DAYS), "cutoff": cutoff},
        SESSIONS_SCHEMA,
    ).sort("started_at")
    assert got.height == 2
    assert got["completed_at"].is_null().to_list() == [False, True]
    assert got["total_questions"].to_list() == [10, 10]
