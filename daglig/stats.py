"""Small statistics shared by the reports: a difference of means with its 95 % interval."""

from __future__ import annotations

import math

import numpy as np


def welch(a: np.ndarray, b: np.ndarray) -> dict[str, float | int | None]:
    """Means of ``a`` and ``b`` (NaNs dropped), their difference and its 95 % Welch
    interval (normal quantile: the groups compared here have dozens of members or more).
    With fewer than two values on a side the difference is None and no interval is given;
    the mean of an empty side is None. Never NaN: the result goes into JSON (the run's
    result, the admin API), which has no NaN."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size < 2 or b.size < 2:
        return {
            "ml": round(float(a.mean()), 4) if a.size else None,
            "holdout": round(float(b.mean()), 4) if b.size else None,
            "diff": None,
            "n_ml": int(a.size),
            "n_holdout": int(b.size),
        }
    diff = float(a.mean() - b.mean())
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    return {
        "ml": round(float(a.mean()), 4),
        "holdout": round(float(b.mean()), 4),
        "diff": round(diff, 4),
        "ci_low": round(diff - 1.96 * se, 4),
        "ci_high": round(diff + 1.96 * se, 4),
        "n_ml": int(a.size),
        "n_holdout": int(b.size),
    }
