"""Read what the morning report needs: yesterday's outcome and the 14-day trend."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
from sqlalchemy import inspect

from daglig.config import Settings
from daglig.io.db import engine_of, read_frame
from daglig.morning import (
    COMPLETION_SCHEMA,
    TREND_DAYS,
    USER_COMPLETION_SCHEMA,
    MorningReport,
    build_report,
)
from tasks.retry import io_task
from tasks.steps import count_rows

RECENT_RUNS = 7


@io_task("build-morning-report", timed=False)
def build_morning_report(settings: Settings, run_date: date) -> dict[str, Any]:
    """Yesterday's completion by source, ML vs holdout, the trend, and the seconds of the
    last successful runs (``MorningReport.as_dict()`` plus ``recent_seconds``); empty
    before the pipeline's tables exist: there is nothing to report yet."""
    url = settings.database_url
    with engine_of(url) as engine:
        tables = set(inspect(engine).get_table_names())
    if "user_daily_challenges" not in tables:
        return {}
    yesterday = run_date - timedelta(days=1)
    by_day = read_frame(
        url,
        "report/completion_by_day",
        {"start_date": yesterday - timedelta(days=TREND_DAYS - 1), "end_date": yesterday},
        COMPLETION_SCHEMA,
    )
    per_user = read_frame(
        url, "report/user_completion", {"challenge_date": yesterday}, USER_COMPLETION_SCHEMA
    )
    report: MorningReport = build_report(run_date, by_day, per_user)
    recent: list[float] = []
    if "pipeline_runs" in tables:
        runs = read_frame(
            url,
            "analytics/recent_runs",
            {"row_limit": 3 * RECENT_RUNS},
            {"status": pl.String, "total_seconds": pl.Float64},
        )
        ok = runs.filter(pl.col("status") == "ok").head(RECENT_RUNS)
        recent = [float(x) for x in ok["total_seconds"].to_list() if x is not None]
    count_rows(by_day.height + per_user.height, 1)
    return report.as_dict() | {"recent_seconds": recent}
