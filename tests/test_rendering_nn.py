"""Nynorsk challenge texts (templates_no/nn/, ``language`` 'nn') beside Bokmål.

Fast: no Prefect, no database. The nynorsk golden file
``tests/golden/rendering_challenges_nn.txt`` holds the rendering of the Bokmål golden rows
(tests/test_rendering.py's GOLDEN_ROWS) for a nynorsk learner: the same content keys with
the language part ``|nn``, so the same variants as in ``rendering_challenges.txt``. After a
deliberate change of wording, regenerate it with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_rendering_nn.py -k golden

and read the diff before committing it.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from daglig.catalogue import CATEGORIES, LANGUAGES, SOURCES, TYPE_KEYS, category_name_frame
from daglig.rendering import (
    NBSP,
    RenderError,
    liten,
    make_environment,
    render_challenge,
    render_challenges,
    template_name,
    template_variants,
)
from tests.test_rendering import (
    GOLDEN_ROWS,
    SCHEMA,
    TYPICAL_TARGET,
    VARIANTS,
    assert_clean,
    category_options,
    golden_text,
    key_for,
    row,
)

pytestmark = pytest.mark.pure

GOLDEN_NN = Path(__file__).parent / "golden" / "rendering_challenges_nn.txt"
SCHEMA_L = {**SCHEMA, "language": pl.String}


def in_form(r: dict[str, Any], language: str) -> dict[str, Any]:
    """A test row for a learner of ``language``: the key's language part, the category's
    name in that form (the pipeline's distinct_challenges gives both the same way)."""
    cat = r["category"]
    return {
        **r,
        "content_key": f"{r['content_key']}|{language}",
        "category_name": CATEGORIES[cat].name(language) if cat else None,
        "language": language,
    }


def nn(*args: Any, **kw: Any) -> dict[str, Any]:
    return in_form(row(*args, **kw), "nn")


def nb(*args: Any, **kw: Any) -> dict[str, Any]:
    return in_form(row(*args, **kw), "nb")


# ------------------------------------------------------------------ category names

NN_NAMES = {
    "traffic_signs": "Trafikkskilt",
    "road_markings": "Vegoppmerking",
    "right_of_way": "Vikeplikt",
    "traffic_rules": "Trafikkreglar",
    "speed_and_distance": "Fart og avstand",
    "dangerous_situations": "Farlege situasjonar",
    "vehicle_and_equipment": "Køyretøy og utstyr",
    "human_factors": "Mennesket i trafikken",
    "environment": "Miljø og økonomisk køyring",
    "lights_and_visibility": "Lys og sikt",
    "winter_driving": "Vinterkøyring",
    "accidents_and_first_aid": "Ulukker og førstehjelp",
}


def test_category_names_in_both_forms() -> None:
    assert {k: c.name_nn for k, c in CATEGORIES.items()} == NN_NAMES
    assert all(c.name("nb") == c.name_no and c.name("nn") == c.name_nn for c in CATEGORIES.values())
    assert CATEGORIES["winter_driving"].name("se") == "Vinterkjøring"  # anything else: Bokmål
    frame = category_name_frame()
    assert frame.height == len(CATEGORIES) * len(LANGUAGES)
    assert frame.filter(pl.col("language") == "nn").select("category", "category_name").rows() == (
        list(NN_NAMES.items())
    )


@pytest.mark.parametrize("category", list(CATEGORIES))
@pytest.mark.parametrize("challenge_type", ["quiz", "category_focus", "speed_challenge"])
def test_nynorsk_texts_name_the_category_in_nynorsk(challenge_type: str, category: str) -> None:
    name = NN_NAMES[category]
    for v in range(VARIANTS[challenge_type]):
        r = nn(challenge_type, "fallback", category, key=key_for(challenge_type, v))
        title, description = render_challenge(r)
        assert liten(name) in description and name not in description, description
        assert name in title or liten(name) in title, title
        # the catalogue fills the name in the learner's form when the row has none
        assert render_challenge({**r, "category_name": None}) == (title, description)


# ------------------------------------------------------------------- the templates


def test_both_forms_have_the_same_variants_from_one_environment() -> None:
    env = make_environment()
    assert template_variants(env, "nn") == template_variants(env, "nb") == VARIANTS
    assert template_name("quiz") == template_name("quiz", "nb") == "challenges/quiz.j2"
    assert template_name("quiz", "nn") == "nn/challenges/quiz.j2"
    from jinja2 import StrictUndefined

    assert env.undefined is StrictUndefined
    for t in TYPE_KEYS:
        assert env.get_template(template_name(t, "nn")).environment is env


WELCOMES = {
    "nb": ("Velkommen!", "godt i gang", "første steg"),
    "nn": ("Velkomen!", "godt i gang", "første steg"),
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("challenge_type", TYPE_KEYS)
def test_every_phrasing_renders_clean(challenge_type: str, source: str, language: str) -> None:
    """The whole phrase matrix in each written form: every variant × tail/opener ×
    category or not × target 1, typical and 99; only onboarding welcomes."""
    env = make_environment()
    titles: set[str] = set()
    for cat in category_options(challenge_type):
        for variant in range(VARIANTS[challenge_type]):
            for alt in range(6):
                key = key_for(challenge_type, variant, alt)
                for target in (1, TYPICAL_TARGET[challenge_type], 99):
                    if challenge_type == "accuracy_challenge" and target == 1:
                        continue
                    r = in_form(row(challenge_type, source, cat, target, key=key), language)
                    title, description = render_challenge(r, env)
                    assert_clean(title, description, source)
                    titles.add(title)
                    welcomes = any(w in description for w in WELCOMES[language])
                    assert welcomes == (source == "onboarding"), description
                    if source != "onboarding":  # a struggling learner's: kindly phrased
                        gentle = {**r, "content_key": f"{r['content_key']}|kind", "gentle": True}
                        kt, kd = render_challenge(gentle, env)
                        assert_clean(kt, kd, source, sentences=3)
                        assert kd.startswith(KIND_OPENINGS[language]), kd
                    if source != "ml":
                        continue
                    # a day of the week's path to the exam (an ML slot): where the
                    # learner is, first, then the text its key phrases without the path
                    for day in (1, 2, 7):
                        keyed = {**r, "content_key": f"{r['content_key']}|p{day}of7"}
                        plain_title, plain = render_challenge(keyed, env)
                        t2, d2 = render_challenge({**keyed, "path_day": day, "path_days": 7}, env)
                        assert_clean(t2, d2, source)
                        assert t2 == plain_title
                        where = f"Dag {day} av 7 mot {EXAM_WORD[language]}"
                        if ":" in plain:  # a colon of its own: after a dash, not a second one
                            assert d2 == f"{where} – {plain[:1].lower()}{plain[1:]}"
                        else:
                            assert d2 == f"{where}: {plain}"
    assert len(titles) >= VARIANTS[challenge_type]


# the theory test, definite form: Bokmål "teoriprøven", nynorsk "teoriprøva" (ei prøve)
EXAM_WORD = {"nb": "teoriprøven", "nn": "teoriprøva"}


# ------------------------------------------------------- number agreement, both forms

# (type, target, question_count, seconds_limit) → what the description holds, Bokmål and
# nynorsk: the noun agrees with the number in each form's own plural
NUMBERS = [
    (("quiz", 1, None, None), ("1 quiz", "1 quiz")),
    (("quiz", 4, None, None), ("4 quizer", "4 quizar")),
    (("perfect_score", 1, None, None), ("1 spørsmål", "1 spørsmål")),
    (("perfect_score", 10, None, None), ("10 spørsmål", "10 spørsmål")),
    (("category_focus", 1, None, None), ("1 spørsmål", "1 spørsmål")),
    (("category_focus", 12, None, None), ("12 spørsmål", "12 spørsmål")),
    (("streak", 2, None, None), ("2 dager", "2 dagar")),
    (("streak", 7, None, None), ("7 dager", "7 dagar")),
    (("streak", 21, None, None), ("21 dager", "21 dagar")),
    (("accuracy_challenge", 75, 1, None), ("1 spørsmål", "1 spørsmål")),
    (("accuracy_challenge", 75, 25, None), (f"75{NBSP}%", f"75{NBSP}%")),
    (("speed_challenge", 5, None, 1), ("1 sekund", "1 sekund")),
    (("speed_challenge", 5, None, 20), ("20 sekunder", "20 sekund")),  # nn: neuter plural
]
WRONG_NUMBER = {
    "nb": (r"\b1 (quizer|dager|sekunder)\b", r"\b([02-9]|\d\d+) (quiz|dag)\b"),
    "nn": (
        r"\b1 (quizar|dagar)\b",
        r"\b([02-9]|\d\d+) (quiz|dag)\b",
        r"\b\d+ (quizer|dager|sekunder)\b",  # Bokmål plurals
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("spec", "expected"), NUMBERS, ids=[f"{s[0]}-{s[1]}" for s, _ in NUMBERS])
def test_numbers_agree_in_both_forms(
    spec: tuple[Any, ...], expected: tuple[str, str], language: str
) -> None:
    challenge_type, target, question_count, seconds_limit = spec
    must = expected[LANGUAGES.index(language)]
    cat = "traffic_signs" if challenge_type == "category_focus" else None
    for v in range(VARIANTS[challenge_type]):
        r = in_form(row(challenge_type, "fallback", cat, target, key=key_for(challenge_type, v)),
                    language)  # fmt: skip
        r["question_count"] = question_count
        r["seconds_limit"] = seconds_limit
        _, description = render_challenge(r)
        assert must in description, description
        for wrong in WRONG_NUMBER[language]:
            assert not re.search(wrong, description), (wrong, description)


# ------------------------------------------------------- gender agreement, both forms

# (type, source, category, target, variant, alt with alt_mod 6) → a phrase the Bokmål text
# and the nynorsk text each must hold: article, possessive and participle agree with the
# noun's gender in that form (nn: ein quiz, ei økt, eit steg; utfordringa, rekkja, prøva)
GENDER = [
    (("perfect_score", "fallback", None, 10, 0, 0), ("en quiz med", "ein quiz med")),
    (
        ("perfect_score", "fallback", None, 10, 0, 0),
        ("uten en eneste feil", "utan ein einaste feil"),
    ),
    (("streak", "fallback", None, 3, 0, 0), ("Ta en øvingsøkt", "Ta ei øvingsøkt")),
    (("streak", "fallback", None, 1, 0, 0), ("Ta en øvingsøkt i dag", "Ta ei øvingsøkt i dag")),
    (("streak", "fallback", None, 3, 1, 0), ("Ikke bryt rekken", "Ikkje bryt rekkja")),
    (("streak", "fallback", None, 3, 2, 0), ("Bygg en god vane", "Bygg ein god vane")),
    (("speed_challenge", "fallback", None, 10, 2, 0), ("på hvert svar", "på kvart svar")),
    (("quiz", "onboarding", None, 1, 1, 2), ("Din første quiz", "Den første quizen din")),
    (("quiz", "onboarding", None, 3, 1, 2), ("Dine 3 første quizer", "Dei 3 første quizane dine")),
    (
        ("quiz", "onboarding", None, 1, 0, 2),
        ("Et fint første steg mot teoriprøven.", "Eit fint første steg mot teoriprøva."),
    ),
    (
        ("streak", "ml", None, 3, 0, 0),
        ("Utfordringen er valgt ut fra hvordan", "Utfordringa er valt ut frå korleis"),
    ),
    (
        ("streak", "ml", None, 3, 0, 1),
        ("Denne utfordringen er plukket ut", "Denne utfordringa er plukka ut"),
    ),
    (
        ("category_focus", "ml", "right_of_way", 8, 0, 0),
        ("et av dine svakere områder", "eitt av dei svakare områda dine"),
    ),
    (
        ("accuracy_challenge", "fallback", None, 80, 0, 0),
        ("Svar riktig på minst", "Svar rett på minst"),
    ),
    (
        ("accuracy_challenge", "fallback", None, 80, 1, 0),
        ("minst 80\u00a0% riktige", "minst 80\u00a0% rette"),
    ),
    (
        ("perfect_score", "fallback", "dangerous_situations", 10, 0, 0),
        ("om farlige situasjoner", "om farlege situasjonar"),
    ),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("spec", "expected"), GENDER, ids=[e[1][1] for e in GENDER])
def test_gender_agrees_in_both_forms(
    spec: tuple[Any, ...], expected: tuple[str, str], language: str
) -> None:
    challenge_type, source, cat, target, variant, alt = spec
    key = key_for(challenge_type, variant, alt)
    title, description = render_challenge(
        in_form(row(challenge_type, source, cat, target, key=key), language)
    )
    assert expected[LANGUAGES.index(language)] in f"{title} {description}", (title, description)


# ------------------------------------------------------ one challenge, both forms

# (type, source, category, target, variant) → (Bokmål, nynorsk) texts of one challenge: the
# same variant in both, since the key's language part is not hashed
PAIRS = [
    (
        ("accuracy_challenge", "fallback", "right_of_way", 80, 0),
        ("Treffsikker i vikeplikt", "Svar riktig på minst 80\u00a0% av 20 spørsmål om vikeplikt."),
        ("Treffsikker i vikeplikt", "Svar rett på minst 80\u00a0% av 20 spørsmål om vikeplikt."),
    ),
    (
        ("category_focus", "fallback", "traffic_signs", 8, 2),
        ("Dypdykk i trafikkskilt", "Øv målrettet: svar på 8 spørsmål om trafikkskilt."),
        ("Djupdykk i trafikkskilt", "Øv målretta: svar på 8 spørsmål om trafikkskilt."),
    ),
    (
        ("quiz", "fallback", None, 3, 0),
        ("Fullfør 3 quizer", "Fullfør 3 quizer i hvilken som helst kategori."),
        ("Fullfør 3 quizar", "Fullfør 3 quizar i kva kategori som helst."),
    ),
    (
        ("quiz", "fallback", "lights_and_visibility", 2, 1),
        ("Quizrunde om lys og sikt", "Ta 2 quizer om lys og sikt, og se hvor mye du kan."),
        ("Quizrunde om lys og sikt", "Ta 2 quizar om lys og sikt, og sjå kor mykje du kan."),
    ),
    (
        ("perfect_score", "fallback", "vehicle_and_equipment", 10, 2),
        (
            "Null feil i kjøretøy og utstyr",
            "Ta en quiz med 10 spørsmål om kjøretøy og utstyr uten å svare feil.",
        ),
        (
            "Null feil i køyretøy og utstyr",
            "Ta ein quiz med 10 spørsmål om køyretøy og utstyr utan å svare feil.",
        ),
    ),
    (
        ("streak", "fallback", None, 5, 1),
        ("Ikke bryt rekken", "Hold rekken gående: øv hver dag i 5 dager."),
        ("Ikkje bryt rekkja", "Hald rekkja ved like: øv kvar dag i 5 dagar."),
    ),
    (
        ("streak", "fallback", None, 1, 1),
        ("Dagens økt", "Sett av noen minutter til øving i dag."),
        ("Dagens økt", "Set av nokre minutt til øving i dag."),
    ),
    (
        ("speed_challenge", "fallback", "winter_driving", 10, 1),
        (
            "Raske svar om vinterkjøring",
            "Hold tempoet oppe, og svar på 10 spørsmål innen vinterkjøring på under 15 "
            "sekunder stykket.",
        ),
        (
            "Raske svar om vinterkøyring",
            "Hald tempoet oppe, og svar på 10 spørsmål innan vinterkøyring på under 15 "
            "sekund stykket.",
        ),
    ),
    (
        ("speed_challenge", "fallback", "speed_and_distance", 10, 2),
        (
            "Fart og avstand mot klokka",
            "Svar på 10 spørsmål om fart og avstand, og bruk mindre enn 15 sekunder på hvert svar.",
        ),
        (
            "Fart og avstand mot klokka",
            "Svar på 10 spørsmål om fart og avstand, og bruk mindre enn 15 sekund på kvart svar.",
        ),
    ),
]


@pytest.mark.parametrize(
    ("spec", "bokmal", "nynorsk"), PAIRS, ids=[p[0][0] + str(p[0][4]) for p in PAIRS]
)
def test_one_challenge_reads_the_same_in_both_forms(
    spec: tuple[Any, ...], bokmal: tuple[str, str], nynorsk: tuple[str, str]
) -> None:
    kind, source, category, target, variant = spec
    key = key_for(kind, variant)
    assert render_challenge(nb(kind, source, category, target, key=key)) == bokmal
    assert render_challenge(nn(kind, source, category, target, key=key)) == nynorsk
    # a key without a language part is Bokmål's, phrased the same
    assert render_challenge(row(kind, source, category, target, key=key)) == bokmal


# ----------------------------------------------------- no Bokmål in nynorsk, and back

BOKMAL_ONLY = re.compile(
    r"\b(ikke|hva|hvor|hvordan|hvilken|hver|hvert|fra|en|et|mye|hele|noen|da|innen|uten|"
    r"eneste|velkommen|uttelling|svakere|valgt|plukket|utfordringen|denne utfordringen|"
    r"quizer|dager|sekunder|minutter|riktig|riktige|hold|sett|teller|rekken|gående|foran|"
    r"dypdykk|målrettet|treffsikkerhet|teoriprøven|situasjoner|farlige|trafikkregler|"
    r"kjøring|kjøretøy|vinterkjøring|ulykker|styrker|se)\b",
    re.IGNORECASE,
)
NYNORSK_ONLY = re.compile(
    r"\b(ikkje|kva|kor|korleis|kvar|kvart|frå|ein|eit|ei|eitt|mykje|heile|nokre|då|innan|"
    r"utan|einaste|velkomen|utteljing|svakare|dei|valt|plukka|utfordringa|quizar|dagar|"
    r"hald|set|tel|rekkja|framfor|djupdykk|målretta|treffsikkerheit|teoriprøva|situasjonar|"
    r"farlege|trafikkreglar|køyring|køyretøy|vinterkøyring|ulukker|styrkjer|sjå)\b",
    re.IGNORECASE,
)


def every_text(language: str) -> list[str]:
    """Title and description, space-joined, of every phrasing in ``language``."""
    return sorted({" ".join(pair) for pair in every_pair(language)})


@cache
def every_pair(language: str) -> list[tuple[str, str]]:
    out = []
    for t in TYPE_KEYS:
        for source in SOURCES:
            for cat in category_options(t):
                for v in range(VARIANTS[t]):
                    for alt in range(6):
                        for target in (1, TYPICAL_TARGET[t], 99):
                            if t == "accuracy_challenge" and target == 1:
                                continue
                            r = in_form(row(t, source, cat, target, key=key_for(t, v, alt)),
                                        language)  # fmt: skip
                            out.append(render_challenge(r))
    return out


def test_no_bokmal_word_in_any_nynorsk_text() -> None:
    texts = every_text("nn")
    assert len(texts) > 1000
    bad = [(m.group(0), t) for t in texts if (m := BOKMAL_ONLY.search(t))]
    assert not bad, bad[:5]


def test_no_nynorsk_word_in_any_bokmal_text() -> None:
    texts = every_text("nb")
    bad = [(m.group(0), t) for t in texts if (m := NYNORSK_ONLY.search(t))]
    assert not bad, bad[:5]


def test_nynorsk_questions_are_answered_and_nothing_repeats() -> None:
    """As tests/test_rendering.py asks of Bokmål: questions are answered, never
    "fullført"; no "kvar dag … på rad" twice over; no capital after a colon."""
    for title, description in every_pair("nn"):
        text = f"{title} {description}"
        assert not re.search(r"Fullfør \d+ spørsmål", text), text
        assert not ("kvar dag" in description and "på rad" in description), text
        assert not re.search(r": [A-ZÆØÅ]", title), title


# ----------------------------------------------------------------- the frame API


def test_a_frame_mixes_both_forms_and_an_unknown_language_is_an_error() -> None:
    rows = [
        nb("category_focus", "ml", "winter_driving", 8, key="cf"),
        nn("category_focus", "ml", "winter_driving", 8, key="cf"),
        {**row("streak", key="streak-null"), "language": None},  # null: Bokmål
    ]
    out = render_challenges(pl.DataFrame(rows, schema=SCHEMA_L))
    assert out.columns == [*SCHEMA_L, "title", "description"]
    titles = out["title"].to_list()
    assert titles[0].removeprefix("[ML] ").endswith("vinterkjøring")
    assert titles[1].removeprefix("[ML] ").endswith("vinterkøyring")
    assert out["description"][2] == render_challenge(row("streak", key="streak-null"))[1]
    with pytest.raises(RenderError, match=r"bad-lang.*unknown language 'se'"):
        render_challenge({**row("quiz", key="bad-lang"), "language": "se"})


# --------------------------------------------------------------------------- golden

GOLDEN_ROWS_NN = [in_form(r, "nn") for r in GOLDEN_ROWS]


def test_golden_rendering_nynorsk() -> None:
    text = golden_text(
        GOLDEN_ROWS_NN, SCHEMA_L, "tests/test_rendering_nn.py::test_golden_rendering_nynorsk"
    )
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN_NN.write_text(text, encoding="utf-8")
    assert GOLDEN_NN.exists(), "no golden file: run with UPDATE_GOLDEN=1 once and review it"
    assert text == GOLDEN_NN.read_text(encoding="utf-8")


def test_the_phrasing_leaves_out_only_the_language_part() -> None:
    """The 8th part (nb/nn) is left out of the crc: a key as the pipeline makes it is
    phrased as before the path part existed (the rule that was: strip ``|<language>`` at
    the end or before a readiness part), and a day on the path reads the same variant in
    both forms."""
    import zlib

    def before(key: str, language: str) -> int:
        head, carries, readiness = key.partition(f"|{language}|r")
        hashed = f"{head}|r{readiness}" if carries else key.removesuffix(f"|{language}")
        return zlib.crc32(hashed.encode())

    env = make_environment()
    for cat in ("traffic_signs", "winter_driving", "right_of_way"):
        for target in range(5, 30, 5):
            for language in LANGUAGES:
                base = f"category_focus|{cat}|t{target}|n-|s-|d0.70|ml|{language}"
                for key in (base, f"{base}|r40-60:traffic_rules"):
                    r = in_form(row("category_focus", "ml", cat, target, key="x"), language)
                    r["content_key"] = key
                    n = VARIANTS["category_focus"]
                    crc = before(key, language)
                    title, _ = render_challenge(r, env)
                    # the title is picked by the variant alone: the old crc's variant
                    r_old = {
                        **r,
                        "content_key": key_for("category_focus", crc % n) + f"|{language}",
                    }
                    assert title == render_challenge(r_old, env)[0]
            # on the path: one variant for both forms (each variant's title, per form)
            n = VARIANTS["category_focus"]
            variant_of = {
                language: {
                    render_challenge(
                        in_form(
                            row("category_focus", "ml", cat, target,
                                key=key_for("category_focus", v)),
                            language,
                        ),
                        env,
                    )[0]: v
                    for v in range(n)
                }
                for language in LANGUAGES
            }  # fmt: skip
            assert all(len(m) == n for m in variant_of.values())
            texts = []
            for language in LANGUAGES:
                key = f"category_focus|{cat}|t{target}|n-|s-|d0.70|ml|{language}|p3of7"
                r = in_form(row("category_focus", "ml", cat, target, key="x"), language)
                r.update(content_key=key, path_day=3, path_days=7)
                texts.append(render_challenge(r, env))
            nb_text, nn_text = texts
            assert nb_text[1].startswith(
                ("Dag 3 av 7 mot teoriprøven: ", "Dag 3 av 7 mot teoriprøven – ")
            )
            assert nn_text[1].startswith(
                ("Dag 3 av 7 mot teoriprøva: ", "Dag 3 av 7 mot teoriprøva – ")
            )
            assert variant_of["nb"][nb_text[0]] == variant_of["nn"][nn_text[0]]


KIND_OPENINGS = {
    "nb": ("Ta det i ditt eget tempo.", "I dag tar vi det litt roligere.",
           "Litt om gangen er helt fint."),
    "nn": ("Ta det i ditt eige tempo.", "I dag tek vi det litt roligare.",
           "Litt om gongen er heilt fint."),
}  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_gentle_day_on_the_path_says_both(language: str) -> None:
    # a struggling learner's path slot: the calm opening, then where they are on the path,
    # the main sentence after it, an encouraging close, and no "weak area" framing
    env = make_environment()
    for v in range(VARIANTS["category_focus"]):
        for alt in range(6):
            r = in_form(row("category_focus", "ml", "traffic_rules", 10,
                            key=key_for("category_focus", v, alt)), language)  # fmt: skip
            r.update(path_day=2, path_days=7, gentle=True)
            title, description = render_challenge(r, env)
            assert_clean(title, description, "ml", sentences=3)
            assert description.startswith(KIND_OPENINGS[language]), description
            assert f" Dag 2 av 7 mot {EXAM_WORD[language]}" in description, description
            assert not re.search(r"svakere|svakare|mest å hente", description), description
