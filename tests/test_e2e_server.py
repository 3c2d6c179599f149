"""The Prefect way, end to end, with real processes: ``prefect server start`` on a free
loopback port, the process work pool, ``prefect deploy --all`` from ``prefect.yaml``, a
process worker, a nightly run for a date and a backfill of the 3 dates after it (triggered
together, so their processes start in parallel); the database rows and the artifacts are
read back. Every process started here is stopped (its whole process group).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.prefect_env import PREFECT_OFFLINE
from tests.dq_helpers import query

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
RUN = date(2026, 11, 20)  # the nightly run's date; the backfill covers RUN + 1 .. RUN + 3
USERS = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prefect() -> str:
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


def _cli(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        [_prefect(), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _wait_healthy(api: str, server: subprocess.Popen[bytes], timeout: float = 90) -> None:
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


def _create_process_pool(api: str, name: str) -> None:
    """``prefect work-pool create NAME --type process``, through the client (no CLI start)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as c:
        c.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A server, the work pool, both deployments and a worker, against a simulated SQLite
    app database in tmp_path."""
    from simulator import simulate

    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DAGLIG_"))}
    env = (
        base
        | PREFECT_OFFLINE
        | {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_API_URL": api,
            "PREFECT_SERVER_UI_API_URL": api,
            "PREFECT_CLI_PROMPT": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
        }
    )
    db_url = f"sqlite:///{tmp_path / 'app.db'}"
    procs = Processes(tmp_path)
    try:
        # --no-ui: nothing here looks at it; --no-scheduler: no nightly runs of its own
        server = procs.start(
            "server",
            [_prefect(), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
            + ["--no-ui", "--no-scheduler"],
            env,
        )
        # while the server boots: a small simulated app database
        simulate(db_url, users=USERS, seed=5, end_date=RUN - timedelta(days=1), history_days=30)
        _wait_healthy(api, server)
        _create_process_pool(api, "daglig-process")
        worker_env = env | {
            "DAGLIG_HOME": str(REPO),
            "DATABASE_URL": db_url,
            "DAGLIG_DATA_DIR": str(tmp_path / "data"),
            "DAGLIG_PREFECT_UI_URL": f"http://127.0.0.1:{port}",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        }
        # the worker starts up while the deployments are created
        procs.start(
            "worker",
            [_prefect(), "worker", "start", "--pool", "daglig-process", "--type", "process"],
            worker_env,
        )
        _cli(["--no-prompt", "deploy", "--all"], env)
        yield {"api": api, "db_url": db_url, "procs": procs, "data": tmp_path / "data"}
    except BaseException:
        print(procs.tail())
        raise
    finally:
        procs.stop()


def _start(api: str, name: str, parameters: dict[str, Any]) -> Any:
    """Create a run of deployment ``name`` (as the UI's Run button does); do not wait."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}):
        return run_deployment(name, parameters=parameters, timeout=0).id


def _wait(api: str, flow_run_id: Any, timeout: float = 300) -> Any:
    """The flow run once it reaches a final state."""
    deadline = time.monotonic() + timeout
    while True:
        run = _flow_run(api, str(flow_run_id))
        if run.state is not None and run.state.is_final():
            return run
        assert time.monotonic() < deadline, f"run {run.name} still {run.state} after {timeout} s"
        time.sleep(1)


def _artifacts(api: str, keys: list[str]) -> dict[str, Any]:
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


def _flow_run(api: str, flow_run_id: str) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as c:
        return c.read_flow_run(flow_run_id)  # type: ignore[arg-type]


def _per_active_user(db_url: str, day: date) -> set[int]:
    """How many assignments each active user known before ``day`` holds for it."""
    rows = query(
        db_url,
        "SELECT COUNT(a.slot) FROM users u LEFT JOIN user_daily_challenges a "
        "ON a.user_id = u.id AND a.challenge_date = :d "
        "WHERE u.is_active AND u.created_at < :d GROUP BY u.id",
        d=day.isoformat(),
    )
    return {int(n) for (n,) in rows}


def test_server_deploy_worker_nightly_and_backfill(stack: dict[str, Any]) -> None:
    t0 = time.perf_counter()
    api, db_url = stack["api"], stack["db_url"]
    start, end = RUN + timedelta(days=1), RUN + timedelta(days=3)

    # the nightly run for RUN and a backfill of the next 3 dates, triggered together: the
    # worker runs them (and the backfill's 3 child runs) in parallel processes writing one
    # SQLite file
    nightly_id = _start(api, "daily-challenges/nightly", {"run_date": RUN.isoformat()})
    backfill_id = _start(
        api,
        "backfill-daily-challenges/backfill",
        {"start_date": start.isoformat(), "end_date": end.isoformat(), "max_concurrency": 3},
    )
    nightly, backfill = _wait(api, nightly_id), _wait(api, backfill_id)
    assert nightly.state.is_completed(), (nightly.state, stack["procs"].tail())
    assert nightly.name == f"daily-challenges-{RUN}"
    assert backfill.state.is_completed(), (backfill.state, stack["procs"].tail())
    assert backfill.name == f"backfill-{start}-to-{end}"
    for day in (RUN, start, start + timedelta(days=1), end):
        assert _per_active_user(db_url, day) == {3}  # every active user: exactly 3

    keys = [
        f"daily-challenges-{RUN}",
        f"daily-challenges-{RUN}-by-type",
        f"daily-challenges-{RUN}-by-category",
        f"daily-challenges-{RUN}-by-source",
        f"daily-challenges-{RUN}-progress",
        f"daily-challenges-{end}",
        f"backfill-{start}-to-{end}",
    ]
    arts = _artifacts(api, keys)
    assert set(arts) == set(keys)
    assert arts[f"daily-challenges-{RUN}"].startswith(f"# Daily challenges {RUN}: ok")
    ((n_assignments,),) = query(
        db_url, "SELECT COUNT(*) FROM user_daily_challenges WHERE challenge_date = :d", d=str(RUN)
    )
    by_type = arts[f"daily-challenges-{RUN}-by-type"]
    assert sum(r["assignments"] for r in by_type) == n_assignments
    assert {r["type"] for r in by_type} <= {
        "quiz",
        "perfect_score",
        "category_focus",
        "streak",
        "accuracy_challenge",
        "speed_challenge",
    }
    assert arts[f"daily-challenges-{RUN}-progress"] == 100.0
    rows = arts[f"backfill-{start}-to-{end}"]
    assert [(r["date"], r["outcome"]) for r in rows] == [
        (str(start + timedelta(days=i)), "ok") for i in range(3)
    ]
    assert all(r["assignments_added"] == r["assignments"] > 0 for r in rows)
    assert all(r["users_complete"] == r["active_users"] > 0 for r in rows)
    # each backfilled date ran as a run of the nightly deployment (a process of its own),
    # linked to the backfill as its subflow
    for r in rows:
        # the flow_run cell is a link to the run in the UI, placed before the long columns
        assert list(r)[:3] == ["date", "outcome", "flow_run"]
        link = re.fullmatch(
            r"\[([0-9a-f]{8})\]\((http://127\.0\.0\.1:\d+)/runs/flow-run/([0-9a-f-]{36})\)",
            r["flow_run"],
        )
        assert link and link.group(3).startswith(link.group(1)), r["flow_run"]
        assert link.group(2) == api.removesuffix("/api")
        child = _flow_run(api, link.group(3))
        assert child.state.is_completed() and child.parent_task_run_id is not None
        assert child.name == f"daily-challenges-{r['date']}"
        assert child.deployment_id == nightly.deployment_id
    # the summary email links to the run in the UI
    emails = sorted((stack["data"] / "outbox").glob(f"daily-challenges-{RUN}-ok-*.eml"))
    assert emails and str(nightly.id) in emails[0].read_text(errors="replace")
    print(f"e2e: runs and checks took {time.perf_counter() - t0:.1f} s after the stack was up")
