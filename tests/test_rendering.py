"""Norwegian challenge texts (daglig/rendering.py, templates_no/challenges/*.j2).

Fast: no Prefect, no database. The golden file ``tests/golden/rendering_challenges.txt``
holds the exact rendering of a fixed table of challenges; after a deliberate change of
wording, regenerate it with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_rendering.py -k golden

and read the diff before committing it. (``80 %`` is written with a no-break space, U+00A0.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from daglig import rendering
from daglig.catalogue import CATEGORIES, SOURCES, TYPE_KEYS
from daglig.rendering import (
    NBSP,
    TEMPLATES_DIR,
    RenderError,
    antall,
    form,
    liten,
    make_environment,
    prosent,
    render_challenge,
    render_challenges,
    stor,
    template_variants,
)

GOLDEN = Path(__file__).parent / "golden" / "rendering_challenges.txt"
REPO = Path(__file__).resolve().parent.parent

# Which types may carry a category: always, never, or optionally (None = both).
CATEGORY_RULE = {
    "quiz": None,
    "perfect_score": None,
    "category_focus": True,
    "streak": False,
    "accuracy_challenge": None,
    "speed_challenge": None,
}
TYPICAL_TARGET = {
    "quiz": 3,
    "perfect_score": 10,
    "category_focus": 8,
    "streak": 5,
    "accuracy_challenge": 80,
    "speed_challenge": 10,
}
SCHEMA = {
    "content_key": pl.String,
    "challenge_type": pl.String,
    "category": pl.String,
    "category_name": pl.String,
    "target_value": pl.Int64,
    "question_count": pl.Int64,
    "seconds_limit": pl.Int64,
    "difficulty": pl.Float64,
    "source": pl.String,
}
VARIANTS = template_variants()


def row(
    challenge_type: str,
    source: str = "fallback",
    category: str | None = None,
    target: int | None = None,
    key: str | None = None,
    question_count: int | None = 20,
    seconds_limit: int | None = 15,
) -> dict[str, Any]:
    target = TYPICAL_TARGET[challenge_type] if target is None else target
    return {
        "content_key": key or f"{challenge_type}|{category}|{target}|{source}",
        "challenge_type": challenge_type,
        "category": category,
        "category_name": CATEGORIES[category].name_no if category else None,
        "target_value": target,
        "question_count": question_count if challenge_type == "accuracy_challenge" else None,
        "seconds_limit": seconds_limit if challenge_type == "speed_challenge" else None,
        "difficulty": 0.5,
        "source": source,
    }


def key_for(challenge_type: str, variant: int, alt: int = 0, alt_mod: int = 6) -> str:
    """A content_key that picks `variant`, with `c.alt % alt_mod == alt` (tails, openers)."""
    n = VARIANTS[challenge_type]
    for i in range(1_000_000):
        k = f"{challenge_type}:{i}"
        crc = zlib.crc32(k.encode())
        if crc % n == variant and (crc // n) % alt_mod == alt:
            return k
    raise AssertionError("no key found")


def category_options(challenge_type: str) -> list[str | None]:
    rule = CATEGORY_RULE[challenge_type]
    cats: list[str | None] = list(CATEGORIES)
    if rule is True:
        return cats
    if rule is False:
        return [None]
    return [None, *cats]


def assert_clean(title: str, description: str, source: str, sentences: int = 2) -> None:
    for text in (title, description):
        assert text and text == text.strip()
        for bad in ("{{", "}}", "{%", "None", "null", "  ", " .", " ,", " :", "..", "\n"):
            assert bad not in text, f"{bad!r} in {text!r}"
    assert description.endswith("."), description
    assert description[0].isupper(), description
    # one or two sentences (a struggling learner's kind phrasing: three)
    assert len(re.findall(r"[.!?](?:\s|$)", description)) <= sentences, description
    assert not title.endswith("."), title
    bare = title.removeprefix(rendering.ML_PREFIX)
    assert bare[0].isupper() or bare[0].isdigit(), title
    assert len(bare) <= 40, f"title too long for a phone ({len(bare)}): {title!r}"
    assert title.startswith("[ML] ") == (source == "ml"), title
    assert "[ML]" not in bare
    assert "[ML]" not in description


# ----------------------------------------------------------------------------- grammar


@pytest.mark.pure
@pytest.mark.parametrize(
    ("n", "singular", "plural", "expected"),
    [
        (1, "spørsmål", "spørsmål", "1 spørsmål"),
        (5, "spørsmål", "spørsmål", "5 spørsmål"),
        (1, "quiz", "quizer", "1 quiz"),
        (5, "quiz", "quizer", "5 quizer"),
        (0, "quiz", "quizer", "0 quizer"),
        (1, "dag", "dager", "1 dag"),
        (2, "dag", "dager", "2 dager"),
        (1, "sekund", "sekunder", "1 sekund"),
        (20, "sekund", "sekunder", "20 sekunder"),
        (1, "gang", "ganger", "1 gang"),
        (3, "gang", "ganger", "3 ganger"),
        (11, "dag", "dager", "11 dager"),
        (21, "dag", "dager", "21 dager"),
    ],
)
def test_antall_agrees_in_number(n: int, singular: str, plural: str, expected: str) -> None:
    assert antall(n, singular, plural) == expected
    env = make_environment()
    tpl = env.from_string("{{ n | antall(s, p) }}|{{ n | form(s, p) }}")
    assert tpl.render(n=n, s=singular, p=plural) == f"{expected}|{expected.split(' ', 1)[1]}"


@pytest.mark.pure
@pytest.mark.parametrize("bad", [None, 2.5, "3", True])
def test_antall_rejects_non_integers(bad: Any) -> None:
    with pytest.raises(TypeError):
        form(bad, "dag", "dager")


@pytest.mark.pure
def test_case_and_percent_filters() -> None:
    assert liten("Farlige situasjoner") == "farlige situasjoner"
    assert liten("Miljø og økonomisk kjøring") == "miljø og økonomisk kjøring"
    assert liten("Ørsta") == "ørsta" and liten("") == ""
    assert stor("lys og sikt") == "Lys og sikt"
    assert stor("mennesket i trafikken") == "Mennesket i trafikken"  # rest untouched
    assert prosent(80) == f"80{NBSP}%"
    assert prosent(80.0) == f"80{NBSP}%"


# ------------------------------------------------------------------------ environment


@pytest.mark.pure
def test_environment_is_shared_and_configured() -> None:
    env = make_environment()
    assert make_environment() is env
    assert make_environment(TEMPLATES_DIR) is not env
    from jinja2 import StrictUndefined

    assert env.undefined is StrictUndefined
    auto = env.autoescape
    assert callable(auto)
    assert not auto("challenges/quiz.j2")
    assert auto("email/daily.html") and auto("email/daily.html.j2") and auto("x.xml")
    assert not auto("email/daily.txt.j2")
    assert {"antall", "form", "liten", "stor", "prosent"} <= set(env.filters)


@pytest.mark.pure
def test_every_type_has_a_template_with_three_or_more_phrasings() -> None:
    assert set(VARIANTS) == set(TYPE_KEYS)
    assert all(n >= 3 for n in VARIANTS.values()), VARIANTS
    assert rendering.TEMPLATE_VARIANTS == VARIANTS


# ------------------------------------------------------------- the whole phrase matrix
# in both written forms at once: tests/test_rendering_nn.py::test_every_phrasing_renders_clean


@pytest.mark.pure
@pytest.mark.parametrize(
    ("challenge_type", "target", "question_count", "seconds_limit", "must_contain"),
    [
        ("quiz", 1, None, None, "1 quiz"),
        ("quiz", 4, None, None, "4 quizer"),
        ("perfect_score", 1, None, None, "1 spørsmål"),
        ("perfect_score", 10, None, None, "10 spørsmål"),
        ("category_focus", 1, None, None, "1 spørsmål"),
        ("category_focus", 12, None, None, "12 spørsmål"),
        ("streak", 2, None, None, "2 dager"),
        ("streak", 7, None, None, "7 dager"),
        ("accuracy_challenge", 75, 1, None, "1 spørsmål"),
        ("accuracy_challenge", 75, 25, None, f"75{NBSP}%"),
        ("speed_challenge", 5, None, 1, "1 sekund"),
        ("speed_challenge", 5, None, 20, "20 sekunder"),
    ],
)
def test_numbers_agree_in_descriptions(
    challenge_type: str,
    target: int,
    question_count: int | None,
    seconds_limit: int | None,
    must_contain: str,
) -> None:
    cat = "traffic_signs" if challenge_type == "category_focus" else None
    for variant in range(VARIANTS[challenge_type]):
        r = row(challenge_type, "fallback", cat, target, key=key_for(challenge_type, variant))
        r["question_count"] = question_count if challenge_type == "accuracy_challenge" else None
        r["seconds_limit"] = seconds_limit if challenge_type == "speed_challenge" else None
        _, description = render_challenge(r)
        assert must_contain in description, description
        assert not re.search(r"\b1 (quizer|dager|sekunder|ganger)\b", description)
        assert not re.search(r"\b([02-9]|\d\d+) (quiz|dag|sekund|gang)\b", description)


@pytest.mark.pure
def test_streak_of_one_day_is_not_a_row() -> None:
    for variant in range(VARIANTS["streak"]):
        title, description = render_challenge(
            row("streak", target=1, key=key_for("streak", variant))
        )
        assert "på rad" not in title + description
        assert "i dag" in title + description


@pytest.mark.pure
def test_seed_examples() -> None:
    """The seed's two examples, with the fallback's plural corrected to «quizer»."""
    title, description = render_challenge(
        row("category_focus", "ml", "traffic_signs", 8, key=key_for("category_focus", 0))
    )
    assert title == "[ML] Bli stødig i trafikkskilt"  # sentence case: no capital mid-title
    assert description.startswith("Svar på 8 spørsmål om trafikkskilt. ")  # one answers
    title, description = render_challenge(
        row("quiz", "fallback", "traffic_signs", 5, key=key_for("quiz", 0))
    )
    assert (title, description) == ("Øv på trafikkskilt", "Fullfør 5 quizer innen trafikkskilt.")
    # the admins may turn the seed's "[ML] " off (challenge setting ml_title_prefix)
    ml = row("category_focus", "ml", "traffic_signs", 8, key=key_for("category_focus", 0))
    assert render_challenge(ml, ml_title_prefix=False)[0] == "Bli stødig i trafikkskilt"
    frame = render_challenges(pl.DataFrame([ml], schema=SCHEMA), ml_title_prefix=False)
    assert frame["title"].to_list() == ["Bli stødig i trafikkskilt"]


@pytest.mark.pure
@pytest.mark.parametrize("source", SOURCES)
def test_ml_prefix_exactly_for_ml(source: str) -> None:
    for t in TYPE_KEYS:
        cat = "right_of_way" if t == "category_focus" else None
        title, _ = render_challenge(row(t, source, cat))
        assert title.startswith("[ML] ") is (source == "ml")
        assert title.count("[ML]") == (1 if source == "ml" else 0)


@pytest.mark.pure
def test_ml_with_category_mentions_weak_areas_sometimes() -> None:
    descriptions = {
        render_challenge(
            row("category_focus", "ml", "winter_driving", key=key_for("category_focus", v, a, 3))
        )[1]
        for v in range(3)
        for a in range(3)
    }
    assert any("svakere områder" in d for d in descriptions)
    plain = render_challenge(row("category_focus", "fallback", "winter_driving"))[1]
    assert "svakere" not in plain


# ------------------------------------------------------------------ category names


@pytest.mark.pure
@pytest.mark.parametrize("category", list(CATEGORIES))
@pytest.mark.parametrize("challenge_type", [t for t in TYPE_KEYS if CATEGORY_RULE[t] is not False])
def test_category_names_cased_for_title_and_sentence(challenge_type: str, category: str) -> None:
    name = CATEGORIES[category].name_no
    lower = liten(name)
    for source in SOURCES:
        for variant in range(VARIANTS[challenge_type]):
            key = key_for(challenge_type, variant)
            title, description = render_challenge(row(challenge_type, source, category, key=key))
            bare = title.removeprefix("[ML] ")
            # a category is no proper name: lower-case unless it starts the title
            if bare.startswith(name):
                assert lower not in bare[len(name) :], title
            else:
                assert lower in bare and name not in bare, (title, name)
            # in the description always lower-case, inside the sentence
            assert lower in description and name not in description, description


# --------------------------------------------------------------- determinism, variety


@pytest.mark.pure
def test_same_content_key_same_text_across_calls_and_environments() -> None:
    rows = [
        row(t, s, "lights_and_visibility" if t != "streak" else None, key=f"k{i}")
        for i, (t, s) in enumerate((t, s) for t in TYPE_KEYS for s in SOURCES)
    ]
    df = pl.DataFrame(rows, schema=SCHEMA)
    a = render_challenges(df)
    b = render_challenges(df)
    c = render_challenges(df, make_environment(TEMPLATES_DIR))
    assert a.equals(b) and a.equals(c)


def test_same_text_in_another_process() -> None:
    """crc32, not hash(): a fresh interpreter with another hash seed renders the same."""
    code = (
        "import json,sys; from daglig.rendering import render_challenge; "
        "print(json.dumps([render_challenge(r) for r in json.load(sys.stdin)]))"
    )
    rows = [
        row(t, "ml", "traffic_rules" if t != "streak" else None, key=f"proc-{t}-{i}")
        for t in TYPE_KEYS
        for i in range(4)
    ]
    here = [list(render_challenge(r)) for r in rows]
    for seed in ("1", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(rows),
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert json.loads(out.stdout) == here


@pytest.mark.pure
@pytest.mark.parametrize("challenge_type", TYPE_KEYS)
def test_different_keys_reach_every_variant(challenge_type: str) -> None:
    cat = "road_markings" if CATEGORY_RULE[challenge_type] is not False else None
    df = pl.DataFrame(
        [row(challenge_type, "fallback", cat, key=f"{challenge_type}-{i}") for i in range(60)],
        schema=SCHEMA,
    )
    out = render_challenges(df)
    assert out["title"].n_unique() == VARIANTS[challenge_type]
    assert out["description"].n_unique() == VARIANTS[challenge_type]


# ---------------------------------------------------------------------- the frame API


@pytest.mark.pure
def test_render_challenges_keeps_rows_order_and_columns() -> None:
    rows = [
        row(t, s, c, key=f"{t}/{s}/{c}")
        for t in TYPE_KEYS
        for s in SOURCES
        for c in category_options(t)[:3]
    ]
    df = pl.DataFrame(rows, schema=SCHEMA).with_columns(extra=pl.int_range(pl.len()))
    df = df.reverse()
    out = render_challenges(df)
    assert out.columns == [*df.columns, "title", "description"]
    assert out.drop("title", "description").equals(df)
    assert out.schema["title"] == pl.String and out.schema["description"] == pl.String
    assert out["title"].null_count() == 0 and out["description"].null_count() == 0
    assert (out["title"].str.len_chars() > 0).all()
    one = out.row(0, named=True)
    assert (one["title"], one["description"]) == render_challenge(one)


@pytest.mark.pure
def test_render_challenges_empty_frame() -> None:
    out = render_challenges(pl.DataFrame(schema=SCHEMA))
    assert out.height == 0
    assert out.schema["title"] == pl.String and out.schema["description"] == pl.String


@pytest.mark.pure
def test_missing_columns_are_reported() -> None:
    with pytest.raises(ValueError, match="source"):
        render_challenges(pl.DataFrame([row("quiz")], schema=SCHEMA).drop("source"))


@pytest.mark.pure
def test_category_name_filled_from_catalogue_when_null() -> None:
    r = row("category_focus", "fallback", "dangerous_situations", key=key_for("category_focus", 0))
    r["category_name"] = None
    assert render_challenge(r) == (
        "Bli stødig i farlige situasjoner",
        "Svar på 8 spørsmål om farlige situasjoner.",
    )


def _broken_dir(tmp_path: Path, name: str, text: str) -> Path:
    dst = tmp_path / "templates_no"
    shutil.copytree(TEMPLATES_DIR, dst)
    (dst / "challenges" / name).write_text(text, encoding="utf-8")
    return dst


@pytest.mark.pure
def test_undefined_variable_raises_render_error_naming_template_and_key(tmp_path: Path) -> None:
    broken = (
        '{% import "_common.j2" as common %}{% set variants = 3 %}'
        "{% macro title(c) %}Øv på {{ c.kategori_navn }}{% endmacro %}"
        "{% macro description(c) %}Fullfør {{ c.target_value }}.{% endmacro %}"
    )
    env = make_environment(_broken_dir(tmp_path, "quiz.j2", broken))
    df = pl.DataFrame([row("streak", key="fine"), row("quiz", key="quiz-key-42")], schema=SCHEMA)
    with pytest.raises(RenderError) as info:
        render_challenges(df, env)
    msg = str(info.value)
    assert "challenges/quiz.j2" in msg and "quiz-key-42" in msg and "kategori_navn" in msg


@pytest.mark.pure
def test_undefined_at_template_top_level_raises_render_error(tmp_path: Path) -> None:
    env = make_environment(
        _broken_dir(tmp_path, "streak.j2", "{% set variants = antall_varianter %}")
    )
    with pytest.raises(RenderError, match=r"challenges/streak\.j2.*streak-1"):
        render_challenges(pl.DataFrame([row("streak", key="streak-1")], schema=SCHEMA), env)


@pytest.mark.pure
def test_syntax_error_raises_render_error(tmp_path: Path) -> None:
    env = make_environment(_broken_dir(tmp_path, "quiz.j2", "{% macro title(c) %}Øv på {{ c.x "))
    with pytest.raises(RenderError, match=r"challenges/quiz\.j2"):
        render_challenge(row("quiz", key="q"), env)


@pytest.mark.pure
def test_template_that_renders_nothing_raises(tmp_path: Path) -> None:
    empty = (
        "{% set variants = 3 %}{% macro title(c) %} {% endmacro %}"
        "{% macro description(c) %}x.{% endmacro %}"
    )
    env = make_environment(_broken_dir(tmp_path, "quiz.j2", empty))
    with pytest.raises(RenderError, match="empty title"):
        render_challenge(row("quiz", key="q"), env)


@pytest.mark.pure
@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        (
            {"challenge_type": "marathon"},
            r"challenges/marathon\.j2.*bad-row.*unknown challenge_type",
        ),
        ({"source": "robot"}, r"bad-row.*unknown source"),
        (
            {"challenge_type": "category_focus", "category": None, "category_name": None},
            r"category_focus\.j2.*bad-row.*category_name",
        ),
        ({"challenge_type": "speed_challenge", "seconds_limit": None}, r"bad-row.*seconds_limit"),
        (
            {"challenge_type": "accuracy_challenge", "question_count": None},
            r"bad-row.*question_count",
        ),
        ({"target_value": None}, r"bad-row.*target_value"),
        ({"category": "parking", "category_name": None}, r"bad-row.*unknown category 'parking'"),
    ],
)
def test_rows_that_cannot_be_phrased_raise(changes: dict[str, Any], pattern: str) -> None:
    r = {**row("quiz", key="bad-row"), **changes}
    with pytest.raises(RenderError, match=pattern):
        render_challenge(r)


# --------------------------------------------------------------------------- golden


GOLDEN_ROWS: list[dict[str, Any]] = [
    row("quiz", "fallback", "traffic_signs", 5, key="quiz:traffic_signs:5"),
    row("quiz", "ml", None, 3, key="quiz:-:3"),
    row("quiz", "onboarding", None, 1, key="quiz:-:1:onboarding"),
    row(
        "perfect_score",
        "ml",
        "dangerous_situations",
        10,
        key="perfect_score:dangerous_situations:10",
    ),
    row("perfect_score", "manual", None, 15, key="perfect_score:-:15"),
    row("category_focus", "ml", "traffic_signs", 8, key="category_focus:traffic_signs:8"),
    row("category_focus", "onboarding", "human_factors", 5, key="category_focus:human_factors:5"),
    row("category_focus", "fallback", "environment", 12, key="category_focus:environment:12"),
    row("streak", "fallback", None, 3, key="streak:-:3"),
    row("streak", "ml", None, 1, key="streak:-:1"),
    row(
        "accuracy_challenge",
        "ml",
        "right_of_way",
        80,
        key="accuracy:right_of_way:80:20",
        question_count=20,
    ),
    row(
        "speed_challenge",
        "fallback",
        "accidents_and_first_aid",
        10,
        key="speed:accidents_and_first_aid:10:20",
        seconds_limit=20,
    ),
    row("speed_challenge", "onboarding", None, 5, key="speed:-:5:1", seconds_limit=1),
]


def golden_text(
    rows: list[dict[str, Any]] | None = None,
    schema: dict[str, Any] | None = None,
    test: str = "tests/test_rendering.py::test_golden_rendering",
) -> str:
    """The golden file's text: GOLDEN_ROWS in Bokmål (tests/test_rendering_nn.py passes
    the same rows in nynorsk)."""
    out = render_challenges(
        pl.DataFrame(GOLDEN_ROWS if rows is None else rows, schema=schema or SCHEMA)
    )
    path = test.split("::")[0]
    lines = [
        f"# Golden output of {test}.",
        f"# Regenerate: UPDATE_GOLDEN=1 .venv/bin/pytest {path} -k golden",
        "",
    ]
    for r in out.iter_rows(named=True):
        params = ", ".join(
            f"{k}={r[k]}"
            for k in (
                "challenge_type",
                "source",
                "category",
                "target_value",
                "question_count",
                "seconds_limit",
            )
            if r[k] is not None
        )
        lines += [
            f"[{r['content_key']}] {params}",
            f"  title:       {r['title']}",
            f"  description: {r['description']}",
            "",
        ]
    return "\n".join(lines)


@pytest.mark.pure
def test_golden_rendering() -> None:
    text = golden_text()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), "no golden file: run with UPDATE_GOLDEN=1 once and review it"
    assert text == GOLDEN.read_text(encoding="utf-8")


# ------------------------------------------------- natural Bokmål, as a Norwegian reads it

# (type, source, category, target, variant) → (title, description): one row per phrasing a
# reader complained about in issue 15, with the wording it has now
TEXTS = [
    (
        ("category_focus", "fallback", "right_of_way", 10, 1),
        ("Fokus på vikeplikt", "Øv på vikeplikt: svar på 10 spørsmål."),
    ),
    (
        ("category_focus", "fallback", "traffic_signs", 10, 0),
        ("Bli stødig i trafikkskilt", "Svar på 10 spørsmål om trafikkskilt."),
    ),
    (
        ("quiz", "fallback", "lights_and_visibility", 2, 2),
        ("Test deg på lys og sikt", "Gjennomfør 2 quizer om lys og sikt."),
    ),
    (
        ("streak", "fallback", None, 2, 1),
        ("Ikke bryt rekken", "Hold rekken gående: øv hver dag i 2 dager."),
    ),
    (
        ("accuracy_challenge", "fallback", None, 80, 1),
        ("Treffsikker i dag", "Få minst 80\u00a0% riktige av 20 spørsmål."),
    ),
    (
        ("accuracy_challenge", "fallback", "winter_driving", 80, 2),
        (
            "Presisjon i vinterkjøring",
            "Svar på 20 spørsmål om vinterkjøring, og få minst 80\u00a0% riktige.",
        ),
    ),
    (
        ("speed_challenge", "fallback", "speed_and_distance", 10, 2),
        (
            "Fart og avstand mot klokka",
            "Svar på 10 spørsmål om fart og avstand, og bruk mindre enn 15 sekunder på hvert svar.",
        ),
    ),
    (
        ("perfect_score", "fallback", None, 10, 1),
        ("Full pott", "Få alt riktig i en quiz med 10 spørsmål."),
    ),
]


@pytest.mark.parametrize(("spec", "expected"), TEXTS, ids=[t[0][0] + str(t[0][4]) for t in TEXTS])
def test_texts_read_as_natural_bokmal(spec: tuple[Any, ...], expected: tuple[str, str]) -> None:
    kind, source, category, target, variant = spec
    r = row(kind, source, category, target, key=key_for(kind, variant))
    assert render_challenge(r) == expected


def test_no_text_says_fullfor_of_questions_or_repeats_itself() -> None:
    """Over every type, source, category and variant: questions are answered, never
    "fullført"; no "hver dag … på rad" twice over; no capital after a colon."""
    for t in TYPE_KEYS:
        for source in SOURCES:
            for cat in category_options(t):
                for v in range(VARIANTS[t]):
                    title, description = render_challenge(row(t, source, cat, key=key_for(t, v)))
                    text = f"{title} {description}"
                    assert not re.search(r"Fullfør \d+ spørsmål", text), text
                    assert not ("hver dag" in description and "på rad" in description), text
                    assert not re.search(r": [A-ZÆØÅ]", title), title
                    assert "gjennom" not in text, text
