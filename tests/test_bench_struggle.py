"""``python -m bench struggle`` (bench/struggle.py): its counts add up on a small simulation."""

from __future__ import annotations

from datetime import date

from bench.struggle import SIGNALS, struggle
from daglig.learner.struggle import WRONG_RUN_MIN


def test_the_struggle_counts_add_up() -> None:
    out = struggle(400, seed=3, run_date=date(2026, 11, 24))
    c, runs = out["counts"], out["trailing_wrong_run"]
    assert 0 < c["learners"] <= out["active_users"] <= 400
    assert sum(runs.values()) == c["learners"]
    assert c["wrong_run"] == sum(n for k, n in runs.items() if int(k) >= WRONG_RUN_MIN)
    fired = sum(c[s] for s in SIGNALS)
    assert c["any_signal"] <= fired <= c["any_signal"] + 3 * c["two_or_more"]
    assert c["two_or_more"] <= c["any_signal"] <= c["learners"]
    assert out["sessions_read"] > 0
    assert c["wrong_run"] > 0  # a simulated history has learners on a losing streak
