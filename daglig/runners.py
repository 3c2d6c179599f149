"""Task runners for the nightly flow: Prefect's threads (the default) or a Dask cluster.

``task_runner("dask", address)`` maps the flow's shard tasks over an existing Dask cluster;
without an address it starts a local cluster of worker *processes* for the flow run and
stops it afterwards. prefect_dask (and with it dask/distributed) is imported only when Dask
is asked for, so importing the flow stays as light as before.

Each task run on a Dask worker talks to the Prefect API itself (it creates its task run and
reports its states). It gets the API URL from the flow's settings, which prefect-dask sends
with every task, not from the worker's environment; ``api_reachable_from_workers`` makes
sure there is a URL to send (docs/prefect.md, "Dask").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from prefect.task_runners import TaskRunner

RunnerKind = Literal["threads", "dask"]
RUNNER_KINDS: tuple[str, ...] = get_args(RunnerKind)

#: The scheduler address of an existing Dask cluster (``tcp://host:8786``); unset: local.
DASK_ADDRESS_ENV = "DAGLIG_DASK_ADDRESS"

# distributed logs every scheduler/nanny/worker start and stop at INFO, and the records
# reach Prefect's console handler: ~60 lines around each run. Dask's own config key, as an
# environment variable so that the local cluster's worker processes inherit it too.
_DASK_LOG_LEVEL_ENV = "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED"


def local_cluster_kwargs(workers: int) -> dict[str, Any]:
    """``distributed.LocalCluster`` arguments: ``workers`` single-threaded processes on
    loopback, no dashboard.

    One thread per process: a shard task is single-threaded polars/numpy work, and separate
    processes are what show that shards really leave the flow's process (and would expose
    anything that does not pickle). ``dashboard_address=None`` turns the dashboard off, but
    the scheduler's small HTTP server (health, metrics) would still try port 8787 first and
    warn when two clusters meet there; the scheduler's own ``dashboard_address`` moves it
    to a free loopback port.
    """
    return {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
        "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"},
    }


def _quiet_dask_logs() -> None:
    """Dask's INFO chatter off (WARNING and up stays), unless the environment asks for it."""
    level = os.environ.setdefault(_DASK_LOG_LEVEL_ENV, "warning")
    # too late for the environment variable when distributed is already imported
    logging.getLogger("distributed").setLevel(level.upper())


def task_runner(
    kind: RunnerKind = "threads",
    dask_address: str | None = None,
    dask_workers: int = 2,
) -> TaskRunner[Any]:
    """A fresh task runner for ``generate_daily_challenges.with_options(task_runner=...)``.

    Args:
        kind: ``"threads"``: Prefect's ``ThreadPoolTaskRunner`` (the flow's default).
            ``"dask"``: prefect-dask's ``DaskTaskRunner``.
        dask_address: the scheduler of an existing Dask cluster, e.g. ``tcp://host:8786``.
            None: a temporary local cluster of ``dask_workers`` processes, started when the
            flow run starts and stopped when it ends.
        dask_workers: the size of that local cluster (ignored with an address).
    """
    if kind == "threads":
        if dask_address:
            raise ValueError("a Dask address needs kind='dask'")
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner()
    if kind != "dask":
        raise ValueError(f"unknown task runner {kind!r}: one of {', '.join(RUNNER_KINDS)}")
    if dask_workers < 1:
        raise ValueError(f"dask_workers must be at least 1, not {dask_workers}")
    _quiet_dask_logs()
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(dask_workers))


def dask_runner_from_env(dask_workers: int = 2) -> TaskRunner[Any]:
    """The Dask runner of the ``nightly-dask`` deployment: the cluster at
    ``$DAGLIG_DASK_ADDRESS`` when set (read when this is called), else a local one."""
    return task_runner("dask", os.environ.get(DASK_ADDRESS_ENV) or None, dask_workers)


@contextmanager
def api_reachable_from_workers() -> Iterator[str]:
    """Run the flow inside this when its tasks may run in other processes (Dask).

    With ``PREFECT_API_URL`` set (a Prefect server, a deployment's worker, the tests'
    harness) it changes nothing. Without it a flow uses Prefect's temporary in-process
    server, which has no URL to send along: every Dask worker process would then start a
    temporary server of its own (~25 s each, all on one SQLite file under PREFECT_HOME).
    So this starts the temporary server as a subprocess on a free loopback port and sets
    ``PREFECT_API_URL`` to it for the block; the URL travels with each task. Loopback: it
    serves a local cluster, or Dask workers on this machine; workers elsewhere need a
    Prefect server they can reach (``PREFECT_API_URL``). Yields the URL in use.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = PREFECT_API_URL.value()
    if url:
        yield url
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # Prefect's own singleton: later clients reuse it
    server.start()  # waits up to PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS; stops at exit
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield server.api_url
