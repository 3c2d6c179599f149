"""The step clock (tasks/steps.py): what lets the flow call each task directly and still
give the summary each step's seconds and the name of the step that failed."""

from __future__ import annotations

import pytest

from tasks.steps import StepClock, step

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
