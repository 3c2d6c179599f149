"""The render step: one ``key-challenges`` task per shard finds its distinct challenges;
the step renders the union of them once, in Norwegian, and prices them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from daglig.challenges import finish_challenges
from daglig.rendering import render_challenges
from tasks.common import log_rows, save
from tasks.shards import KeyedShard, SelectedRefs, key_shard, map_shards


@dataclass(frozen=True, slots=True)
class RenderedRefs:
    """The day's distinct challenges (with text and XP) and its keyed assignments, one
    file per shard (merging ~3M assignments with their reasons into one file would cost
    a gigabyte of memory for nothing: every reader takes a list of files)."""

    challenges: Path
    assignments: tuple[Path, ...]


def render_day(
    selected: list[SelectedRefs], folder: Path, ml_title_prefix: bool = True
) -> RenderedRefs:
    """Key every shard's assignments, then render each distinct challenge of the day once
    (a few thousand templates for millions of assignments); ``ml_title_prefix``: the
    admins' setting of the same name ("[ML] " before ML titles)."""
    t0 = time.perf_counter()
    parts: list[KeyedShard] = map_shards(key_shard, selected)
    distinct = (
        pl.concat([pl.read_parquet(p.distinct) for p in parts])
        .unique("content_key", keep="first")
        .sort("content_key")
    )
    challenges = finish_challenges(render_challenges(distinct, ml_title_prefix=ml_title_prefix))
    refs = RenderedRefs(save(challenges, folder, "challenges"), tuple(p.assignments for p in parts))
    log_rows(
        "render-challenges",
        sum(s.rows for s in selected),
        challenges.height,
        time.perf_counter() - t0,
    )
    return refs
