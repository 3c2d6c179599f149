"""The SMTP whole-send deadline (issue 12, item 12): a server that drips one byte at a
time never trips the per-operation timeout; the deadline ends the send, the run ends, the
failure is one line in the summary and ``pipeline_runs`` gets its row.

Measured before: ``daglig run`` against a server dripping one byte every 5 s was still
hanging when killed at 300 s, its data committed, no ``pipeline_runs`` row."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from daglig.config import Settings
from daglig.notify import SMTPDeadlineExceeded, deliver
from tasks.retry import is_transient
from tests.builders import AppDataBuilder
from tests.cli import cli_env, daglig
from tests.dq_helpers import RUN, latest_flow_run, query, smtp_server, task_runs

BANNER = b"220 drip.example ESMTP slow\r\n"


@contextmanager
def drip_server(every: float, after_banner: bool = False) -> Iterator[int]:
    """A loopback "SMTP server" that writes one byte every ``every`` seconds: of its
    banner, or (``after_banner``) of its reply to EHLO, after a prompt banner."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()

    def drip(conn: socket.socket, data: bytes) -> None:
        for byte in data:
            if stop.wait(every):
                return
            conn.sendall(bytes([byte]))

    def handle(conn: socket.socket) -> None:
        with conn:
            try:
                if after_banner:
                    conn.sendall(BANNER)
                    conn.recv(1024)  # EHLO
                    drip(conn, b"250-drip.example\r\n250 HELP\r\n" * 100)
                else:
                    drip(conn, BANNER * 100)
            except OSError:
                return  # the client hung up: what the deadline does

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        th.join(timeout=5)
        srv.close()


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "daglig@localhost", "admin@localhost", "test"
    msg.set_content("hei")
    return msg


def settings_for(port: int, tmp_path: Path, **extra: float) -> Settings:
    return Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        data_dir=tmp_path,
        smtp_timeout_seconds=extra.get("timeout", 2.0),
        smtp_deadline_seconds=extra.get("deadline", 1.5),
    )


@pytest.mark.parametrize("after_banner", [False, True], ids=["banner", "ehlo-reply"])
def test_a_dripping_server_is_abandoned_at_the_deadline(tmp_path: Path, after_banner: bool) -> None:
    """One byte every 0.3 s never trips the 2 s per-operation timeout; the 1.5 s deadline
    ends the send with one line, and the error is not one to retry."""
    with drip_server(0.3, after_banner) as port:
        result: list[BaseException] = []

        def send() -> None:
            try:
                deliver(message(), settings_for(port, tmp_path), "t", datetime.now(UTC))
            except BaseException as exc:  # noqa: BLE001 - handed back to the test
                result.append(exc)

        th = threading.Thread(target=send)
        th.start()
        th.join(timeout=30)  # a bound for the test itself, not a speed assertion
        assert not th.is_alive(), "the send was not abandoned at its deadline"
    (exc,) = result
    assert isinstance(exc, SMTPDeadlineExceeded)
    assert "\n" not in str(exc) and "DAGLIG_SMTP_DEADLINE_SECONDS" in str(exc)
    assert f"127.0.0.1:{port}" in str(exc)
    assert not is_transient(exc)


def test_a_prompt_server_is_not_cut_off_by_the_deadline(tmp_path: Path) -> None:
    with smtp_server() as mail:
        d = deliver(
            message(), settings_for(mail.port, tmp_path, deadline=30), "t", datetime.now(UTC)
        )
    assert d.channel == "smtp"
    assert len(mail.messages) == 1


def test_the_run_ends_and_records_itself_when_the_mail_server_drips(
    sqlite_url: str, tmp_path: Path, prefect_api: str
) -> None:
    b = AppDataBuilder()
    for i in range(6):
        b.answers(b.user(), "traffic_signs", 20 + i, correct=0.7)
    b.write(sqlite_url)
    with drip_server(1.0) as port:
        env = cli_env(
            sqlite_url,
            tmp_path / "data",
            prefect_api,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_timeout_seconds=5,
            smtp_deadline_seconds=4,
        )
        t0 = datetime.now(UTC)
        r = daglig("run", "--date", RUN.isoformat(), env=env, timeout=240)
    assert r.returncode == 0, r  # the data is committed: the run is ok, the email is not
    said = [ln for ln in r.out_lines if "SMTPDeadlineExceeded" in ln]
    assert any("DAGLIG_SMTP_DEADLINE_SECONDS" in ln and "4 s" in ln for ln in said), r
    ((status, error),) = query(sqlite_url, "SELECT status, error FROM pipeline_runs")
    assert status == "ok" and error is None
    assert query(sqlite_url, "SELECT COUNT(DISTINCT user_id) FROM user_daily_challenges") == [(6,)]
    runs = task_runs(
        latest_flow_run(f"daily-challenges-{RUN.isoformat()}", t0).id,
        {
            "send-summary-email",
            "record-run",
        },
    )
    assert runs["send-summary-email"] == ("FAILED", 1)  # abandoned once, not retried
    assert runs["record-run"] == ("COMPLETED", 1)


def test_deadline_setting_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("DAGLIG_SMTP_DEADLINE_SECONDS", "0")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("DAGLIG_SMTP_DEADLINE_SECONDS", "45")
    assert Settings().smtp_deadline_seconds == 45
