"""``daglig admin …``: the seed's seven admin operations on the command line, plus ``serve``.

Each command prints a readable report, or JSON with ``--json`` (the same data the HTTP
API returns). Bad input exits 2 with the reason; an operation that fails exits 1.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import typer

from daglig.admin import analytics, common, dry_run, settings_admin
from daglig.config import Settings
from daglig.terminal import flow_session, require_database

admin_app = typer.Typer(
    name="admin",
    help="Admin controls and analytics: overview, stats, settings, test a user, generate.",
    no_args_is_help=True,
    add_completion=False,
)
settings_app = typer.Typer(help="Show or change the admin's challenge_settings.")
admin_app.add_typer(settings_app, name="settings")

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
DateOpt = Annotated[
    datetime | None,
    typer.Option("--date", formats=["%Y-%m-%d"], help="Challenge day (default: today, Oslo)."),
]


@contextmanager
def _errors() -> Iterator[None]:
    """Admin errors as one line on stderr: exit 2 for bad input, 1 otherwise."""
    try:
        yield
    except common.AdminInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except common.AdminError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _settings() -> Settings:
    """The settings, validated (one line if not), and the database they name existing."""
    settings = Settings()
    require_database(settings)
    return settings


def _day(value: datetime | None, settings: Settings) -> date:
    return value.date() if value else common.today(settings.timezone)


def _pct(r: float | None) -> str:
    return "–" if r is None else f"{100 * r:.1f} %"


def _value(v: Any) -> str:
    """A value as people read it: no ``None``, no Python dict or list syntax."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if v != int(v) else f"{v:.1f}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_value(x)}" for k, x in v.items()) or "none"
    if isinstance(v, list | tuple):
        return ", ".join(_value(x) for x in v) or "none"
    return str(v)


def _diff(d: float | None) -> str:
    """A difference of rates in percentage points."""
    return "– (no ML and rule-based assignments to compare)" if d is None else f"{100 * d:+.1f} pp"


def _table(rows: list[dict[str, Any]], cols: list[tuple[str, str]]) -> str:
    """Rows as an aligned text table; ``cols`` are (key, header); rates end in '_rate'."""
    if not rows:
        return "  (none)"

    def cell(row: dict[str, Any], key: str) -> str:
        v = row.get(key)
        if key.endswith("_rate"):
            return _pct(v)
        return _value(v)

    cells = [[cell(r, k) for k, _ in cols] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (_, h) in enumerate(cols)]
    lines = ["  " + "  ".join(h.ljust(w) for (_, h), w in zip(cols, widths, strict=True))]
    lines += [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    ]
    return "\n".join(lines)


def _emit(data: dict[str, Any], as_json: bool, text: Callable[[dict[str, Any]], str]) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else text(data))


COMPLETION_COLS = [
    ("assigned", "assigned"),
    ("started", "started"),
    ("completed", "completed"),
    ("completion_rate", "completion"),
]
RUN_COLS = [
    ("run_date", "date"),
    ("finished_at", "finished (UTC)"),
    ("status", "status"),
    ("total_seconds", "seconds"),
    ("users_served", "users"),
    ("assignments", "assignments"),
    ("quarantined", "quarantined"),
    ("ml_status", "ml"),
]


def _run_line(run: dict[str, Any] | None) -> str:
    if run is None:
        return "last run: no runs yet"
    if run["status"] in UNFINISHED:
        return (
            f"last run: {run['run_date']} {run['status']} since "
            f"{(run['started_at'] or '')[:19]} UTC (not finished)"
        )
    line = (
        f"last run: {run['run_date']} {run['status']} at {(run['finished_at'] or '')[:19]} UTC, "
        f"{run['total_seconds']:.1f} s, {run['users_served']} users, "
        f"{run['assignments']} assignments, ML {_value(run['ml_status'])}"
    )
    return line + (f"\n  error: {run['error']}" if run.get("error") else "")


UNFINISHED = ("running", "written")


def _settings_lines(values: dict[str, Any], problems: list[str]) -> list[str]:
    lines = [f"  {k} = {json.dumps(v, ensure_ascii=False)}" for k, v in values.items()]
    return lines + [f"  settings problem: {p}" for p in problems]


@admin_app.command()
def overview(run_date: DateOpt = None, as_json: JsonOpt = False) -> None:
    """Settings in force, today's assignments and completion, and the last run."""
    settings = _settings()
    with _errors():
        data = analytics.overview(settings.database_url, _day(run_date, settings))

    def text(d: dict[str, Any]) -> str:
        t = d["today"]
        today = (
            [
                f"today: {t['users']} users, {t['assignments']} assignments, "
                f"{t['started']} started, {t['completed']} completed "
                f"({_pct(t['completion_rate'])})",
                _table(t["by_source"], [("source", "source"), *COMPLETION_COLS]),
            ]
            if t["assignments"]
            else [f"today: no assignments for {d['date']} yet"]
        )
        return "\n".join(
            [f"Overview {d['date']}", "settings:"]
            + _settings_lines(d["settings"], d["settings_problems"])
            + today
            + [_run_line(d["last_run"])]
        )

    _emit(data, as_json, text)


@admin_app.command()
def performance(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The latest run attempts: status, seconds, users served, quarantined rows."""
    settings = _settings()
    with _errors():
        data = analytics.performance(settings.database_url, limit)

    def text(d: dict[str, Any]) -> str:
        s = d["seconds"]
        head = (
            f"seconds over the last {s['runs']} runs (dry runs excluded): last {s['last']}, "
            f"mean {s['mean']}, max {s['max']}"
            if s
            else "no runs yet (other than dry runs)"
        )
        runs = [
            {
                **r,
                "finished_at": "(not finished)"
                if r["status"] in UNFINISHED
                else (r["finished_at"] or "")[:19],
            }
            for r in d["runs"]
        ]
        if not runs:
            return "no runs yet"
        return "\n".join([head, _table(runs, RUN_COLS)])

    _emit(data, as_json, text)


@admin_app.command()
def stats(
    start: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (default: end − 6).")
    ] = None,
    end: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day (default: today).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Completion by source, type and category; engagement; ML vs fallback; run errors."""
    settings = _settings()
    last = _day(end, settings)
    first = start.date() if start else last - timedelta(days=6)
    with _errors():
        data = analytics.stats(settings.database_url, first, last)

    def text(d: dict[str, Any]) -> str:
        t, e, m, err = d["totals"], d["engagement"], d["ml_effectiveness"], d["errors"]
        ml_rows = [
            {
                "bucket": b["bucket"],
                "ml_rate": b.get("ml", {}).get("completion_rate"),
                "ml_n": b.get("ml", {}).get("assigned"),
                "rb_rate": b.get("rule_based", {}).get("completion_rate"),
                "rb_n": b.get("rule_based", {}).get("assigned"),
                "difference": None if b.get("difference") is None else _diff(b["difference"]),
            }
            for b in m["buckets"]
            if "ml" in b or "rule_based" in b
        ]
        err_line = (
            f"runs: {err['runs']} ({_value(err['runs_by_status'])}), failed {err['failed']} "
            f"({_pct(err['failure_rate'])}); quarantined answer rows {err['quarantined']}"
            if err["runs"]
            else "runs: no runs yet in this range"
        )
        if not t["assigned"]:
            return "\n".join(
                [
                    f"Statistics {d['start_date']} .. {d['end_date']}",
                    "no assignments in this range",
                    err_line,
                ]
                + [f"  failed {r['run_date']}: {r['error']}" for r in err["failed_runs"]]
            )
        return "\n".join(
            [
                f"Statistics {d['start_date']} .. {d['end_date']}",
                f"assignments: {t['assigned']}, started {t['started']} "
                f"({_pct(t['start_rate'])}), completed {t['completed']} "
                f"({_pct(t['completion_rate'])})",
                "by source:",
                _table(d["by_source"], [("source", "source"), *COMPLETION_COLS]),
                "by type:",
                _table(d["by_type"], [("challenge_type", "type"), *COMPLETION_COLS]),
                "by category:",
                _table(d["by_category"], [("category", "category"), *COMPLETION_COLS]),
                f"engagement: {e['engaged_user_days']} of {e['assigned_user_days']} assigned "
                f"user-days with progress ({_pct(e['engagement_rate'])}); "
                f"{e['completed_all_user_days']} completed all",
                "ML vs rule-based (fallback + holdout) by answers before the day:",
                _table(
                    ml_rows,
                    [
                        ("bucket", "answers"),
                        ("ml_n", "ML n"),
                        ("ml_rate", "ML"),
                        ("rb_n", "rule n"),
                        ("rb_rate", "rule-based"),
                        ("difference", "difference"),
                    ],
                ),
                f"weighted difference (ML − rule-based): {_diff(m['difference'])}",
                err_line,
            ]
            + [f"  failed {r['run_date']}: {r['error']}" for r in err["failed_runs"]]
        )

    _emit(data, as_json, text)


@admin_app.command()
def recent(
    days: Annotated[int, typer.Option(min=1, max=366, help="Challenge days back.")] = 7,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="From this challenge day on (overrides --days)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The latest challenges with how many users hold, started and completed each."""
    settings = _settings()
    first = since.date() if since else common.today(settings.timezone) - timedelta(days=days - 1)
    with _errors():
        data = analytics.recent(settings.database_url, first, limit)
    cols = [
        ("challenge_date", "date"),
        ("source", "source"),
        ("challenge_type", "type"),
        ("category", "category"),
        ("target_value", "target"),
        ("xp_reward", "XP"),
        *COMPLETION_COLS,
        ("title", "title"),
    ]
    _emit(
        data,
        as_json,
        lambda d: (
            f"Challenges since {d['since_date']}\n" + _table(d["challenges"], cols)
            if d["challenges"]
            else f"no challenges since {d['since_date']}"
        ),
    )


@settings_app.command("show")
def settings_show(
    history: Annotated[int, typer.Option(min=0, max=1000, help="Recent changes shown.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The settings in force (defaults filled in), who set each, and recent changes."""
    settings = _settings()
    with _errors():
        data = settings_admin.settings_view(settings.database_url, history)

    def text(d: dict[str, Any]) -> str:
        stored = {r["key"]: r for r in d["stored"]}
        lines = ["settings in force:"]
        for k, v in d["settings"].items():
            r = stored.get(k)
            who = (
                f"  (set by {r['updated_by'] or 'unknown'} at {r['updated_at'][:19]} UTC)"
                if r
                else "  (default)"
            )
            lines.append(f"  {k} = {json.dumps(v, ensure_ascii=False)}{who}")
        lines += [f"  settings problem: {p}" for p in d["problems"]]
        if d["history"]:
            lines.append("recent changes:")
            lines += [
                f"  {h['changed_at'][:19]} UTC {h['changed_by'] or 'unknown'}: {h['key']} "
                f"{h['old_value'] or '(unset)'} -> {h['new_value']}"
                for h in d["history"]
            ]
        return "\n".join(lines)

    _emit(data, as_json, text)


@settings_app.command("set")
def settings_set(
    key: Annotated[str, typer.Argument(help="A setting key, e.g. challenges_per_user.")],
    value: Annotated[
        str, typer.Argument(help='JSON value (true, 0.3, 4, ["quiz","streak"]) or a,b,c.')
    ],
    by: Annotated[str | None, typer.Option("--by", help="Who changes it (default: $USER).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change one setting, validated against the contract's keys and bounds; recorded with
    who and when in challenge_settings_history."""
    settings = _settings()
    who = by or os.environ.get("USER") or None
    with _errors():
        parsed = settings_admin.parse_cli_value(key, value)
        data = settings_admin.set_settings(settings.database_url, {key: parsed}, who)

    def text(d: dict[str, Any]) -> str:
        if not d["changed"]:
            return f"{key} unchanged (already {value})"
        return "\n".join(
            f"{c['key']}: {c['old_value'] or '(unset)'} -> {c['new_value']} "
            f"(by {d['changed_by'] or 'unknown'} at {d['changed_at'][:19]} UTC)"
            for c in d["changed"]
        )

    _emit(data, as_json, text)


@admin_app.command("test-user")
def test_user(
    user_id: Annotated[int, typer.Argument(min=1, help="The user's id.")],
    run_date: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Dry-run the nightly job for one user: the challenges chosen, their reasons, and
    which selector (ml, fallback, onboarding) served the user and why. Writes nothing."""
    settings = _settings()
    with _errors(), flow_session():
        data = dry_run.dry_run_user(settings, user_id, _day(run_date, settings))

    def text(d: dict[str, Any]) -> str:
        lines = [
            f"user {d['user_id']} on {d['run_date']} (dry run {d['status']}): "
            f"selector {d['selector'] or 'none'} — {d['why']}"
        ]
        for c in d["challenges"]:
            cat = f" {c['category']} ({c['category_no']})" if c["category"] else ""
            lines += [
                f"  {c['slot']}. {c['challenge_type']}{cat}: target {c['target_value']}, "
                f"difficulty {_value(c['difficulty'])}, {c['xp_reward']} XP + "
                f"{c['bonus_xp']} bonus [{c['source']}]",
                f"     {c['title']}",
                f"     {c['description']}",
                f"     reason: {json.dumps(c['reason'], ensure_ascii=False)}",
            ]
        return "\n".join(lines)

    _emit(data, as_json, text)


@admin_app.command()
def generate(
    run_date: DateOpt = None,
    force: Annotated[bool, typer.Option(help="Replace assignments nobody has started.")] = False,
    local: Annotated[
        bool, typer.Option("--local", help="Run in this process even when a server is set.")
    ] = False,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for a deployment run (0: don't).")
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Start the nightly deployment (daily-challenges/nightly) through the Prefect API when
    PREFECT_API_URL is set, else run the nightly job here."""
    from flows.admin_runs import generate as start_nightly

    settings = _settings()
    with _errors(), flow_session():
        data = start_nightly(_day(run_date, settings), force=force, local=local, wait_seconds=wait)

    def text(d: dict[str, Any]) -> str:
        if d["mode"] == "deployment":
            return (
                f"started {d['deployment']} for {d['run_date']}: flow run {d['flow_run_name']} "
                f"({d['flow_run_id']}), state {d['state']}, at {d['api_url']}"
            )
        r = d["result"]
        w = r.get("written") or {}
        written = (
            f"{w.get('assignments_inserted', 0)} assignments added, "
            f"{w.get('assignments_replaced', 0)} replaced"
            if w
            else "nothing written"
        )
        return (
            f"ran locally for {d['run_date']}: {r['status']}, {r['users_served']} users, "
            f"{r['assignments']} assignments; {written}"
        )

    _emit(data, as_json, text)


@admin_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8080,
) -> None:
    """Serve the HTTP admin API (/admin/api/ml-challenges/…, OpenAPI at /openapi.json).
    Refuses to start without DAGLIG_ADMIN_TOKEN."""
    import uvicorn

    from daglig.admin.api import MIN_TOKEN_LENGTH, create_app

    settings = _settings()
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if len(token) < MIN_TOKEN_LENGTH:
        typer.echo(
            f"refusing to start: set DAGLIG_ADMIN_TOKEN to a secret of at least "
            f"{MIN_TOKEN_LENGTH} characters (e.g. `openssl rand -hex 32`)",
            err=True,
        )
        raise typer.Exit(2)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
