"""The Norwegian words of the admins' emails: step labels, statuses, notes, reasons.

The run keeps its notes and reasons in English (the Prefect UI and the logs are for data
engineers); the email shows each known one in Bokmål through :func:`note_no` and
:func:`reason_no`. A text not known here is shown as it is, marked as the system's own
words, rather than mistranslated. Learners are "elever" everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from daglig import norsk

LEARNERS = "elever"  # one word for learners, in every email

STEP_NO = {
    "check-health": "Sjekke databasen",
    "read-settings": "Lese innstillingene",
    "check-users": "Sjekke valgte elever",
    "extract-features": "Lese svarloggen og beregne elevdata",
    "read-answer-log": "Lese svarloggen",
    "validate-inputs": "Kontrollere inndata",
    "load-model": "Laste læringsmodellen",
    "load-completion-model": "Laste fullføringsmodellen",
    "assess-learners": "Vurdere elevene med læringsmodellen",
    "select-challenges": "Velge utfordringer",
    "render-challenges": "Lage utfordringstekstene",
    "key-challenges": "Samle like utfordringer",
    "validate-outputs": "Kontrollere resultatet",
    "upsert-challenges": "Skrive utfordringene til databasen",
    "keep-assessment": "Ta vare på nattens elevvurdering",
    "keep-carried-state": "Ta vare på elevdataene til neste natt",
    "cleanup-expired": "Rydde bort gamle utfordringer",
    "build-morning-report": "Lage morgenrapporten",
    "publish-summary": "Publisere sammendraget i Prefect",
    "send-summary-email": "Sende e-posten",
    "send-backfill-email": "Sende e-posten om etterfyllingen",
    "record-run-start": "Registrere at kjøringen startet",
    "record-run": "Registrere kjøringen",
    "check-complete-dates": "Finne datoer som allerede er ferdige",
    "flow": "Kjøringen",
}

STATUS_NO = {
    "ok": "fullført",
    "dry_run": "prøvekjøring (ingenting skrevet)",
    "disabled": "generering er slått av (ingenting skrevet)",
    "failed": "FEILET",
    "skipped": "hoppet over (allerede ferdig)",
}
SOURCE_NO = {"ml": "ML", "fallback": "Regelbasert", "onboarding": "Oppstart", "manual": "Manuell"}
# challenge types as kinds of task, so none reads like a category ("Fart og avstand")
TYPE_NO = {
    "quiz": "Quiz",
    "perfect_score": "Feilfri runde",
    "category_focus": "Øving i én kategori",
    "streak": "Øvingsrekke",
    "accuracy_challenge": "Treffsikkerhet",
    "speed_challenge": "Tempoutfordring",
}
SKIP_NO = {
    "inactive": f"inaktive {LEARNERS}",
    "not_requested": "ikke med i utvalget (--user-id)",
    "no_challenge_possible": "ingen utfordring mulig med gjeldende innstillinger",
}
#: Why a night recomputed every feature from the whole answer log (daglig/night_path.py's
#: codes), for the admins' email.
PATH_NO = {
    "forced": "bedt om med --full",
    "some_users": "en kjøring for noen brukere",
    "no_state": "ingen lagret tilstand ennå",
    "other_database": "den lagrede tilstanden er fra en annen database",
    "schema": "beregningene er endret siden tilstanden ble lagret",
    "later_state": "den lagrede tilstanden er fra en senere natt",
    "old_state": "den lagrede tilstanden er for gammel",
    "weekly": "den ukentlige fulle omregningen",
    "shards": "antallet deler (shards) er endret",
    "questions": "spørsmålsbanken er endret",
    "answers_changed": "svar er slettet eller lagt inn under den lagrede tilstanden",
    "accounts": "en konto har fått endret opprettelsestidspunkt",
}

QUARANTINE_NO = {
    "missing_question": "svar på spørsmål som mangler",
    "unknown_category": "ukjent kategori",
    "duplicate": "duplikater",
    "bad_time_spent_seconds": "ugyldig svartid (svaret beholdt)",
    "future_answered_at": "svar datert fram i tid",
    "before_account": "svar datert før kontoen ble opprettet",
}
ML_STATUS_NO = {
    "used": "brukt",
    "fallback": "IKKE brukt, alle fikk regelbaserte utfordringer",
    "off": "slått av",
}


def step_no(name: str | None) -> str:
    """«Skrive utfordringene til databasen» for upsert-challenges; unknown: the name."""
    return STEP_NO.get(name or "flow", name or "flow")


def _n(text: str) -> str:
    return norsk.integer(int(text))


def _d(text: str) -> str:
    return norsk.day(date.fromisoformat(text))


# (English pattern, Norwegian from its groups): the notes and reasons the run writes
_KNOWN: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(p), f)
    for p, f in (
        (
            r"^generation_enabled is false: nothing was generated or written$",
            lambda m: (
                "Generering er slått av (generation_enabled): ingenting ble laget eller skrevet."
            ),
        ),
        (
            r"^restricted to (\d+) requested user ids$",
            lambda m: f"Bare {_n(m[1])} valgte {LEARNERS} (--user-id).",
        ),
        (
            r"^(\d+) users got fewer than (\d+) challenges \(.*\)$",
            lambda m: (
                f"{_n(m[1])} {LEARNERS} fikk færre enn {_n(m[2])} utfordringer (for "
                "få påslåtte typer eller kategorier når gårsdagens er holdt utenfor)."
            ),
        ),
        (
            # what the model store says after a training that fitted nothing
            # (tasks/completion.py)
            r"^no trained completion model: too few challenge outcomes to learn from "
            r"\(([\d,]+) of the ([\d,]+) needed before the held-out nights\), "
            r"as of (\d{4}-\d\d-\d\d)$",
            lambda m: (
                f"ingen fullføringsmodell ennå: for få utfall å lære av "
                f"({_n(m[1].replace(',', ''))} av de {_n(m[2].replace(',', ''))} som trengs, "
                f"per {_d(m[3])})"
            ),
        ),
        (r"^dry run: nothing was written$", lambda m: "Prøvekjøring: ingenting ble skrevet."),
        (r"^dry run: cleanup skipped$", lambda m: "Prøvekjøring: oppryddingen ble hoppet over."),
        (
            r"^the day was already complete: no new rows written$",
            lambda m: "Dagen var allerede ferdig: ingen nye rader skrevet.",
        ),
        (
            r"^morning report unavailable: (.*)$",
            lambda m: f"Morgenrapporten kunne ikke lages ({m[1]}).",
        ),
        (
            r"^cleanup: (\d+) never-started assignments and (\d+) unreferenced challenges "
            r"dated before (\d{4}-\d\d-\d\d) deleted \((\d+) days retention\)$",
            lambda m: (
                f"Opprydding: {_n(m[1])} tildelinger ingen hadde startet og "
                f"{_n(m[2])} ubrukte utfordringer datert før {_d(m[3])} er slettet "
                f"(de oppbevares i {_n(m[4])} dager)."
            ),
        ),
        (
            r"^summary email could not be sent: (.*)$",
            lambda m: f"Sammendraget kunne ikke sendes på e-post ({m[1]}).",
        ),
        (
            r"^run not recorded in pipeline_runs: (.*)$",
            lambda m: f"Kjøringen ble ikke registrert i pipeline_runs ({m[1]}).",
        ),
        (
            r"^disk full: removed this run's files \(([\d.]+) MB\) from (.*), keeping FAILED.txt$",
            lambda m: (
                f"Disken var full: kjøringens filer ({norsk.decimal(float(m[1]))} MB) "
                f"er fjernet fra {m[2]}; FAILED.txt er beholdt."
            ),
        ),
        (
            r"^ML switched off for this run \(no_ml / --no-ml\)$",
            lambda m: "slått av for denne kjøringen (--no-ml)",
        ),
        (
            r"^ml_enabled is false in challenge_settings$",
            lambda m: "slått av i innstillingene (ml_enabled)",
        ),
        (
            r"^no trained model in (.*) \(run `daglig train`\)$",
            lambda m: f"ingen trent modell i {m[1]} (kjør `daglig train`)",
        ),
        (
            r"^model (\S+) is (\d+) days old \(trained as of (\S+)\); the limit is (\d+) days$",
            lambda m: (
                f"modellen {m[1]} er {_n(m[2])} dager gammel (trent på data til "
                f"{_d(m[3])}); grensen er {_n(m[4])} dager"
            ),
        ),
        (
            r"^ML selection failed: (.*)$",
            lambda m: f"ML-utvelgelsen feilet ({m[1]})",
        ),
    )
)


def note_no(text: str) -> str:
    """A run's note or reason in Bokmål; an unknown one as it is."""
    for pattern, say in _KNOWN:
        m = pattern.match(text.strip())
        if m:
            return say(m)
    return text


def one_line(text: str | None, limit: int = 300) -> str:
    """The first line of an error's text, at most ``limit`` characters: what a person
    reads in an email (the statement and traceback are in the task's log)."""
    if not text:
        return ""
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
