"""Choose today's challenges for every active user (pure compute: no retries)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NONE

from daglig.challenge_settings import ChallengeSettings
from daglig.selection import SelectionInputs, Selector
from tasks.common import log_rows, save
from tasks.features import FeatureRefs


@task(name="select-challenges", cache_policy=NONE)
def select_challenges(
    refs: FeatureRefs, challenge_settings: ChallengeSettings, run_date: date, selector: Selector
) -> Path:
    """Active users' features → assignments (user, slot, challenge parameters, reason)."""
    t0 = time.perf_counter()
    users = pl.read_parquet(refs.user_features).filter(pl.col("is_active"))
    inputs = SelectionInputs(
        run_date=run_date,
        users=users,
        user_categories=pl.read_parquet(refs.user_category_features),
        previous=pl.read_parquet(refs.previous),
        settings=challenge_settings,
    )
    assignments = selector.select(inputs)
    path = save(assignments, refs.user_features.parent, "assignments")
    log_rows("select-challenges", users.height, assignments.height, time.perf_counter() - t0)
    return path
