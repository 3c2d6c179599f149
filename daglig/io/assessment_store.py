"""The last night's learner assessment, kept for the learner service (``get_weak_areas``,
``get_skill_assessment``): one Parquet file per night under
``<DAGLIG_DATA_DIR>/assessments/<identity>/``, keyed by the database's identity like the
model store (``daglig/io/identity.py``), plus ``current.json`` naming the night in force.

The file has one row per assessed user, sorted by ``user_id``, in row groups of
``ROW_GROUP_USERS``; a lookup reads the footer once per night (cached), finds the one row
group whose ``user_id`` range holds the user from the footer's statistics and reads only
that group. Saving writes the file under a temporary name, renames it, then replaces the
pointer atomically, so a reader sees the old night or the new one, never half of one; the
night before the current one is kept (a reader that opened it a moment ago), older ones
are deleted. Why a file and not a table: docs/learner-model.md ("The learner service").
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from daglig.io.files import atomic_path, write_bytes_atomic
from daglig.io.model_store import model_folder
from daglig.learner.assessment import service_rows

POINTER = "current.json"
ROW_GROUP_USERS = 256  # measured: 0.6 ms a group read at 256 users, 2.3 ms at 2048
KEPT_NIGHTS = 2  # the current night and the one before it


class NoAssessment(LookupError):
    """No night has assessed this database's learners yet (the message says so)."""


@dataclass(frozen=True, slots=True)
class SavedAssessment:
    """A night's assessment file and what the pointer says about it."""

    path: Path
    run_date: date
    model_version: str
    users: int


def assessment_folder(root: Path, identity: str) -> Path:
    """Where the assessments of the database with this identity live."""
    return model_folder(root, identity)  # the same rule for a safe identity folder name


def save_assessment(
    root: Path,
    identity: str,
    run_date: date,
    shards: list[tuple[Path, Path]],
    model_version: str,
) -> SavedAssessment:
    """Combine the night's per-shard assessment files ``(categories, users)`` into one file
    sorted by user, and make it the database's current assessment."""
    folder = assessment_folder(root, identity)
    folder.mkdir(parents=True, exist_ok=True)
    rows = service_rows(
        pl.concat([pl.scan_parquet(c) for c, _ in shards]),
        pl.concat([pl.scan_parquet(u) for _, u in shards]),
    ).collect()
    name = f"assessment-{run_date.isoformat()}-{secrets.token_hex(4)}.parquet"
    path = folder / name
    with atomic_path(path) as tmp:
        rows.write_parquet(tmp, row_group_size=ROW_GROUP_USERS, statistics=True)
    pointer = {
        "file": name,
        "run_date": run_date.isoformat(),
        "model_version": model_version,
        "users": rows.height,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_bytes_atomic(folder / POINTER, (json.dumps(pointer) + "\n").encode())
    _drop_old_nights(folder, keep=name)
    return SavedAssessment(path, run_date, model_version, rows.height)


def _drop_old_nights(folder: Path, keep: str) -> None:
    """Delete all nights but the newest ``KEPT_NIGHTS`` (``keep`` is always among them)."""
    nights = sorted(folder.glob("assessment-*.parquet"), key=lambda p: p.stat().st_mtime)
    old = [p for p in nights if p.name != keep][: max(0, len(nights) - KEPT_NIGHTS)]
    for p in old:
        p.unlink(missing_ok=True)


class _Night:
    """One night's file, opened: the footer and each row group's user_id range."""

    def __init__(self, path: Path, pointer: dict[str, Any]) -> None:
        self.path = path
        self.pointer = pointer
        self.file = pq.ParquetFile(path, memory_map=True)
        meta = self.file.metadata
        col = self.file.schema_arrow.get_field_index("user_id")
        stats = [meta.row_group(i).column(col).statistics for i in range(meta.num_row_groups)]
        self.lows = np.array([s.min for s in stats], dtype=np.int64)
        self.highs = np.array([s.max for s in stats], dtype=np.int64)
        self.lock = threading.Lock()  # a ParquetFile is not safe to read from two threads

    def row(self, user_id: int) -> dict[str, Any] | None:
        i = int(np.searchsorted(self.highs, user_id))
        if i >= len(self.highs) or self.lows[i] > user_id:
            return None
        with self.lock:
            group = self.file.read_row_group(i, use_threads=False)
        ids = group.column("user_id").to_numpy()
        j = int(np.searchsorted(ids, user_id))
        if j >= len(ids) or ids[j] != user_id:
            return None
        return group.slice(j, 1).to_pylist()[0]


class AssessmentReader:
    """Single-user lookups in the current night of each database identity. The pointer is
    read on every lookup (a new night is seen at once); a night's footer once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._nights: dict[str, _Night] = {}  # per identity: its current night, open
        self._lock = threading.Lock()

    def night(self, identity: str) -> _Night:
        """The current night of ``identity``'s database; :class:`NoAssessment` if none."""
        folder = assessment_folder(self.root, identity)
        try:
            pointer = json.loads((folder / POINTER).read_text())
        except FileNotFoundError:
            raise NoAssessment(
                "no night has assessed this database's learners yet "
                "(the nightly run with the learner model keeps its assessment)"
            ) from None
        path = folder / str(pointer["file"])
        with self._lock:
            night = self._nights.get(identity)
            if night is None or night.path != path:
                night = self._nights[identity] = _Night(path, pointer)
        return night

    def row(self, identity: str, user_id: int) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The user's row (None when the night did not assess them) and the night's pointer."""
        night = self.night(identity)
        return night.row(user_id), night.pointer
