"""The HTTP admin API through a real HTTP client against a real server: uvicorn on a free
loopback port in a thread, httpx. Authentication (none configured, missing, wrong), input
validation (unknown key, out of range, malformed JSON, non-integer ids, bad dates), a
settings change visible afterwards (SQLite and PostgreSQL), a one-user dry run and a
manual generation through the deployment."""

from __future__ import annotations

import contextvars
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

import tests.test_admin_cli as cli_tests
from daglig.admin.api import PREFIX, create_app
from daglig.config import Settings
from tests.test_admin_cli import build_app, query

nightly_deployment = cli_tests.nightly_deployment  # the fixture, shared with the CLI tests

TOKEN = "s3cret-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEVEN = [
    ("GET", "/overview"),
    ("POST", "/generate"),
    ("GET", "/performance"),
    ("GET", "/settings"),
    ("PUT", "/settings"),
    ("POST", "/settings"),
    ("POST", "/test-user/1"),
    ("GET", "/recent"),
    ("GET", "/stats"),
]


class LiveServer:
    """The admin API served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        # the copied context carries the test's Prefect API settings into the server
        self.thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self.server.run,),
            kwargs={"sockets": [self.sock]},
            daemon=True,
        )

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the admin API did not start")
            time.sleep(0.02)
        self.client = httpx.Client(base_url=self.url + PREFIX, timeout=120)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., httpx.Client]]:
    """``serve(url, token=TOKEN)`` → an httpx client of a live admin API on ``url``."""
    servers: list[LiveServer] = []
    monkeypatch.delenv("DAGLIG_SMTP_HOST", raising=False)

    def start(url: str, token: str | None = TOKEN) -> httpx.Client:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))
        settings = Settings(admin_token=SecretStr(token) if token is not None else None)
        server = LiveServer(settings)
        servers.append(server)
        return server.__enter__()

    yield start
    for s in servers:
        s.__exit__()


def test_openapi_and_authentication(sqlite_url: str, serve: Any) -> None:
    build_app(sqlite_url)
    api = serve(sqlite_url)
    spec = httpx.get(str(api.base_url).split(PREFIX)[0] + "/openapi.json").json()
    methods = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert {(m, PREFIX + p.replace("/1", "/{user_id}")) for m, p in SEVEN} == methods
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"

    for method, path in SEVEN:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-0123456789"},
            {"Authorization": f"Bearer {TOKEN}x"},
            {"Authorization": f"Basic {TOKEN}"},
            {"X-Admin-Token": TOKEN},
        ):
            r = api.request(method, path, headers=headers)
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
    r = api.get("/overview", headers=AUTH)
    assert r.status_code == 200 and r.json()["settings"]["challenges_per_user"] == 3

    for token in (None, "", "short"):  # no usable token configured: the API refuses
        closed = serve(sqlite_url, token=token)
        r = closed.get("/overview", headers={"Authorization": f"Bearer {token or 'x'}"})
        assert r.status_code == 503 and "DAGLIG_ADMIN_TOKEN" in r.json()["detail"]


def test_bad_input_is_refused_with_422(sqlite_url: str, serve: Any) -> None:
    build_app(sqlite_url)
    api = serve(sqlite_url)
    bad: list[tuple[str, str, dict[str, Any]]] = [
        ("PUT", "/settings", {"json": {"no_such_key": 1}}),
        ("PUT", "/settings", {"json": {"challenges_per_user": 9}}),
        ("PUT", "/settings", {"json": {"challenges_per_user": "3"}}),
        ("PUT", "/settings", {"json": {"challenges_per_user": 2.5}}),
        ("PUT", "/settings", {"json": {"max_difficulty": 1.5}}),
        ("PUT", "/settings", {"json": {"ml_enabled": "yes"}}),
        ("PUT", "/settings", {"json": {"enabled_types": ["quiz", "moon_landing"]}}),
        ("PUT", "/settings", {"json": {"min_difficulty": 0.99}}),  # above max 0.95
        ("PUT", "/settings", {"json": {}}),
        ("PUT", "/settings", {"json": {"changed_by": "kari"}}),
        ("PUT", "/settings", {"json": [1, 2]}),
        ("PUT", "/settings", {"content": b'{"challenges_per_user": 4', "headers": {}}),
        ("POST", "/settings", {"content": b"not json at all"}),
        ("POST", "/test-user/abc", {}),
        ("POST", "/test-user/1.5", {}),
        ("POST", "/test-user/0", {}),
        ("POST", "/test-user/1?date=yesterday", {}),
        ("GET", "/stats?start=2026-11-25&end=2026-11-24", {}),
        ("GET", "/stats?start=2024-01-01&end=2026-11-24", {}),
        ("GET", "/stats?start=24.11.2026", {}),
        ("GET", "/performance?limit=0", {}),
        ("GET", "/performance?limit=many", {}),
        ("GET", "/recent?days=0", {}),
        ("POST", "/generate", {"json": {"run_date": "2019-01-01"}}),
        ("POST", "/generate", {"json": {"force": "yes"}}),
        ("POST", "/generate", {"json": {"run_date": "2026-11-24", "surprise": 1}}),
    ]
    for method, path, kw in bad:
        headers = {**AUTH, "Content-Type": "application/json", **kw.pop("headers", {})}
        r = api.request(method, path, headers=headers, **kw)
        assert r.status_code == 422, (method, path, kw, r.status_code, r.text)
        assert r.json()["detail"]
    assert "challenge_settings_history" not in {
        n for (n,) in query(sqlite_url, "SELECT name FROM sqlite_master WHERE type = 'table'")
    } or query(sqlite_url, "SELECT COUNT(*) FROM challenge_settings_history") == [(0,)]


def _settings_change_is_visible(url: str, serve: Any) -> None:
    build_app(url)
    api = serve(url)
    r = api.put(
        "/settings",
        headers=AUTH,
        json={"challenges_per_user": 1, "enabled_types": ["streak", "quiz"], "changed_by": "kari"},
    )
    assert r.status_code == 200, r.text
    assert [c["key"] for c in r.json()["changed"]] == ["enabled_types", "challenges_per_user"]
    r = api.post("/settings", headers=AUTH, json={"ml_enabled": False})  # POST as in the seed
    assert r.status_code == 200 and r.json()["changed_by"] == "api"

    s = api.get("/settings", headers=AUTH).json()
    assert s["settings"]["challenges_per_user"] == 1
    assert s["settings"]["enabled_types"] == ["quiz", "streak"]
    assert s["settings"]["ml_enabled"] is False
    assert {r["key"]: r["updated_by"] for r in s["stored"]} == {
        "challenges_per_user": "kari",
        "enabled_types": "kari",
        "ml_enabled": "api",
    }
    assert [(h["key"], h["old_value"], h["new_value"], h["changed_by"]) for h in s["history"]] == [
        ("ml_enabled", None, "false", "api"),
        ("challenges_per_user", None, "1", "kari"),
        ("enabled_types", None, '["streak", "quiz"]', "kari"),
    ]
    assert api.get("/overview", headers=AUTH).json()["settings"]["challenges_per_user"] == 1


def test_settings_change_visible_sqlite(sqlite_url: str, serve: Any) -> None:
    _settings_change_is_visible(sqlite_url, serve)


@pytest.mark.postgres
def test_settings_change_visible_postgres(postgres_url: str, serve: Any) -> None:
    _settings_change_is_visible(postgres_url, serve)


def test_test_user_and_generate(sqlite_url: str, serve: Any, nightly_deployment: list[Any]) -> None:
    build_app(sqlite_url)
    api = serve(sqlite_url)
    r = api.post("/test-user/1?date=2026-11-24", headers=AUTH)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["selector"] == "onboarding" and "onboarding" in d["why"]
    assert d["status"] == "dry_run" and d["user"]["total_answers"] == 0
    assert [c["slot"] for c in d["challenges"]] == [1, 2, 3]
    for c in d["challenges"]:
        assert c["source"] == "onboarding" and c["reason"]["rule"] == "onboarding"
        assert c["challenge_type"] in {"quiz", "category_focus", "streak"}
        assert c["title"] and c["description"].endswith(".") and c["xp_reward"] > 0
        assert c["target_value"] > 0 and 0 < c["difficulty"] < 1
        assert (c["category"] is None) == (c["challenge_type"] == "streak")
    assert query(sqlite_url, "SELECT name FROM sqlite_master WHERE name = 'daily_challenges'") == []
    r = api.post("/test-user/999", headers=AUTH)
    assert r.status_code == 404 and r.json()["detail"] == "no user 999"

    r = api.post("/generate", headers=AUTH, json={"run_date": "2026-11-24"})
    assert r.status_code == 202, r.text
    nightly_deployment.append(UUID(r.json()["flow_run_id"]))
    assert r.json()["mode"] == "deployment" and r.json()["state"] == "Scheduled"
    for path in ("/performance", "/recent", "/stats"):
        assert api.get(path, headers=AUTH).status_code == 200
