"""An exception as one line for a person: the one formatter of the pipeline (pure, so the
I/O layer and the edge both use it; :mod:`daglig.errors` re-exports it)."""

from __future__ import annotations

__all__ = ["error_line", "first_line"]


def first_line(exc: BaseException) -> str:
    """The first non-blank line of an exception's message (of the driver's error for a
    SQLAlchemy error: without the SQL and the background link)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def error_line(exc: BaseException) -> str:
    """An exception as the one line a person reads (a state message, an artifact, a table
    cell, the run summary and its notes): its type and its message's first line, from the
    driver's error inside a SQLAlchemy one, without the statement, its parameters and the
    link (``IntegrityError: daily_challenges is read-only during maintenance``). The rest
    belongs in the log. The one formatter; :func:`explain` is the CLI's fuller line."""
    line = first_line(exc)
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
