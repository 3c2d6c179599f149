"""The dead man's switch against the real Prefect server: ``prefect server start``, then
``make deploy`` (work pool, ``prefect deploy --all``, the automations of
``automations.yaml`` with a 12 s window instead of 90 minutes), and **no worker**: a
nightly run that nobody runs goes Late and, when no run of the deployment completed within
the window, the *server* emails the admins (a real SMTP server on loopback). A run that
completes in time sends nothing; a failed run is emailed with its one-line message.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, cast

import pytest

from tests.dq_helpers import Mailbox, smtp_server
from tests.prefect_server import (
    REPO,
    Processes,
    free_port,
    read_flow_run,
    server_env,
    start_deployment_run,
    start_server,
    wait_healthy,
)

pytestmark = pytest.mark.e2e

WINDOW = 12  # seconds, for the 90 minutes of the real automation
ADMINS = "ops@example.no,vakt@example.no"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    # a run nobody takes is Late 1 s after its start (default 15 s, checked every 5 s)
    env = server_env(
        tmp_path,
        port,
        PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS="1",
        PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS="1",
    )
    procs = Processes(tmp_path)
    with smtp_server() as box:
        try:
            server = start_server(procs, port, env)
            wait_healthy(api, server)
            deploy_env = env | {
                "DAGLIG_SMTP_HOST": "127.0.0.1",
                "DAGLIG_SMTP_PORT": str(box.port),
                "DAGLIG_ADMIN_EMAILS": ADMINS,
                "DAGLIG_EMAIL_FROM": "daglig@example.no",
                "DAGLIG_DATA_DIR": str(tmp_path / "data"),
            }
            import subprocess

            done = subprocess.run(
                ["make", "-s", "deploy", f"WITHIN_SECONDS={WINDOW}"],
                cwd=REPO,
                env=deploy_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert "automation: daglig: nightly run not completed by 01:30" in done.stdout
            yield {"api": api, "box": box, "procs": procs, "ui": f"http://127.0.0.1:{port}"}
        except BaseException:
            print(procs.tail())
            raise
        finally:
            procs.stop()


def _received(box: Mailbox) -> list[EmailMessage]:
    """The messages so far, headers decoded (the subjects are RFC 2047 encoded)."""
    return [cast(EmailMessage, message_from_bytes(m, policy=default)) for m in list(box.messages)]


def _mail(box: Mailbox, subject_part: str, timeout: float) -> EmailMessage | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in _received(box):
            if subject_part in str(msg["Subject"]):
                return msg
        time.sleep(0.5)
    return None


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(cast(EmailMessage, part).get_content())


def _set_state(api: str, flow_run_id: Any, state: Any) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as c:
        c.set_flow_run_state(flow_run_id, state, force=True)


def _wait_state(api: str, flow_run_id: Any, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (state := read_flow_run(api, str(flow_run_id)).state) is None or state.name != name:
        assert time.monotonic() < deadline, f"run still {state} after {timeout} s"
        time.sleep(0.5)


MISSED = "ingen fullført nattkjøring"


def test_a_missed_nightly_run_alerts_the_admins(server: dict[str, Any]) -> None:
    api, box = server["api"], server["box"]

    # 1. a run that is late but completes within the window: no alert
    on_time = start_deployment_run(api, "daily-challenges/nightly", {"run_date": "2026-11-19"})
    _wait_state(api, on_time, "Late")
    from prefect.states import Completed, Failed, Running

    _set_state(api, on_time, Running())
    _set_state(api, on_time, Completed())
    assert _mail(box, MISSED, timeout=WINDOW + 12) is None, [m["Subject"] for m in _received(box)]

    # 2. a nightly run nobody runs (no worker): Late, and after the window the alert
    missed = start_deployment_run(api, "daily-challenges/nightly", {"run_date": "2026-11-20"})
    t0 = time.monotonic()
    _wait_state(api, missed, "Late")
    alert = _mail(box, MISSED, timeout=WINDOW + 60)
    assert alert is not None, server["procs"].tail()
    waited = time.monotonic() - t0
    assert waited >= WINDOW - 1  # not before the window closed
    body = _body(alert)
    print(f"dead man's switch fired {waited:.0f} s after the run was due:\n")
    print(f"Subject: {alert['Subject']}\nTo: {alert['To']}\n\n{body}")
    assert alert["To"] == "ops@example.no, vakt@example.no"
    assert alert["From"] == "daglig@example.no"
    assert f"innen {WINDOW} sekunder" in str(alert["Subject"])
    assert "skulle starte for 12 sekunder siden" in body
    assert f"{server['ui']}/runs/flow-run/{missed}" in body
    assert "prefect worker start --pool daglig-process" in body
    assert len([m for m in _received(box) if MISSED in str(m["Subject"])]) == 1

    # 3. a failed run: emailed at once with its one-line message
    failed = start_deployment_run(api, "daily-challenges/nightly", {"run_date": "2026-11-21"})
    line = "IntegrityError: daily_challenges is read-only during maintenance"
    _set_state(
        api, failed, Failed(message=f"run for 2026-11-21 failed in upsert-challenges: {line}")
    )
    report = _mail(box, "feilet", timeout=30)
    assert report is not None, server["procs"].tail()
    assert str(report["Subject"]) == "daglig: nattkjøringen for 2026-11-21 feilet"
    body = _body(report)
    print(f"\nSubject: {report['Subject']}\n\n{body}")
    assert "endte som Failed:" in body and line in body
    assert "daglig run --date 2026-11-21" in body
    assert f"{server['ui']}/runs/flow-run/{failed}" in body
