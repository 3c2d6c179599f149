"""Deliver an email: by SMTP when a server is configured, else as an .eml file in the outbox.

SMTP is bounded twice: ``smtp_timeout_seconds`` per socket operation, and
``smtp_deadline_seconds`` for the whole send (connect, EHLO, STARTTLS, login, message,
QUIT). A server that answers one byte at a time never trips the first; at the second a
watchdog shuts the socket down, the blocked call returns, and :class:`SMTPDeadlineExceeded`
says so in one line (not retried: tasks/retry.py). The outbox file is written whole or
not at all (daglig/io/files.py).
"""

from __future__ import annotations

import smtplib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from daglig.config import Settings
from daglig.io.files import write_bytes_atomic


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a message went: ``smtp://host:port`` or the outbox file's path."""

    channel: str
    target: str


class SMTPDeadlineExceeded(smtplib.SMTPException):
    """The whole SMTP send took longer than ``DAGLIG_SMTP_DEADLINE_SECONDS``."""


class _Watchdog:
    """At ``seconds`` after start, shut down the SMTP connection's socket (and any socket
    it opens later) until the send is over; ``expired`` tells the caller why it failed."""

    def __init__(self, smtp: smtplib.SMTP, seconds: float) -> None:
        self.smtp = smtp
        self.seconds = seconds
        self.expired = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smtp-deadline", daemon=True)

    def _run(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.expired = True
        while not self._done.is_set():
            sock = getattr(self.smtp, "sock", None)
            if sock is not None:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._done.wait(0.05)

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)


@contextmanager
def _bounded(settings: Settings) -> Iterator[smtplib.SMTP]:
    """An unconnected SMTP client whose whole use within the block is bounded by the
    deadline; closed afterwards whatever happened."""
    smtp = smtplib.SMTP(timeout=settings.smtp_timeout_seconds)
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with _Watchdog(smtp, settings.smtp_deadline_seconds) as dog:
            try:
                yield smtp
            except Exception as exc:
                if dog.expired:
                    raise SMTPDeadlineExceeded(
                        f"SMTP server {where} did not take the message within "
                        f"{settings.smtp_deadline_seconds:g} s (DAGLIG_SMTP_DEADLINE_SECONDS); "
                        "it answers too slowly"
                    ) from exc
                raise
    finally:
        smtp.close()


def deliver(msg: EmailMessage, settings: Settings, stem: str, now: datetime) -> Delivery:
    """Send ``msg``; raise on SMTP failure (the task retries what is transient). ``stem``
    names the outbox file."""
    if settings.smtp_host:
        with _bounded(settings) as smtp:
            code, reply = smtp.connect(settings.smtp_host, settings.smtp_port)
            if code != 220:
                raise smtplib.SMTPConnectError(code, reply)
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user and settings.smtp_password:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            smtp.send_message(msg)
            smtp.quit()
        return Delivery("smtp", f"smtp://{settings.smtp_host}:{settings.smtp_port}")
    outbox: Path = settings.outbox_dir
    path = outbox / f"{stem}-{now.strftime('%Y%m%dT%H%M%S')}.eml"
    write_bytes_atomic(path, bytes(msg))
    return Delivery("outbox", str(path))
