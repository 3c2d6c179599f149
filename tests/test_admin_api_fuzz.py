"""Schemathesis against the real admin API: ``daglig admin serve`` as a subprocess on a free
loopback port, over a SQLite database of simulated learners, fuzzed from its own
``/openapi.json`` with a fixed seed, a fixed number of examples per operation and a time
limit. No answer may be a 5xx, and every answer must be one the schema documents (status,
content type and body).

The API runs without a Prefect server, as a person starting it on a laptop would: ``POST
/generate`` runs the nightly flow in the API's process (Prefect's temporary server starts
with the first one), so the fuzzed runs really write challenges for their dates.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli import DAGLIG, REPO, cli_env, daglig
from tests.dq_helpers import free_port, query

pytestmark = pytest.mark.slow

TOKEN = "fuzz-admin-token-0123456789abcdef"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = 5  # per API operation and phase
SEED = 12
TIME_LIMIT = 600  # seconds for the whole schemathesis run
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@pytest.fixture
def admin_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(the server's base URL, its database URL): simulated learners, the API serving them."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    env = cli_env(url, tmp_path / "data", admin_token=TOKEN)
    made = daglig("simulate", "--users", "60", "--seed", "4", env=env)
    assert made.returncode == 0, made
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [str(DAGLIG), "admin", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with whatever it started
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the admin API did not start in 60 s"
            time.sleep(0.2)
        yield base, url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema(
    admin_server: tuple[str, str], tmp_path: Path
) -> None:
    base, url = admin_server
    report = tmp_path / "schemathesis.xml"
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{base}/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--phases",
            "examples,coverage,fuzzing",
            "--checks",
            ",".join(CHECKS),
            "--workers",
            "1",
            "--request-timeout",
            "120",
            "--no-shrink",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    suites = ET.parse(report).getroot()
    cases = suites.findall(".//testcase")
    spec = urllib.request.Request(
        f"{base}/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(spec, timeout=10) as r:
        operations = sum(len(methods) for methods in json.load(r)["paths"].values())
    assert operations == 11  # the seed's admin API and the two learner-service endpoints
    assert len(cases) == operations, out[-3000:]  # every operation of the API was fuzzed
    assert not suites.findall(".//failure") and not suites.findall(".//error"), out[-6000:]
    generated = re.search(r"(\d+) generated", out)
    assert generated and int(generated.group(1)) >= 200, out[-3000:]
    # the fuzzed POST /generate calls ran the nightly flow to its end, and it recorded them
    assert query(url, "SELECT COUNT(*) FROM pipeline_runs WHERE status = 'ok'")[0][0] >= 1
