"""The answer log of a run split into shard folders of Parquet parts (the rule of which
user goes to which shard is the pure ``daglig.shards``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from daglig.io.files import atomic_path
from daglig.shards import with_shard


def shard_dir(root: Path, shard: int) -> Path:
    return root / f"shard-{shard:04d}"


@dataclass(frozen=True, slots=True)
class Partitioned:
    """What :func:`partition_to_parquet` wrote: rows per shard and the largest
    ``attempt_id`` among them (0 when none), noted while writing."""

    rows: dict[int, int]
    max_attempt_id: int = 0


def partition_to_parquet(
    batches: Iterable[pl.DataFrame], n: int, root: Path, flush_rows: int = 4_000_000
) -> Partitioned:
    """Write a stream of answer-log batches into ``root/shard-NNNN/part-NNNNN.parquet`` by
    the shard of ``user_id``, holding at most about ``flush_rows`` rows in memory. Parts
    keep the stream's order (zero-padded names sort as written). Returns rows per shard
    and the largest attempt id written; every shard gets a folder, even an empty one."""
    for k in range(n):
        shard_dir(root, k).mkdir(parents=True, exist_ok=True)
    pending: list[pl.DataFrame] = []
    held = part = 0
    rows = dict.fromkeys(range(n), 0)
    max_id = 0

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
        if "attempt_id" in batch.columns:
            top = batch.select(pl.col("attempt_id").max()).item()
            max_id = max(max_id, int(top or 0))
        pending.append(with_shard(batch, n))
        held += batch.height
        if held >= flush_rows:
            flush()
    flush()
    return Partitioned(rows, max_id)


def read_shard(
    root: Path, shard: int, schema: dict[str, pl.DataType | type[pl.DataType]]
) -> pl.LazyFrame:
    """One shard's answer-log rows, in stream order (empty with ``schema`` when none)."""
    parts = sorted(shard_dir(root, shard).glob("part-*.parquet"))
    if not parts:
        return pl.LazyFrame(schema=schema)
    return pl.scan_parquet(parts)
