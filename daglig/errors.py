"""One line for every failure: what is wrong and what to do.

:func:`explain` turns an exception into the line a person reads on the terminal (the CLI's
standard error) and an exit code: 2 for bad input or settings, 1 for a failure. Database
errors are recognised by their message, whichever driver raised them (SQLAlchemy's
psycopg/sqlite3 errors, ADBC's): a PostgreSQL database that does not exist, a server that
refuses the connection, a read-only database, a locked one. The traceback is never part of
the line; ``daglig.terminal`` writes it to the log file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from daglig.error_text import error_line as error_line  # the one formatter, re-exported
from daglig.error_text import first_line


class BadInput(ValueError):
    """Bad input from the person at the terminal (exit 2); the message is the one line."""


@dataclass(frozen=True, slots=True)
class Explained:
    """An exception as the terminal shows it."""

    line: str
    code: int  # 2: bad input or settings; 1: a failure
    expected: bool  # input or environment the person can fix: the traceback adds nothing


_FAILURE_ATTR = "_daglig_failure"


def tag_failure(exc: BaseException, step: str | None, run_date: date | None) -> None:
    """Remember on ``exc`` the step and run date of the run it failed (the CLI names them)."""
    setattr(exc, _FAILURE_ATTR, (step, run_date))


def failure_of(exc: BaseException) -> tuple[str | None, date | None]:
    """The (step, run date) :func:`tag_failure` put on ``exc``, or (None, None)."""
    found: Any = getattr(exc, _FAILURE_ATTR, None)
    return found if isinstance(found, tuple) else (None, None)


def _server(raw: str) -> str:
    m = re.search(r'server at "([^"]+)"(?: \([^)]*\))?, port (\d+)', raw)
    if m:
        return f"{m.group(1)}:{m.group(2)}"
    m = re.search(r'server on socket "([^"]+)"', raw)
    return m.group(1) if m else "the server"


def _createdb(name: str, server: str) -> str:
    host, _, port = server.rpartition(":")
    if host in ("127.0.0.1", "localhost", "::1") and port == "5432":
        return f"createdb {name}"
    return f"createdb -h {host} -p {port} {name}" if host else f"createdb {name}"


def database_line(raw: str, database: str | None) -> str | None:
    """A database error message as one line saying what to do, or None when it is not one
    of the errors people meet at the door."""
    db = database or "the database"
    if m := re.search(r'database "([^"]+)" does not exist', raw):
        server = _server(raw)
        return (
            f'database "{m.group(1)}" does not exist on {server} — create it with '
            f"`{_createdb(m.group(1), server)}` (or fix DATABASE_URL)"
        )
    if "Connection refused" in raw or "connection refused" in raw:
        return (
            f"cannot connect to PostgreSQL at {_server(raw)}: connection refused — is the "
            "server running, and are the host and port in DATABASE_URL right?"
        )
    if m := re.search(r'role "([^"]+)" does not exist', raw):
        return (
            f'PostgreSQL at {_server(raw)} has no role "{m.group(1)}" — fix the user in '
            f"DATABASE_URL or create it with `createuser {m.group(1)}`"
        )
    if m := re.search(r'password authentication failed for user "([^"]+)"', raw):
        return (
            f'PostgreSQL at {_server(raw)} refused the password of user "{m.group(1)}" — '
            "check DATABASE_URL"
        )
    if "timeout expired" in raw or "timed out" in raw.lower():
        return f"connecting to {_server(raw)} timed out — is the host in DATABASE_URL reachable?"
    if "readonly database" in raw or "read-only transaction" in raw:
        return (
            f"database {db} is read-only ({_detail(raw)}): nothing was written — make it "
            "writable (a read-only database serves dry runs only)"
        )
    if "permission denied" in raw:
        return (
            f"database {db}: {_detail(raw)} — the role in DATABASE_URL may not change it; "
            "nothing was written"
        )
    if "unable to open database file" in raw:
        return f"cannot open the SQLite database {db} (does its folder exist?)"
    if "database is locked" in raw:
        return f"database {db} is locked by another writer — try again when it is done"
    return None


def _detail(raw: str) -> str:
    line = raw.strip().splitlines()[0] if raw.strip() else raw
    line = re.sub(r"^\(\S+\)\s*", "", line)  # SQLAlchemy's "(sqlite3.OperationalError) "
    return line.removeprefix("ERROR:").strip()


def explain(exc: BaseException, database: str | None = None) -> Explained:
    """``exc`` as one line and an exit code. ``database`` (the URL without password)
    names the database in messages about it."""
    from pydantic import ValidationError

    from daglig.config import settings_error_line

    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return Explained(settings_error_line(exc), 2, True)
    if isinstance(exc, BadInput):
        return Explained(str(exc), 2, True)
    raw = str(getattr(exc, "orig", None) or exc)
    line = database_line(raw, database)
    if line is not None:
        return Explained(line, 1, True)
    from daglig.io.store import HealthCheckFailed

    if isinstance(exc, HealthCheckFailed):
        return Explained(str(exc), 1, True)
    text = first_line(exc)
    return Explained(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, 1, False)
