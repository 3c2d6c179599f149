"""Shared fixtures: Prefect offline settings, one Prefect harness per run, PostgreSQL access.

PostgreSQL tests use a fresh database created for this test run on the server at
``DAGLIG_TEST_POSTGRES_URL`` (default: the local trust-auth server, database ``test``, used
only to create and drop the per-run database). When no server answers they skip with the
reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.prefect_env import apply_offline_settings
from tests.browser import chromium  # noqa: F401 - the fixture, for the browser tests

apply_offline_settings()  # before anything imports prefect
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

PG_ADMIN_URL = os.environ.get(
    "DAGLIG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_unreachable_reason() -> str | None:
    try:
        import psycopg
        from sqlalchemy.engine import make_url

        u = make_url(PG_ADMIN_URL)
        with psycopg.connect(
            host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, connect_timeout=3
        ):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        return f"PostgreSQL at {PG_ADMIN_URL} unreachable: {str(exc).splitlines()[0]}"


#: Fixtures a ``pure`` test may not use: they start the Prefect API or need PostgreSQL.
IMPURE_FIXTURES = frozenset({"prefect_harness", "prefect_api", "postgres_server", "postgres_url"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A ``pure`` test (the `make test-fast` tier) that asks for the Prefect API or
    PostgreSQL is an error, not a slow fast test."""
    for item in items:
        if item.get_closest_marker("pure") is None:
            continue
        used = set(IMPURE_FIXTURES & set(getattr(item, "fixturenames", ())))
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgresql":
            used.add("db_url[postgresql]")
        if item.get_closest_marker("postgres") or item.get_closest_marker("e2e"):
            used.add("a postgres/e2e marker")
        if used:
            raise pytest.UsageError(
                f"{item.nodeid} is marked pure but uses {', '.join(sorted(used))}"
            )


@pytest.fixture(scope="session", autouse=True)
def _matplotlib_font_cache() -> None:
    """matplotlib builds its font cache on a machine's first import, running ``fc-list``:
    built here, once, before a pure test (which refuses processes) can be the first."""
    import matplotlib.font_manager  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def _joblib_core_count() -> None:
    """joblib (scikit-learn) counts physical cores once, running ``cat /proc/cpuinfo``:
    counted here, before a pure test (which refuses processes) can be the first."""
    from joblib.externals.loky import cpu_count

    cpu_count(only_physical_cores=True)


@pytest.fixture(autouse=True)
def _pure_means_no_process_no_server(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a ``pure`` test, starting a process fails, and so does a flow that would start
    Prefect's temporary server (no API URL and the ephemeral mode off)."""
    if request.node.get_closest_marker("pure") is None:
        return
    import subprocess

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a pure test started a process: {args[1:2]}")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "false")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a reachable PostgreSQL server, or skip (fail under CI=true)."""
    reason = _pg_unreachable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    return PG_ADMIN_URL


def _admin_exec(sql: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(PG_ADMIN_URL)
    with psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, autocommit=True
    ) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy.engine import make_url

    name = f"daglig_t_{uuid.uuid4().hex[:10]}"
    _admin_exec(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the whole test run (it costs ~15 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A SQLite database file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture(scope="session")
def prefect_api(prefect_harness: None) -> str:
    """The URL of the test run's Prefect API, for ``daglig`` subprocesses (tests/cli.py):
    with it a command reports there instead of starting a temporary server of its own."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the Prefect test harness set no API URL"
    return str(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind: a SQLite file, then a fresh PostgreSQL database
    (skipped, or failed under CI=true, when no server answers)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    request.applymarker(pytest.mark.postgres)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def night(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``night(url, run_date=…, **args)``: the night's run (``run_night``) with
    ``Settings(...)`` built here, no environment variable set, inside a flow run of its
    own; ``data_dir``: a data folder of its own (default ``tmp_path / "data"``), so a
    reference run keeps no state of the run under test; ``settings``: more
    ``Settings`` fields (``{"struggle_holdout_share": 0.5}``)."""
    from prefect import flow

    from daglig.config import Settings
    from flows.daily_challenges import run_night

    def run(
        url: str,
        data_dir: Path | None = None,
        settings: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        fields = {"database_url": url, "data_dir": data_dir or tmp_path / "data", "smtp_host": None}
        settings = Settings(**(fields | (settings or {})))

        @flow(name="daily-challenges")
        def one_night() -> dict[str, Any]:
            return run_night(settings, kwargs.pop("run_date"), **kwargs)

        return one_night()

    return run
