"""README step 1 on a port other than 4200: the UI served there must look for its API on
that port (``/ui-settings`` is what the UI's JavaScript reads first; a wrong ``api_url``
there is the blank "Can't connect to Server API" page). The commands are taken from the
README itself, and from ``make server``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from flows.prefect_env import PREFECT_OFFLINE
from tests.prefect_server import REPO, free_port

pytestmark = pytest.mark.e2e


def readme_step_1() -> str:
    """The bash block of README step 1 ("Start the server")."""
    text = (REPO / "README.md").read_text()
    step = text.split("1. **Start the server**", 1)[1]
    block = re.search(r"```bash\n(.*?)```", step, re.S)
    assert block, "README step 1 has no bash block"
    return "\n".join(line.strip() for line in block.group(1).splitlines())


def _ui_settings(base: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(f"{base}/ui-settings", timeout=2) as r:
                return dict(json.loads(r.read()))
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"no UI at {base} after {timeout} s")


@pytest.mark.parametrize("how", ["readme", "make"])
def test_the_ui_on_another_port_talks_to_its_own_api(tmp_path: Path, how: str) -> None:
    port = free_port()
    assert port != 4200
    base = f"http://127.0.0.1:{port}"
    # a shell as the reader has it: nothing of Prefect's set, the offline settings exported
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DAGLIG_"))}
    env |= PREFECT_OFFLINE | {"PREFECT_HOME": str(tmp_path / "prefect-home")}
    if how == "readme":
        script = readme_step_1().replace("4200", str(port))
        args = ["bash", "-e", "-c", script]
    else:
        args = ["make", "-s", "server", f"PORT={port}"]
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        settings = _ui_settings(base, proc)
        assert settings["api_url"] == f"{base}/api", log.read_text()
        with urllib.request.urlopen(f"{base}/api/health", timeout=5) as r:
            assert r.status == 200
        if how == "make":
            assert f"export PREFECT_API_URL={base}/api" in log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
