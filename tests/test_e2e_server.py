"""The Prefect way, end to end, with real processes: ``prefect server start`` on a free
loopback port, the process work pool, ``prefect deploy --all`` from ``prefect.yaml``, a
process worker, a nightly run for a date and a backfill of the 3 dates after it (triggered
together, so their processes start in parallel); the database rows and the artifacts are
read back. Every process started here is stopped (its whole process group).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.dq_helpers import query
from tests.prefect_server import (
    REPO,
    Processes,
    create_process_pool,
    free_port,
    latest_artifacts,
    prefect_cli,
    prefect_exe,
    read_flow_run,
    server_env,
    start_deployment_run,
    start_server,
    wait_final,
    wait_healthy,
)

pytestmark = pytest.mark.e2e

RUN = date(2026, 11, 20)  # the nightly run's date; the backfill covers RUN + 1 .. RUN + 3
USERS = 120


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A server, the work pool, both deployments and a worker, against a simulated SQLite
    app database in tmp_path."""
    from simulator import simulate

    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = server_env(tmp_path, port, PREFECT_SERVER_UI_API_URL=api, PREFECT_LOGGING_LEVEL="INFO")
    db_url = f"sqlite:///{tmp_path / 'app.db'}"
    procs = Processes(tmp_path)
    try:
        server = start_server(procs, port, env)
        # while the server boots: a small simulated app database
        simulate(db_url, users=USERS, seed=5, end_date=RUN - timedelta(days=1), history_days=30)
        wait_healthy(api, server)
        create_process_pool(api, "daglig-process")
        worker_env = env | {
            "DAGLIG_HOME": str(REPO),
            "DATABASE_URL": db_url,
            "DAGLIG_DATA_DIR": str(tmp_path / "data"),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        }
        # the worker starts up while the deployments are created
        procs.start(
            "worker",
            [prefect_exe(), "worker", "start", "--pool", "daglig-process", "--type", "process"],
            worker_env,
        )
        prefect_cli(["--no-prompt", "deploy", "--all"], env)
        yield {"api": api, "db_url": db_url, "procs": procs, "data": tmp_path / "data"}
    except BaseException:
        print(procs.tail())
        raise
    finally:
        procs.stop()


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
    nightly_id = start_deployment_run(
        api, "daily-challenges/nightly", {"run_date": RUN.isoformat()}
    )
    backfill_id = start_deployment_run(
        api,
        "backfill-daily-challenges/backfill",
        {"start_date": start.isoformat(), "end_date": end.isoformat(), "max_concurrency": 3},
    )
    nightly, backfill = wait_final(api, nightly_id), wait_final(api, backfill_id)
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
    arts = latest_artifacts(api, keys)
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
        child = read_flow_run(api, link.group(3))
        assert child.state.is_completed() and child.parent_task_run_id is not None
        assert child.name == f"daily-challenges-{r['date']}"
        assert child.deployment_id == nightly.deployment_id
    # the summary email links to the run in the UI
    emails = sorted((stack["data"] / "outbox").glob(f"daily-challenges-{RUN}-ok-*.eml"))
    assert emails and str(nightly.id) in emails[0].read_text(errors="replace")
    print(f"e2e: runs and checks took {time.perf_counter() - t0:.1f} s after the stack was up")
