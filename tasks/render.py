"""Render each distinct challenge once in Norwegian and price it (pure compute)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NONE

from daglig.challenges import distinct_challenges, finish_challenges, with_content_key
from daglig.rendering import render_challenges
from tasks.common import log_rows, save


@dataclass(frozen=True, slots=True)
class RenderedRefs:
    """The day's distinct challenges (with text and XP) and the keyed assignments."""

    challenges: Path
    assignments: Path


@task(name="render-challenges", cache_policy=NONE)
def render_day(assignments_path: Path) -> RenderedRefs:
    t0 = time.perf_counter()
    keyed = with_content_key(pl.read_parquet(assignments_path))
    challenges = finish_challenges(render_challenges(distinct_challenges(keyed)))
    folder = assignments_path.parent
    refs = RenderedRefs(
        save(challenges, folder, "challenges"), save(keyed, folder, "assignments_keyed")
    )
    log_rows("render-challenges", keyed.height, challenges.height, time.perf_counter() - t0)
    return refs
