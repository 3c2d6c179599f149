"""The keep-carried-state step: after the night's write, the state the feature step staged
(every shard's sufficient statistics, daglig/night_path.py) becomes the one the next night
folds into (daglig/io/state_store.py). Only a whole night of every user carries one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from daglig.config import Settings
from daglig.io import state_store
from daglig.io.db import engine_of
from daglig.io.identity import ensure_identity
from tasks.features import FeatureRefs
from tasks.retry import io_task
from tasks.steps import count_rows


@io_task("keep-carried-state")
def keep_carried_state(settings: Settings, refs: FeatureRefs) -> Path | None:
    """The staged state under this database's identity (made on a first night: the state
    must know its database) in the store; None when the run carries none."""
    if refs.carried is None or refs.staged_state is None:
        return None
    with engine_of(settings.database_url, settings.session_limits()) as engine:
        identity = ensure_identity(engine)
    kept = state_store.keep(
        refs.staged_state, settings.state_dir, replace(refs.carried, identity=identity)
    )
    count_rows(refs.carried.folded, refs.carried.shards)
    return kept
