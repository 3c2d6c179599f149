"""The one email a backfill sends: the whole range, a row per date (Norwegian Bokmål).

The dates of a backfill run the nightly flow without emails of their own; this summary
says for each date what happened (done, skipped because complete, failed with a one-line
error), how many assignments were added, and for failed dates the command that reruns
them. Pure: :func:`compose_backfill_email` builds the message; tasks/report.py sends it.
"""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from daglig import norsk
from daglig import wording_no as wording
from daglig.backfill import DayOutcome


def _outcome_no(o: DayOutcome) -> str:
    if o.failed:
        return "FEILET"
    if o.outcome.startswith("skipped"):
        return "hoppet over (allerede ferdig)"
    return "fullført"


def _spans(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive dates as (first, last) runs: 1., 2., 3., 5. → (1., 3.), (5., 5.)."""
    spans: list[tuple[date, date]] = []
    for d in sorted(days):
        if spans and (d - spans[-1][1]).days == 1:
            spans[-1] = (spans[-1][0], d)
        else:
            spans.append((d, d))
    return spans


def backfill_context(
    start: date, end: date, outcomes: list[DayOutcome], flow_run_url: str | None = None
) -> dict[str, Any]:
    ordered = sorted(outcomes, key=lambda o: o.day)
    failed = [o for o in ordered if o.failed]
    reruns = [
        f"daglig backfill --start {a.isoformat()} --end {b.isoformat()}"
        for a, b in _spans([o.day for o in failed])
    ]
    return {
        "range_no": f"{norsk.day(start)}–{norsk.day(end)}",
        "n_dates": norsk.integer(len(ordered)),
        "n_failed": len(failed),
        "n_failed_no": norsk.integer(len(failed)),
        "n_ok": norsk.integer(sum(1 for o in ordered if o.outcome == "ok")),
        "n_skipped": norsk.integer(sum(1 for o in ordered if o.outcome.startswith("skipped"))),
        "added": norsk.integer(sum(o.assignments_added for o in ordered)),
        "rows": [
            {
                "day": norsk.day(o.day),
                "outcome": _outcome_no(o),
                "failed": o.failed,
                "added": norsk.integer(o.assignments_added),
                "complete": f"{norsk.integer(o.users_complete)} av {norsk.integer(o.active_users)}",
                "seconds": norsk.decimal(o.seconds),
                "error": _error_no(o),
            }
            for o in ordered
        ],
        "reruns": reruns,
        "learners": wording.LEARNERS,
        "flow_run_url": flow_run_url,
    }


def _error_no(outcome: DayOutcome) -> str:
    """A date's one-line error for the Norwegian email: the failed step's Norwegian label
    and the line ("Skrive utfordringene til databasen: IntegrityError: …")."""
    line = wording.one_line(outcome.error, 200)
    if outcome.failed_step and line:
        return f"{wording.step_no(outcome.failed_step)}: {line}"
    return line


def compose_backfill_email(
    start: date,
    end: date,
    outcomes: list[DayOutcome],
    sender: str,
    recipients: list[str],
    env: Any,
    flow_run_url: str | None = None,
) -> EmailMessage:
    """One multipart email (plain text + HTML) for the whole backfill."""
    ctx = backfill_context(start, end, outcomes, flow_run_url)
    status = (
        f"{ctx['n_failed_no']} av {ctx['n_dates']} datoer FEILET"
        if ctx["n_failed"]
        else f"{ctx['n_dates']} datoer fullført"
    )
    msg = EmailMessage()
    msg["Subject"] = f"Etterfylling {ctx['range_no']}: {status}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = make_msgid(domain="daglig.local")
    msg.set_content(env.get_template("email/backfill.txt.j2").render(**ctx, status=status))
    msg.add_alternative(
        env.get_template("email/backfill.html.j2").render(**ctx, status=status), subtype="html"
    )
    return msg
