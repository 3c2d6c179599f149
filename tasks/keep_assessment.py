"""The keep-assessment step: after the night's write, the night's learner assessment
becomes the one the learner service answers from (``daglig/io/assessment_store.py``)."""

from __future__ import annotations

from datetime import date

from daglig.config import Settings
from daglig.io.assessment_store import SavedAssessment, save_assessment
from daglig.io.db import engine_of
from daglig.io.identity import read_identity
from daglig.learner.selection import ShardedMLSelector
from tasks.retry import io_task
from tasks.steps import count_rows


@io_task("keep-assessment")
def keep_assessment(
    settings: Settings, run_date: date, selector: ShardedMLSelector
) -> SavedAssessment:
    """The night's per-shard assessment files as this database's current assessment."""
    with engine_of(settings.database_url, settings.session_limits()) as engine:
        identity = read_identity(engine)
    if identity is None:  # the model loaded, so the database has one: changed under us
        raise RuntimeError("the database has no pipeline_identity: its assessment is not kept")
    shards = [selector.assessments[k] for k in sorted(selector.assessments)]
    saved = save_assessment(
        settings.assessment_dir, identity, run_date, shards, selector.model_version
    )
    count_rows(saved.users, saved.users)
    return saved
