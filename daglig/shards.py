"""Shards: users split by a stable hash, so a night's work runs in bounded pieces.

A user's shard is ``splitmix64(user_id) mod n``: the same on every machine, Python and
Polars release (Polars' own ``hash`` is not promised stable), and even for skewed or
clustered ids. Every per-user step (features, assessment, selection, rendering) depends
only on the user's own rows plus two population statistics, so a run gives the same
rows whatever the shard count; the population statistics are summed from per-shard
counts (:func:`population_partials`, :func:`population_stats`) before they are used.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from daglig.hashing import _splitmix
from daglig.learner.examples import difficulty_bin

SHARD_SALT = np.uint64(0x5AD5_D0C5_1234_ABCD)


def shard_count(users: int, shard_users: int, requested: int | None = None) -> int:
    """How many shards a run uses: as requested, else one per ``shard_users`` users (at
    least one: small data is one shard)."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"shards must be at least 1, got {requested}")
        return requested
    return max(1, math.ceil(users / max(1, shard_users)))


def shard_of(user_id: pl.Series, n: int) -> pl.Series:
    """The shard (0 .. n-1, Int32) of each user id."""
    u = user_id.to_numpy().astype(np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = _splitmix(u ^ SHARD_SALT)
    return pl.Series("shard", (mixed % np.uint64(n)).astype(np.int32), dtype=pl.Int32)


def with_shard(frame: pl.DataFrame, n: int, column: str = "user_id") -> pl.DataFrame:
    """``frame`` with its rows' ``shard`` column (the input is not modified)."""
    return frame.with_columns(shard_of(frame[column], n))


def population_partials(clean: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Counts that the population statistics are built from, for one shard's clean log:
    answers and right answers per difficulty bin, and per category."""
    bins = clean.group_by(d_bin=difficulty_bin(pl.col("difficulty"))).agg(
        n=pl.len().cast(pl.Int64), c=pl.col("is_correct").sum().cast(pl.Int64)
    )
    cats = clean.group_by("category").agg(
        n=pl.len().cast(pl.Int64), c=pl.col("is_correct").sum().cast(pl.Int64)
    )
    return bins, cats


def population_stats(
    bins: list[pl.DataFrame], cats: list[pl.DataFrame]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The difficulty curve (``d_bin``, ``q_expected``) and category accuracy
    (``category``, ``cat_accuracy``) of the whole population, from every shard's counts:
    the same Laplace estimates ``daglig.learner.examples`` computes over one log."""
    curve = (
        pl.concat(bins)
        .group_by("d_bin")
        .agg(pl.col("n").sum(), pl.col("c").sum())
        .select("d_bin", q_expected=(pl.col("c") + 1) / (pl.col("n") + 2))
        .sort("d_bin")
    )
    cat_acc = (
        pl.concat(cats)
        .group_by("category")
        .agg(pl.col("n").sum(), pl.col("c").sum())
        .select("category", cat_accuracy=(pl.col("c") + 1) / (pl.col("n") + 2))
        .sort("category")
    )
    return curve, cat_acc
