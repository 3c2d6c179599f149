"""The day's write has two paths (issue 16, item 5): on PostgreSQL a date with no rows yet,
without ``--force``, is written by COPY straight into the final tables; everything else —
SQLite, reruns, ``--force``, a date with any row — by staging + ``INSERT … ON CONFLICT``.
Both write the same rows and report the same counts, and every never-lose-progress rule
holds after either."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import polars as pl
from sqlalchemy import Date, DateTime, Engine, text

from daglig.io.store import WriteCounts, write_day
from tests.app_db import app_with_pipeline_tables

DAY = date(2026, 11, 24)
USERS = 6
SLOTS = 3
AT = datetime(2026, 11, 24, 0, 5)


def challenges(targets: tuple[int, ...] = (10, 15, 20, 25)) -> pl.DataFrame:
    """Distinct quiz challenges, one per target; the last one no assignment uses."""
    n = len(targets)
    return pl.DataFrame(
        {
            "content_key": [f"quiz|-|t{t}|n-|s-|d0.50|fallback" for t in targets],
            "challenge_type": ["quiz"] * n,
            "category": [None] * n,
            "title": [f"Svar på {t} spørsmål" for t in targets],
            "description": [f'Svar på {t} spørsmål, "i dag", med komma.' for t in targets],
            "target_value": list(targets),
            "difficulty": [0.5 + t / 1000 for t in targets],
            "xp_reward": [2 * t for t in targets],
            "bonus_xp": [0] * n,
            "source": ["fallback"] * n,
        },
        schema_overrides={"category": pl.String},
    )


def shards(users: list[int], targets: tuple[int, ...] = (10, 15, 20)) -> list[pl.DataFrame]:
    """Every user gets the challenges of ``targets`` in slots 1..3, in two shards (even and
    odd users), so both shards use the same challenges; one reason is NULL."""
    keys = [f"quiz|-|t{t}|n-|s-|d0.50|fallback" for t in targets]
    rows = [
        {
            "user_id": u,
            "slot": s + 1,
            "content_key": keys[s],
            "reason": None if (u, s) == (users[0], 0) else f'{{"user":{u},"why":"a, b"}}',
        }
        for u in users
        for s in range(SLOTS)
    ]
    frame = pl.DataFrame(rows, schema_overrides={"reason": pl.String})
    return [frame.filter(pl.col("user_id") % 2 == k) for k in (0, 1)]


def setup(url: str) -> tuple[Engine, list[int]]:
    return app_with_pipeline_tables(url, USERS)


def write(
    engine: Engine,
    frames: list[pl.DataFrame],
    *,
    day: date = DAY,
    force: bool = False,
    copy_when_empty: bool = True,
    targets: tuple[int, ...] = (10, 15, 20, 25),
    at: datetime = AT,
) -> WriteCounts:
    return write_day(
        engine,
        day,
        challenges(targets),
        iter(frames),
        force=force,
        challenges_per_user=SLOTS,
        written_at=at,
        copy_when_empty=copy_when_empty,
    )


def day_rows(engine: Engine, day: date = DAY, ids: bool = False) -> list[tuple[Any, ...]]:
    """The day's assignments with their challenge's columns (ids only when asked: they
    are generated, so two writes of the same night differ in them)."""
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT u.user_id, u.slot, u.challenge_id, d.challenge_date, d.content_key, "
                "u.reason, u.progress, u.completed_at, u.assigned_at, d.challenge_type, "
                "d.category, d.title, d.description, d.target_value, d.difficulty, "
                "d.xp_reward, d.bonus_xp, d.source, d.created_at "
                "FROM user_daily_challenges u JOIN daily_challenges d ON d.id = u.challenge_id "
                "WHERE u.challenge_date = :d ORDER BY u.user_id, u.slot"
            ).columns(
                challenge_date=Date,
                completed_at=DateTime,
                assigned_at=DateTime,
                created_at=DateTime,
            ),
            {"d": day},
        ).all()
    return [tuple(r) if ids else tuple(r[:2]) + tuple(r[4:]) for r in found]


def day_challenges(engine: Engine, day: date = DAY) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT content_key FROM daily_challenges WHERE challenge_date = :d "
                    "ORDER BY content_key"
                ),
                {"d": day},
            ).scalars()
        )


def numbers(c: WriteCounts) -> dict[str, Any]:
    return {k: v for k, v in asdict(c).items() if k != "path"}


def test_first_write_of_an_empty_date_and_a_rerun_give_identical_rows(db_url: str) -> None:
    engine, users = setup(db_url)
    postgres = engine.dialect.name == "postgresql"
    try:
        first = write(engine, shards(users))
        assert first.path == ("copy" if postgres else "upsert")
        assert numbers(first) == {
            "challenges_inserted": 3,  # the unused fourth challenge is not written
            "assignments_inserted": USERS * SLOTS,
            "assignments_replaced": 0,
            "assignments_kept": 0,
            "surplus_slots_deleted": 0,
            "orphan_challenges_deleted": 0,
            "assignments_staged": USERS * SLOTS,
            "exam_paths_written": 0,
        }
        written = day_rows(engine, ids=True)
        assert len(written) == USERS * SLOTS
        assert written[0][5] is None  # the NULL reason stays NULL
        assert written[1][5] == f'{{"user":{users[0]},"why":"a, b"}}'
        assert all(r[8] == AT and r[18] == AT and r[6] == 0 and r[7] is None for r in written)
        # two shards, one challenge row each
        assert day_challenges(engine) == sorted(
            f"quiz|-|t{t}|n-|s-|d0.50|fallback" for t in (10, 15, 20)
        )

        # the same night through staging + upsert, on the next (empty) date: the same rows
        # and counts, only the generated ids differ
        other = write(engine, shards(users), day=DAY + timedelta(days=1), copy_when_empty=False)
        assert other.path == "upsert" and numbers(other) == numbers(first)
        assert day_rows(engine, DAY + timedelta(days=1)) == day_rows(engine)

        # a rerun of the date takes the upsert path and changes nothing, ids included
        rerun = write(engine, shards(users))
        assert rerun.path == "upsert"
        assert (rerun.assignments_inserted, rerun.challenges_inserted) == (0, 0)
        assert rerun.assignments_kept == USERS * SLOTS
        assert day_rows(engine, ids=True) == written
    finally:
        engine.dispose()


def test_an_assignment_without_its_challenge_counts_as_kept_on_either_path(db_url: str) -> None:
    """The upsert's join drops an assignment whose challenge is not in the night's
    challenges (and counts it kept); the COPY path does the same."""
    engine, users = setup(db_url)
    try:
        stray = pl.DataFrame(
            {
                "user_id": [users[0]],
                "slot": [4],
                "content_key": ["quiz|-|t99|n-|s-|d0.50|fallback"],
                "reason": ["{}"],
            }
        )
        frames = [*shards(users), stray]
        a = write(engine, frames)
        b = write(engine, frames, day=DAY + timedelta(days=1), copy_when_empty=False)
        assert numbers(a) == numbers(b)
        assert (a.assignments_staged, a.assignments_inserted, a.assignments_kept) == (
            USERS * SLOTS + 1,
            USERS * SLOTS,
            1,
        )
    finally:
        engine.dispose()


def test_a_date_with_one_assignment_takes_the_upsert_path(db_url: str) -> None:
    engine, users = setup(db_url)
    try:
        one = shards(users)[0].head(1)  # one user's slot 1, written earlier
        write(engine, [one], at=AT - timedelta(hours=1))
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE user_daily_challenges SET progress = 3 "
                    "WHERE user_id = :u AND challenge_date = :d AND slot = 1"
                ),
                {"u": one["user_id"][0], "d": DAY},
            )
        before = day_rows(engine, ids=True)
        counts = write(engine, shards(users))
        assert counts.path == "upsert"
        assert counts.assignments_inserted == USERS * SLOTS - 1
        assert counts.assignments_kept == 1
        assert counts.challenges_inserted == 2  # the third was there with the first row
        after = day_rows(engine, ids=True)
        assert len(after) == USERS * SLOTS
        assert [r for r in after if r[0] == before[0][0] and r[1] == 1] == before  # untouched
    finally:
        engine.dispose()


def test_a_date_with_only_a_challenge_row_takes_the_upsert_path(db_url: str) -> None:
    """No assignment yet, but a challenge of the date exists (a write of nobody's
    assignments cannot leave one, an admin's could): the check is on the challenges, so
    the upsert path runs, and it keeps that row."""
    engine, users = setup(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO daily_challenges (challenge_date, content_key, challenge_type, "
                    "category, title, description, target_value, difficulty, xp_reward, "
                    "bonus_xp, source, created_at) VALUES (:d, "
                    "'quiz|-|t10|n-|s-|d0.50|fallback', 'quiz', NULL, 'Manuell', 'Manuell.', "
                    "10, 0.5, 20, 0, 'manual', :at)"
                ),
                {"d": DAY, "at": AT},
            )
        counts = write(engine, shards(users))
        assert counts.path == "upsert"
        assert counts.challenges_inserted == 2 and counts.assignments_inserted == USERS * SLOTS
        assert {r[9] for r in day_rows(engine) if r[2].startswith("quiz|-|t10|")} == {"Manuell"}
    finally:
        engine.dispose()


def test_rerun_and_force_after_progress_keep_every_rule(db_url: str) -> None:
    """First write of the date (COPY on PostgreSQL), then the app writes progress; a rerun
    touches nothing, and ``--force`` with other challenges replaces only the unstarted
    assignments, keeps the started and completed ones, and leaves no orphan."""
    engine, users = setup(db_url)
    try:
        write(engine, shards(users))
        started, done = users[1], users[2]
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE user_daily_challenges SET progress = 4 "
                    "WHERE user_id = :u AND challenge_date = :d AND slot = 2"
                ),
                {"u": started, "d": DAY},
            )
            conn.execute(
                text(
                    "UPDATE user_daily_challenges SET progress = 10, completed_at = :t "
                    "WHERE user_id = :u AND challenge_date = :d"
                ),
                {"u": done, "d": DAY, "t": datetime(2026, 11, 24, 9)},
            )
        kept = [r for r in day_rows(engine, ids=True) if r[6] > 0 or r[7] is not None]
        assert len(kept) == 1 + SLOTS

        rerun = write(engine, shards(users, (11, 16, 21)), targets=(11, 16, 21))
        assert rerun.path == "upsert" and rerun.assignments_replaced == 0
        assert rerun.assignments_inserted == 0 and rerun.assignments_kept == USERS * SLOTS

        forced = write(engine, shards(users, (11, 16, 21)), force=True, targets=(11, 16, 21), at=AT)
        assert forced.path == "upsert"
        assert forced.assignments_replaced == USERS * SLOTS - len(kept)
        after = day_rows(engine, ids=True)
        assert [r for r in after if r[6] > 0 or r[7] is not None] == kept
        assert len(after) == USERS * SLOTS
        replaced = [r for r in after if r not in kept]
        assert {r[4].split("|")[2] for r in replaced} == {"t11", "t16", "t21"}
        assert forced.orphan_challenges_deleted == 0  # t10/t15/t20 still have kept rows
        with engine.connect() as conn:
            orphans = conn.execute(
                text(
                    "SELECT COUNT(*) FROM daily_challenges d WHERE NOT EXISTS "
                    "(SELECT 1 FROM user_daily_challenges u WHERE u.challenge_id = d.id)"
                )
            ).scalar_one()
        assert orphans == 0
    finally:
        engine.dispose()


def test_an_aware_written_at_is_stored_alike_on_both_paths(postgres_url: str) -> None:
    """COPY sends text; the COPY path takes ``written_at`` as the server would store the
    bind parameter (an aware time in the session's time zone), so both paths agree."""
    engine, users = setup(postgres_url)
    aware = datetime(2026, 11, 24, 0, 5, tzinfo=timezone(timedelta(hours=5)))
    try:
        a = write(engine, shards(users), at=aware)
        b = write(
            engine, shards(users), day=DAY + timedelta(days=1), at=aware, copy_when_empty=False
        )
        assert (a.path, b.path) == ("copy", "upsert")
        stamps = {
            (r[6], r[16]) for d in (DAY, DAY + timedelta(days=1)) for r in day_rows(engine, d)
        }
        assert len(stamps) == 1
        with engine.connect() as conn:
            zone = conn.execute(text("SHOW TimeZone")).scalar_one()
        if zone in ("UTC", "Etc/UTC"):
            assert stamps == {(aware.astimezone(UTC).replace(tzinfo=None),) * 2}
    finally:
        engine.dispose()
