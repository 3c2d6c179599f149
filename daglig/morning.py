"""The admins' morning report: how yesterday's challenges went, and the trend.

Pure functions over frames the report task reads (``sql/report/``):

* yesterday's completion and engagement (share with any progress) by source — ML,
  fallback, onboarding — plus the ML-holdout learners (fallback challenges given to
  ML-eligible learners on purpose);
* ML vs holdout: the difference in per-learner completion with its 95 % Welch interval,
  so a difference is read with its uncertainty, not as two bare rates;
* the trend: daily completion of ML and fallback challenges over the last 14 days, as
  numbers and as a small bar chart (PNG, embedded in the HTML email).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from daglig.chart import bar_chart
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
    trend: list[dict[str, Any]] = field(default_factory=list)  # day, ml, fallback rates
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
            .when(pl.col("group").is_in(["fallback", "ml_holdout"]))
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
            "ml": _r(lookup.get((d, "ml"))),
            "fallback": _r(lookup.get((d, "fallback"))),
        }
        for d in days
    ]
    if any(t["ml"] is not None or t["fallback"] is not None for t in report.trend):
        report.chart_png = bar_chart(
            [[t["ml"] for t in report.trend], [t["fallback"] for t in report.trend]]
        )
    return report


def _r(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)


GROUP_NO = {
    "ml": "ML",
    "ml_holdout": "ML-kontrollgruppe (fikk regelbaserte)",
    "fallback": "Regelbasert",
    "onboarding": "Oppstart",
    "manual": "Manuell",
}


def _pct(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "–"
    text = f"{100 * v:+.1f}" if signed else f"{100 * v:.1f}"
    return text.replace(".", ",").replace("-", "−") + " %"


def _num(v: float) -> str:
    return f"{v:.1f}".replace(".", ",")


def _pp(v: float) -> str:
    return f"{100 * v:+.1f}".replace(".", ",").replace("-", "−")


def morning_context(
    morning: dict[str, Any], tonight_seconds: float | None = None, chart_cid: str | None = None
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
        "chart_cid": None,
        "runtime_line": None,
    }
    if not morning:
        return ctx
    ctx["yesterday_no"] = date.fromisoformat(morning["yesterday"]).strftime("%d.%m.%Y")
    ctx["groups"] = [
        (
            GROUP_NO.get(str(g["group"]), str(g["group"])),
            g["assigned"],
            _pct(g["completion"]),
            _pct(g["engagement"]),
        )
        for g in morning.get("by_group", [])
    ]
    m = morning.get("ml_vs_holdout", {})
    if "ci_low" in m:
        sure = m["ci_low"] > 0 or m["ci_high"] < 0
        ctx["diff_line"] = (
            f"Fullføring per elev, ML minus kontrollgruppe: {_pp(m['diff'])} prosentpoeng "
            f"(95 % KI {_pp(m['ci_low'])} til {_pp(m['ci_high'])}; "
            f"{m['n_ml']} mot {m['n_holdout']} elever) – "
            + ("en sikker forskjell." if sure else "ingen sikker forskjell ennå.")
        )
    else:
        ctx["diff_line"] = "For få elever i kontrollgruppen i går til å sammenligne ML."
    trend = morning.get("trend", [])
    ctx["trend"] = [  # days without challenges are left out (a phone screen is short)
        (date.fromisoformat(t["day"]).strftime("%d.%m"), _pct(t["ml"]), _pct(t["fallback"]))
        for t in trend
        if t["ml"] is not None or t["fallback"] is not None
    ]
    ctx["chart_cid"] = chart_cid if chart_of(morning) is not None else None
    recent = morning.get("recent_seconds") or []
    if recent and tonight_seconds is not None:
        avg = sum(recent) / len(recent)
        earlier = (
            "forrige kjøring"
            if len(recent) == 1
            else f"snitt for de {len(recent)} forrige kjøringene"
        )
        ctx["runtime_line"] = (
            f"Kjøretid i natt {_num(tonight_seconds)} s; {earlier} {_num(avg)} s "
            f"({_num(tonight_seconds / avg)} × så lang tid)."
        )
    return ctx


def chart_of(morning: dict[str, Any]) -> bytes | None:
    """The trend chart (PNG) of a report's ``as_dict()``, or None without data."""
    trend = morning.get("trend", [])
    if not any(t["ml"] is not None or t["fallback"] is not None for t in trend):
        return None
    return bar_chart([[t["ml"] for t in trend], [t["fallback"] for t in trend]])
