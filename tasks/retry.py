"""The one retry policy of every I/O task: retry what can succeed on retry, nothing else.

Every task that talks to the database or the mail server is declared with::

    @task(name=..., retries=RETRIES, retry_delay_seconds=RETRY_DELAYS,
          retry_condition_fn=retry_if_transient, ...)

Prefect calls :func:`retry_if_transient` (its ``retry_condition_fn(task, task_run, state)``)
when an attempt fails; it retries only when :func:`is_transient` says the error is one a
retry can outlive:

- **transient**: connection refused/reset/closed, timeouts of a socket, PostgreSQL
  serialization failure (40001), deadlock (40P01), the server shutting down or our
  backend terminated (57P01-57P03), too many connections (53300), the connection class
  08xxx, idle-in-transaction timeout (25P03: our session stalled), SQLite's "database is
  locked" (SQLITE_BUSY / SQLITE_LOCKED), SMTP 4xx replies and a dropped SMTP connection.
- **permanent** (fail at once): constraint violations, permissions, a read-only database,
  programming errors (syntax, unknown table, a value of a type the driver cannot bind),
  a full disk, a database or role that does not exist, failed authentication, SMTP 5xx,
  ``ValueError``/``KeyError``/any other bug.
- **deliberate bounds are permanent**: PostgreSQL ``lock_timeout`` (55P03) and
  ``statement_timeout`` (57014) and the SMTP whole-send deadline. We set those limits on
  purpose (``daglig/config.py``); a retry would only wait the same bound again while the
  holder keeps the lock, and hide it. The run fails with one line naming the holder.

The classifier reads the driver's own codes (SQLSTATE of psycopg and ADBC, SQLite's
``sqlite_errorcode``, ``errno``, the SMTP reply code), looking through SQLAlchemy's wrapper
(``.orig``) and the exception's causes. Unknown errors are permanent.
"""

from __future__ import annotations

import errno
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from prefect import Task

from tasks.steps import step_task

P = ParamSpec("P")
R = TypeVar("R")

RETRIES = 3
RETRY_DELAYS: list[float] = [2, 5, 15]  # seconds before the 1st, 2nd, 3rd retry

# SQLSTATEs a retry can outlive (class 08 is checked by prefix).
TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "57P01",  # admin_shutdown (pg_terminate_backend, a restart)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up)
        "53300",  # too_many_connections
        "25P03",  # idle_in_transaction_session_timeout: our session stalled
    }
)

# SQLite primary result codes: SQLITE_BUSY, SQLITE_LOCKED ("database is locked")
TRANSIENT_SQLITE_CODES = frozenset({5, 6})

TRANSIENT_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EPIPE,
        errno.EAGAIN,
    }
)

# A connection that failed without a SQLSTATE (libpq reports those as text): these
# words mean the configuration is wrong, not the moment.
PERMANENT_CONNECT_WORDS = (
    "does not exist",
    "authentication failed",
    "no pg_hba.conf entry",
    "permission denied",
    "could not translate host name",
    "invalid",
    "unsupported",
    "failed to open",  # ADBC-SQLite: a path that cannot be opened
)


class PermanentError(RuntimeError):
    """An error raised by daglig itself that a retry cannot fix (a deliberate bound
    reached, for example); never retried."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver's exception inside SQLAlchemy's wrapper, and their causes."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        orig = getattr(e, "orig", None)
        if isinstance(orig, BaseException):
            todo.append(orig)
        if e.__cause__ is not None:
            todo.append(e.__cause__)
        elif e.__context__ is not None and not e.__suppress_context__:
            todo.append(e.__context__)


def _smtp(e: BaseException) -> bool | None:
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in e.recipients.values()]
        return bool(codes) and all(400 <= c < 500 for c in codes)
    if isinstance(e, smtplib.SMTPResponseException):  # auth (535), sender, data, helo, connect
        return 400 <= e.smtp_code < 500
    if isinstance(e, smtplib.SMTPException):  # not supported, no recipients, ...
        return False
    return None


def _sqlstate(e: BaseException) -> bool | None:
    state = getattr(e, "sqlstate", None)
    if not isinstance(state, str) or not state:
        return None
    return state.startswith("08") or state in TRANSIENT_SQLSTATES


def _sqlite(e: BaseException) -> bool | None:
    code = getattr(e, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in TRANSIENT_SQLITE_CODES
    return None


def _driver_without_code(e: BaseException) -> bool | None:
    """psycopg / ADBC errors that carry no SQLSTATE: a connection that failed or broke."""
    module = type(e).__module__
    if not module.startswith(("psycopg", "adbc_driver")):
        return None
    text = str(e).lower()
    if "database is locked" in text:  # ADBC-SQLite's SQLITE_BUSY
        return True
    if type(e).__name__ == "InterfaceError":  # psycopg: "the connection is closed"
        return "closed" in text
    if type(e).__name__ != "OperationalError":
        return False  # ProgrammingError, IntegrityError, ...: a bug or the data
    return not any(word in text for word in PERMANENT_CONNECT_WORDS)


def _os(e: BaseException) -> bool | None:
    if isinstance(e, ssl.SSLCertVerificationError):
        return False
    if isinstance(e, ssl.SSLEOFError | ssl.SSLZeroReturnError):  # the peer went away
        return True
    if isinstance(e, socket.gaierror):  # DNS: only "try again" is worth a retry
        return e.errno == socket.EAI_AGAIN
    if isinstance(e, TimeoutError | ConnectionError):
        return True
    if isinstance(e, OSError) and e.errno is not None:
        return e.errno in TRANSIENT_ERRNOS
    return None


def _sqlalchemy(e: BaseException) -> bool | None:
    module = type(e).__module__
    if not module.startswith("sqlalchemy"):
        return None
    name = type(e).__name__
    if name in ("TimeoutError", "DisconnectionError"):  # pool timeout, a dropped connection
        return True
    if getattr(e, "connection_invalidated", False):
        return True
    return None  # look at the driver's exception (.orig)


RULES = (_sqlalchemy, _smtp, _sqlstate, _sqlite, _driver_without_code, _os)


def is_transient(exc: BaseException) -> bool:
    """True when a retry of the failed operation can succeed (see the module docstring)."""
    for e in _chain(exc):
        if isinstance(e, PermanentError):
            return False
        for rule in RULES:
            verdict = rule(e)
            if verdict is not None:
                return verdict
    return False


def failure_of(state: Any) -> BaseException | None:
    """The exception a failed Prefect state holds."""
    data = getattr(state, "data", None)
    if isinstance(data, BaseException):
        return data
    try:
        result = state.result(raise_on_failure=False)
    except BaseException as exc:  # noqa: BLE001 - the failure itself
        return exc
    return result if isinstance(result, BaseException) else None


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: retry a failed attempt only on a transient error."""
    exc = failure_of(state)
    return exc is not None and is_transient(exc)


def io_task(name: str, *, timed: bool = True) -> Callable[[Callable[P, R]], Task[P, R]]:
    """The decorator of every I/O task (database, disk, SMTP): its Prefect name, the retry
    policy above (transient errors only, ``RETRIES`` times after ``RETRY_DELAYS``), no
    result cache, timed as a step of the run (``tasks/steps.py``). Pure-compute tasks take
    ``tasks.steps.step_task`` and are never retried. ``timed=False``: bookkeeping, not a
    step of the run."""
    return step_task(
        name,
        timed=timed,
        retries=RETRIES,
        retry_delay_seconds=RETRY_DELAYS,
        retry_condition_fn=retry_if_transient,
    )
