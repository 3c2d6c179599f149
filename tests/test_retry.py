"""The retry policy's classifier (tasks/retry.py), table-driven over real exceptions raised
by the real drivers: psycopg, SQLAlchemy and ADBC against the local PostgreSQL server,
sqlite3 on a real file, smtplib against real loopback servers, the OS and polars."""

from __future__ import annotations

import smtplib
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from daglig.io.db import make_engine, read_frame
from tasks.retry import is_transient
from tests.dq_helpers import free_port, smtp_server


def raised(fn: Callable[[], Any]) -> BaseException:
    """The exception ``fn`` raises (the test fails when it raises none)."""
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - what we classify
        return exc
    raise AssertionError(f"{fn} raised nothing")


# ------------------------------------------------------------------------- PostgreSQL


@dataclass
class Pg:
    url: str  # a fresh database with table t (id PRIMARY KEY, v NOT NULL, ref -> t)

    def conn(self, **kw: Any) -> psycopg.Connection[Any]:
        u = make_url(self.url)
        return psycopg.connect(
            host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, **kw
        )

    def admin(self) -> psycopg.Connection[Any]:
        u = make_url(self.url)
        return psycopg.connect(
            host=u.host, port=u.port or 5432, user=u.username, dbname="postgres", autocommit=True
        )

    def other(self, **parts: Any) -> str:
        return make_url(self.url).set(**parts).render_as_string(hide_password=False)


def _refused_url(pg: Pg) -> str:
    return pg.other(port=free_port())


def pg_refused_psycopg(pg: Pg) -> BaseException:
    return raised(
        lambda: psycopg.connect(_refused_url(pg).replace("+psycopg", ""), connect_timeout=3)
    )


def pg_refused_sqlalchemy(pg: Pg) -> BaseException:
    engine = make_engine(_refused_url(pg))
    try:
        return raised(lambda: engine.connect())
    finally:
        engine.dispose()


def pg_refused_adbc(pg: Pg) -> BaseException:
    return raised(lambda: read_frame(_refused_url(pg), "health/ping"))


def pg_no_database(pg: Pg) -> BaseException:
    engine = make_engine(pg.other(database="daglig_no_such_db"))
    try:
        return raised(lambda: engine.connect())
    finally:
        engine.dispose()


def pg_no_database_adbc(pg: Pg) -> BaseException:
    return raised(lambda: read_frame(pg.other(database="daglig_no_such_db"), "health/ping"))


def pg_no_role(pg: Pg) -> BaseException:
    engine = make_engine(pg.other(username="daglig_no_such_role"))
    try:
        return raised(lambda: engine.connect())
    finally:
        engine.dispose()


def pg_not_accepting(pg: Pg) -> BaseException:
    name = make_url(pg.url).database
    with pg.admin() as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            engine = make_engine(pg.url)
            try:
                return raised(lambda: engine.connect())
            finally:
                engine.dispose()
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def _terminate_soon(pg: Pg, pid: int) -> None:
    def kill() -> None:
        with pg.admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    threading.Timer(0.3, kill).start()


def pg_terminated_sqlalchemy(pg: Pg) -> BaseException:
    engine = make_engine(pg.url)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            _terminate_soon(pg, pid)
            return raised(lambda: conn.execute(text("SELECT pg_sleep(5)")))
    finally:
        engine.dispose()


def pg_terminated_adbc(pg: Pg) -> BaseException:
    import adbc_driver_postgresql.dbapi as adbc_pg

    conn = adbc_pg.connect(pg.other(drivername="postgresql"))
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    (pid,) = cur.fetchone()  # type: ignore[misc]
    _terminate_soon(pg, pid)
    exc = raised(lambda: (cur.execute("SELECT pg_sleep(5)"), cur.fetchall()))
    cur.close()
    conn.close()
    return exc


def pg_deadlock(pg: Pg) -> BaseException:
    a, b = pg.conn(), pg.conn()
    try:
        a.execute("UPDATE t SET v = 1 WHERE id = 1")
        b.execute("UPDATE t SET v = 1 WHERE id = 2")
        errors: list[BaseException] = []

        def second() -> None:
            try:
                b.execute("UPDATE t SET v = 2 WHERE id = 1")
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        th = threading.Thread(target=second)
        th.start()
        time.sleep(0.3)
        try:
            a.execute("UPDATE t SET v = 2 WHERE id = 2")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        th.join(timeout=10)
        (exc,) = errors  # one of the two is chosen as the victim
        return exc
    finally:
        a.close()
        b.close()


def pg_serialization(pg: Pg) -> BaseException:
    a, b = pg.conn(), pg.conn()
    try:
        for c in (a, b):
            c.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            c.execute("SELECT sum(v) FROM t")
        a.execute("UPDATE t SET v = v + 1 WHERE id = 1")
        b.execute("UPDATE t SET v = v + 1 WHERE id = 2")
        a.commit()
        return raised(b.commit)
    finally:
        a.close()
        b.close()


def pg_lock_timeout(pg: Pg) -> BaseException:
    """Our own session's lock_timeout (DAGLIG_DB_LOCK_TIMEOUT_SECONDS), through make_engine."""
    from daglig.config import SessionLimits

    holder = pg.conn()
    engine = make_engine(pg.url, SessionLimits(lock_timeout_seconds=0.2))
    try:
        holder.execute("SELECT * FROM t WHERE id = 1 FOR UPDATE")
        with engine.begin() as conn:
            return raised(lambda: conn.execute(text("UPDATE t SET v = 9 WHERE id = 1")))
    finally:
        holder.close()
        engine.dispose()


def pg_statement_timeout(pg: Pg) -> BaseException:
    from daglig.config import SessionLimits

    engine = make_engine(pg.url, SessionLimits(statement_timeout_seconds=0.2))
    try:
        with engine.connect() as conn:
            return raised(lambda: conn.execute(text("SELECT pg_sleep(2)")))
    finally:
        engine.dispose()


def pg_idle_in_transaction(pg: Pg) -> BaseException:
    from daglig.config import SessionLimits

    engine = make_engine(pg.url, SessionLimits(idle_in_transaction_timeout_seconds=0.2))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # a transaction is open now
            time.sleep(0.8)
            return raised(lambda: conn.execute(text("SELECT 1")))
    finally:
        engine.dispose()


def _sa_error(pg: Pg, sql: str) -> BaseException:
    engine = make_engine(pg.url)
    try:
        with engine.begin() as conn:
            return raised(lambda: conn.execute(text(sql)))
    finally:
        engine.dispose()


def pg_unique(pg: Pg) -> BaseException:
    return _sa_error(pg, "INSERT INTO t (id, v) VALUES (1, 0)")


def pg_foreign_key(pg: Pg) -> BaseException:
    return _sa_error(pg, "INSERT INTO t (id, v, ref) VALUES (50, 0, 999)")


def pg_not_null(pg: Pg) -> BaseException:
    return _sa_error(pg, "INSERT INTO t (id, v) VALUES (51, NULL)")


def pg_syntax(pg: Pg) -> BaseException:
    return _sa_error(pg, "SELEC 1")


def pg_undefined_table(pg: Pg) -> BaseException:
    return _sa_error(pg, "SELECT * FROM no_such_table")


def pg_undefined_table_adbc(pg: Pg) -> BaseException:
    return raised(lambda: read_frame(pg.url, "read/attempts", {"cutoff": None}))


def pg_read_only(pg: Pg) -> BaseException:
    engine = make_engine(pg.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET TRANSACTION READ ONLY"))
            return raised(lambda: conn.execute(text("INSERT INTO t (id, v) VALUES (60, 0)")))
    finally:
        engine.dispose()


def pg_permission(pg: Pg) -> BaseException:
    role = f"daglig_ro_{make_url(pg.url).database}"[:60]
    with pg.conn(autocommit=True) as owner:
        owner.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        engine = make_engine(pg.other(username=role))
        try:
            with engine.begin() as conn:
                return raised(lambda: conn.execute(text("INSERT INTO t (id, v) VALUES (70, 0)")))
        finally:
            engine.dispose()
    finally:
        with pg.conn(autocommit=True) as owner:
            owner.execute(f'DROP ROLE "{role}"')


PG_CASES: list[tuple[Callable[[Pg], BaseException], bool]] = [
    (pg_refused_psycopg, True),
    (pg_refused_sqlalchemy, True),
    (pg_refused_adbc, True),
    (pg_not_accepting, True),
    (pg_terminated_sqlalchemy, True),
    (pg_terminated_adbc, True),
    (pg_deadlock, True),
    (pg_serialization, True),
    (pg_idle_in_transaction, True),
    (pg_no_database, False),
    (pg_no_database_adbc, False),
    (pg_no_role, False),
    (pg_lock_timeout, False),  # our deliberate bound: fail with the holder named
    (pg_statement_timeout, False),
    (pg_unique, False),
    (pg_foreign_key, False),
    (pg_not_null, False),
    (pg_syntax, False),
    (pg_undefined_table, False),
    (pg_undefined_table_adbc, False),
    (pg_read_only, False),
    (pg_permission, False),
]


@pytest.fixture
def pg(postgres_url: str) -> Pg:
    p = Pg(postgres_url)
    with p.conn(autocommit=True) as c:
        c.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, ref INT REFERENCES t (id))")
        c.execute("INSERT INTO t (id, v) VALUES (1, 0), (2, 0)")
    return p


@pytest.mark.postgres
@pytest.mark.parametrize(("make", "transient"), PG_CASES, ids=[f.__name__ for f, _ in PG_CASES])
def test_postgres_errors_are_classified_by_sqlstate(
    pg: Pg, make: Callable[[Pg], BaseException], transient: bool
) -> None:
    exc = make(pg)
    assert is_transient(exc) is transient, f"{type(exc).__module__}.{type(exc).__name__}: {exc}"


# ----------------------------------------------------------------------------- SQLite


def sqlite_locked(path: Path) -> BaseException:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        return raised(
            lambda: sqlite3.connect(path, timeout=0.1, isolation_level=None).execute(
                "BEGIN IMMEDIATE"
            )
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def sqlite_locked_sqlalchemy(path: Path) -> BaseException:
    from daglig.config import SessionLimits

    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    engine = make_engine(f"sqlite:///{path}", SessionLimits(lock_timeout_seconds=0.1))
    try:

        def insert() -> None:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (id) VALUES (9)"))

        return raised(insert)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()


def sqlite_read_only(path: Path) -> BaseException:
    subprocess.run(["chattr", "+i", str(path)], check=True)  # root ignores file modes
    try:
        conn = sqlite3.connect(path)
        try:
            return raised(lambda: conn.execute("INSERT INTO t (id) VALUES (3)"))
        finally:
            conn.close()
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def sqlite_no_table(path: Path) -> BaseException:
    return raised(lambda: sqlite3.connect(path).execute("SELECT * FROM nope"))


def sqlite_cannot_open(path: Path) -> BaseException:
    return raised(lambda: sqlite3.connect(path.parent / "no" / "such" / "dir.db"))


def sqlite_unsupported_type(path: Path) -> BaseException:
    """The issue's Date bug: a date of another class than datetime.date cannot be bound."""
    import datetime as dt

    class Date(dt.date):
        pass

    return raised(lambda: sqlite3.connect(path).execute("SELECT ?", (Date(2026, 12, 1),)))


def sqlite_unique(path: Path) -> BaseException:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            return raised(lambda: conn.execute(text("INSERT INTO t (id) VALUES (1)")))
    finally:
        engine.dispose()


def sqlite_adbc_no_table(path: Path) -> BaseException:
    return raised(lambda: read_frame(f"sqlite:///{path}", "read/attempts", {"cutoff": None}))


SQLITE_CASES: list[tuple[Callable[[Path], BaseException], bool]] = [
    (sqlite_locked, True),
    (sqlite_locked_sqlalchemy, True),
    (sqlite_read_only, False),
    (sqlite_no_table, False),
    (sqlite_cannot_open, False),
    (sqlite_unsupported_type, False),
    (sqlite_unique, False),
    (sqlite_adbc_no_table, False),
]


@pytest.mark.parametrize(
    ("make", "transient"), SQLITE_CASES, ids=[f.__name__ for f, _ in SQLITE_CASES]
)
def test_sqlite_errors_are_classified_by_result_code(
    tmp_path: Path, make: Callable[[Path], BaseException], transient: bool
) -> None:
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO t (id) VALUES (1)")
    exc = make(path)
    assert is_transient(exc) is transient, f"{type(exc).__module__}.{type(exc).__name__}: {exc}"


# ------------------------------------------------------------------------------- SMTP


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "daglig@localhost", "admin@localhost", "t"
    msg.set_content("hei")
    return msg


@contextmanager
def raw_server(behaviour: Callable[[socket.socket], None]) -> Iterator[int]:
    """A loopback TCP server that treats each connection with ``behaviour``."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                behaviour(conn)

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        yield port
    finally:
        stop.set()
        th.join(timeout=5)
        srv.close()


@contextmanager
def replying_server(rcpt: str | None = None, data: str | None = None) -> Iterator[int]:
    """aiosmtpd answering RCPT or DATA with the given reply."""
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            if rcpt:
                return rcpt
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return data or "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def send(port: int, timeout: float = 5, login: tuple[str, str] | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as smtp:
        if login:
            smtp.login(*login)
        smtp.send_message(message())


def smtp_refused() -> BaseException:
    return raised(lambda: send(free_port()))


def smtp_disconnected() -> BaseException:
    with raw_server(lambda conn: None) as port:  # accepts, then hangs up
        return raised(lambda: send(port))


def smtp_timeout() -> BaseException:
    with raw_server(lambda conn: time.sleep(1.0)) as port:  # never says hello
        return raised(lambda: send(port, timeout=0.3))


def smtp_4xx_data() -> BaseException:
    with replying_server(data="451 4.3.0 Try again later") as port:
        return raised(lambda: send(port))


def smtp_5xx_data() -> BaseException:
    with replying_server(data="554 5.7.1 Message rejected") as port:
        return raised(lambda: send(port))


def smtp_4xx_recipient() -> BaseException:
    with replying_server(rcpt="450 4.2.1 Mailbox busy") as port:
        return raised(lambda: send(port))


def smtp_5xx_recipient() -> BaseException:
    with replying_server(rcpt="550 5.1.1 No such user") as port:
        return raised(lambda: send(port))


def smtp_auth_failed() -> BaseException:
    with smtp_server(password="right") as box:
        return raised(lambda: send(box.port, login=("daglig", "wrong")))


SMTP_CASES: list[tuple[Callable[[], BaseException], bool]] = [
    (smtp_refused, True),
    (smtp_disconnected, True),
    (smtp_timeout, True),
    (smtp_4xx_data, True),
    (smtp_4xx_recipient, True),
    (smtp_5xx_data, False),
    (smtp_5xx_recipient, False),
    (smtp_auth_failed, False),
]


@pytest.mark.parametrize(("make", "transient"), SMTP_CASES, ids=[f.__name__ for f, _ in SMTP_CASES])
def test_smtp_errors_are_classified_by_reply_code(
    make: Callable[[], BaseException], transient: bool
) -> None:
    exc = make()
    assert is_transient(exc) is transient, f"{type(exc).__module__}.{type(exc).__name__}: {exc}"


# ------------------------------------------------------------------------ the rest


def disk_full() -> BaseException:
    def write() -> None:
        with open("/dev/full", "w") as f:  # noqa: PTH123 - the device, not a path
            f.write("x" * 10_000)

    return raised(write)


def disk_full_parquet() -> BaseException:
    import polars as pl

    return raised(lambda: pl.DataFrame({"a": list(range(100_000))}).write_parquet("/dev/full"))


def value_error() -> BaseException:
    return raised(lambda: int("not a number"))


def key_error() -> BaseException:
    return raised(lambda: {}["missing"])


def a_bug() -> BaseException:
    return raised(lambda: None.upper())  # type: ignore[union-attr]


OTHER_CASES: list[tuple[Callable[[], BaseException], bool]] = [
    (disk_full, False),
    (disk_full_parquet, False),
    (value_error, False),
    (key_error, False),
    (a_bug, False),
]


@pytest.mark.parametrize(
    ("make", "transient"), OTHER_CASES, ids=[f.__name__ for f, _ in OTHER_CASES]
)
def test_other_errors_fail_at_once(make: Callable[[], BaseException], transient: bool) -> None:
    exc = make()
    assert is_transient(exc) is transient, f"{type(exc).__module__}.{type(exc).__name__}: {exc}"


def test_a_wrapped_transient_error_is_seen_through_its_wrapper(tmp_path: Path) -> None:
    """An error raised while handling a transient one (``raise … from exc``) is judged by
    the first decisive cause."""
    inner = sqlite_locked(_db(tmp_path))

    def wrap() -> None:
        raise RuntimeError("write failed") from inner

    assert is_transient(raised(wrap)) is True


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "w.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    return path
