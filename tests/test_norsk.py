"""What a Norwegian reads in the emails: numbers and dates by Babel (nb_NO), the words of
the steps, notes and reasons (daglig/norsk.py, daglig/wording_no.py)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from daglig import norsk
from daglig.morning import runtime_line
from daglig.wording_no import STEP_NO, TYPE_NO, note_no, one_line, step_no

NB = "\u00a0"


@pytest.mark.parametrize(
    ("got", "want"),
    [
        (norsk.integer(403338), f"403{NB}338"),  # a thousands separator, never "403338"
        (norsk.integer(7), "7"),
        (norsk.decimal(0.94), "0,9"),
        (norsk.signed(0.375), "+0,4"),
        (norsk.signed(-1.5), "−1,5"),  # a real minus sign
        (norsk.percent(0.625), f"62,5{NB}%"),
        (norsk.percent(1.0, 0), f"100{NB}%"),
        (norsk.percent(None), "–"),
        (norsk.points(-0.088), "−8,8"),
        (norsk.day(date(2026, 11, 3)), "03.11.2026"),
        (norsk.day_short(date(2026, 11, 3)), "3. nov."),
        (norsk.day_long(date(2026, 11, 23)), "mandag 23. november 2026"),
        (
            norsk.clock(datetime(2026, 11, 24, 0, 14, 5, tzinfo=ZoneInfo("Europe/Oslo"))),
            "00:14:05 CET",
        ),
        # as stored in the summary (ISO 8601, a bare offset): still named in Oslo's zone
        (norsk.clock(datetime.fromisoformat("2026-07-24T01:15:17+00:00")), "03:15:17 CEST"),
    ],
)
def test_numbers_and_dates_the_norwegian_way(got: str, want: str) -> None:
    assert got == want


@pytest.mark.parametrize(
    ("english", "norwegian"),
    [
        ("dry run: nothing was written", "Prøvekjøring: ingenting ble skrevet."),
        ("restricted to 2 requested user ids", "Bare 2 valgte elever (--user-id)."),
        (
            "1204 users got fewer than 3 challenges (too few enabled types or categories once "
            "yesterday's are excluded)",
            f"1{NB}204 elever fikk færre enn 3 utfordringer (for få påslåtte typer eller "
            "kategorier når gårsdagens er holdt utenfor).",
        ),
        (
            "cleanup: 12 never-started assignments and 3 unreferenced challenges dated before "
            "2026-08-26 deleted (90 days retention)",
            "Opprydding: 12 tildelinger ingen hadde startet og 3 ubrukte utfordringer datert "
            "før 26.08.2026 er slettet (de oppbevares i 90 dager).",
        ),
        (
            "generation_enabled is false: nothing was generated or written",
            "Generering er slått av (generation_enabled): ingenting ble laget eller skrevet.",
        ),
        ("ml_enabled is false in challenge_settings", "slått av i innstillingene (ml_enabled)"),
        (
            "no trained model in data/models (run `daglig train`)",
            "ingen trent modell i data/models (kjør `daglig train`)",
        ),
        ("something nobody wrote down", "something nobody wrote down"),  # shown as it is
    ],
)
def test_notes_and_reasons_in_bokmal(english: str, norwegian: str) -> None:
    assert note_no(english) == norwegian


def test_every_step_of_the_nightly_run_has_a_norwegian_label() -> None:
    """Every Prefect task of tasks/ and every fan-out step (``@step("…")``) has a label,
    but the training flows' own tasks (its report is English, for the data engineers)."""
    import importlib
    import pkgutil
    import re
    from pathlib import Path

    from prefect import Task

    import flows.train_completion_model as completion_training
    import flows.train_learner_model as training
    import tasks

    def names(module: object) -> set[str]:
        return {v.name for v in vars(module).values() if isinstance(v, Task)}

    found: set[str] = set()
    for info in pkgutil.iter_modules(tasks.__path__):
        module = importlib.import_module(f"tasks.{info.name}")
        found |= names(module)
        source = Path(str(module.__file__)).read_text()
        found |= set(re.findall(r'@step\(\s*"([a-z-]+)"', source))
    steps = found - names(training) - names(completion_training)
    assert {"read-answer-log", "extract-features", "render-challenges"} <= steps, steps
    assert steps <= set(STEP_NO), steps - set(STEP_NO)
    assert step_no("upsert-challenges") == "Skrive utfordringene til databasen"
    assert step_no("some-new-step") == "some-new-step"


def test_type_names_cannot_be_read_as_categories() -> None:
    from daglig.catalogue import CATEGORIES

    names = [c.name_no.lower() for c in CATEGORIES.values()]
    for label in TYPE_NO.values():
        first = label.lower().split()[0]
        assert not any(n.startswith(first) for n in names), label  # "Fart" vs "Fart og avstand"


def test_errors_in_emails_are_one_line() -> None:
    assert one_line("IntegrityError: x\n[SQL: INSERT INTO t VALUES (?)]\n") == "IntegrityError: x"
    assert len(one_line("E: " + "x" * 1000, 300)) == 300 and one_line(None) == ""


@pytest.mark.parametrize(
    ("hour", "seconds", "want"),
    [
        (
            0,
            13.2,
            f"Kjøretid i natt: 13,2 s, 20{NB}% tregere enn snittet for de 2 forrige"
            " kjøringene (11,0 s).",
        ),
        (
            14,
            9.0,
            f"Kjøretid denne gangen: 9,0 s, 18{NB}% raskere enn snittet for de 2 forrige"
            " kjøringene (11,0 s).",
        ),
        (
            23,
            11.5,
            "Kjøretid i natt: 11,5 s, omtrent som snittet for de 2 forrige kjøringene (11,0 s).",
        ),
    ],
)
def test_the_runtime_line_says_tonight_only_at_night(hour: int, seconds: float, want: str) -> None:
    started = datetime(2026, 11, 24, hour, 5, tzinfo=ZoneInfo("Europe/Oslo"))
    assert runtime_line(seconds, [10.0, 12.0], started) == want
