"""The app racing the pipeline (issue 12, item 11): while ``--force`` replaces a day's
unstarted assignments, learners keep answering in the app, each in its own connection.

The rule (docs/contract.md, "Writing progress"): the app updates progress by
(user_id, challenge_date, slot) AND the challenge_id it showed; the pipeline locks the rows
it may replace, re-checks them under the lock, and replaces a row by deleting it and
inserting the new one. So an app write either lands on the challenge the learner saw (and
that row is kept) or matches 0 rows (and the app can tell the learner) — never on a
challenge the learner was not shown, and never silently lost.

Every trial runs real threads with their own PostgreSQL connections against the real
``write_day``; the pipeline's commit is held back 0.5 s (a SQLAlchemy ``commit`` event) so
that app writes start while its row locks are held, as in the issue's trials.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
import psycopg
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from daglig.io.db import make_engine
from daglig.io.store import WriteCounts, write_day
from tests.app_db import app_with_pipeline_tables

DAY = date(2026, 11, 24)
SLOTS = 3
USERS = 8
TRIALS = 5


def challenges(tag: str) -> pl.DataFrame:
    """Three distinct quiz challenges; ``tag`` makes a different set (what a forced rerun
    with changed settings would choose)."""
    targets = {"night": (10, 15, 20), "force": (11, 16, 21)}[tag]
    return pl.DataFrame(
        {
            "content_key": [f"quiz|-|t{n}|n-|s-|d0.50|fallback" for n in targets],
            "challenge_type": ["quiz"] * 3,
            "category": [None, None, None],
            "title": [f"Svar på {n} spørsmål" for n in targets],
            "description": [f"Svar på {n} spørsmål i dag." for n in targets],
            "target_value": list(targets),
            "difficulty": [0.5, 0.5, 0.5],
            "xp_reward": [20, 30, 40],
            "bonus_xp": [0, 0, 0],
            "source": ["fallback"] * 3,
        },
        schema_overrides={"category": pl.String},
    )


def assignments(tag: str, users: list[int]) -> pl.DataFrame:
    keys = challenges(tag)["content_key"].to_list()
    return pl.DataFrame(
        [
            {"user_id": u, "slot": s + 1, "content_key": keys[s], "reason": "{}"}
            for u in users
            for s in range(SLOTS)
        ]
    )


def write(engine: Engine, tag: str, users: list[int], force: bool) -> WriteCounts:
    return write_day(
        engine,
        DAY,
        challenges(tag),
        assignments(tag, users),
        force=force,
        challenges_per_user=SLOTS,
        written_at=datetime(2026, 11, 24, 0, 5),
    )


def connect(url: str) -> psycopg.Connection[Any]:
    u = make_url(url)
    return psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, autocommit=True
    )


# The app's progress write, two ways: as the amended contract asks (by the challenge the
# learner was shown), and the way the app did it (by slot only).
CONTRACT_UPDATE = (
    "UPDATE user_daily_challenges SET progress = progress + 1 "
    "WHERE user_id = %s AND challenge_date = %s AND slot = %s AND challenge_id = %s"
)
SLOT_ONLY_UPDATE = (
    "UPDATE user_daily_challenges SET progress = progress + 1 "
    "WHERE user_id = %s AND challenge_date = %s AND slot = %s"
)


@dataclass
class AppWrite:
    """One learner answering in the app during the forced rerun."""

    user_id: int
    slot: int
    seen: int  # the challenge_id the app showed, read before the rerun started
    style: str  # "contract" or "slot"
    when: str  # "before-commit": while the rerun holds its locks; "random": any time
    delay: float = 0.0
    matched: int | None = None
    error: BaseException | None = None


def app_write(url: str, w: AppWrite, commit_soon: threading.Event) -> None:
    try:
        with connect(url) as conn:
            if w.when == "before-commit":
                assert commit_soon.wait(timeout=30), "the rerun never reached its commit"
            else:
                time.sleep(w.delay)
            sql = CONTRACT_UPDATE if w.style == "contract" else SLOT_ONLY_UPDATE
            args = (w.user_id, DAY, w.slot) + ((w.seen,) if w.style == "contract" else ())
            w.matched = conn.execute(sql, args).rowcount  # type: ignore[arg-type]
    except BaseException as exc:  # noqa: BLE001 - handed back to the test
        w.error = exc


def rows(url: str) -> dict[tuple[int, int], tuple[int, int]]:
    """{(user, slot): (challenge_id, progress)} of the day."""
    with connect(url) as conn:
        found = conn.execute(
            "SELECT user_id, slot, challenge_id, progress FROM user_daily_challenges "
            "WHERE challenge_date = %s",
            (DAY,),
        ).fetchall()
    return {(u, s): (c, p) for u, s, c, p in found}


def setup(url: str) -> tuple[Engine, list[int]]:
    return app_with_pipeline_tables(url, USERS)


def reset(url: str) -> None:
    with connect(url) as conn:
        conn.execute("DELETE FROM user_daily_challenges")
        conn.execute("DELETE FROM daily_challenges")


def hold_commit(engine: Engine, commit_soon: threading.Event, seconds: float) -> Any:
    """Before the rerun's transaction commits: tell the app writers, then wait ``seconds``
    so their updates start while the rerun still holds its row locks."""

    def before_commit(conn: Any) -> None:
        commit_soon.set()
        time.sleep(seconds)

    event.listen(engine, "commit", before_commit)
    return before_commit


def run_trial(url: str, engine: Engine, users: list[int], style: str, seed: int) -> None:
    rng = random.Random(seed)
    reset(url)
    write(engine, "night", users, force=False)
    before = rows(url)
    writes = [
        AppWrite(
            user_id=u,
            slot=rng.randint(1, SLOTS),
            seen=0,
            style=style,
            # by slot only, a write after the commit lands on the new challenge whatever the
            # pipeline does (the reason the contract asks for challenge_id): only the writes
            # that wait on the rerun's locks are the pipeline's to get right
            when="before-commit" if i % 2 == 0 or style == "slot" else "random",
            delay=rng.uniform(0.0, 0.8),
        )
        for i, u in enumerate(users)
    ]
    for w in writes:
        w.seen = before[(w.user_id, w.slot)][0]
    commit_soon = threading.Event()
    rerun = make_engine(url)
    hold_commit(rerun, commit_soon, 0.5)
    threads = [threading.Thread(target=app_write, args=(url, w, commit_soon)) for w in writes]
    try:
        for t in threads:
            t.start()
        counts = write(rerun, "force", users, force=True)
        for t in threads:
            t.join(timeout=30)
    finally:
        commit_soon.set()
        rerun.dispose()
    assert not any(t.is_alive() for t in threads)
    for w in writes:
        assert w.error is None, w.error
    after = rows(url)
    assert after.keys() == before.keys()  # no slot lost or added
    wrote = {(w.user_id, w.slot): w for w in writes}
    for key, (challenge_id, progress) in after.items():
        w = wrote.get(key)
        if w is None:  # nobody answered: replaced, progress 0
            assert progress == 0 and challenge_id != before[key][0], key
        elif w.matched == 1:  # it took effect on the seen challenge, and the row was kept
            assert (challenge_id, progress) == (w.seen, 1), (key, w, after[key])
        else:  # it matched 0 rows: the row was replaced and holds no progress
            assert w.matched == 0, w
            assert challenge_id != w.seen and progress == 0, (key, w, after[key])
    # the learners who answered before the rerun locked their row kept it
    kept = sum(1 for w in writes if w.matched == 1)
    assert counts.assignments_replaced == USERS * SLOTS - kept
    # the writes that started while the rerun held its locks were refused, not moved
    assert all(w.matched == 0 for w in writes if w.when == "before-commit")


@pytest.mark.postgres
@pytest.mark.parametrize("style", ["contract", "slot"])
def test_app_writes_during_a_forced_rerun_land_on_the_seen_challenge_or_nowhere(
    postgres_url: str, style: str
) -> None:
    engine, users = setup(postgres_url)
    try:
        for trial in range(TRIALS):
            run_trial(postgres_url, engine, users, style, seed=trial)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_started_app_transaction_keeps_its_row(postgres_url: str) -> None:
    """The app's update is in flight (row locked, not committed) when the rerun starts: the
    rerun waits for it, sees the progress under its lock and keeps the row."""
    engine, users = setup(postgres_url)
    try:
        write(engine, "night", users, force=False)
        before = rows(postgres_url)
        user = users[0]
        seen = before[(user, 2)][0]
        result: list[WriteCounts] = []
        with connect(postgres_url) as app, connect(postgres_url) as watch:
            app.execute("BEGIN")
            app.execute(CONTRACT_UPDATE, (user, DAY, 2, seen))  # type: ignore[arg-type]
            rerun = threading.Thread(
                target=lambda: result.append(write(engine, "force", users, force=True))
            )
            rerun.start()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # the rerun waits on the app's row lock
                (waiting,) = watch.execute(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                ).fetchone() or (0,)
                if waiting:
                    break
                time.sleep(0.05)
            assert waiting == 1
            app.execute("COMMIT")
            rerun.join(timeout=30)
        assert not rerun.is_alive()
        after = rows(postgres_url)
        assert after[(user, 2)] == (seen, 1)  # kept, with the learner's progress
        assert result[0].assignments_replaced == USERS * SLOTS - 1
    finally:
        engine.dispose()


def test_a_write_for_a_replaced_challenge_matches_no_row(db_url: str) -> None:
    """The app showed a challenge, then the rerun replaced it (no lock involved: the app
    read before, writes after). By challenge_id, the write matches 0 rows, on both
    databases; the new challenge holds no progress."""
    engine, users = setup(db_url)
    try:
        write(engine, "night", users, force=False)
        seen = rows_any(engine)[(users[0], 1)][0]
        write(engine, "force", users, force=True)
        from sqlalchemy import text

        with engine.begin() as conn:
            matched = conn.execute(
                text(
                    "UPDATE user_daily_challenges SET progress = progress + 1 WHERE user_id = :u "
                    "AND challenge_date = :d AND slot = 1 AND challenge_id = :c"
                ),
                {"u": users[0], "d": DAY, "c": seen},
            ).rowcount
        assert matched == 0
        now = rows_any(engine)[(users[0], 1)]
        assert now[0] != seen and now[1] == 0
    finally:
        engine.dispose()


def rows_any(engine: Engine) -> dict[tuple[int, int], tuple[int, int]]:
    from sqlalchemy import text

    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT user_id, slot, challenge_id, progress FROM user_daily_challenges "
                "WHERE challenge_date = :d"
            ),
            {"d": DAY},
        ).all()
    return {(u, s): (c, p) for u, s, c, p in found}
