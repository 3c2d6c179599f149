"""The Prefect notification block the admins' alerts go through: an email by the project's
SMTP settings (``DAGLIG_SMTP_*``, ``DAGLIG_EMAIL_FROM``, ``DAGLIG_ADMIN_EMAILS``), or an
``.eml`` in the outbox when no SMTP server is set, exactly as the morning report.

The **Prefect server** sends it (the automations' ``send-notification`` action runs in the
server's process, not on a worker: it alerts also when no worker is up). The server finds
the class through the ``prefect.collections`` entry point of this package (pyproject.toml),
which it loads at start, so the server must run in an environment with daglig installed.
Kept light: the server imports this module at start.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from prefect.blocks.abstract import NotificationBlock
from pydantic import Field, SecretStr

BLOCK_NAME = "daglig-admins"


class AdminEmail(NotificationBlock):
    """Email the daglig admins (SMTP, or an .eml file in the outbox without a server)."""

    _block_type_name = "daglig admin email"
    _block_type_slug = "daglig-admin-email"
    _description = "Emails daglig's admins by the project's SMTP settings (make deploy)."

    to: list[str] = Field(description="Recipients (DAGLIG_ADMIN_EMAILS).")
    email_from: str = Field(default="daglig@localhost", description="DAGLIG_EMAIL_FROM")
    smtp_host: str | None = Field(default=None, description="Unset: .eml files in outbox_dir.")
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    data_dir: str | None = Field(
        default=None, description="DAGLIG_DATA_DIR: without SMTP, .eml files go to its outbox/."
    )

    def message(self, body: str, subject: str | None) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = subject or "daglig"
        msg["From"] = self.email_from
        msg["To"] = ", ".join(self.to)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="daglig")
        msg.set_content(body)
        return msg

    def send(self, body: str, subject: str | None = None) -> str:
        """Deliver now (blocking); where it went."""
        from daglig.config import Settings
        from daglig.notify import deliver

        settings = Settings(
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            smtp_user=self.smtp_user,
            smtp_password=self.smtp_password,
            smtp_starttls=self.smtp_starttls,
            email_from=self.email_from,
        )
        if self.data_dir:
            settings = settings.model_copy(update={"data_dir": Path(self.data_dir)})
        done = deliver(self.message(body, subject), settings, "alert", datetime.now(UTC))
        return done.target

    async def notify(self, body: str, subject: str | None = None) -> None:  # type: ignore[override]
        target = await asyncio.to_thread(self.send, body, subject)
        self.logger.info("alert sent to %s via %s", ", ".join(self.to), target)
