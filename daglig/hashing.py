"""Deterministic pseudo-randomness seeded from (user, date, salt), vectorised.

Polars' ``hash`` is not promised stable across versions, so integers are mixed with a
splitmix64 finaliser in numpy (wrapping uint64 arithmetic): the same (user, date, salt)
gives the same number on every machine and release. Results are uniform floats in [0, 1).
"""

from __future__ import annotations

import zlib
from datetime import date

import numpy as np
import polars as pl


def salt_of(text: str) -> int:
    """A stable 32-bit salt for a string (a challenge type, a category…)."""
    return zlib.crc32(text.encode("utf-8"))


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def uniform_array(user_id: np.ndarray, day: int, salt: np.ndarray | int) -> np.ndarray:
    """numpy twin of :func:`uniform`."""
    u = np.asarray(user_id).astype(np.uint64)
    s = np.asarray(salt).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (
            u * np.uint64(0x9E3779B97F4A7C15)
            + np.uint64(day) * np.uint64(0xD1B54A32D192ED03)
            + s * np.uint64(0xA24BAED4963EE407)
        )
    return (_splitmix(x) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def uniform(user_id: str, run_date: date, salt: str | int) -> pl.Expr:
    """Expression: a uniform [0, 1) float per row from columns ``user_id`` and ``salt``
    (a column name, or a constant int) and the run date."""
    day = run_date.toordinal()
    cols = [pl.col(user_id)] + ([pl.col(salt)] if isinstance(salt, str) else [])

    def fn(s: pl.Series) -> pl.Series:
        if isinstance(salt, str):
            u = s.struct.field(user_id).to_numpy()
            v: np.ndarray | int = s.struct.field(salt).to_numpy()
        else:
            u, v = s.to_numpy(), salt
        return pl.Series(uniform_array(u, day, v), dtype=pl.Float64)

    src = pl.struct(cols) if isinstance(salt, str) else pl.col(user_id)
    return src.map_batches(fn, return_dtype=pl.Float64)
