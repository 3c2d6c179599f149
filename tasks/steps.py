"""The steps of a run, timed: what lets the flow call each task directly.

The flow opens a :class:`StepClock` for the run (``with StepClock(progress) as clock:``);
every step called inside it records itself there:

- a Prefect task made by :func:`step_task` (pure compute) or ``tasks.retry.io_task``
  (database, disk, SMTP: with the retry policy) is a :class:`StepTask`;
- a step that fans a per-shard task out (``extract-features``, ``assess-learners``,
  ``select-challenges``, ``render-challenges``) is a plain function decorated with
  :func:`step`.

Every task made here logs one line when it is done (``<name>: N rows in, M rows out, S s``;
the task says its counts with :func:`count_rows`, the decorator measures the seconds), and fails
with **one line** as its Prefect state message: the task's
function catches its exception, logs it with the traceback (the task run's log keeps the
statement and its parameters) and returns ``Failed(message=error_line(exc), data=exc)``.
Prefect applies the retry policy to a returned failed state as to a raised exception
(``retry_condition_fn`` reads ``state.data``), a submitted task's ``future.result()``
raises the exception, and a direct call in the flow raises it too (:class:`OneLineTask`):
callers see the exception itself, people see ``IntegrityError: … read-only …``.

A step records its seconds (retries included) under its name, moves the run's progress
artifact one step on, and, when it raises, leaves its name and start on the clock
(``failed``, ``failed_started``) for the summary's failed task. A step called inside
another step (``render-challenges`` inside its fan-out step, the tasks of a backfill's
inner run) belongs to the outer one: only the outermost is timed. Outside a clock (a task
called in a test, a per-shard task submitted to the runner) nothing is recorded.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from prefect import Task, get_run_logger
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import State
from prefect.exceptions import MissingContextError
from prefect.states import Failed

from daglig.errors import error_line
from tasks.progress import Progress

P = ParamSpec("P")
R = TypeVar("R")


class StepClock:
    """One run's step times, the running step, and the step that failed."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self.current: str | None = None
        self.failed: str | None = None
        self.failed_started: datetime | None = None  # when the failed step began (UTC)
        self.progress = progress
        self._token: Token[StepClock | None] | None = None

    def __enter__(self) -> StepClock:
        self._token = _CLOCK.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _CLOCK.reset(self._token)
            self._token = None

    def failed_step_seconds(self) -> float | None:
        """The failed step's time until now, its retries included."""
        if self.failed_started is None:
            return None
        return round((datetime.now(UTC) - self.failed_started).total_seconds(), 3)


_CLOCK: ContextVar[StepClock | None] = ContextVar("daglig_step_clock", default=None)


@contextmanager
def timing(name: str) -> Iterator[None]:
    """Record the step ``name`` on the run's clock (see the module docstring)."""
    clock = _CLOCK.get()
    if clock is None or clock.current is not None:  # no run's clock, or inside a step
        yield
        return
    clock.current, clock.failed, clock.failed_started = name, None, None
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        yield
    except BaseException:
        clock.failed, clock.failed_started = name, started
        raise
    finally:
        clock.current = None
    clock.seconds[name] = round(time.perf_counter() - t0, 3)
    if clock.progress is not None:
        clock.progress.advance(1, f"{name} done")


def report_progress(description: str) -> None:
    """Say ``description`` on the run's progress artifact (no step is counted)."""
    clock = _CLOCK.get()
    if clock is not None and clock.progress is not None:
        clock.progress.advance(0, description)


def step(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A step that is not one task (a fan-out of a per-shard task): timed as ``name`` and
    logged as a task is (:func:`logged`)."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            with timing(name), logged(name):
                return fn(*args, **kwargs)

        return timed

    return decorate


_ROWS: ContextVar[list[Any] | None] = ContextVar("daglig_step_rows", default=None)


def count_rows(rows_in: int, rows_out: int, label: str = "") -> None:
    """Tell the task (or step) running this how many rows went in and out (``label``: which
    part, e.g. ``shard 3``); its decorator logs them with its seconds when it is done."""
    box = _ROWS.get()
    if box is not None:
        box[:] = [rows_in, rows_out, label]


def in_logged_step() -> bool:
    """True inside a task or step whose decorator logs its rows (:func:`logged`)."""
    return _ROWS.get() is not None


def _logger() -> Any:
    try:
        return get_run_logger()
    except MissingContextError:  # a task's function called bare (task.fn) in a script or test
        return logging.getLogger("daglig")


@contextmanager
def logged(name: str) -> Iterator[None]:
    """Log ``name``'s rows (:func:`count_rows`) and seconds once it is done (not when it fails:
    the failure is logged with its traceback)."""
    box: list[Any] = []
    token = _ROWS.set(box)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        _ROWS.reset(token)
    seconds = time.perf_counter() - t0
    if box:
        rows_in, rows_out, label = box
        what = f"{name} ({label})" if label else name
        _logger().info("%s: %d rows in, %d rows out, %.2f s", what, rows_in, rows_out, seconds)
    else:
        _logger().info("%s: %.2f s", name, seconds)


def task_body(name: str, fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` as the function of the task ``name``: logged (:func:`logged`), and failing
    as a one-line ``Failed`` state (see the module docstring). ``BaseException`` that is
    not an ``Exception`` (Ctrl-C, a cancellation) passes through untouched."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with logged(name):
                return fn(*args, **kwargs)
        except Exception as exc:
            line = error_line(exc)
            _logger().error("%s", line, exc_info=exc)
            failed: Any = Failed(message=line, data=exc)
            return failed  # type: ignore[no-any-return]

    return run


def raise_failure(result: Any, kwargs: dict[str, Any]) -> Any:
    """A direct call's result: the exception of a failed state the task returned, raised
    (unless the caller asked for the state)."""
    if kwargs.get("return_state") or not isinstance(result, State) or not result.is_failed():
        return result
    exc = result.data
    if isinstance(exc, BaseException):
        raise exc
    return result.result()  # raises Prefect's own error for a state without an exception


class OneLineTask(Task[P, R]):
    """A Prefect task whose direct call raises the exception of the one-line failed state
    its function returned (:func:`task_body`)."""

    if not TYPE_CHECKING:  # mypy keeps Task's typed overloads of __call__

        def __call__(self, *args, **kwargs):
            return raise_failure(super().__call__(*args, **kwargs), kwargs)

        def with_options(self, *args, **kwargs):
            changed = super().with_options(*args, **kwargs)
            changed.__class__ = type(self)  # Task.with_options builds a plain Task
            return changed


class StepTask(OneLineTask[P, R]):
    """A task that also records itself on the run's clock when the flow calls it."""

    if not TYPE_CHECKING:

        def __call__(self, *args, **kwargs):
            with timing(self.name):
                return super().__call__(*args, **kwargs)


def step_task(
    name: str, *, timed: bool = True, **options: Any
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """The decorator of a pure-compute task of the flow: its Prefect name, no retries, no
    result cache, timed as a step. I/O tasks take ``tasks.retry.io_task`` instead.
    ``timed=False``: the run's bookkeeping (its row, its summary, its email), not a step."""

    def decorate(fn: Callable[P, R]) -> Task[P, R]:
        cls = StepTask if timed else OneLineTask
        return cls(fn=task_body(name, fn), name=name, cache_policy=NONE, **options)

    return decorate


def as_step(task: Task[P, R]) -> StepTask[P, R]:
    """A task declared with plain ``@task`` (``tasks/settings.py``, a file this layer does
    not change), timed as a step under its own name, failing in one line."""
    timed: Any = task.with_options()
    timed.__class__ = StepTask
    timed.fn = task_body(task.name, task.fn)
    return timed  # type: ignore[no-any-return]
