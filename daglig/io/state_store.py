"""The carried state on disk: what a good night leaves for the next one to fold into.

``data/state/<identity>/<run date>/``: ``manifest.json`` (daglig.night_path.CarriedManifest),
``users.parquet`` (each account's ``created_at`` when it was carried) and one folder per
shard with the shard's tables (:data:`SHARD_TABLES`). A run builds its state in its run
folder (``<run folder>/state/``, :func:`staged`); only after the night's write has
committed is it moved into the store (:func:`keep`), manifest last, so a state in the
store is always whole. The last :data:`KEEP` states are kept, so that a backfill of a
recent date finds one from before it.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from daglig.night_path import CarriedManifest

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
USERS = "users.parquet"
#: Each shard's carried tables: tallies (daglig/answer_tallies.py), evidence
#: (daglig/learner/evidence_state.py), the population's counts by difficulty bin and by
#: category (daglig/shards.py's population_partials).
SHARD_TABLES = ("tallies", "evidence", "bins", "cats")
KEEP = 3


def staged(run_folder: Path) -> Path:
    """Where a run builds the state it will leave, inside its run folder."""
    return run_folder / "state"


def shard_table(state: Path, shard: int, table: str) -> Path:
    """One shard's carried table in a state folder (staged or kept)."""
    return state / f"shard-{shard:04d}" / f"{table}.parquet"


def users_file(state: Path) -> Path:
    return state / USERS


def read_manifest(state: Path) -> CarriedManifest | None:
    """The manifest of a state folder; None when missing or unreadable (a state that is
    not whole is no state)."""
    try:
        return CarriedManifest.from_dict(json.loads((state / MANIFEST).read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def newest(
    root: Path, identity: str | None, cutoff_iso: str
) -> tuple[Path, CarriedManifest] | None:
    """The newest whole state of this database with a cutoff at or before ``cutoff_iso``;
    when there is none such, the newest at all (so the reason can name it); None when the
    store holds nothing for it."""
    if identity is None or not (root / identity).is_dir():
        return None
    found = [
        (p, m)
        for p in (root / identity).iterdir()
        if p.is_dir() and (m := read_manifest(p)) is not None
    ]
    if not found:
        return None
    found.sort(key=lambda pm: pm[1].cutoff)
    before = [pm for pm in found if pm[1].cutoff.isoformat() <= cutoff_iso]
    return (before or found)[-1]


def keep(state: Path, root: Path, manifest: CarriedManifest, keep_last: int = KEEP) -> Path:
    """Move a run's staged state into the store under its database and run date (a rerun
    of the date replaces the one there), write its manifest last, and drop all but the
    newest ``keep_last``. Returns the kept folder."""
    target = root / manifest.identity / manifest.run_date.isoformat()
    target.parent.mkdir(parents=True, exist_ok=True)
    (state / MANIFEST).unlink(missing_ok=True)
    if target.exists():
        # the older one's manifest first: a crash between the two leaves no half state
        (target / MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(target)
    shutil.move(str(state), str(target))
    tmp = target / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest.as_dict(), indent=2), encoding="utf-8")
    tmp.replace(target / MANIFEST)
    states = sorted(
        (p for p in target.parent.iterdir() if p.is_dir() and p != target),
        key=lambda p: p.name,
    )
    for old in states[: max(0, len(states) - (keep_last - 1))]:
        (old / MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(old, ignore_errors=True)
    log.info("carried state of %s kept in %s", manifest.run_date, target)
    return target
