"""The run's counts as table artifacts: assignments by type, category and source.

Rows are lists of dicts (Prefect stores a polars DataFrame given to a table artifact
transposed). Keys are ``daily-challenges-<run date>-by-<dimension>``, so the UI's
Artifacts page shows each dimension's history day by day.
"""

from __future__ import annotations

from typing import Any

from daglig.catalogue import CATEGORIES
from daglig.summary import SOURCE_NO, TYPE_NO, RunSummary

DIMENSIONS: tuple[str, ...] = ("type", "category", "source")


def _names(dimension: str) -> dict[str, str]:
    if dimension == "type":
        return TYPE_NO
    if dimension == "source":
        return SOURCE_NO
    return {k: c.name_no for k, c in CATEGORIES.items()} | {"none": "Uten kategori"}


def count_rows(counts: dict[str, int], dimension: str) -> list[dict[str, Any]]:
    """One row per value: its key, Norwegian name, assignments and share in percent."""
    total = sum(counts.values())
    names = _names(dimension)
    return [
        {
            dimension: key,
            "name_no": names.get(key, key),
            "assignments": n,
            "share_percent": round(100.0 * n / total, 1) if total else 0.0,
        }
        for key, n in counts.items()
    ]


def count_tables(summary: RunSummary) -> dict[str, list[dict[str, Any]]]:
    """Artifact key → rows, for each dimension that has counts (none for a failed run)."""
    by = {"type": summary.by_type, "category": summary.by_category, "source": summary.by_source}
    day = summary.run_date.isoformat()
    return {
        f"daily-challenges-{day}-by-{dim}": count_rows(by[dim], dim)
        for dim in DIMENSIONS
        if by[dim]
    }
