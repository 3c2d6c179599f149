"""The admin operations behind ``daglig admin`` and the HTTP admin API, in one namespace
(no web framework here). Each concern has its module:

* :mod:`daglig.admin.analytics` — :func:`overview` (settings, today's assignments and
  completion, the last run), :func:`performance` (the latest run attempts, ``pipeline_runs``),
  :func:`stats` (completion by source/type/category, engagement, ML effectiveness and error
  monitoring over a date range, ``sql/analytics/``), :func:`recent` (the latest challenges
  with how many users hold/started/completed each);
* :mod:`daglig.admin.settings_admin` — :func:`settings_view` / :func:`set_settings`: the
  admin's ``challenge_settings``, changed with validation against the contract's keys and
  bounds and recorded in ``challenge_settings_history`` (who, when, old → new);
* :mod:`daglig.admin.dry_run` — :func:`dry_run_user`: a dry run of the nightly flow for one
  user: the challenges chosen, with reasons, and which selector served the user and why;
* :mod:`flows.admin_runs` — ``generate``: the nightly deployment started through the Prefect
  API when a server is configured, else the nightly flow run in this process (Prefect code,
  beside the flows; the CLI and the API import it where they start a run).

Bad input raises :class:`AdminInputError` (the API answers 422, the CLI exits 2); an
unknown user raises :class:`NotFound` (404).
"""

from __future__ import annotations

from daglig.admin.analytics import (
    completion,
    day_note,
    day_run,
    engagement,
    last_run,
    ml_effectiveness,
    overview,
    performance,
    recent,
    run_errors,
    stats,
)
from daglig.admin.common import (
    MAX_RANGE_DAYS,
    AdminError,
    AdminInputError,
    NotFound,
    Unavailable,
    check_range,
    rate,
    today,
)
from daglig.admin.dry_run import chosen_challenges, dry_run_user, reason_gist
from daglig.admin.settings_admin import (
    MAX_BY_LENGTH,
    check_changed_by,
    parse_cli_value,
    set_settings,
    settings_view,
    validate_changes,
)

__all__ = [
    "MAX_BY_LENGTH",
    "MAX_RANGE_DAYS",
    "AdminError",
    "AdminInputError",
    "NotFound",
    "Unavailable",
    "check_changed_by",
    "check_range",
    "chosen_challenges",
    "completion",
    "day_note",
    "day_run",
    "dry_run_user",
    "engagement",
    "last_run",
    "ml_effectiveness",
    "overview",
    "parse_cli_value",
    "performance",
    "rate",
    "reason_gist",
    "recent",
    "run_errors",
    "set_settings",
    "settings_view",
    "stats",
    "today",
    "validate_changes",
]
