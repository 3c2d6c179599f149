"""The admins' morning report: how yesterday's challenges went, and the trend.

Pure functions over frames the report task reads (``sql/report/``):

* yesterday's completion and engagement (share with any progress) by source — ML,
  fallback, onboarding — plus the ML-holdout learners (fallback challenges given to
  ML-eligible learners on purpose);
* ML vs holdout: the difference in per-learner completion with its 95 % Welch interval,
  so a difference is read with its uncertainty, not as two bare rates;
* the trend: daily completion by arm — ML, ML holdout (rule-based challenges given to
  ML-eligible learners on purpose) and rule-based — over the last 14 days, as numbers and
  as a chart (PNG, embedded in the HTML email; :mod:`daglig.chart`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from daglig import norsk
from daglig.chart import trend_chart
from daglig.stats import welch

TREND_DAYS = 14

COMPLETION_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "challenge_date": pl.Date,
    "source": pl.String,
    "holdout": pl.Int32,
    "assigned": pl.Int64,
    "completed": pl.Int64,
    "progressed": pl.Int64,
}
USER_COMPLETION_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "is_ml": pl.Int32,
    "is_holdout": pl.Int32,
    "assigned": pl.Int64,
    "completed": pl.Int64,
}


@dataclass
class MorningReport:
    """Yesterday's outcome and the trend, ready for the email templates."""

    yesterday: date
    by_group: list[dict[str, Any]] = field(default_factory=list)  # group, assigned, rates
    ml_vs_holdout: dict[str, float | int | None] = field(default_factory=dict)
    trend: list[dict[str, Any]] = field(default_factory=list)  # day; ml, holdout, fallback
    chart_png: bytes | None = None

    @property
    def has_data(self) -> bool:
        return any(g["assigned"] for g in self.by_group)

    def as_dict(self) -> dict[str, Any]:
        return {
            "yesterday": self.yesterday.isoformat(),
            "by_group": self.by_group,
            "ml_vs_holdout": self.ml_vs_holdout,
            "trend": self.trend,
        }


def _group(source: pl.Expr, holdout: pl.Expr) -> pl.Expr:
    return pl.when(holdout == 1).then(pl.lit("ml_holdout")).otherwise(source)


def build_report(run_date: date, by_day: pl.DataFrame, per_user: pl.DataFrame) -> MorningReport:
    """The report for the morning of ``run_date``: ``by_day`` covers the trend window up
    to yesterday (``completion_by_day``), ``per_user`` yesterday's learners
    (``user_completion``)."""
    yesterday = run_date - timedelta(days=1)
    report = MorningReport(yesterday=yesterday)
    groups = by_day.with_columns(group=_group(pl.col("source"), pl.col("holdout")))
    y = (
        groups.filter(pl.col("challenge_date") == yesterday)
        .group_by("group")
        .agg(pl.col("assigned", "completed", "progressed").sum())
        .with_columns(
            completion=pl.col("completed") / pl.col("assigned"),
            engagement=pl.col("progressed") / pl.col("assigned"),
        )
    )
    order = {"ml": 0, "ml_holdout": 1, "fallback": 2, "onboarding": 3, "manual": 4}
    report.by_group = sorted(
        (
            {
                "group": r["group"],
                "assigned": int(r["assigned"]),
                "completed": int(r["completed"]),
                "completion": round(float(r["completion"]), 4),
                "engagement": round(float(r["engagement"]), 4),
            }
            for r in y.iter_rows(named=True)
        ),
        key=lambda g: order.get(str(g["group"]), 9),
    )
    rate = (pl.col("completed") / pl.col("assigned")).cast(pl.Float64)
    report.ml_vs_holdout = welch(
        per_user.filter(pl.col("is_ml") == 1).select(rate).to_series().to_numpy(),
        per_user.filter(pl.col("is_holdout") == 1).select(rate).to_series().to_numpy(),
    )
    days = [yesterday - timedelta(days=i) for i in range(TREND_DAYS - 1, -1, -1)]
    daily = (
        groups.with_columns(
            arm=pl.when(pl.col("group") == "ml")
            .then(pl.lit("ml"))
            .when(pl.col("group") == "ml_holdout")
            .then(pl.lit("holdout"))
            .when(pl.col("group") == "fallback")
            .then(pl.lit("fallback"))
        )
        .drop_nulls("arm")
        .group_by("challenge_date", "arm")
        .agg(pl.col("assigned", "completed").sum())
        .with_columns(rate=pl.col("completed") / pl.col("assigned"))
    )
    lookup = {(d, a): r for d, a, r in daily.select("challenge_date", "arm", "rate").iter_rows()}
    report.trend = [
        {
            "day": d.isoformat(),
            **{arm: _r(lookup.get((d, arm))) for arm, _ in ARMS},
        }
        for d in days
    ]
    if _has_trend(report.trend):
        report.chart_png = chart_of(report.as_dict())
    return report


def _r(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)


ARMS = (("ml", "ML"), ("holdout", "ML-kontrollgruppe"), ("fallback", "Regelbasert"))


def _has_trend(trend: list[dict[str, Any]]) -> bool:
    return any(t.get(arm) is not None for t in trend for arm, _ in ARMS)


GROUP_NO = {
    "ml": "ML",
    "ml_holdout": "ML-kontrollgruppe (fikk regelbaserte)",
    "fallback": "Regelbasert",
    "onboarding": "Oppstart",
    "manual": "Manuell",
}


def morning_context(
    morning: dict[str, Any],
    tonight_seconds: float | None = None,
    chart_cid: str | None = None,
    started_at: datetime | None = None,
) -> dict[str, Any]:
    """What the email's morning section shows, already in Norwegian, from a report's
    ``as_dict()`` plus ``recent_seconds`` (the last, up to 7, earlier runs' seconds)."""
    has_data = any(g.get("assigned") for g in morning.get("by_group", []))
    ctx: dict[str, Any] = {
        "present": bool(morning) and has_data,
        "yesterday_no": None,
        "groups": [],
        "diff_line": None,
        "trend": [],
        "trend_days": 0,
        "trend_days_with_data": 0,
        "arms": [],
        "chart_cid": None,
        "runtime_line": None,
    }
    if not morning:
        return ctx
    ctx["yesterday_no"] = norsk.day(date.fromisoformat(morning["yesterday"]))
    ctx["groups"] = [
        (
            GROUP_NO.get(str(g["group"]), str(g["group"])),
            norsk.integer(g["assigned"]),
            norsk.percent(g["completion"]),
            norsk.percent(g["engagement"]),
        )
        for g in morning.get("by_group", [])
    ]
    m = morning.get("ml_vs_holdout", {})
    if "ci_low" in m:
        sure = m["ci_low"] > 0 or m["ci_high"] < 0
        ctx["diff_line"] = (
            "Fullføring per elev, ML minus kontrollgruppe: "
            f"{norsk.points(m['diff'])} prosentpoeng (95\u00a0% KI {norsk.points(m['ci_low'])} "
            f"til {norsk.points(m['ci_high'])}; {norsk.integer(m['n_ml'])} mot "
            f"{norsk.integer(m['n_holdout'])} elever) – "
            + ("en sikker forskjell." if sure else "ingen sikker forskjell ennå.")
        )
    else:
        ctx["diff_line"] = "For få elever i kontrollgruppen i går til å sammenligne ML."
    trend = morning.get("trend", [])
    ctx["trend"] = [  # days without challenges are left out (a phone screen is short)
        (
            norsk.day_short(date.fromisoformat(t["day"])),
            *(norsk.percent(t.get(arm)) for arm, _ in ARMS),
        )
        for t in trend
        if _has_trend([t])
    ]
    ctx["trend_days"] = len(trend)
    ctx["trend_days_with_data"] = len(ctx["trend"])
    ctx["arms"] = [label for _, label in ARMS]
    ctx["chart_cid"] = chart_cid if has_chart(morning) else None
    recent = morning.get("recent_seconds") or []
    if recent and tonight_seconds is not None:
        ctx["runtime_line"] = runtime_line(tonight_seconds, recent, started_at)
    return ctx


def runtime_line(seconds: float, recent: list[float], started_at: datetime | None) -> str:
    """This run's time against the earlier runs' mean, in words: "i natt" only for a run
    that started at night (22–06 in the start time's own zone)."""
    avg = sum(recent) / len(recent)
    night = started_at is not None and (started_at.hour >= 22 or started_at.hour < 6)
    which = "Kjøretid i natt" if night else "Kjøretid denne gangen"
    earlier = (
        "forrige kjøring"
        if len(recent) == 1
        else f"snittet for de {len(recent)} forrige kjøringene"
    )
    change = seconds / avg - 1 if avg > 0 else 0.0
    if abs(change) < 0.1:
        compared = "omtrent som " + earlier
    else:
        compared = (
            norsk.percent(abs(change), 0)
            + (" raskere enn " if change < 0 else " tregere enn ")
            + earlier
        )
    return f"{which}: {norsk.decimal(seconds)} s, {compared} ({norsk.decimal(avg)} s)."


def has_chart(morning: dict[str, Any]) -> bool:
    """Whether the report carries a trend (with or without data) to draw."""
    return bool(morning.get("trend"))


def chart_of(morning: dict[str, Any]) -> bytes | None:
    """The trend chart (PNG) of a report's ``as_dict()``: None when no report was made
    (the run failed before it), the "Ingen data ennå" image when no day has challenges."""
    trend = morning.get("trend")
    if not trend:
        return None
    days = [date.fromisoformat(t["day"]) for t in trend]
    return trend_chart(days, [(arm, label, [t.get(arm) for t in trend]) for arm, label in ARMS])
