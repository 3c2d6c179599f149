"""The shard tasks on Dask: the runner factory, the CLI options, the ``nightly-dask``
deployment, and a small day run on a local 2-worker Dask cluster that must write exactly
what the default (threads) runner writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.prefect_env import apply_offline_settings
from flows.runners import local_cluster_kwargs, task_runner
from tests.builders import environ
from tests.dq_helpers import copy_world

apply_offline_settings()

REPO = Path(__file__).resolve().parent.parent
RUN = date(2026, 11, 24)
USERS = 300
SHARDS = 3

# what two runs of one day on one database must agree on (not timings, paths, workers)
SAME_COUNTS = (
    "status",
    "selector",
    "users_total",
    "users_active",
    "users_served",
    "users_skipped",
    "assignments",
    "distinct_challenges",
    "by_source",
    "by_type",
    "by_category",
    "answers_used",
    "answers_after_cutoff",
    "quarantined",
    "written",
    "ml_status",
    "model_version",
    "shards",
)


# ----------------------------------------------------------------- the runner factory


def test_threads_is_prefects_thread_pool() -> None:
    from prefect.task_runners import ThreadPoolTaskRunner

    assert isinstance(task_runner(), ThreadPoolTaskRunner)
    assert isinstance(task_runner("threads"), ThreadPoolTaskRunner)


def test_the_flows_thread_runner_takes_its_size_from_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from daglig.config import Settings
    from flows.runners import default_runner

    assert Settings(shard_threads=3).shard_threads == 3
    assert default_runner()._max_workers == 2  # type: ignore[attr-defined]
    monkeypatch.setenv("DAGLIG_SHARD_THREADS", "5")
    assert Settings().shard_threads == 5
    assert default_runner()._max_workers == 5  # type: ignore[attr-defined]
    assert task_runner("threads", threads=4)._max_workers == 4  # type: ignore[attr-defined]
    # settings that do not validate leave the default here; the run fails on them itself
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert default_runner()._max_workers == 2  # type: ignore[attr-defined]


def test_dask_with_an_address_connects_to_that_cluster() -> None:
    from prefect_dask import DaskTaskRunner

    r = task_runner("dask", "tcp://dask.example:8786")
    assert isinstance(r, DaskTaskRunner)
    assert r.address == "tcp://dask.example:8786" and r.cluster_kwargs == {}


def test_dask_without_an_address_starts_local_worker_processes() -> None:
    from prefect_dask import DaskTaskRunner

    r = task_runner("dask", dask_workers=3)
    assert isinstance(r, DaskTaskRunner) and r.address is None
    assert r.cluster_kwargs == local_cluster_kwargs(3)
    assert r.cluster_kwargs["n_workers"] == 3 and r.cluster_kwargs["processes"] is True
    assert r.cluster_kwargs["dashboard_address"] is None
    # the flow engine runs a copy of the flow's runner: the copy keeps the settings
    assert r.duplicate() == r


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "threads", "dask_address": "tcp://h:8786"}, "needs kind='dask'"),
        ({"kind": "ray"}, "unknown task runner"),
        ({"kind": "dask", "dask_workers": 0}, "at least 1"),
    ],
)
def test_bad_runner_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        task_runner(**kwargs)


def test_the_deployment_runner_reads_the_address_when_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.runners import dask_runner_from_env

    monkeypatch.setenv("DAGLIG_DASK_ADDRESS", "tcp://10.0.0.7:8786")
    assert dask_runner_from_env().address == "tcp://10.0.0.7:8786"  # type: ignore[attr-defined]
    monkeypatch.setenv("DAGLIG_DASK_ADDRESS", "")
    assert dask_runner_from_env().cluster_kwargs["n_workers"] == 2  # type: ignore[attr-defined]


def test_nightly_dask_deployment() -> None:
    from prefect_dask import DaskTaskRunner

    from flows.daily_challenges import generate_daily_challenges
    from flows.daily_challenges_dask import generate_daily_challenges_dask

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    (d,) = [x for x in spec["deployments"] if x["name"] == "nightly-dask"]
    assert d["entrypoint"] == "flows/daily_challenges_dask.py:generate_daily_challenges_dask"
    assert "schedules" not in d and d["work_pool"]["name"] == "daglig-process"
    assert "DAGLIG_DASK_ADDRESS" in d["description"] and "DAGLIG_DATA_DIR" in d["description"]
    assert generate_daily_challenges_dask.name == "daily-challenges-dask"
    assert isinstance(generate_daily_challenges_dask.task_runner, DaskTaskRunner)
    # the same flow: the same parameters (and form) as the nightly deployment
    assert generate_daily_challenges_dask.parameters == generate_daily_challenges.parameters
    assert generate_daily_challenges_dask.fn is generate_daily_challenges.fn


# ----------------------------------------------------------------------- the CLI


class _FakeFlow:
    """Stands in for the nightly flow: records the runner and the parameters."""

    def __init__(self) -> None:
        self.runner: Any = None
        self.kwargs: dict[str, Any] = {}

    def with_options(self, *, task_runner: Any) -> _FakeFlow:
        self.runner = task_runner
        return self

    def __call__(self, *, return_state: bool = False, **kwargs: Any) -> Any:
        from prefect.states import Completed

        self.kwargs = kwargs
        result = {
            "run_date": str(RUN),
            "status": "ok",
            "users_served": 1,
            "users_active": 1,
            "assignments": 3,
            "distinct_challenges": 3,
            "by_source": {},
            "email": None,
            "shards": kwargs.get("shards") or 1,
            "shard_workers": ["host:1", "host:2"],
        }
        return Completed(data=result) if return_state else result


@pytest.fixture
def fake_flow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[_FakeFlow]:
    import flows.daily_challenges
    import flows.runners

    fake = _FakeFlow()
    monkeypatch.setattr(flows.daily_challenges, "generate_daily_challenges", fake)

    @contextmanager
    def api() -> Iterator[str]:  # no temporary Prefect server for a fake flow
        yield "http://127.0.0.1:4200/api"

    monkeypatch.setattr(flows.runners, "api_reachable_from_workers", api)
    monkeypatch.setattr(flows.runners, "temporary_api", api)  # the CLI's own (flow_session)
    monkeypatch.delenv("DAGLIG_DASK_ADDRESS", raising=False)
    monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))  # its log file
    (tmp_path / "app.db").touch()  # the CLI refuses a SQLite path that does not exist
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    yield fake


def _cli(*args: str) -> str:
    from typer.testing import CliRunner

    from daglig.cli import app

    out = CliRunner().invoke(app, ["run", "--date", str(RUN), *args])
    assert out.exit_code == 0, out.output
    return out.output


def test_cli_defaults_to_the_flows_own_runner(fake_flow: _FakeFlow) -> None:
    _cli()
    assert fake_flow.runner is None  # no with_options: the flow's thread pool
    assert fake_flow.kwargs["shards"] is None and fake_flow.kwargs["run_date"] == RUN


def test_cli_dask_address_implies_dask(fake_flow: _FakeFlow) -> None:
    out = _cli("--dask-address", "tcp://dask.example:8786", "--shards", "3")
    assert fake_flow.runner.address == "tcp://dask.example:8786"
    assert fake_flow.kwargs["shards"] == 3
    assert "shards: 3 on dask (2 worker process(es)" in out
    assert "PREFECT_API_URL" in out  # a loopback API: workers elsewhere cannot reach it


def test_cli_local_dask_cluster_and_env_address(
    fake_flow: _FakeFlow, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cli("--task-runner", "dask", "--dask-workers", "4")
    assert fake_flow.runner.address is None
    assert fake_flow.runner.cluster_kwargs["n_workers"] == 4
    monkeypatch.setenv("DAGLIG_DASK_ADDRESS", "tcp://from-env:8786")
    _cli()
    assert fake_flow.runner.address == "tcp://from-env:8786"
    fake_flow.runner = None
    _cli("--task-runner", "threads")  # an explicit choice wins over the environment
    assert fake_flow.runner is None


# ----------------------------------------------- a day on Dask, row for row as threads


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    """300 simulated learners up to yesterday and a learner model trained on them (so the
    ML path's shard tasks run on Dask too); each run works on a copy."""
    from flows.train_learner_model import train_learner_model
    from simulator import simulate

    root = tmp_path_factory.mktemp("dask-world")
    url = f"sqlite:///{root / 'app.db'}"
    simulate(url, users=USERS, seed=11, end_date=RUN - timedelta(days=1), history_days=60)
    with environ(DATABASE_URL=url, DAGLIG_DATA_DIR=str(root / "data")):
        train_learner_model(as_of=RUN)
    return root


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Both output tables, every column but the write timestamps, sorted by key."""
    from sqlalchemy import text

    from daglig.io.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            challenges = c.execute(
                text(
                    "SELECT id, challenge_date, content_key, challenge_type, category, title, "
                    "description, target_value, difficulty, xp_reward, bonus_xp, source "
                    "FROM daily_challenges ORDER BY challenge_date, content_key"
                )
            ).all()
            assignments = c.execute(
                text(
                    "SELECT user_id, challenge_date, slot, challenge_id, reason, progress, "
                    "completed_at FROM user_daily_challenges "
                    "ORDER BY user_id, challenge_date, slot"
                )
            ).all()
    finally:
        engine.dispose()
    return {
        "daily_challenges": [tuple(r) for r in challenges],
        "user_daily_challenges": [tuple(r) for r in assignments],
    }


@pytest.mark.slow
def test_a_day_on_local_dask_workers_equals_the_threads_run(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.daily_challenges import generate_daily_challenges

    url_a = copy_world(world, tmp_path / "threads", monkeypatch)
    a = generate_daily_challenges(run_date=RUN, shards=SHARDS, notify=False)

    url_b = copy_world(world, tmp_path / "dask", monkeypatch)
    on_dask = generate_daily_challenges.with_options(
        task_runner=task_runner("dask", dask_workers=2)
    )
    b = on_dask(run_date=RUN, shards=SHARDS, notify=False)

    assert a["status"] == b["status"] == "ok"
    assert a["shards"] == b["shards"] == SHARDS
    assert a["ml_status"] == "used", a["ml_reason"]  # the model's shard tasks ran too
    assert {k: a[k] for k in SAME_COUNTS} == {k: b[k] for k in SAME_COUNTS}
    assert a["assignments"] > 0
    rows_a, rows_b = _rows(url_a), _rows(url_b)
    assert len(rows_a["user_daily_challenges"]) == a["assignments"]
    for table in rows_a:
        assert rows_a[table] == rows_b[table], table

    # the threads ran in this process; on Dask the shard tasks ran in worker processes
    pids_a = {w.rsplit(":", 1)[1] for w in a["shard_workers"]}
    pids_b = {w.rsplit(":", 1)[1] for w in b["shard_workers"]}
    assert pids_a == {str(os.getpid())}
    assert pids_b and str(os.getpid()) not in pids_b
    assert len(pids_b) <= 2  # a 2-worker cluster
