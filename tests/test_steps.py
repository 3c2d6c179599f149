"""The step clock (tasks/steps.py): what lets the flow call each task directly and still
give the summary each step's seconds and the name of the step that failed."""

from __future__ import annotations

import logging
import re

import pytest

from tasks.steps import StepClock, count_rows, step

pytestmark = pytest.mark.pure  # the fast tier: no database, no Prefect, no process


@step("outer")
def outer(fail: bool = False) -> str:
    return inner(fail)


@step("inner")
def inner(fail: bool) -> str:
    if fail:
        raise ValueError("broken")
    return "done"


@step("other")
def other() -> int:
    return 1


def test_each_outermost_step_is_timed_in_call_order() -> None:
    with StepClock() as clock:
        assert other() == 1
        assert outer() == "done"
    # "inner" ran inside "outer": its time is the outer step's
    assert list(clock.seconds) == ["other", "outer"]
    assert all(s >= 0 for s in clock.seconds.values())
    assert clock.failed is None and clock.failed_step_seconds() is None


def test_a_failing_step_is_named_even_when_the_failure_came_from_inside() -> None:
    with StepClock() as clock, pytest.raises(ValueError, match="broken"):
        outer(fail=True)
    assert clock.failed == "outer" and clock.current is None
    assert "outer" not in clock.seconds
    seconds = clock.failed_step_seconds()
    assert seconds is not None and seconds >= 0


def test_a_caught_failure_is_forgotten_when_the_next_step_starts() -> None:
    with StepClock() as clock:
        with pytest.raises(ValueError):
            inner(fail=True)
        assert clock.failed == "inner"
        other()
    assert clock.failed is None and list(clock.seconds) == ["other"]


def test_outside_a_clock_nothing_is_recorded() -> None:
    clock = StepClock()
    assert outer() == "done"
    assert clock.seconds == {}


@step("count-things")
def count_things(n: int) -> int:
    count_rows(n, n // 2, label="shard 3")
    return n // 2


@step("silent")
def silent() -> None:
    return None


def test_the_decorator_logs_the_rows_a_step_counts_with_its_own_seconds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="daglig"):
        assert count_things(10) == 5
        silent()
        with pytest.raises(ValueError):
            inner(fail=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "daglig"]
    assert len(lines) == 2, lines  # a failed step logs its failure, not a rows line
    assert re.fullmatch(r"count-things \(shard 3\): 10 rows in, 5 rows out, \d+\.\d\d s", lines[0])
    assert re.fullmatch(r"silent: \d+\.\d\d s", lines[1])


def test_count_rows_outside_a_step_is_harmless() -> None:
    count_rows(1, 1)  # nobody to hand the counts to: nothing happens, nothing raises
