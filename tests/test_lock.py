"""No double runs: two writers of the same run date at once → one writes, the other waits
and then writes nothing; never a duplicate. Other dates are not blocked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, text

from daglig.io.db import make_engine
from daglig.io.lock import day_lock_key, lock_day
from daglig.io.store import WriteCounts, write_day
from tests.app_db import app_with_pipeline_tables

DAY = date(2026, 11, 24)
USERS = 6
SLOTS = 3


def challenges_frame() -> pl.DataFrame:
    """Three distinct quiz challenges of the day, as ``daily_challenges`` rows."""
    return pl.DataFrame(
        {
            "content_key": [f"quiz|-|t{n}|n-|s-|d0.50|fallback" for n in (10, 15, 20)],
            "challenge_type": ["quiz"] * 3,
            "category": [None, None, None],
            "title": [f"Svar på {n} spørsmål" for n in (10, 15, 20)],
            "description": [f"Svar på {n} spørsmål i dag." for n in (10, 15, 20)],
            "target_value": [10, 15, 20],
            "difficulty": [0.5, 0.5, 0.5],
            "xp_reward": [20, 30, 40],
            "bonus_xp": [0, 0, 0],
            "source": ["fallback"] * 3,
        },
        schema_overrides={"category": pl.String},
    )


def assignments_frame(user_ids: list[int]) -> pl.DataFrame:
    """Every user gets the three challenges in slots 1..3."""
    keys = challenges_frame()["content_key"].to_list()
    return pl.DataFrame(
        [
            {"user_id": u, "slot": s + 1, "content_key": keys[s], "reason": '{"selector":"t"}'}
            for u in user_ids
            for s in range(SLOTS)
        ]
    )


def setup_db(url: str) -> tuple[Engine, list[int]]:
    return app_with_pipeline_tables(url, USERS)


def write(engine: Engine, users: list[int], day: date = DAY) -> WriteCounts:
    return write_day(
        engine,
        day,
        challenges_frame(),
        assignments_frame(users),
        force=False,
        challenges_per_user=SLOTS,
        written_at=datetime(2026, 11, 24, 0, 5),
    )


def in_threads(fns: list[Callable[[], WriteCounts]]) -> list[WriteCounts]:
    """Run ``fns`` concurrently; return their results (re-raising any error)."""
    results: list[Any] = [None] * len(fns)

    def run(i: int) -> None:
        try:
            results[i] = fns[i]()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def assert_written_once(engine: Engine, results: list[WriteCounts]) -> None:
    inserted = sorted(r.assignments_inserted for r in results)
    assert inserted == [0, USERS * SLOTS]  # exactly one writer wrote, the other nothing
    assert sorted(r.challenges_inserted for r in results) == [0, 3]
    assert (
        rows(
            engine,
            "SELECT user_id, COUNT(*) FROM user_daily_challenges WHERE challenge_date = :d "
            "GROUP BY user_id HAVING COUNT(*) <> 3",
            d=DAY,
        )
        == []
    )
    assert rows(engine, "SELECT COUNT(*) FROM daily_challenges") == [(3,)]
    assert rows(engine, "SELECT COUNT(*) FROM user_daily_challenges") == [(USERS * SLOTS,)]


def _advisory_waiters(engine: Engine, day: date) -> int:
    namespace, key = day_lock_key(day)
    ((n,),) = rows(
        engine,
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND classid = :ns AND objid = :key",
        ns=namespace,
        key=key,
    )
    return int(n)


@pytest.mark.postgres
def test_two_writers_of_one_date_on_postgres_write_once(postgres_url: str) -> None:
    engine, users = setup_db(postgres_url)
    holder = make_engine(postgres_url)
    results: list[WriteCounts] = []
    try:
        with holder.begin() as held:
            lock_day(held, DAY)  # a third party holds the day: both writers must queue
            writers = threading.Thread(
                target=lambda: results.extend(in_threads([lambda: write(engine, users)] * 2))
            )
            writers.start()
            deadline = time.monotonic() + 20
            while _advisory_waiters(engine, DAY) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _advisory_waiters(engine, DAY) == 2  # both wait on the day's lock
            assert rows(engine, "SELECT COUNT(*) FROM user_daily_challenges") == [(0,)]
            # another date is not blocked by this date's lock
            other = write(engine, users, date(2026, 11, 25))
            assert other.assignments_inserted == USERS * SLOTS
            with engine.begin() as conn:
                conn.execute(
                    text("DELETE FROM user_daily_challenges WHERE challenge_date <> :d"), {"d": DAY}
                )
                conn.execute(
                    text("DELETE FROM daily_challenges WHERE challenge_date <> :d"), {"d": DAY}
                )
        writers.join(timeout=60)
        assert not writers.is_alive()
        assert_written_once(engine, results)
        # the first found the date empty under the lock and copied; the second, waiting
        # on the same lock, then found it written and took the upsert path
        assert sorted(r.path for r in results) == ["copy", "upsert"]
    finally:
        holder.dispose()
        engine.dispose()


def test_two_writers_of_one_date_on_sqlite_write_once(sqlite_url: str) -> None:
    engine, users = setup_db(sqlite_url)
    holder = make_engine(sqlite_url)
    results: list[WriteCounts] = []
    try:
        with holder.begin() as held:
            lock_day(held, DAY)  # BEGIN IMMEDIATE: the writers wait on the busy timeout
            writers = threading.Thread(
                target=lambda: results.extend(in_threads([lambda: write(engine, users)] * 2))
            )
            writers.start()
            time.sleep(0.3)  # let both writers reach the lock (ordering only, not asserted)
        writers.join(timeout=60)
        assert not writers.is_alive()
        assert_written_once(engine, results)
    finally:
        holder.dispose()
        engine.dispose()
