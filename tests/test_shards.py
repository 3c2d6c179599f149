"""Shards: a stable hash, a bounded-memory split of the answer log, population statistics
that do not depend on the shard count."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from daglig.io.shard_files import partition_to_parquet, read_shard
from daglig.learner.examples import difficulty_curve
from daglig.shards import population_partials, population_stats, shard_count, shard_of

pytestmark = pytest.mark.pure  # the fast tier: no database, no Prefect, no process


def test_a_users_shard_is_pinned_across_releases() -> None:
    # golden values: a change here moves users between shards (and their run folders)
    ids = pl.Series([1, 2, 3, 1_000_000, 2**40], dtype=pl.Int64)
    assert shard_of(ids, 1).to_list() == [0] * 5
    assert shard_of(ids, 7).to_list() == [1, 1, 4, 3, 1]


def test_shards_are_balanced_for_dense_and_clustered_ids() -> None:
    dense = pl.Series(range(1, 100_001), dtype=pl.Int64)
    strided = pl.Series(range(0, 1_000_000, 10), dtype=pl.Int64)
    for ids in (dense, strided):
        counts = shard_of(ids, 8).value_counts()["count"]
        assert counts.len() == 8
        assert counts.max() / counts.min() < 1.05  # type: ignore[operator]


@pytest.mark.parametrize(
    ("users", "per_shard", "requested", "expected"),
    [
        (0, 50_000, None, 1),
        (10, 50_000, None, 1),
        (50_000, 50_000, None, 1),
        (50_001, 50_000, None, 2),
        (1_000_000, 50_000, None, 20),
        (10, 50_000, 3, 3),
    ],
)
def test_shard_count(users: int, per_shard: int, requested: int | None, expected: int) -> None:
    assert shard_count(users, per_shard, requested) == expected


def test_a_shard_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        shard_count(10, 5, 0)


SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "attempt_id": pl.Int64,
    "user_id": pl.Int64,
    "is_correct": pl.Boolean,
}


def batches(n_batches: int, rows: int) -> list[pl.DataFrame]:
    return [
        pl.DataFrame(
            {
                "attempt_id": range(b * rows, (b + 1) * rows),
                "user_id": [(i * 7919) % 97 for i in range(b * rows, (b + 1) * rows)],
                "is_correct": [i % 3 == 0 for i in range(rows)],
            },
            schema=SCHEMA,
        )
        for b in range(n_batches)
    ]


@pytest.mark.parametrize("flush_rows", [1, 250, 10_000])
def test_the_split_keeps_every_row_once_in_its_users_shard(tmp_path: Path, flush_rows: int) -> None:
    src = batches(6, 100)
    written = partition_to_parquet(iter(src), 4, tmp_path, flush_rows=flush_rows)
    rows = written.rows
    assert sum(rows.values()) == 600
    assert written.max_attempt_id == 599
    back = []
    for k in range(4):
        part = read_shard(tmp_path, k, SCHEMA).collect()
        assert part.height == rows[k]
        assert (shard_of(part["user_id"], 4) == k).all()
        assert part["attempt_id"].is_sorted()  # stream order kept
        back.append(part)
    assert pl.concat(back).sort("attempt_id").equals(pl.concat(src))


def test_an_empty_shard_reads_as_an_empty_frame(tmp_path: Path) -> None:
    assert partition_to_parquet(iter([]), 3, tmp_path).max_attempt_id == 0
    assert read_shard(tmp_path, 2, SCHEMA).collect().schema == pl.Schema(SCHEMA)


def test_population_statistics_summed_over_shards_equal_the_whole_logs() -> None:
    log = pl.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3, 3, 4, 5],
            "category": ["a", "b", "a", "a", "b", "c", "c", "a"],
            "difficulty": [0.05, 0.5, None, 0.95, 0.5, 0.51, 0.05, 0.99],
            "is_correct": [True, False, True, True, False, True, False, True],
            "answered_at": [datetime(2026, 11, 1)] * 8,
        }
    )
    whole = difficulty_curve(log.lazy()).collect().sort("d_bin")
    shards = [log.filter(shard_of(log["user_id"], 3) == k) for k in range(3)]
    partials = [pl.collect_all(population_partials(s.lazy())) for s in shards]
    curve, cat_acc = population_stats([b for b, _ in partials], [c for _, c in partials])
    assert curve.equals(whole)
    assert cat_acc.to_dicts() == [
        {"category": "a", "cat_accuracy": (4 + 1) / (4 + 2)},
        {"category": "b", "cat_accuracy": (0 + 1) / (2 + 2)},
        {"category": "c", "cat_accuracy": (1 + 1) / (2 + 2)},
    ]
