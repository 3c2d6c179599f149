"""The one fan-out of the nightly run: a per-shard task submitted once per shard to the
flow's task runner (threads by default, Dask workers with ``--task-runner dask``). Tasks
hand each other paths in the run folder, never frames, so a shard task can run on another
machine that sees the same folder."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any, TypeVar

from prefect.futures import wait

from tasks.common import failing_task

T = TypeVar("T")


def worker_name() -> str:
    """Where a shard task ran: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def map_shards(fn: Any, items: Sequence[T], *args: Any) -> list[Any]:
    """Submit ``fn(item, *args)`` for every item to the flow's task runner and return the
    results in item order, after all have finished (the first failure is raised then)."""
    # Not wrapped in prefect's quote(): Dask turns its tuple subclass into a plain tuple
    # and the task gets ((value,),) (prefect-dask issue #43).
    futures = [fn.submit(item, *args) for item in items]
    wait(futures)
    with failing_task(fn.name):  # the summary names the shard task that failed
        return [f.result() for f in futures]
