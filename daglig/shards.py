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
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl

from daglig.files import atomic_path
from daglig.hashing import _splitmix
from daglig.learner.features import difficulty_bin

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


def shard_dir(root: Path, shard: int) -> Path:
    return root / f"shard-{shard:04d}"


def partition_to_parquet(
    batches: Iterable[pl.DataFrame], n: int, root: Path, flush_rows: int = 4_000_000
) -> dict[int, int]:
    """Write a stream of answer-log batches into ``root/shard-NNNN/part-NNNNN.parquet`` by
    the shard of ``user_id``, holding at most about ``flush_rows`` rows in memory. Parts
    keep the stream's order (zero-padded names sort as written). Returns rows per shard;
    every shard gets a folder, even an empty one."""
    for k in range(n):
        shard_dir(root, k).mkdir(parents=True, exist_ok=True)
    pending: list[pl.DataFrame] = []
    held = part = 0
    rows = dict.fromkeys(range(n), 0)

    def flush() -> None:
        nonlocal pending, held, part
        if not pending:
            return
        chunk = pl.concat(pending, rechunk=False)
        pending, held = [], 0
        for (k,), piece in chunk.partition_by("shard", as_dict=True, maintain_order=True).items():
            kk = int(k)  # type: ignore[call-overload]
            with atomic_path(shard_dir(root, kk) / f"part-{part:05d}.parquet") as tmp:
                piece.drop("shard").write_parquet(tmp, compression="lz4", statistics=False)
            rows[kk] += piece.height
        part += 1

    for batch in batches:
        if batch.height == 0:
            continue
        pending.append(with_shard(batch, n))
        held += batch.height
        if held >= flush_rows:
            flush()
    flush()
    return rows


def read_shard(
    root: Path, shard: int, schema: dict[str, pl.DataType | type[pl.DataType]]
) -> pl.LazyFrame:
    """One shard's answer-log rows, in stream order (empty with ``schema`` when none)."""
    parts = sorted(shard_dir(root, shard).glob("part-*.parquet"))
    if not parts:
        return pl.LazyFrame(schema=schema)
    return pl.scan_parquet(parts)


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
    the same Laplace estimates ``daglig.learner.features`` computes over one log."""
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
