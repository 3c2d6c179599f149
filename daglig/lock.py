"""One writer per run date: the database lock taken at the start of a day's write.

Two runs for the same date at once (the schedule plus a manual trigger, or a backfill
overlapping the nightly run) must not both write. The day's write transaction starts by
taking a lock keyed by the run date, held until it commits or rolls back:

- PostgreSQL: ``pg_advisory_xact_lock(namespace, day)``; the second writer of that day
  waits, then finds the day written and inserts nothing (the upserts are idempotent).
  Other days are not blocked.
- SQLite: ``BEGIN IMMEDIATE``; SQLite has one writer per file anyway, and taking the
  write lock first makes the second writer wait for the busy timeout instead of failing
  on a stale read snapshot.

The lock is released by the transaction's end, so a crashed run never leaves it held.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from daglig import sql as sqlfiles

# 'dagl' in ASCII: the first key of every daglig advisory lock, so other applications'
# advisory locks on the same database cannot collide with ours.
LOCK_NAMESPACE = 0x6461676C


def day_lock_key(day: date) -> tuple[int, int]:
    """The two 32-bit keys of ``day``'s advisory lock: (namespace, proleptic ordinal)."""
    return LOCK_NAMESPACE, day.toordinal()


def lock_day(conn: Connection, day: date) -> None:
    """Take ``day``'s write lock on ``conn``'s transaction; must be its first statement.

    Blocks while another transaction holds the same day's lock. A no-op on backends
    other than PostgreSQL and SQLite.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        namespace, day_key = day_lock_key(day)
        conn.execute(
            sqlfiles.statement("write/lock_day_postgresql"),
            {"namespace": namespace, "day_key": day_key},
        )
    elif dialect == "sqlite":
        conn.exec_driver_sql(sqlfiles.load("write/lock_day_sqlite"))
