"""Read the admin's challenge settings."""

from __future__ import annotations

import time

from prefect import task
from prefect.cache_policies import NONE
from prefect.logging import get_run_logger

from daglig.challenge_settings import ChallengeSettings, parse_challenge_settings
from daglig.config import Settings
from daglig.io.db import make_engine
from daglig.io.store import read_settings_rows
from tasks.common import log_rows
from tasks.retry import RETRIES, RETRY_DELAYS, retry_if_transient


@task(
    name="read-settings",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_if_transient,
    cache_policy=NONE,
)
def load_challenge_settings(settings: Settings) -> ChallengeSettings:
    t0 = time.perf_counter()
    engine = make_engine(settings.database_url, settings.session_limits())
    try:
        rows = read_settings_rows(engine)
    finally:
        engine.dispose()
    cs = parse_challenge_settings(rows)
    log = get_run_logger()
    for problem in cs.problems:
        log.warning("settings problem: %s", problem)
    # rows in: settings rows read; out: those used (malformed ones take their defaults)
    log_rows(
        "read-settings", len(rows), max(0, len(rows) - len(cs.problems)), time.perf_counter() - t0
    )
    return cs
