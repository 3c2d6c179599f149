"""The render step: one ``render-challenges`` task per shard renders that shard's distinct
challenges once; the step then merges them into the day's distinct challenges."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tasks.common import log_rows, save
from tasks.shards import RenderedShard, SelectedRefs, map_shards, render_shard


@dataclass(frozen=True, slots=True)
class RenderedRefs:
    """The day's distinct challenges (with text and XP) and its keyed assignments, one
    file per shard (merging ~3M assignments with their reasons into one file would cost
    a gigabyte of memory for nothing: every reader takes a list of files)."""

    challenges: Path
    assignments: tuple[Path, ...]


def render_day(selected: list[SelectedRefs], folder: Path) -> RenderedRefs:
    t0 = time.perf_counter()
    parts: list[RenderedShard] = map_shards(render_shard, selected)
    refs = merge_rendered(parts, folder)
    log_rows(
        "render-challenges", sum(s.rows for s in selected), len(parts), time.perf_counter() - t0
    )
    return refs


def merge_rendered(parts: list[RenderedShard], folder: Path) -> RenderedRefs:
    """The day's challenges once per content key (shards render the same challenge alike),
    sorted — the same whatever the shard count; the shards' assignment files as they are."""
    challenges = (
        pl.concat([pl.read_parquet(p.challenges) for p in parts])
        .unique("content_key", keep="first")
        .sort("content_key")
    )
    return RenderedRefs(save(challenges, folder, "challenges"), tuple(p.assignments for p in parts))
