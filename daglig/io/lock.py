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

Every wait is bounded: the session's ``lock_timeout`` (SQLite: the busy timeout), from
``DAGLIG_DB_LOCK_TIMEOUT_SECONDS``. While the write waits, :class:`LockWatch` logs who holds
the lock every few seconds; at the bound the write fails with :class:`LockWaitTimeout`,
one line naming the holder.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from daglig import sql as sqlfiles
from daglig.io.db import sql_statement

# 'dagl' in ASCII: the first key of every daglig advisory lock, so other applications'
# advisory locks on the same database cannot collide with ours.
LOCK_NAMESPACE = 0x6461676C


def day_lock_key(day: date) -> tuple[int, int]:
    """The two 32-bit keys of ``day``'s advisory lock: (namespace, proleptic ordinal)."""
    return LOCK_NAMESPACE, day.toordinal()


def lock_day(conn: Connection, day: date) -> None:
    """Take ``day``'s write lock on ``conn``'s transaction, before it reads or writes
    anything of the day (on SQLite it must be the first statement: it is the BEGIN).

    Blocks while another transaction holds the same day's lock. A no-op on backends
    other than PostgreSQL and SQLite.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        namespace, day_key = day_lock_key(day)
        conn.execute(
            sql_statement("write/lock_day_postgresql"),
            {"namespace": namespace, "day_key": day_key},
        )
    elif dialect == "sqlite":
        conn.exec_driver_sql(sqlfiles.load("write/lock_day_sqlite"))


# ------------------------------------------------------------------ waiting, watched


class LockWaitTimeout(RuntimeError):
    """A lock wait of ours reached its bound (``DAGLIG_DB_LOCK_TIMEOUT_SECONDS``); the
    message is one line naming who held the lock. Not retried (tasks/retry.py)."""

    sqlstate = "55P03"  # lock_not_available, as PostgreSQL reports it


@dataclass(frozen=True, slots=True)
class LockHolder:
    """A session that blocks ours, as ``pg_stat_activity`` shows it."""

    pid: int
    application_name: str
    user: str
    state: str
    query_start: datetime | None
    transaction_seconds: float | None
    waited_seconds: float | None

    def describe(self) -> str:
        app = self.application_name or "?"
        parts = [f"pid {self.pid}", f"application_name '{app}'", f"user {self.user}"]
        parts.append(f"state '{self.state}'")
        if self.query_start is not None:
            parts.append(f"query started {self.query_start:%Y-%m-%d %H:%M:%S}")
        if self.transaction_seconds is not None:
            parts.append(f"transaction open {self.transaction_seconds:.0f} s")
        return ", ".join(parts)


class LockWatch:
    """While ``conn`` waits for a lock, log who holds it every ``report_seconds``.

    PostgreSQL: a thread with its own connection asks ``pg_blocking_pids`` of ``conn``'s
    backend twice a second and logs the holders (pid, application_name, state, query
    start, how long their transaction has been open, how long we have waited). The last
    holders seen are kept for the one-line error of a lock timeout. SQLite cannot say who
    holds its write lock: the thread logs that the write lock is being waited for while
    ``waiting()`` is on.
    """

    def __init__(
        self,
        engine: Engine,
        conn: Connection,
        what: str,
        report_seconds: float,
        log: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        self.engine = engine
        self.what = what
        self.report_seconds = report_seconds
        self.log = log or logging.getLogger("daglig")
        self.dialect = conn.dialect.name
        self.pid: int | None = None
        if self.dialect == "postgresql":
            self.pid = int(conn.execute(sql_statement("write/backend_pid_postgresql")).scalar_one())
        self.holders: tuple[LockHolder, ...] = ()
        self._stop = threading.Event()
        self._sqlite_waiting_since: float | None = None
        self._thread = threading.Thread(target=self._run, name="lock-watch", daemon=True)

    def __enter__(self) -> LockWatch:
        if self.dialect in ("postgresql", "sqlite"):
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def waiting(self, on: bool) -> None:
        """SQLite: mark the start and end of a wait for the write lock."""
        self._sqlite_waiting_since = time.monotonic() if on else None

    def _run(self) -> None:
        sample = min(0.5, self.report_seconds)
        last_report = time.monotonic()
        try:
            if self.dialect == "postgresql":
                with self.engine.connect() as watcher:
                    watcher = watcher.execution_options(isolation_level="AUTOCOMMIT")
                    while not self._stop.wait(sample):
                        found = self._holders(watcher)
                        if found:
                            self.holders = found
                        if found and time.monotonic() - last_report >= self.report_seconds:
                            last_report = time.monotonic()
                            self._report(found)
            else:
                while not self._stop.wait(sample):
                    since = self._sqlite_waiting_since
                    if since is not None and time.monotonic() - last_report >= self.report_seconds:
                        last_report = time.monotonic()
                        self.log.warning(
                            "%s waiting %.0f s for SQLite's write lock (another writer holds "
                            "it; SQLite cannot say which)",
                            self.what,
                            time.monotonic() - since,
                        )
        except Exception as exc:  # noqa: BLE001 - watching is a courtesy; never fail the write
            self.log.warning("%s: cannot watch for lock holders: %s", self.what, exc)

    def _holders(self, watcher: Connection) -> tuple[LockHolder, ...]:
        rows = watcher.execute(sql_statement("write/lock_holders_postgresql"), {"pid": self.pid})
        return tuple(
            LockHolder(
                pid=int(r.pid),
                application_name=str(r.application_name or ""),
                user=str(r.usename or "?"),
                state=str(r.state or "?"),
                query_start=r.query_start,
                transaction_seconds=None if r.xact_seconds is None else float(r.xact_seconds),
                waited_seconds=None if r.waited_seconds is None else float(r.waited_seconds),
            )
            for r in rows
        )

    def _report(self, holders: tuple[LockHolder, ...]) -> None:
        waited = holders[0].waited_seconds
        self.log.warning(
            "%s waiting%s for a lock held by %s",
            self.what,
            "" if waited is None else f" {waited:.0f} s",
            "; ".join(h.describe() for h in holders),
        )

    def timeout_message(self, limit_seconds: float) -> str:
        """The one line of a lock timeout: what waited, how long, who held the lock."""
        held = (
            "; ".join(h.describe() for h in self.holders)
            if self.holders
            else "a session that could not be identified"
        )
        return (
            f"{self.what} waited {limit_seconds:g} s (DAGLIG_DB_LOCK_TIMEOUT_SECONDS) for a lock "
            f"held by {held}: end that session or rerun when it is done"
        )
