"""The run summary: what a run did, as data, as markdown (Prefect artifact) and as email.

The markdown is for data engineers (English, the Prefect UI); the email is for admins
(Norwegian Bokmål, HTML and plain text, readable on a phone).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import polars as pl

from daglig import markdown as md
from daglig import norsk
from daglig import wording_no as wording
from daglig.catalogue import CATEGORIES
from daglig.morning import chart_of, has_chart, morning_context

CHART_CID = "trend-chart@daglig.local"

# the Norwegian words live in daglig/wording_no.py; these names stay for their importers
STATUS_NO, SOURCE_NO, TYPE_NO = wording.STATUS_NO, wording.SOURCE_NO, wording.TYPE_NO
SKIP_NO, QUARANTINE_NO, ML_STATUS_NO = wording.SKIP_NO, wording.QUARANTINE_NO, wording.ML_STATUS_NO


@dataclass
class RunSummary:
    """Everything a run reports. Counts are plain ints and dicts, ready for JSON."""

    run_date: date
    status: str
    database: str
    dry_run: bool = False
    force: bool = False
    selector: str = "fallback"
    users_total: int = 0
    users_active: int = 0
    users_served: int = 0
    users_skipped: dict[str, int] = field(default_factory=dict)
    assignments: int = 0
    distinct_challenges: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    answers_used: int = 0
    answers_after_cutoff: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    settings_problems: list[str] = field(default_factory=list)
    written: dict[str, int | str] = field(default_factory=dict)  # WriteCounts, path included
    task_seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    failed_task: str | None = None
    failed_at: str | None = None  # when the run gave up (ISO 8601, the day's zone)
    failed_step_seconds: float | None = None  # the failed step's time, retries included
    started_at: str | None = None  # when the run began (ISO 8601, the day's zone)
    flow_run_url: str | None = None
    email: str | None = None
    cleaned: dict[str, int] = field(default_factory=dict)  # retention cleanup's deletions
    quality: dict[str, Any] = field(default_factory=dict)  # data-quality gates' reports
    quarantine_file: str | None = None  # Parquet of the quarantined rows, with reasons
    ml_status: str = "off"  # "used" | "fallback" (ML wanted, unavailable) | "off" (disabled)
    ml_reason: str | None = None  # why ML was not used
    model_version: str | None = None
    completion_model_version: str | None = None  # the ML targets' completion model
    completion_reason: str | None = None  # why the ML targets follow the rules
    # its held-out metrics vs the type-rate baseline (its metadata): log_loss, auc,
    # baseline_log_loss, baseline_auc; and how many ML slots got their target from it
    completion_metrics: dict[str, float] = field(default_factory=dict)
    completion_slots: int = 0
    morning: dict[str, Any] = field(default_factory=dict)  # yesterday, for the admins
    shards: int = 0  # how many shards the users were split into
    shard_workers: list[str] = field(default_factory=list)  # host:pid that ran shard tasks
    run_row_id: int | None = None  # this run's pipeline_runs row, once its start is recorded
    run_folder: str | None = None  # data/runs/<date>/<flow run id>/: the run's Parquet files
    # how the features were computed: "full" (the whole answer log) or "incremental"
    # (tonight's answers folded into the last good night's state), why, and answers read
    features_path: str | None = None
    features_reason: str | None = None
    features_reason_code: str | None = None  # daglig/night_path.py's code of the reason
    answers_read: int = 0
    # struggling learners served tonight (docs/struggle.md): all of them, and those of the
    # struggle holdout, whose day was left as chosen
    struggling: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["run_date"] = self.run_date.isoformat()
        return d


def counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """Row counts per value of ``column`` (nulls as 'none'), largest first."""
    if frame.is_empty():
        return {}
    c = (
        frame.group_by(pl.col(column).fill_null("none"))
        .len()
        .sort(["len", column], descending=[True, False])
    )
    return {str(k): int(v) for k, v in c.iter_rows()}


def assignment_counts(assignments: pl.DataFrame) -> dict[str, Any]:
    """Counts of a day's assignments by source, type and category."""
    return {
        "assignments": assignments.height,
        "users_served": assignments["user_id"].n_unique() if assignments.height else 0,
        "by_source": counts(assignments, "source"),
        "by_type": counts(assignments, "challenge_type"),
        "by_category": counts(assignments, "category"),
    }


def _table(rows: list[tuple[str, Any]], head: tuple[str, str]) -> str:
    out = [f"| {head[0]} | {head[1]} |", "| --- | ---: |"]
    out += [f"| {md.text(k)} | {md.text(v)} |" for k, v in rows]
    return "\n".join(out)


def to_markdown(s: RunSummary) -> str:
    """The summary as a Prefect markdown artifact (English, for data engineers). Every
    value that may carry app data, settings or an error's text is escaped
    (:mod:`daglig.markdown`): it shows as text, never as markup."""
    lines = [
        f"# Daily challenges {s.run_date.isoformat()}: {md.text(s.status)}",
        "",
        f"Database {md.code(s.database)} · selector {md.code(s.selector)} · force={s.force}"
        f" · dry_run={s.dry_run} · {s.total_seconds:.1f} s",
        "",
    ]
    if s.error:
        lines += [f"**Failed in {md.code(s.failed_task)}:** {md.text(s.error)}", ""]
    if s.email and s.email.startswith("FAILED"):
        lines += [f"**Summary email not sent:** {md.text(s.email.removeprefix('FAILED: '))}", ""]
    lines += [_ml_line(s), ""]
    if s.struggling.get("learners"):
        held = s.struggling.get("held_out", 0)
        lines += [
            f"Struggling learners: {s.struggling['learners']} ({s.struggling['learners'] - held}"
            f" given a gentler day, {held} held out).",
            "",
        ]
    lines += [f"- {md.text(n)}" for n in s.notes]
    lines += [
        "",
        f"Users: {s.users_total} known, {s.users_active} active, {s.users_served} served; "
        f"{s.assignments} assignments of {s.distinct_challenges} distinct challenges.",
        "",
    ]
    for title, d in (("Source", s.by_source), ("Type", s.by_type), ("Category", s.by_category)):
        if d:
            lines += [
                f"## By {title.lower()}",
                "",
                _table(list(d.items()), (title, "assignments")),
                "",
            ]
    if s.users_skipped:
        lines += [
            "## Users skipped",
            "",
            _table(list(s.users_skipped.items()), ("why", "users")),
            "",
        ]
    lines += [
        "## Input quality",
        "",
        f"{s.answers_used} answers used; {s.answers_after_cutoff} at or after the cutoff ignored.",
        "",
    ]
    if s.features_path:
        lines += [
            f"Features: {md.text(s.features_path)} — {md.text(s.features_reason or '')} "
            f"({s.answers_read:,} answers read tonight).",
            "",
        ]
    if s.quarantined:
        lines += [_table(list(s.quarantined.items()), ("quarantined", "rows")), ""]
    if s.quarantine_file:
        lines += [f"Quarantined rows, with reasons: {md.code(s.quarantine_file)}", ""]
    for gate, q in s.quality.items():
        lines += [
            f"Data-quality gate ({gate}): {q.get('passed', 0)} of {q.get('checks', 0)} checks "
            f"passed in {q.get('seconds', 0.0):.2f} s.",
            "",
        ]
        lines += [f"- warning: {md.text(w)}" for w in q.get("warnings", [])]
        lines += [f"- FAILED: {md.text(f)}" for f in q.get("failed", [])]
        lines += [""] if q.get("warnings") or q.get("failed") else []
    if s.settings_problems:
        lines += (
            ["## Settings problems (each says what was used instead)", ""]
            + [f"- {md.text(p)}" for p in s.settings_problems]
            + [""]
        )
    if s.written:
        lines += ["## Written", "", _table(list(s.written.items()), ("what", "rows")), ""]
    if s.task_seconds:
        rows = [(k, f"{v:.2f}") for k, v in s.task_seconds.items()]
        lines += ["## Time per task", "", _table(rows, ("task", "seconds")), ""]
    return "\n".join(lines).rstrip() + "\n"


def _ml_line(s: RunSummary) -> str:
    if s.ml_status == "used":
        return f"Learner model {md.code(s.model_version)} used for ML-eligible users. " + (
            f"ML targets from completion model {md.code(s.completion_model_version)}."
            if s.completion_model_version
            else "ML targets by the rules: completion model not used: "
            f"{md.text(s.completion_reason or 'not reached')}."
        )
    return (
        f"Learner model not used ({md.text(s.ml_status)}): {md.text(s.ml_reason or 'not reached')}."
    )


COMPLETION_BASELINE = "type rate"  # the baseline the email names (``typeandel``)


def completion_metrics(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    """The model's held-out log loss and AUC and the type-rate baseline's, from a
    completion model's metadata (a missing one is left out)."""
    model, base = metrics.get("model", {}), metrics.get(COMPLETION_BASELINE, {})
    out: dict[str, float] = {k: float(model[k]) for k in ("log_loss", "auc") if k in model}
    out |= {f"baseline_{k}": float(base[k]) for k in ("log_loss", "auc") if k in base}
    return out


def features_line_no(s: RunSummary) -> str | None:
    """The email's line on how the features were computed: tonight's answers folded into
    the state of the last good night, or the whole answer log again, and why."""
    if not s.features_path:
        return None
    read = norsk.integer(s.answers_read)
    if s.features_path == "incremental":
        return f"Beregnet trinnvis: {read} nye svar lagt til det som var kjent natten før."
    why = wording.PATH_NO.get(s.features_reason_code or "", s.features_reason or "")
    return f"Beregnet fra hele svarloggen ({read} svar): {why}."


def struggle_line_no(s: RunSummary) -> str | None:
    """The email's line on the struggling learners served tonight; None when there were
    none (or the run got no further than the features)."""
    n = s.struggling.get("learners", 0)
    if not n:
        return None
    held = s.struggling.get("held_out", 0)
    line = (
        f"{norsk.integer(n - held)} {wording.LEARNERS if n - held != 1 else 'elev'} som strever, "
        "fikk en roligere dag: kortere og lettere utfordringer, uten feilfri- og fartsutfordringer"
    )
    if held:
        line += f"; {norsk.integer(held)} i kontrollgruppen fikk dagen som valgt"
    return line + "."


def completion_line_no(s: RunSummary) -> str | None:
    """The email's line on the ML targets: which completion model set them, how good it was
    against the type-rate baseline and for how many slots; or that they followed today's
    rules, and why. None when the learner model was not used (everyone got rules)."""
    if s.ml_status != "used":
        return None
    if s.completion_model_version:
        m = s.completion_metrics
        parts = []
        if "log_loss" in m:
            base = m.get("baseline_log_loss")
            parts.append(
                f"log loss {norsk.decimal(m['log_loss'], 3)}"
                + (f" (typeandel {norsk.decimal(base, 3)})" if base is not None else "")
            )
        if "auc" in m:
            base = m.get("baseline_auc")
            parts.append(
                f"AUC {norsk.decimal(m['auc'], 2)}"
                + (f" (typeandel {norsk.decimal(base, 2)})" if base is not None else "")
            )
        slots = (
            f"satte målet for {norsk.integer(s.completion_slots)} ML-tildelinger"
            if s.completion_slots != 1
            else "satte målet for 1 ML-tildeling"
        )
        return f"Fullføringsmodell {s.completion_model_version}: " + ", ".join([*parts, slots])
    return f"Fullføringsmodell: ikke brukt, målene fulgte dagens regler – {_why_no_completion(s)}"


def _why_no_completion(s: RunSummary) -> str:
    reason = (s.completion_reason or "").strip()
    if not reason:
        return "ingen grunn oppgitt"
    translated = wording.note_no(reason)  # the known reasons, too few outcomes among them
    if translated != reason:
        return translated
    if reason.startswith("no trained completion model"):
        return "ingen fullføringsmodell ennå (kjør `daglig train`)"
    if "trained on another database" in reason:
        return "modellen er trent på en annen database (kjør `daglig train`)"
    return f"modellen kunne ikke lastes ({wording.one_line(reason)})"


def _labelled(d: dict[str, int], names: dict[str, str]) -> list[tuple[str, str]]:
    return [(names.get(k, k), norsk.integer(v)) for k, v in d.items()]


def _when(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def rerun_command(s: RunSummary) -> str:
    """The command that reruns this run's date (a failed run wrote nothing)."""
    return f"daglig run --date {s.run_date.isoformat()}"


def email_context(s: RunSummary) -> dict[str, Any]:
    """What the email templates show, already in Norwegian (numbers and dates by Babel)."""
    cat_names = {k: c.name_no for k, c in CATEGORIES.items()} | {"none": "Uten kategori"}
    failed = s.status == "failed"
    failed_at = _when(s.failed_at)
    computed = None
    if failed:
        computed = (
            f"Beregnet, men ikke skrevet: utfordringer til {norsk.integer(s.users_served)} av "
            f"{norsk.integer(s.users_active)} aktive {wording.LEARNERS}, "
            f"{norsk.integer(s.assignments)} tildelinger "
            f"({norsk.integer(s.distinct_challenges)} ulike utfordringer)."
            if s.assignments
            else "Ingenting var beregnet ennå da feilen kom."
        )
    return {
        "s": s,
        "learners": wording.LEARNERS,
        "status_no": STATUS_NO.get(s.status, s.status),
        "ml_status_no": ML_STATUS_NO.get(s.ml_status, s.ml_status),
        "ml_reason_no": wording.note_no(s.ml_reason) if s.ml_reason else None,
        "completion_no": completion_line_no(s),
        "struggle_no": struggle_line_no(s),
        "error": wording.one_line(s.error),
        "failed_step": wording.step_no(s.failed_task) if failed else None,
        "failed_clock": norsk.clock(failed_at) if failed_at else None,
        "failed_step_seconds": (
            norsk.decimal(s.failed_step_seconds) if s.failed_step_seconds is not None else None
        ),
        "computed_not_written": computed,
        "rerun": rerun_command(s),
        "deployment": "daily-challenges/nightly",
        "notes": [wording.note_no(n) for n in s.notes],
        "served": norsk.integer(s.users_served),
        "active": norsk.integer(s.users_active),
        "assignments": norsk.integer(s.assignments),
        "distinct": norsk.integer(s.distinct_challenges),
        "answers_used": norsk.integer(s.answers_used),
        "features_no": features_line_no(s),
        "by_source": _labelled(s.by_source, SOURCE_NO),
        "by_type": _labelled(s.by_type, TYPE_NO),
        "by_category": _labelled(s.by_category, cat_names),
        "skipped": _labelled(s.users_skipped, SKIP_NO),
        "quarantined": _labelled(s.quarantined, QUARANTINE_NO),
        "quarantined_total": norsk.integer(sum(s.quarantined.values())),
        "task_seconds": [(wording.step_no(k), norsk.decimal(v)) for k, v in s.task_seconds.items()],
        "total_seconds": norsk.decimal(s.total_seconds),
        "date_no": norsk.day(s.run_date),
        "date_long": norsk.day_long(s.run_date),
        "m": morning_context(
            s.morning,
            None if failed else s.total_seconds,  # a failed run's time is no comparison
            CHART_CID if has_chart(s.morning) else None,
            _when(s.started_at),
        ),
    }


def compose_email(s: RunSummary, sender: str, recipients: list[str], env: Any) -> EmailMessage:
    """A multipart email (plain text + HTML) rendered from ``templates_no/email``."""
    ctx = email_context(s)
    msg = EmailMessage()
    subject_status = (
        f"FEILET i «{ctx['failed_step']}»"
        if s.status == "failed"
        else STATUS_NO.get(s.status, s.status)
    )
    msg["Subject"] = f"Daglige utfordringer {ctx['date_no']}: {subject_status}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = make_msgid(domain="daglig.local")
    msg.set_content(env.get_template("email/summary.txt.j2").render(**ctx))
    msg.add_alternative(env.get_template("email/summary.html.j2").render(**ctx), subtype="html")
    chart = chart_of(s.morning)
    if chart is not None:  # the trend chart, shown inline by the HTML part (cid:)
        html_part = next(p for p in msg.iter_parts() if p.get_content_type() == "text/html")
        html_part.add_related(chart, "image", "png", cid=f"<{CHART_CID}>")
    return msg
