"""Ctrl-C during a run: stop within seconds, say what was written, exit 130.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group. The ``daglig``
command blocks SIGINT in every thread and awaits it in one thread of its own
(:func:`take_over_sigint`, ``signal.sigwait``), so inside :func:`interruptible` it is
handled at once, even while the main thread waits for a task or sits in a long database or
DataFrame call that Python's own handler would have to wait for. Handling it:

1. close the commit gate (:func:`guarded_commits`): a write already committing finishes
   first; one that has not reached its commit never will (the database rolls its
   transaction back when the process ends);
2. mark the run's ``pipeline_runs`` row ``interrupted`` and its Prefect flow run Cancelled
   (each bounded to a few seconds, best effort: the next run marks what is left as crashed);
3. stop the process's children (the temporary Prefect server, Dask workers);
4. print ``interrupted: nothing was written for <date>`` (or what was) and exit 130 at once,
   without waiting for threads still computing.

The whole handling is bounded by :data:`DEADLINE_SECONDS`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

DEADLINE_SECONDS = 8.0  # the whole handling, whatever hangs: Ctrl-C ends a run within 10 s
BOOKKEEPING_SECONDS = 3.0  # each of: the pipeline_runs row, the Prefect flow run


class InterruptedBeforeCommit(RuntimeError):
    """The run was interrupted (Ctrl-C) before its write committed; nothing was written."""


@dataclass
class RunInProgress:
    """What an interrupt needs to know about the run in this process."""

    run_date: date
    database_url: str
    started_at: datetime  # naive UTC, as pipeline_runs keeps it
    flow_run_id: str | None = None
    api_url: str | None = None  # the Prefect API the flow run reports to
    row_id: int | None = None  # its pipeline_runs row, once recorded
    written: dict[str, int | str] | None = None  # the write's counts, once committed


@dataclass
class _State:
    lock: threading.RLock = field(default_factory=threading.RLock)
    closed: bool = False
    run: RunInProgress | None = None


_state = _State()


def start_run(run: RunInProgress) -> None:
    """The flow's run in this process (the last one started, for a backfill's dates)."""
    with _state.lock:
        _state.run = run


def current_run() -> RunInProgress | None:
    return _state.run


@contextmanager
def guarded_commits(
    engine: Any, run_date: date, before_commit: Callable[[Any], None] | None = None
) -> Iterator[Callable[[dict[str, int | str]], None]]:
    """Around one day's write on ``engine``: each commit passes the gate (refused once an
    interrupt closed it) and runs ``before_commit(connection)`` inside the transaction.
    Yields ``committed(counts)``, to call once the write returned: the gate stays held from
    the commit until then, so an interrupt sees the write either done or never done."""
    from sqlalchemy import event

    held = threading.local()
    held.count = 0

    def on_commit(conn: Any) -> None:
        _state.lock.acquire()
        if _state.closed:
            _state.lock.release()
            raise InterruptedBeforeCommit(f"interrupted before the write for {run_date} committed")
        held.count += 1
        if before_commit is not None:
            before_commit(conn)

    def committed(counts: dict[str, int | str]) -> None:
        run = _state.run
        if run is not None and run.run_date == run_date:
            run.written = counts

    event.listen(engine, "commit", on_commit)
    try:
        yield committed
    finally:
        event.remove(engine, "commit", on_commit)
        for _ in range(held.count):
            _state.lock.release()


def close_gate(timeout: float) -> bool:
    """Refuse every later commit; wait up to ``timeout`` for one in progress. False when
    a commit was still in progress after ``timeout`` (it may or may not complete)."""
    if not _state.lock.acquire(timeout=timeout):
        _state.closed = True  # no new commit; the one in progress is beyond reach
        return False
    _state.closed = True
    return True


def what_was_written(run: RunInProgress | None, settled: bool) -> str:
    """The one line an interrupt prints."""
    if run is None:
        return "interrupted before the run started: nothing was written"
    day = run.run_date.isoformat()
    if not settled:
        return f"interrupted while the write for {day} was committing: check the day"
    if run.written is None:
        return f"interrupted: nothing was written for {day}"
    w = run.written
    return (
        f"interrupted after the write for {day} committed: "
        f"{w.get('assignments_inserted', 0)} assignments added, "
        f"{w.get('assignments_replaced', 0)} replaced (the summary email was not sent)"
    )


def _bounded(seconds: float, fn: Callable[[], None]) -> None:
    """Run ``fn`` in a daemon thread for at most ``seconds``."""
    t = threading.Thread(target=fn, daemon=True, name="interrupt-bookkeeping")
    t.start()
    t.join(seconds)


def _stop_children() -> None:
    """Terminate this process's children (temporary Prefect server, Dask workers)."""
    try:
        import psutil

        children = psutil.Process().children(recursive=True)
        for c in children:
            c.terminate()
        _, alive = psutil.wait_procs(children, timeout=2)
        for c in alive:
            c.kill()
    except Exception:  # noqa: BLE001 - best effort: the server also dies with its parent
        pass


def handle_interrupt(on_bookkeeping: Callable[[RunInProgress, str], None] | None) -> None:
    """Everything after Ctrl-C (see the module docstring); ends the process with 130."""
    started = time.monotonic()

    def hard_exit() -> None:  # whatever hangs below, the process ends in time
        time.sleep(DEADLINE_SECONDS)
        sys.stderr.write("interrupted (clean-up did not finish in time)\n")
        sys.stderr.flush()
        os._exit(130)

    threading.Thread(target=hard_exit, daemon=True, name="interrupt-deadline").start()
    settled = close_gate(timeout=DEADLINE_SECONDS / 2)
    run = _state.run
    line = what_was_written(run, settled)
    t_gate = time.monotonic()
    if run is not None and on_bookkeeping is not None:
        book = on_bookkeeping
        _bounded(2 * BOOKKEEPING_SECONDS, lambda: book(run, line))
    t_book = time.monotonic()
    _stop_children()
    t_children = time.monotonic()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    from daglig.terminal import log_to_file

    log_to_file(
        f"{line} ({time.monotonic() - started:.1f} s after Ctrl-C: gate "
        f"{t_gate - started:.1f} s, bookkeeping {t_book - t_gate:.1f} s, children "
        f"{t_children - t_book:.1f} s)"
    )
    os._exit(130)


def _exit_quietly() -> None:
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    os._exit(130)


# What the SIGINT thread does: outside a run, end quietly (exit 130); inside
# interruptible(), handle the run's end. Never KeyboardInterrupt in the main thread: a
# library catching BaseException (seen: pydantic wrapped it into a serialization error;
# once a run went on and wrote its day after Ctrl-C) would swallow it. Ending the process
# is safe outside a run's commit gate: an uncommitted transaction rolls back.
_handler: dict[str, Callable[[], None]] = {"on_sigint": _exit_quietly}


def take_over_sigint() -> None:
    """For the ``daglig`` process itself, first thing, before any thread exists: block
    SIGINT in every thread (threads inherit the mask; a library thread that did not block
    it would take the signal and leave it to the main thread, which runs Python signal
    handlers only between bytecodes: never while it waits on a task or sits in a long C
    call) and wait for it in a thread of its own. Inside :func:`interruptible` that
    thread handles the interrupt at once; elsewhere it ends the process (exit 130)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    def wait() -> None:
        while True:
            signal.sigwait({signal.SIGINT})
            _handler["on_sigint"]()  # ends the process

    threading.Thread(target=wait, daemon=True, name="sigint").start()


@contextmanager
def interruptible(on_bookkeeping: Callable[[RunInProgress, str], None] | None) -> Iterator[None]:
    """Handle Ctrl-C as the module docstring says while the block runs (in a process that
    called :func:`take_over_sigint`; elsewhere, e.g. a test calling the CLI in-process,
    Ctrl-C stays Python's KeyboardInterrupt). Undone on exit."""
    previous = _handler["on_sigint"]
    _handler["on_sigint"] = lambda: handle_interrupt(on_bookkeeping)
    try:
        yield
    finally:
        _handler["on_sigint"] = previous
        with _state.lock:
            _state.run = None
            _state.closed = False
