"""Deliver an email: by SMTP when a server is configured, else as an .eml file in the outbox."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from daglig.config import Settings


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a message went: ``smtp://host:port`` or the outbox file's path."""

    channel: str
    target: str


def deliver(msg: EmailMessage, settings: Settings, stem: str, now: datetime) -> Delivery:
    """Send ``msg``; raise on SMTP failure (the task retries). ``stem`` names the outbox file."""
    if settings.smtp_host:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user and settings.smtp_password:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            smtp.send_message(msg)
        return Delivery("smtp", f"smtp://{settings.smtp_host}:{settings.smtp_port}")
    outbox: Path = settings.outbox_dir
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{stem}-{now.strftime('%Y%m%dT%H%M%S')}.eml"
    path.write_bytes(bytes(msg))
    return Delivery("outbox", str(path))
