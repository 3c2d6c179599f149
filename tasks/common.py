"""What every task shares: the run folder and a row-count log line."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import polars as pl
from prefect import runtime
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from daglig.config import Settings


def run_folder(settings: Settings, run_date: date) -> Path:
    """``data/runs/<run_date>/<flow run id>/``: the Parquet files one run's tasks hand each
    other. One folder per flow run, so two runs of the same date at once (or a dry run for a
    few users beside the nightly run) never read each other's files."""
    folder = settings.runs_dir / run_date.isoformat() / (runtime.flow_run.id or uuid4().hex)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(frame: pl.DataFrame, folder: Path, name: str) -> Path:
    path = folder / f"{name}.parquet"
    frame.write_parquet(path)
    return path


def log_rows(task: str, rows_in: int, rows_out: int, seconds: float) -> None:
    try:
        log: Any = get_run_logger()
    except MissingContextError:  # a task's function called bare (task.fn) in a script or test
        log = logging.getLogger("daglig")
    log.info("%s: %d rows in, %d rows out, %.2f s", task, rows_in, rows_out, seconds)
