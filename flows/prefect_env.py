"""Prefect's (and Great Expectations') offline settings, applied before Prefect is imported
(README, Development): by the CLI, and by ``tasks/quality.py`` for a worker's flow run.

Analytics and promotions off; the server's task-run recorder and event persister batched,
since their defaults lag ~40 ms per task. ``setdefault``: an explicit environment wins.
"""

from __future__ import annotations

import os

PREFECT_OFFLINE: dict[str, str] = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "500",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "100",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "500",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_READ_BATCH_SIZE": "100",
    # The temporary API gets 20 s to start by default; a busy 2-core machine needs more.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    # Great Expectations (the data-quality gates) phones home unless told not to.
    "GX_ANALYTICS_ENABLED": "false",
}


def apply_offline_settings() -> None:
    for key, value in PREFECT_OFFLINE.items():
        os.environ.setdefault(key, value)
