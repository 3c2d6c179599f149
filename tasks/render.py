"""The render step: one ``key-challenges`` task per shard finds its distinct challenges;
the step renders the union of them once, in Norwegian, and prices them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from daglig.challenges import distinct_challenges, finish_challenges, with_content_key
from daglig.io.run_folder import RunFile
from daglig.rendering import render_challenges
from tasks.common import failing_task, save
from tasks.fanout import map_shards, worker_name
from tasks.features import FeatureRefs
from tasks.select import SelectedRefs
from tasks.steps import count_rows, step, step_task


@dataclass(frozen=True, slots=True)
class KeyedShard:
    """One shard's assignments with their content key, and its distinct challenges (not
    yet rendered)."""

    shard: int
    distinct: Path
    assignments: Path
    worker: str


@step_task("key-challenges")
def key_shard(selected: SelectedRefs) -> KeyedShard:
    """One shard's assignments → content keys and the distinct challenges among them."""
    keyed = with_content_key(pl.read_parquet(selected.assignments))
    distinct = distinct_challenges(keyed)
    folder = selected.assignments.parent
    out = KeyedShard(
        selected.shard,
        save(distinct, folder, RunFile.DISTINCT_CHALLENGES),
        save(keyed, folder, RunFile.ASSIGNMENTS_KEYED),
        worker_name(),
    )
    count_rows(keyed.height, distinct.height, label=f"shard {selected.shard}")
    return out


@dataclass(frozen=True, slots=True)
class RenderedRefs:
    """The day's distinct challenges (with text and XP) and its keyed assignments, one
    file per shard (merging ~3M assignments with their reasons into one file would cost
    a gigabyte of memory for nothing: every reader takes a list of files)."""

    challenges: Path
    assignments: tuple[Path, ...]


@step_task("render-challenges")
def render_distinct(
    parts: list[KeyedShard], folder: Path, rows_in: int, ml_title_prefix: bool = True
) -> RenderedRefs:
    """Render each distinct challenge of the day once, in Norwegian, and price it (a few
    thousand templates for millions of assignments); ``ml_title_prefix``: the admins'
    setting of the same name ("[ML] " before ML titles)."""
    distinct = (
        pl.concat([pl.read_parquet(p.distinct) for p in parts])
        .unique("content_key", keep="first")
        .sort("content_key")
    )
    challenges = finish_challenges(render_challenges(distinct, ml_title_prefix=ml_title_prefix))
    refs = RenderedRefs(
        save(challenges, folder, RunFile.CHALLENGES), tuple(p.assignments for p in parts)
    )
    count_rows(rows_in, challenges.height)
    return refs


@step("render-challenges")
def render_day(
    selected: list[SelectedRefs], folder: Path | None, ml_title_prefix: bool = True
) -> RenderedRefs:
    """Key every shard's assignments (``key-challenges`` per shard), then render the
    union of their distinct challenges (the ``render-challenges`` task) into ``folder``,
    the run folder."""
    if folder is None:
        raise ValueError("the feature step named no run folder")
    parts: list[KeyedShard] = map_shards(key_shard, selected)
    rows_in = sum(s.rows for s in selected)
    with failing_task("render-challenges"):
        return render_distinct(parts, folder, rows_in, ml_title_prefix)


def day_frames(
    user_features: Path, rendered: RenderedRefs
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """What the run summary counts: every user's id and activity, the day's assignments
    (user, source, type, category) and how many distinct challenges the day has."""
    users = pl.read_parquet(user_features, columns=["user_id", "is_active"])
    assignments = pl.read_parquet(
        list(rendered.assignments), columns=["user_id", "source", "challenge_type", "category"]
    )
    distinct = pl.read_parquet(rendered.challenges, columns=["content_key"]).height
    return users, assignments, distinct


def struggling_learners(refs: FeatureRefs) -> pl.DataFrame:
    """Every shard's struggling learners (``user_id``, ``struggle_holdout``), for the run
    summary's count."""
    paths = [s.struggle for s in refs.shards if s.struggle is not None]
    schema = {"user_id": pl.Int64, "struggle_holdout": pl.Boolean}
    if not paths:
        return pl.DataFrame(schema=schema)
    return pl.read_parquet(paths, columns=list(schema))
