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
from datetime import UTC, datetime, timedelta
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
from tests.dq_helpers import has_table
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
#: The learner service for the app (the seed's ML service), beside the admin's seven.
LEARNER_SERVICE = [
    ("GET", "/api/ml/users/{user_id}/weak-areas"),
    ("GET", "/api/ml/users/{user_id}/skill-assessment"),
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
    assert {(m, PREFIX + p.replace("/1", "/{user_id}")) for m, p in SEVEN} | set(
        LEARNER_SERVICE
    ) == methods
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
    root = str(api.base_url).split(PREFIX)[0]
    for method, path in LEARNER_SERVICE:
        r = httpx.request(method, root + path.replace("{user_id}", "1"))
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", r.text
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
        ("PUT", "/settings", {"json": {"target_completion": 0.3}}),  # outside 0.5 .. 0.95
        ("PUT", "/settings", {"json": {"target_completion": 0.99}}),
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


def test_settings_change_visible(db_url: str, serve: Any) -> None:
    _settings_change_is_visible(db_url, serve)


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


# ------------------------------------------------- hostile input (issue 12, item 14)


def _raw(url: str, head: bytes, body_chunks: Iterator[bytes], limit: int) -> tuple[str, int]:
    """Send a request over a raw socket, feeding the body chunk by chunk until the server
    answers (or ``limit`` bytes went out); return (the response's head and body, the body
    bytes sent)."""
    import select

    host, port = url.split("//")[1].split("/")[0].split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(head)
        for chunk in body_chunks:
            readable, _, _ = select.select([s], [], [], 0)
            if readable or sent >= limit:
                break
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += s.recv(65536) or b"\r\n\r\n"
        head, _, rest = answer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.lower().splitlines()
            if line.startswith(b"content-length:")
        )
        while len(rest) < length:
            rest += s.recv(65536) or b" " * length
    return (head + b"\r\n\r\n" + rest[:length]).decode(errors="replace"), sent


def test_a_large_body_is_refused_before_the_token_is_checked(sqlite_url: str, serve: Any) -> None:
    """A 200 MB body with no token: 413 at once by its Content-Length, and 413 after at
    most the limit (plus what was in flight) when it comes chunked without one."""
    from daglig.admin.api import MAX_BODY_BYTES

    build_app(sqlite_url)
    api = serve(sqlite_url)
    url = str(api.base_url)
    path = PREFIX.encode() + b"/settings"
    start = b"PUT " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    mb = b"x" * (1 << 20)

    answer, sent = _raw(url, start + b"Content-Length: 200000000\r\n\r\n", iter([mb] * 200), 1)
    assert answer.startswith("HTTP/1.1 413"), answer
    assert answer.endswith('{"detail":"Content Too Large"}') and sent <= len(mb)

    chunk = b"%x\r\n" % 4096 + b"x" * 4096 + b"\r\n"
    answer, sent = _raw(
        url, start + b"Transfer-Encoding: chunked\r\n\r\n", iter([chunk] * 51200), 200 << 20
    )
    assert answer.startswith("HTTP/1.1 413"), answer
    assert '{"detail":"Content Too Large"}' in answer
    # the server stopped reading at the limit and answered; what the client got out before it
    # saw the answer is the loopback's socket buffers (a few MB), not the 200 MB it had
    assert MAX_BODY_BYTES < sent < 20 << 20

    for headers in ({}, AUTH):  # a small body goes on to the token check, then validation
        r = api.put("/settings", headers=headers, json={"challenges_per_user": 2})
        assert r.status_code == (200 if headers else 401), r.text


def test_a_422_says_why_without_echoing_the_body(sqlite_url: str, serve: Any) -> None:
    build_app(sqlite_url)
    api = serve(sqlite_url)
    filler = "y" * 60_000
    r = api.put(
        "/settings",
        headers=AUTH,
        json={"challenges_per_user": "seven", "changed_by": filler, filler[:5000]: 1},
    )
    assert r.status_code == 422
    assert len(r.content) < 2_000 and filler[:300] not in r.text
    problems = r.json()["detail"]
    assert {p["type"] for p in problems} >= {"int_type", "string_too_long", "extra_forbidden"}
    assert all(set(p) == {"loc", "msg", "type"} for p in problems)


def _non_finite_and_nul_are_refused(url: str, serve: Any) -> None:
    build_app(url)
    api = serve(url)
    headers = {**AUTH, "Content-Type": "application/json"}
    for raw, where in [
        (b'{"min_difficulty": NaN}', "min_difficulty"),
        (b'{"max_difficulty": 1e999}', "max_difficulty"),
        (b'{"max_difficulty": -Infinity}', "max_difficulty"),
        (b'{"challenges_per_user": 3, "changed_by": "a\\u0000b"}', "changed_by"),
        (b'{"challenges_per_user": 3, "changed_by": "kari\\nola"}', "changed_by"),
        (b'{"wait_seconds": NaN}', None),
    ]:
        path = "/generate" if where is None else "/settings"
        r = api.request("POST" if where is None else "PUT", path, headers=headers, content=raw)
        assert r.status_code == 422, (raw, r.status_code, r.text)
        assert [p["loc"][-1] for p in r.json()["detail"]] == [where or "wait_seconds"]
    if has_table(url, "challenge_settings_history"):
        assert query(url, "SELECT key FROM challenge_settings_history") == []  # nothing stored
    r = api.put("/settings", headers=AUTH, json={"challenges_per_user": 2, "changed_by": "kari ø"})
    assert r.status_code == 200 and r.json()["changed_by"] == "kari ø"


def test_non_finite_numbers_and_control_characters_are_422(db_url: str, serve: Any) -> None:
    _non_finite_and_nul_are_refused(db_url, serve)


def test_openapi_documents_every_answer_and_its_body(sqlite_url: str, serve: Any) -> None:
    api = serve(sqlite_url)
    spec = httpx.get(str(api.base_url).split(PREFIX)[0] + "/openapi.json").json()
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            for code in ("401", "413", "422", "503"):
                assert responses[code]["content"]["application/json"]["schema"] == problem, (
                    method,
                    path,
                    code,
                )
    assert "404" in spec["paths"][PREFIX + "/test-user/{user_id}"]["post"]["responses"]
    assert "202" in spec["paths"][PREFIX + "/generate"]["post"]["responses"]
    detail = spec["components"]["schemas"]["Problem"]["properties"]["detail"]
    assert {"type": "string"} in detail["anyOf"]


@pytest.mark.usefixtures("prefect_harness")
def test_generate_after_a_local_run_without_ml_answers_200(sqlite_url: str, serve: Any) -> None:
    """The morning report of a day with no ML assignments compares nothing: no NaN reaches
    the JSON (it was HTTP 500)."""
    build_app(sqlite_url)
    api = serve(sqlite_url)
    for day in ("2026-11-23", "2026-11-24"):
        r = api.post("/generate", headers=AUTH, json={"run_date": day, "local": True})
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        assert result["status"] == "ok" and result["ml_status"] == "fallback"
    morning = result["morning"]
    assert morning["yesterday"] == "2026-11-23" and morning["by_group"]
    assert morning["ml_vs_holdout"]["diff"] is None and morning["ml_vs_holdout"]["ml"] is None


# ------------------------------------------------- docs offline, times, "today" (issue 15)


def test_the_docs_pages_need_nothing_but_the_api(sqlite_url: str, serve: Any) -> None:
    # /docs was a blank page offline (Swagger UI from a CDN): every script, style sheet and
    # icon of /docs and /redoc now comes from the API itself
    import re

    build_app(sqlite_url)
    api = serve(sqlite_url)
    root = str(api.base_url).split(PREFIX)[0]
    for page in ("/docs", "/redoc"):
        r = httpx.get(root + page)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", r.text)
        assets += re.findall(r"""url: ?["']([^"']+)["']""", r.text)  # the spec Swagger loads
        assert assets, r.text
        assert not [a for a in assets if "://" in a or a.startswith("//")], assets
        assert "cdn" not in r.text.lower() and "fonts.googleapis" not in r.text
        for asset in assets:
            got = httpx.get(root + asset)
            assert got.status_code == 200 and len(got.content) > 100, (page, asset)
    assert "/openapi.json" in httpx.get(root + "/docs").text


def _utc(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    assert when.utcoffset() == timedelta(0), text  # ISO 8601 with its zone: UTC
    return when


@pytest.mark.usefixtures("prefect_harness")
def test_today_says_whether_a_run_happened_and_times_carry_their_zone(
    sqlite_url: str, serve: Any
) -> None:
    build_app(sqlite_url)
    api = serve(sqlite_url)
    r = api.get("/overview?date=2026-11-24", headers=AUTH)
    today = r.json()["today"]
    assert (today["assignments"], today["run"]) == (0, None)
    assert today["note"] == (
        "no run for 2026-11-24: no challenges generated for this day (all counts are 0)"
    )

    r = api.post("/generate", headers=AUTH, json={"run_date": "2026-11-24", "local": True})
    assert r.status_code == 200, r.text
    o = api.get("/overview?date=2026-11-24", headers=AUTH).json()
    run = o["today"]["run"]
    assert run["status"] == "ok" and run["run_date"] == "2026-11-24"
    assert o["today"]["note"] == f"the run for 2026-11-24: ok, finished {run['finished_at']}"
    assert _utc(run["started_at"]) <= _utc(run["finished_at"]) <= datetime.now(UTC)
    assert _utc(o["last_run"]["finished_at"]) == _utc(run["finished_at"])
    # another day keeps saying it had no run, though the last run is the 24th's
    other = api.get("/overview?date=2026-11-23", headers=AUTH).json()
    assert other["today"]["run"] is None and other["today"]["note"].startswith("no run for")

    (perf,) = api.get("/performance", headers=AUTH).json()["runs"]
    assert _utc(perf["started_at"]) <= _utc(perf["finished_at"])
    changed = api.put("/settings", headers=AUTH, json={"challenges_per_user": 2}).json()
    assert datetime.now(UTC) - _utc(changed["changed_at"]) < timedelta(minutes=5)
    s = api.get("/settings", headers=AUTH).json()
    assert all(_utc(row["updated_at"]) for row in s["stored"])
    assert all(_utc(h["changed_at"]) for h in s["history"])
