"""Create the admins' alerts (``automations.yaml``) on the Prefect server: ``make deploy``.

``python -m flows.automations [--within-seconds N]`` (with ``PREFECT_API_URL`` set, after
``prefect deploy --all``):

1. saves the ``daglig-admins`` notification block (:class:`flows.prefect_blocks.AdminEmail`)
   from the project's settings (``DAGLIG_SMTP_*``, ``DAGLIG_EMAIL_FROM``,
   ``DAGLIG_ADMIN_EMAILS``, ``DAGLIG_DATA_DIR`` for the outbox without SMTP);
2. points every trigger at the ``daily-challenges/nightly`` deployment (its id, so that a
   deployment of another project called "nightly" is not watched) and every
   ``send-notification`` action at that block;
3. replaces the automations of the same names (rerunning it is safe).

``--within-seconds`` shortens the dead man's switch's window (90 minutes: 00:00 → 01:30
Oslo); the end-to-end test uses it. A failure is one line on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import yaml

SPEC = Path(__file__).resolve().parent.parent / "automations.yaml"
NIGHTLY = "daily-challenges/nightly"


def in_words(seconds: float) -> str:
    """90 minutes as Norwegian words for the alert's text ("90 minutter", "15 sekunder")."""
    if seconds >= 120 and seconds % 60 == 0:
        return f"{int(seconds // 60)} minutter"
    return f"{seconds:g} sekunder"


def build_automations(
    spec: dict[str, Any],
    deployment_id: UUID,
    block_id: UUID,
    ui_url: str,
    within_seconds: float | None = None,
) -> list[dict[str, Any]]:
    """The automations of ``spec`` (``automations.yaml``) ready to create: watching the one
    deployment, notifying through the one block, linking to the UI at ``ui_url``; a
    proactive trigger's window replaced by ``within_seconds`` when given. Pure: no Prefect
    client."""
    out = []
    for item in spec["automations"]:
        auto = copy.deepcopy(item)
        trigger = auto["trigger"]
        trigger["match_related"] = {
            "prefect.resource.role": "deployment",
            "prefect.resource.id": f"prefect.deployment.{deployment_id}",
        }
        if trigger.get("posture") == "Proactive" and within_seconds is not None:
            trigger["within"] = within_seconds
        window = in_words(float(trigger.get("within", 0)))
        for action in auto["actions"]:
            if action["type"] == "send-notification":
                action["block_document_id"] = str(block_id)
                for field in ("subject", "body"):
                    text = action[field].replace("__WITHIN__", window)
                    action[field] = text.replace("__UI__", ui_url.rstrip("/"))
        out.append(auto)
    return out


def deploy(spec_path: Path = SPEC, within_seconds: float | None = None) -> list[str]:
    """Save the block and (re)create the automations; their names."""
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore
    from prefect.settings import PREFECT_API_URL

    from daglig.config import Settings
    from flows.prefect_blocks import BLOCK_NAME, AdminEmail

    settings = Settings()
    block = AdminEmail(
        to=settings.admin_emails,
        email_from=settings.email_from,
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_user=settings.smtp_user,
        smtp_password=settings.smtp_password,
        smtp_starttls=settings.smtp_starttls,
        data_dir=str(settings.data_dir.resolve()),
    )
    block_id = cast(UUID, block.save(BLOCK_NAME, overwrite=True))
    spec = yaml.safe_load(spec_path.read_text())
    ui_url = settings.prefect_ui_url or PREFECT_API_URL.value().removesuffix("/").removesuffix(
        "/api"
    )
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(NIGHTLY)
        names = []
        for auto in build_automations(spec, deployment.id, block_id, ui_url, within_seconds):
            for old in client.read_automations_by_name(auto["name"]):
                client.delete_automation(old.id)
            client.create_automation(AutomationCore.model_validate(auto))
            names.append(auto["name"])
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.automations", description=__doc__)
    parser.add_argument("--within-seconds", type=float, default=None)
    args = parser.parse_args(argv)
    try:
        names = deploy(within_seconds=args.within_seconds)
    except Exception as exc:  # one line for a person; the reason names what to do
        from prefect.exceptions import ObjectNotFound

        if isinstance(exc, ObjectNotFound):
            print(
                f"deployment {NIGHTLY} not found: run `prefect deploy --all` first", file=sys.stderr
            )
        else:
            print(
                f"automations not created: {type(exc).__name__}: {exc}".splitlines()[0],
                file=sys.stderr,
            )
        return 1
    for name in names:
        print(f"automation: {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
