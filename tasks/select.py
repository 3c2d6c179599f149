"""The selection step: one ``select-challenges`` task per shard (pure compute: no retries)."""

from __future__ import annotations

from datetime import date

from daglig.challenge_settings import ChallengeSettings
from daglig.selection import Selector
from tasks.features import FeatureRefs
from tasks.shards import SelectedRefs, map_shards, select_shard


def select_challenges(
    refs: FeatureRefs, challenge_settings: ChallengeSettings, run_date: date, selector: Selector
) -> list[SelectedRefs]:
    """Every shard's active users → assignments, on the flow's task runner."""
    return map_shards(select_shard, list(refs.shards), challenge_settings, run_date, selector)
