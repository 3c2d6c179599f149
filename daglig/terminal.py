"""What the terminal shows: one line per failure, the details in a log file.

Every ``daglig`` command runs inside :class:`FrontDoor` (the app's click group): an
exception that reaches it is written with its full traceback to the rotating log file
``<data dir>/logs/daglig.log`` and reported as one line on standard error naming what is
wrong, what to do and where the details are; exit 2 for bad input or settings, 1 for a
failure, 130 for Ctrl-C. ``daglig --debug …`` prints the traceback on the terminal too.

Commands that run Prefect flows use :func:`prefect_logs_to_file`: Prefect's console
handler shows nothing on the terminal (its records, tracebacks included, go to the same log
file and, as always, to the Prefect API with the flow and task runs); with ``--debug`` the
console shows them as Prefect prints them.
"""

from __future__ import annotations

import logging
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

import typer
from pydantic_settings import BaseSettings, SettingsConfigDict
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup
from typer.exceptions import TyperException

from daglig.config import DEFAULT_DATA_DIR

LOG_FILE = Path("logs") / "daglig.log"
LOG_MAX_BYTES = 5_000_000
LOG_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(process)d %(name)s: %(message)s"

_state: dict[str, Any] = {"debug": False, "handler": None}


class _DataDir(BaseSettings):
    """Only ``DAGLIG_DATA_DIR``: the log file's folder is known even when other settings
    are invalid (that is one of the failures it records)."""

    model_config = SettingsConfigDict(env_prefix="DAGLIG_", extra="ignore")
    data_dir: Path = DEFAULT_DATA_DIR


def set_debug(debug: bool) -> None:
    _state["debug"] = debug


def debug() -> bool:
    return bool(_state["debug"])


def log_path() -> Path:
    try:
        data_dir = _DataDir().data_dir
    except Exception:  # noqa: BLE001 - an unusable DAGLIG_DATA_DIR: the default folder
        data_dir = DEFAULT_DATA_DIR
    return data_dir / LOG_FILE


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _LazyFileHandler(RotatingFileHandler):
    """Rotating, and its folder and file are created only when the first record comes."""

    def _open(self) -> Any:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def file_handler() -> logging.Handler:
    """The log file's handler (one per process and log path)."""
    path = log_path()
    handler: logging.Handler | None = _state["handler"]
    if handler is None or getattr(handler, "baseFilename", None) != str(path.absolute()):
        handler = _LazyFileHandler(
            path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8", delay=True
        )
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.setLevel(logging.INFO)
        _state["handler"] = handler
    return handler


def _file_logger() -> logging.Logger:
    log = logging.getLogger("daglig.cli")
    log.propagate = False  # the file only, never Prefect's console handler
    handler = file_handler()
    for old in [h for h in log.handlers if h is not handler]:
        log.removeHandler(old)
    if handler not in log.handlers:
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    return log


def log_to_file(message: str, exc: BaseException | None = None) -> Path | None:
    """Write ``message`` (and ``exc``'s traceback) to the log file; None if it cannot be
    written (a read-only data folder must not hide the failure being reported)."""
    log = _file_logger()
    try:
        log.error(message, exc_info=(type(exc), exc, exc.__traceback__) if exc else None)
        handler = file_handler()
        handler.flush()
        if getattr(handler, "stream", None) is None:  # opening failed: handleError swallowed it
            return None
    except Exception:  # noqa: BLE001 - the log file is a courtesy
        return None
    return log_path()


def report(exc: BaseException, prefix: str = "", database: str | None = None) -> int:
    """Report ``exc`` the front door's way: traceback to the log file (and the terminal
    with --debug), one line on standard error; returns the exit code."""
    from daglig.errors import explain

    if database is None:
        database = _database_for_messages()
    explained = explain(exc, database)
    line = f"{prefix}{explained.line}"
    written = log_to_file(line, exc)
    if debug():
        traceback.print_exception(exc, file=sys.stderr)
    elif not explained.expected and written is not None:
        line += f" — details: {shown_path(written)}"
    typer.echo(line, err=True)
    return explained.code


def _database_for_messages() -> str | None:
    from daglig.config import Settings

    try:
        return Settings().safe_database_url()
    except Exception:  # noqa: BLE001 - settings that do not validate name no database
        return None


def require_database(settings: Any) -> None:
    """A command that reads or changes the database refuses a SQLite file that does not
    exist (a mistyped path) with one line, instead of creating an empty database there."""
    from daglig.errors import BadInput
    from daglig.io.db import sqlite_file

    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        raise BadInput(
            f"no SQLite database at {path} — check DATABASE_URL "
            "(`daglig simulate` creates a demo database)"
        )


class FrontDoor(TyperGroup):
    """The ``daglig`` group: any exception a command lets out becomes one line (see the
    module docstring). Click's own usage errors (exit 2) and exits pass through."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context
        try:
            return super().invoke(ctx)
        except UsageError as exc:  # a mistyped option or value: one line, not a box
            if isinstance(exc, NoArgsIsHelpError):
                raise
            where = f" — see `{exc.ctx.command_path} --help`" if exc.ctx is not None else ""
            text = exc.format_message().replace("Value error, ", "").rstrip(".")
            typer.echo(f"{text}{where}", err=True)
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, TyperException):  # exits, click's own errors
            raise
        except KeyboardInterrupt:  # in-process (tests); the command itself: daglig.interrupt
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            raise typer.Exit(report(exc)) from None


class _NotOnTerminal(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def prefect_logs_to_file() -> Iterator[None]:
    """For a command that runs flows: Prefect's (and every library's) log records go to the
    log file; the terminal gets none of them unless --debug. Undone on exit."""
    import prefect  # noqa: F401 - configures Prefect's logging (its console handler)
    from prefect.logging.handlers import PrefectConsoleHandler

    root = logging.getLogger()
    handler = file_handler()
    consoles = {
        h
        for name in ("", "uvicorn", "fastapi", "prefect", "prefect.flow_runs", "prefect.task_runs")
        for h in logging.getLogger(name).handlers
        if isinstance(h, PrefectConsoleHandler)
    }
    quiet = _NotOnTerminal()
    if not debug():
        for h in consoles:
            h.addFilter(quiet)
    added = handler not in root.handlers
    if added:
        root.addHandler(handler)
    showwarning = warnings.showwarning
    logging.captureWarnings(True)  # library warnings to the log file, not the terminal
    try:
        yield
    finally:
        for h in consoles:
            h.removeFilter(quiet)
        if added:
            root.removeHandler(handler)
        if warnings.showwarning is not showwarning:
            logging.captureWarnings(False)


@contextmanager
def flow_session() -> Iterator[str]:
    """Around a command that runs Prefect flows in this process: Ctrl-C handled
    (``daglig.interrupt``), Prefect's logs in the log file (:func:`prefect_logs_to_file`),
    and a Prefect API (``flows.runners.temporary_api``: PREFECT_API_URL, else a temporary
    server that dies with this process). Yields the API's URL."""
    from daglig.interrupt import interruptible
    from flows.runners import temporary_api
    from tasks.runs import mark_interrupted

    with interruptible(mark_interrupted), prefect_logs_to_file(), temporary_api() as api:
        yield api
