"""What every task shares: the run folder and a row-count log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import polars as pl
from prefect import runtime
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from daglig.config import Settings
from daglig.io.files import atomic_path, clear_failed_folder, is_disk_full
from daglig.io.run_folder import RunFile, RunFolder
from tasks.steps import count_rows, in_logged_step


def run_folder(settings: Settings, run_date: date) -> Path:
    """``data/runs/<run_date>/<flow run id>/``: the Parquet files one run's tasks hand each
    other. One folder per flow run, so two runs of the same date at once (or a dry run for a
    few users beside the nightly run) never read each other's files."""
    folder = run_folder_path(settings, run_date)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_folder_path(settings: Settings, run_date: date) -> Path:
    """Where :func:`run_folder` puts this flow run's files (not created)."""
    return RunFolder.at(settings.runs_dir, run_date, runtime.flow_run.id or uuid4().hex).root


def save(frame: pl.DataFrame, folder: Path, name: RunFile) -> Path:
    """``folder/<name>.parquet`` (``RunFolder.file``), whole or absent (daglig/io/files.py)."""
    path = RunFolder(folder).file(name)
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp)
    return path


FAILED_TASK = "daglig_failed_task"


@contextmanager
def failing_task(name: str) -> Iterator[None]:
    """Inside a flow step that runs several tasks, mark an exception with the name of the
    task it came from (the first mark wins), so the summary names that task, not the step."""
    try:
        yield
    except Exception as exc:
        if not hasattr(exc, FAILED_TASK):
            with suppress(AttributeError, TypeError):
                setattr(exc, FAILED_TASK, name)
        raise


def failed_task_of(exc: BaseException) -> str | None:
    """The task an exception was marked with by :func:`failing_task`."""
    name = getattr(exc, FAILED_TASK, None)
    return name if isinstance(name, str) else None


def tidy_failed_run(settings: Settings, run_date: date, exc: BaseException) -> str | None:
    """After a failed run: its files are whole (atomic writes) and stay for debugging,
    except when the disk was full. Then the run folder is emptied but for a one-line
    ``FAILED.txt``, so the next run finds the space it needs. Returns a note for the
    summary, or None when nothing was removed."""
    if not is_disk_full(exc):
        return None
    folder = run_folder_path(settings, run_date)
    freed = clear_failed_folder(folder, f"run for {run_date.isoformat()} failed: disk full: {exc}")
    return (
        f"disk full: removed this run's files ({freed / 1e6:.1f} MB) from {folder}, "
        "keeping FAILED.txt"
    )


def log_rows(task: str, rows_in: int, rows_out: int, seconds: float) -> None:
    """The rows line of a task declared with plain ``@task`` (tasks/settings.py). Inside a
    task or step of tasks/steps.py the decorator logs the line (with its own seconds):
    this only hands it the counts (``count_rows``)."""
    if in_logged_step():
        count_rows(rows_in, rows_out)
        return
    try:
        log: Any = get_run_logger()
    except MissingContextError:  # a task's function called bare (task.fn) in a script or test
        log = logging.getLogger("daglig")
    log.info("%s: %d rows in, %d rows out, %.2f s", task, rows_in, rows_out, seconds)
