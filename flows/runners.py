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
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from prefect.task_runners import TaskRunner

RunnerKind = Literal["threads", "dask"]
RUNNER_KINDS: tuple[str, ...] = get_args(RunnerKind)

#: The scheduler address of an existing Dask cluster (``tcp://host:8786``); unset: local.

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
    threads: int | None = None,
) -> TaskRunner[Any]:
    """A fresh task runner for ``generate_daily_challenges.with_options(task_runner=...)``.

    Args:
        kind: ``"threads"``: Prefect's ``ThreadPoolTaskRunner`` (the flow's default).
            ``"dask"``: prefect-dask's ``DaskTaskRunner``.
        dask_address: the scheduler of an existing Dask cluster, e.g. ``tcp://host:8786``.
            None: a temporary local cluster of ``dask_workers`` processes, started when the
            flow run starts and stopped when it ends.
        dask_workers: the size of that local cluster (ignored with an address).
        threads: the thread runner's workers (``Settings.shard_threads``; None: Prefect's
            default).
    """
    if kind == "threads":
        if dask_address:
            raise ValueError("a Dask address needs kind='dask'")
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=threads)  # type: ignore[arg-type]
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
    ``Settings.dask_address`` (``$DAGLIG_DASK_ADDRESS``, read when this is called) when
    set, else a local one."""
    return task_runner("dask", _setting("dask_address") or None, dask_workers)


def default_runner() -> TaskRunner[Any]:
    """The nightly flow's own runner: ``Settings.shard_threads`` threads
    (``$DAGLIG_SHARD_THREADS``, read when the flow's module is imported)."""
    return task_runner("threads", threads=_setting("shard_threads"))


def _setting(name: str) -> Any:
    """One field of ``Settings()``, for a runner built when a module is imported: settings
    that do not validate leave the field's default here (the run itself then fails on them,
    with one line, where it reads its settings)."""
    from pydantic import ValidationError

    from daglig.config import Settings

    try:
        return getattr(Settings(), name)
    except ValidationError:
        return Settings.model_fields[name].default


# Started by the temporary server's launcher (a fresh interpreter, before anything else):
# ask the kernel to SIGTERM this process when its parent dies (Linux PR_SET_PDEATHSIG; it
# survives the exec into uvicorn), leave at once if the parent is already gone, then exec.
_LAUNCHER = """
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass  # not Linux: the parent stops the server at exit as Prefect does
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


def _server_class() -> Any:
    from prefect.server.api.server import SubprocessASGIServer

    class TemporaryServer(SubprocessASGIServer):
        """Prefect's temporary API server (``SubprocessASGIServer``), started so that it
        cannot outlive this process or take this terminal's signals:

        - in a session of its own (``start_new_session``): a terminal's Ctrl-C (SIGINT to
          the foreground process group) reaches the run, not the server the run still
          needs to record how it ended;
        - with ``PR_SET_PDEATHSIG`` (through ``_LAUNCHER``): a SIGKILL of this process takes
          the server with it instead of leaving it re-parented to PID 1;
        - its output into ``<data dir>/logs/prefect-server.log``, not the terminal.
        """

        _instances: dict[int | None, Any] = {}  # apart from Prefect's own singleton

        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            import prefect
            from prefect.settings import get_current_settings

            from daglig.terminal import log_path

            log = log_path().with_name("prefect-server.log")
            log.parent.mkdir(parents=True, exist_ok=True)
            uvicorn = [
                "-m",
                "uvicorn",
                "--app-dir",
                str(prefect.__module_path__.parent),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ]
            env = {
                **os.environ,
                "PREFECT_UI_ENABLED": "0",
                "PREFECT__SERVER_EPHEMERAL": "1",
                "PREFECT__SERVER_FINAL": "1",
                **get_current_settings().to_environment_variables(exclude_unset=True),
            }
            with log.open("ab") as out:
                return subprocess.Popen(
                    [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *uvicorn],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

    return TemporaryServer


@contextmanager
def temporary_api() -> Iterator[str]:
    """A Prefect API for the flows this process runs; yields its URL.

    With ``PREFECT_API_URL`` set (a Prefect server, a deployment's worker, the tests'
    harness) it changes nothing. Without it, a flow would start Prefect's temporary
    in-process server, which a terminal's Ctrl-C kills along with the run and a SIGKILL
    leaves running. So this starts that server itself (see ``TemporaryServer`` in
    :func:`_server_class`: own session, dies with its parent) on a free loopback port and
    sets ``PREFECT_API_URL`` to it for the block. The server is stopped at the end.

    The same URL is what Dask workers need (``api_reachable_from_workers``): each task run
    on a worker talks to the API itself, and gets the URL from the flow's settings.
    Loopback: it serves a local cluster, or Dask workers on this machine; workers
    elsewhere need a Prefect server they can reach (``PREFECT_API_URL``).

    Start it from the main thread: ``PR_SET_PDEATHSIG`` fires when the *thread* that
    started the server ends.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = PREFECT_API_URL.value()
    if url:
        yield url
        return
    server = _server_class()()
    server.start()  # waits up to PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            try:
                yield server.api_url
            finally:
                _drain_to_api()
    finally:
        server.stop()


def _drain_to_api(timeout: float = 5) -> None:
    """Send the logs and events still queued to the API before its server stops (else
    Prefect prints "Error logging to API" at exit)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=timeout)
        except Exception:  # noqa: BLE001 - bookkeeping of the Prefect UI only
            logging.getLogger(__name__).warning("could not drain %s", worker.__name__)


#: Run the flow inside this when its tasks may run in other processes (Dask).
api_reachable_from_workers = temporary_api
