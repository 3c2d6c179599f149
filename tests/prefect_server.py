"""A real Prefect server for the end-to-end tests (``prefect server start`` on a free
loopback port, in its own process group, its log in a file) and the API calls they share:
start a deployment's run, wait for a final state, read a flow run and artifacts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from flows.prefect_env import PREFECT_OFFLINE

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"


def server_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    """This process's environment without its Prefect and daglig settings, offline, with a
    Prefect home in ``tmp_path`` and the API (and UI) on ``port``; plus ``extra``."""
    api = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DAGLIG_"))}
    return (
        base
        | PREFECT_OFFLINE
        | {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_API_URL": api,
            "PREFECT_UI_URL": f"http://127.0.0.1:{port}",
            "DAGLIG_PREFECT_UI_URL": f"http://127.0.0.1:{port}",
            "PREFECT_CLI_PROMPT": "false",
        }
        | extra
    )


def start_server(procs: Processes, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``prefect server start`` on ``port`` without the UI (nothing here looks at it) and
    without its scheduler (no nightly runs of its own); not yet healthy: :func:`wait_healthy`."""
    return procs.start(
        "server",
        [prefect_exe(), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        + ["--no-ui", "--no-scheduler"],
        env,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prefect_exe() -> str:
    exe = BIN / "prefect"
    return str(exe) if exe.exists() else "prefect"


class Processes:
    """Processes started in their own process groups, logs in files; stop() ends them all."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append((name, proc))
        return proc

    def stop(self) -> None:
        for _, proc in reversed(self.started):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, proc in reversed(self.started):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    def tail(self, lines: int = 40) -> str:
        out = []
        for name, _ in self.started:
            text = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()
            out.append(f"--- {name} (last {lines} lines) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)


def prefect_cli(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        [prefect_exe(), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def wait_healthy(api: str, server: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "prefect server exited"
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"prefect server at {api} not healthy after {timeout} s")


def create_process_pool(api: str, name: str) -> None:
    """``prefect work-pool create NAME --type process``, through the client (no CLI start)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as c:
        c.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))


def start_deployment_run(api: str, name: str, parameters: dict[str, Any]) -> Any:
    """Create a run of deployment ``name`` (as the UI's Run button does); do not wait."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}):
        return run_deployment(name, parameters=parameters, timeout=0).id


def wait_final(api: str, flow_run_id: Any, timeout: float = 300) -> Any:
    """The flow run once it reaches a final state."""
    deadline = time.monotonic() + timeout
    while True:
        run = read_flow_run(api, str(flow_run_id))
        if run.state is not None and run.state.is_final():
            return run
        assert time.monotonic() < deadline, f"run {run.name} still {run.state} after {timeout} s"
        time.sleep(1)


def latest_artifacts(api: str, keys: list[str]) -> dict[str, Any]:
    """The latest artifact under each key (key → data, JSON-decoded for tables)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    out: dict[str, Any] = {}
    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as c:
        for key in keys:
            found = c.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                sort=ArtifactSort.CREATED_DESC,
            )
            if found:
                a = found[0]
                out[key] = json.loads(a.data) if a.type == "table" else a.data
    return out


def read_flow_run(api: str, flow_run_id: str) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as c:
        return c.read_flow_run(flow_run_id)  # type: ignore[arg-type]
