"""Read the admin's challenge settings."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE
from prefect.logging import get_run_logger

from daglig.challenge_settings import ChallengeSettings
from daglig.config import Settings
from daglig.db import make_engine
from daglig.store import read_challenge_settings


@task(name="read-settings", retries=3, retry_delay_seconds=[2, 5, 15], cache_policy=NONE)
def load_challenge_settings(settings: Settings) -> ChallengeSettings:
    engine = make_engine(settings.database_url)
    try:
        cs = read_challenge_settings(engine)
    finally:
        engine.dispose()
    log = get_run_logger()
    for problem in cs.problems:
        log.warning("setting ignored: %s", problem)
    return cs
