"""Norwegian titles and descriptions of daily challenges, in Bokmål or nynorsk, rendered
with Jinja.

One template per challenge type and written form: Bokmål in
``templates_no/challenges/<type>.j2``, nynorsk in ``templates_no/nn/challenges/<type>.j2``.
Each defines ``variants`` (how many phrasings it has) and the macros ``title(c)`` and
``description(c)``; shared framing (onboarding welcome, the ML reason) lives in
``templates_no/_common.j2`` and ``templates_no/nn/_common.j2``. One environment loads both.
Rendering calls the macros through ``template.module``, once per distinct challenge row.

A row's optional ``language`` column (``nb`` or ``nn``; absent or null is Bokmål) picks the
written form. The nynorsk templates have the same variants as the Bokmål ones, in the same
order: variant *i* in nynorsk says what variant *i* says in Bokmål.

The phrasing of a row is picked from its ``content_key`` with ``zlib.crc32`` (stable across
processes, unlike ``hash()``): ``variant = crc % variants`` chooses the title/description
pair and ``alt = crc // variants`` any independent choice (templates use ``c.alt % k``).
The key's language part (``|nb`` / ``|nn``: its 8th part, before any readiness or path
part) is left out of the crc, so one challenge gets the same phrasing in both written forms.

Rules applied here rather than in every template:

* ML titles get the seed's prefix ``"[ML] "`` unless the admins turned it off
  (challenge setting ``ml_title_prefix``);
* a row with a ``readiness_band`` (one ML challenge a day of a learner with 50+ answers)
  gets one more sentence, the ``readiness(c)`` macro of the shared file: the band as a
  range (``c.readiness``, "40–60 %", "under 20 %", "over 80 %") and the focus category's
  name in the row's written form (``c.readiness_focus_name``);
* a row with a ``path_day`` (a learner's day on their week's path to the exam) starts its
  description with where the learner is, "Dag 2 av 7 mot teoriprøven: …" (the
  ``describe`` macro; ``c.path_day``, ``c.path_days``);
* runs of ASCII whitespace collapse to one space and the ends are stripped, so templates may
  spread a phrasing over several lines (the no-break space of ``80 %`` is kept);
* a row missing what its type needs (``category`` for ``category_focus``,
  ``question_count`` for ``accuracy_challenge``, ``seconds_limit`` for ``speed_challenge``),
  or with an unknown type or source, raises :class:`RenderError` instead of printing
  "None" to a learner.

Filters registered on the environment (usable by the email templates too)::

    n | antall("quiz", "quizer")   -> "1 quiz" / "5 quizer"
    n | form("dag", "dager")       -> "dag" / "dager"
    name | liten                   -> "farlige situasjoner"  (first letter lower-case)
    name | stor                    -> first letter upper-case, the rest untouched
    p | prosent                    -> "80 %"  (no-break space, Norwegian style)
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)

from daglig.catalogue import CATEGORIES, DEFAULT_LANGUAGE, LANGUAGES, SOURCES, TYPE_KEYS

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates_no"
ML_PREFIX = "[ML] "
NBSP = "\u00a0"

INPUT_COLUMNS: tuple[str, ...] = (
    "content_key",
    "challenge_type",
    "category",
    "category_name",
    "target_value",
    "question_count",
    "seconds_limit",
    "difficulty",
    "source",
)
# Read when present: the written form, 'nb' (the default, also for null) or 'nn'.
LANGUAGE_COLUMN = "language"
# Read when present: a struggling learner's adapted challenge, phrased kindly.
GENTLE_COLUMN = "gentle"
# Read when present: the exam readiness one ML challenge of a learner's day carries (band
# code, focus category key, and optionally the focus's name in the row's written form).
READINESS_COLUMNS: tuple[str, ...] = ("readiness_band", "readiness_focus", "readiness_focus_name")
# Read when present: the day of the learner's week's path to the exam this challenge is
# ("Dag 2 av 7 mot teoriprøven: …"), null on every other challenge.
PATH_COLUMNS: tuple[str, ...] = ("path_day", "path_days")
# The band as a learner reads it (the same in both written forms): a range, never a figure.
READINESS_TEXT: dict[str, str] = {
    "0-20": f"under 20{NBSP}%",
    "20-40": f"20–40{NBSP}%",
    "40-60": f"40–60{NBSP}%",
    "60-80": f"60–80{NBSP}%",
    "80-100": f"over 80{NBSP}%",
}

# Fields a type cannot be phrased without (besides target_value, which every type needs).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "quiz": (),
    "perfect_score": (),
    "category_focus": ("category_name",),
    "streak": (),
    "accuracy_challenge": ("question_count",),
    "speed_challenge": ("seconds_limit",),
}

_WS = re.compile(r"[ \t\r\n\f\v]+")


class RenderError(Exception):
    """A challenge could not be rendered; the message names the template and content_key."""


# --------------------------------------------------------------------------- filters


def antall(n: int, singular: str, plural: str) -> str:
    """``n`` followed by the noun in the form that agrees with it: 1 quiz, 5 quizer."""
    return f"{n} {form(n, singular, plural)}"


def form(n: int, singular: str, plural: str) -> str:
    """The noun alone in the form that agrees with ``n`` (singular only for exactly 1)."""
    if n is None or isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"antall/form needs an integer, got {n!r}")
    return singular if n == 1 else plural


def liten(text: str) -> str:
    """First letter lower-case, the rest untouched: for a category name inside a sentence."""
    return text[:1].lower() + text[1:]


def stor(text: str) -> str:
    """First letter upper-case, the rest untouched (Jinja's ``capitalize`` lowers the rest)."""
    return text[:1].upper() + text[1:]


def prosent(p: int | float) -> str:
    """A percentage the Norwegian way: number, no-break space, per cent sign."""
    if isinstance(p, float) and p.is_integer():
        p = int(p)
    return f"{p}{NBSP}%"


FILTERS: dict[str, Callable[..., str]] = {
    "antall": antall,
    "form": form,
    "liten": liten,
    "stor": stor,
    "prosent": prosent,
}


# ------------------------------------------------------------------------ environment


def _build_environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        # .html.j2 and friends are escaped too (select_autoescape matches name endings);
        # the challenge templates are plain-text .j2 and are not.
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2"),
            default_for_string=False,
            default=False,
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(FILTERS)
    return env


@cache
def _default_environment() -> Environment:
    return _build_environment(TEMPLATES_DIR)


def make_environment(templates_dir: Path | None = None) -> Environment:
    """The Jinja environment over ``templates_no/`` (cached), or a fresh one over
    ``templates_dir``: StrictUndefined, HTML/XML autoescaped, the filters above."""
    if templates_dir is None:
        return _default_environment()
    return _build_environment(Path(templates_dir))


# -------------------------------------------------------------------------- rendering


def template_name(challenge_type: str, language: str = DEFAULT_LANGUAGE) -> str:
    """``challenges/<type>.j2`` (Bokmål) or ``nn/challenges/<type>.j2`` (nynorsk)."""
    folder = "" if language == DEFAULT_LANGUAGE else f"{language}/"
    return f"{folder}challenges/{challenge_type}.j2"


@dataclass(frozen=True, slots=True)
class _TypeTemplate:
    name: str
    variants: int
    title: Callable[[Mapping[str, Any]], Any]
    description: Callable[[Mapping[str, Any]], Any]


def _load(
    env: Environment, challenge_type: str, content_key: str, language: str = DEFAULT_LANGUAGE
) -> _TypeTemplate:
    name = template_name(challenge_type, language)
    try:
        module = env.get_template(name).module
        variants = module.variants  # type: ignore[attr-defined]
        title = module.title  # type: ignore[attr-defined]
        description = module.description  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - anything here is a broken or missing template
        raise RenderError(
            f"template {name!r} could not be loaded (first content_key {content_key!r}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(variants, int) or isinstance(variants, bool) or variants < 1:
        raise RenderError(
            f"template {name!r}: `variants` must be a positive integer, got {variants!r}"
        )
    return _TypeTemplate(name, variants, title, description)


def template_variants(
    env: Environment | None = None, language: str = DEFAULT_LANGUAGE
) -> dict[str, int]:
    """Phrasings per challenge type, read from the templates' ``variants``."""
    env = env or make_environment()
    return {t: _load(env, t, "<none>", language).variants for t in TYPE_KEYS}


def __getattr__(name: str) -> Any:  # PEP 562: TEMPLATE_VARIANTS without loading at import
    if name == "TEMPLATE_VARIANTS":
        return template_variants()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _clean(text: Any) -> str:
    return _WS.sub(" ", str(text)).strip()


def language_of_row(row: Mapping[str, Any]) -> str:
    """The row's written form: its ``language``, Bokmål when absent or null."""
    language = row.get(LANGUAGE_COLUMN)
    return DEFAULT_LANGUAGE if language is None else language


def _context(row: Mapping[str, Any], name: str, language: str) -> dict[str, Any]:
    key = row.get("content_key")
    c: dict[str, Any] = {col: row.get(col) for col in INPUT_COLUMNS}
    c["language"] = language
    ctype, source = c["challenge_type"], c["source"]
    if not isinstance(key, str) or not key:
        raise RenderError(f"template {name!r}: a row has no content_key ({key!r})")
    if source not in SOURCES:
        raise RenderError(f"template {name!r}, content_key {key!r}: unknown source {source!r}")
    if c["category"] is not None and c["category_name"] is None:
        cat = CATEGORIES.get(c["category"])
        if cat is None:
            raise RenderError(
                f"template {name!r}, content_key {key!r}: unknown category {c['category']!r} "
                "and no category_name"
            )
        c["category_name"] = cat.name(language)
    c["path_day"], c["path_days"] = row.get("path_day"), row.get("path_days")
    if (c["path_day"] is None) != (c["path_days"] is None):
        raise RenderError(
            f"template {name!r}, content_key {key!r}: path_day and path_days go together, "
            f"got {c['path_day']!r} and {c['path_days']!r}"
        )
    band, focus = row.get("readiness_band"), row.get("readiness_focus")
    c["readiness"] = None if band is None else READINESS_TEXT.get(band)
    c["readiness_focus_name"] = row.get("readiness_focus_name")
    c["gentle"] = bool(row.get(GENTLE_COLUMN))
    if band is not None:
        if c["readiness"] is None:
            raise RenderError(
                f"template {name!r}, content_key {key!r}: unknown readiness_band {band!r}"
            )
        if c["readiness_focus_name"] is None:
            cat = CATEGORIES.get(focus) if isinstance(focus, str) else None
            if cat is None:
                raise RenderError(
                    f"template {name!r}, content_key {key!r}: readiness_band {band!r} needs "
                    f"a known readiness_focus, got {focus!r}"
                )
            c["readiness_focus_name"] = cat.name(language)
    for field in ("target_value", *REQUIRED_FIELDS.get(ctype, ())):
        if c[field] is None:
            raise RenderError(
                f"template {name!r}, content_key {key!r}: {ctype} needs {field}, got null"
            )
    return c


def render_challenge(
    row: Mapping[str, Any], env: Environment | None = None, ml_title_prefix: bool = True
) -> tuple[str, str]:
    """(title, description) of one challenge row (a mapping with the input columns)."""
    return _render_row(row, env or make_environment(), {}, ml_title_prefix)


def _render_row(
    row: Mapping[str, Any],
    env: Environment,
    templates: dict[str, _TypeTemplate],
    ml_title_prefix: bool = True,
) -> tuple[str, str]:
    ctype = row.get("challenge_type")
    key = row.get("content_key")
    language = language_of_row(row)
    if language not in LANGUAGES:
        raise RenderError(
            f"template {template_name(str(ctype))!r}, content_key {key!r}: unknown language "
            f"{language!r} (known: {', '.join(LANGUAGES)})"
        )
    if not isinstance(ctype, str) or ctype not in REQUIRED_FIELDS:
        raise RenderError(
            f"template {template_name(str(ctype), language)!r}, content_key {key!r}: "
            "unknown challenge_type"
        )
    tpl = templates.get(f"{language}/{ctype}")
    if tpl is None:
        tpl = templates[f"{language}/{ctype}"] = _load(env, ctype, str(key), language)
    c = _context(row, tpl.name, language)
    # the same phrasing in both written forms: the language part is not hashed
    # (no other part of a key is ever "nb" or "nn": …|ml|nb|r40-60:x|kind → …|ml|r40-60:x|kind)
    head, *rest = str(c["content_key"]).split("|")
    hashed = "|".join([head, *(p for p in rest if p != language)])
    crc = zlib.crc32(hashed.encode("utf-8"))
    c["variant"] = crc % tpl.variants
    c["alt"] = crc // tpl.variants
    try:
        title = _clean(tpl.title(c))
        description = _clean(tpl.description(c))
    except Exception as exc:  # noqa: BLE001 - UndefinedError, a filter given bad data, ...
        raise RenderError(
            f"template {tpl.name!r}, content_key {c['content_key']!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if not title or not description:
        raise RenderError(
            f"template {tpl.name!r}, content_key {c['content_key']!r}: rendered an empty "
            f"{'title' if not title else 'description'}"
        )
    if c["source"] == "ml" and ml_title_prefix:
        title = ML_PREFIX + title
    return title, description


def render_challenges(
    challenges: pl.DataFrame, env: Environment | None = None, ml_title_prefix: bool = True
) -> pl.DataFrame:
    """The distinct challenge rows, in the same order, plus ``title`` and ``description``.

    Input columns: content_key, challenge_type, category, category_name, target_value,
    question_count, seconds_limit, difficulty, source, and optionally language (``nb``,
    the default, or ``nn``) and the readiness columns (``readiness_band``,
    ``readiness_focus``, ``readiness_focus_name``: one more sentence for an ML challenge
    that carries the learner's exam readiness); extra columns are kept. Each row is
    rendered once; the caller de-duplicates and joins back. Raises :class:`RenderError`
    naming the template and content_key when a row cannot be rendered.
    """
    missing = [col for col in INPUT_COLUMNS if col not in challenges.columns]
    if missing:
        raise ValueError(f"render_challenges: missing columns {missing}")
    env = env or make_environment()
    templates: dict[str, _TypeTemplate] = {}
    titles: list[str] = []
    descriptions: list[str] = []
    columns = [
        *INPUT_COLUMNS,
        *(
            c
            for c in (LANGUAGE_COLUMN, *READINESS_COLUMNS, GENTLE_COLUMN, *PATH_COLUMNS)
            if c in challenges.columns
        ),
    ]
    for row in challenges.select(columns).iter_rows(named=True):
        title, description = _render_row(row, env, templates, ml_title_prefix)
        titles.append(title)
        descriptions.append(description)
    return challenges.with_columns(
        pl.Series("title", titles, dtype=pl.String),
        pl.Series("description", descriptions, dtype=pl.String),
    )
