"""Admin controls from ``challenge_settings``: parsed, validated, defaulted.

The one validator of the settings, called by ``daglig admin settings set`` and the admin
API before anything is stored (:func:`validate_update`) and by the nightly run when it
reads the table (:func:`parse_challenge_settings`). It checks meaning as well as type:

* each key: its type and bounds; the lists non-empty and of known keys;
* the combination: ``min_difficulty`` ≤ ``max_difficulty``, and enough types and
  categories that the selectors can give every active learner ``challenges_per_user``
  challenges every day (:func:`serving_problem`).

A key that is missing takes its default. In the nightly run a value that is malformed or
out of range is reported (one line per problem, for the run summary, the log and the
email; each line says what was used instead) and takes its default, and a combination
that cannot serve falls back to defaults for the offending keys; it never stops the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from daglig.catalogue import ADVANCED_ONLY_TYPES, CATEGORY_KEYS, CATEGORYLESS_TYPES, TYPE_KEYS


@dataclass(frozen=True, slots=True)
class ChallengeSettings:
    """The admin's controls for one run."""

    generation_enabled: bool = True
    ml_enabled: bool = True
    enabled_types: tuple[str, ...] = TYPE_KEYS
    enabled_categories: tuple[str, ...] = CATEGORY_KEYS
    min_difficulty: float = 0.1
    max_difficulty: float = 0.95
    challenges_per_user: int = 3
    ml_min_answers: int = 30
    ml_title_prefix: bool = True  # the seed's "[ML] " before the titles of ML challenges
    target_completion: float = 0.75  # the completion model's aim for each ML challenge
    problems: tuple[str, ...] = field(default=(), compare=False)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("problems")
        d["enabled_types"] = list(self.enabled_types)
        d["enabled_categories"] = list(self.enabled_categories)
        return d


DEFAULTS = ChallengeSettings()
KEYS: tuple[str, ...] = tuple(k for k in DEFAULTS.as_dict())


class SettingError(ValueError):
    """A settings value that is malformed or out of range."""


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise SettingError("must be true or false")


def _number(lo: float, hi: float) -> Callable[[Any], float]:
    def parse(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise SettingError(f"must be a number in {lo} .. {hi}")
        if not lo <= float(v) <= hi:
            raise SettingError(f"{v} is outside {lo} .. {hi}")
        return float(v)

    return parse


def _integer(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise SettingError(f"must be a whole number in {lo} .. {hi}")
        if not lo <= v <= hi:
            raise SettingError(f"{v} is outside {lo} .. {hi}")
        return v

    return parse


def _subset(allowed: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    def parse(v: Any) -> tuple[str, ...]:
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise SettingError("must be a JSON list of keys")
        if not v:
            raise SettingError(f"must not be empty (known: {', '.join(allowed)})")
        unknown = sorted(set(v) - set(allowed))
        if unknown:
            raise SettingError(f"unknown keys {unknown}")
        # keep the catalogue's order so that selection does not depend on how the admin typed it
        return tuple(k for k in allowed if k in set(v))

    return parse


PARSERS: dict[str, Callable[[Any], Any]] = {
    "generation_enabled": _bool,
    "ml_enabled": _bool,
    "enabled_types": _subset(TYPE_KEYS),
    "enabled_categories": _subset(CATEGORY_KEYS),
    "min_difficulty": _number(0.0, 1.0),
    "max_difficulty": _number(0.0, 1.0),
    "challenges_per_user": _integer(1, 6),
    "ml_min_answers": _integer(0, 1_000_000),
    "ml_title_prefix": _bool,
    "target_completion": _number(0.5, 0.95),
}


def parse_value(key: str, raw: str) -> Any:
    """Parse one stored JSON value; raises SettingError with a readable reason."""
    if key not in PARSERS:
        raise SettingError(f"unknown setting {key!r}; known: {', '.join(KEYS)}")
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise SettingError(f"not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})") from None
    return PARSERS[key](value)


def _shown(value: Any) -> str:
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def _default_text(key: str) -> str:
    default = getattr(DEFAULTS, key)
    if key in ("enabled_types", "enabled_categories"):
        return f"all {len(default)}" if key == "enabled_categories" else "all six"
    return _shown(default)


def _types(n: int) -> str:
    return f"{n} enabled type{'' if n == 1 else 's'}"


def serving_problem(s: ChallengeSettings) -> str | None:
    """Why the selectors cannot give every active learner ``challenges_per_user``
    challenges every day with these settings (one line, saying what to change), or None.

    What the selectors need (``daglig/selection.py``, ``daglig/learner/selection.py``):
    a learner's challenges of a day are of different types; a (type, category) pair given
    yesterday is not given today, so ``streak`` (no category) is never given two days
    running, and with one enabled category no type is; the learner model's selector
    gives ``speed_challenge`` only to learners it rates advanced, so with ``ml_enabled``
    it does not count. Onboarding and holdout learners are served by the rule-based
    selector, which needs no more than that.
    """
    n = s.challenges_per_user
    uncounted: list[str] = []  # types some learners cannot get every day
    why = ["a learner's challenges are of different types"]
    if s.ml_enabled and any(t in ADVANCED_ONLY_TYPES for t in s.enabled_types):
        uncounted += [t for t in ADVANCED_ONLY_TYPES if t in s.enabled_types]
        why.append(
            f"with ml_enabled the learner model gives {', '.join(uncounted)} "
            "to advanced learners only"
        )
    have = f"enabled_types [{', '.join(s.enabled_types)}]"
    if len(s.enabled_categories) == 1:
        counted = [t for t in s.enabled_types if t not in uncounted]
        if len(counted) >= 2 * n:
            return None
        why.append("none comes back the next day in the one category")
        besides = f" besides {', '.join(uncounted)}" if uncounted else ""
        return (
            f"challenges_per_user {n} with one enabled category ({s.enabled_categories[0]}) "
            f"needs {_types(2 * n)}{besides} ({'; '.join(why)}); {have} has "
            f"{len(counted)}: enable more categories or types, or lower challenges_per_user"
        )
    uncounted = [t for t in s.enabled_types if t in CATEGORYLESS_TYPES] + uncounted
    counted = [t for t in s.enabled_types if t not in uncounted]
    if len(counted) >= n:
        return None
    never_twice = [t for t in s.enabled_types if t in CATEGORYLESS_TYPES]
    if never_twice:
        why.append(f"{', '.join(never_twice)} is never given two days running")
    besides = f" besides {', '.join(uncounted)}" if uncounted else ""
    return (
        f"challenges_per_user {n} needs {_types(n)}{besides} ({'; '.join(why)}); "
        f"{have} has {len(counted)}: enable more types or lower challenges_per_user"
    )


# The keys of the combination rule, in the order the nightly run tries defaulting them
# one at a time (the smallest change to what the admin chose first).
SERVING_KEYS: tuple[str, ...] = ("challenges_per_user", "enabled_categories", "enabled_types")


def _per_key(rows: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in sorted(rows.items()):
        if key not in PARSERS:
            problems.append(f"{key}: unknown setting, ignored")
            continue
        try:
            values[key] = parse_value(key, raw)
        except SettingError as exc:
            problems.append(f"{key}: {exc}; using default {_default_text(key)}")
    return values


def _difficulty_problem(values: Mapping[str, Any]) -> str | None:
    lo = values.get("min_difficulty", DEFAULTS.min_difficulty)
    hi = values.get("max_difficulty", DEFAULTS.max_difficulty)
    return f"min_difficulty {lo} is above max_difficulty {hi}" if lo > hi else None


def parse_challenge_settings(rows: Mapping[str, str]) -> ChallengeSettings:
    """Build the run's settings from ``{key: json value}`` rows, defaulting what is wrong:
    a bad value takes its default; an inverted difficulty range takes both defaults; a
    combination that cannot serve (:func:`serving_problem`) takes the default of the first
    of ``SERVING_KEYS`` whose default makes it serve, else of all three. Every problem is
    one line saying what was used instead."""
    problems: list[str] = []
    values = _per_key(rows, problems)
    if (why := _difficulty_problem(values)) is not None:
        problems.append(
            f"{why}; using defaults {DEFAULTS.min_difficulty} .. {DEFAULTS.max_difficulty}"
        )
        values["min_difficulty"] = DEFAULTS.min_difficulty
        values["max_difficulty"] = DEFAULTS.max_difficulty
    if (why := serving_problem(ChallengeSettings(**values))) is not None:
        stored = [k for k in SERVING_KEYS if k in values]
        fix = next(
            (
                [k]
                for k in stored
                if serving_problem(ChallengeSettings(**{x: v for x, v in values.items() if x != k}))
                is None
            ),
            stored,
        )
        for k in fix:
            del values[k]
        used = ", ".join(f"{k} {_default_text(k)}" for k in fix)
        problems.append(f"{why}; using default {used}")
    return ChallengeSettings(**values, problems=tuple(problems))


def validate_update(stored: Mapping[str, str], changes: Mapping[str, Any]) -> dict[str, str]:
    """The JSON text to store per changed key, or ``SettingError`` with the one-line reason:
    an unknown key, a malformed or out-of-range value, or a combination the change would
    leave that makes no sense (min_difficulty above max_difficulty, too few types or
    categories for challenges_per_user). The combination is the stored settings as the
    nightly run reads them, with the changes applied; it is checked when the change
    touches one of its keys (one key may be changed at a time)."""
    encoded: dict[str, str] = {}
    for key, value in changes.items():
        if key not in PARSERS:
            raise SettingError(f"unknown setting {key!r}; known: {', '.join(KEYS)}")
        try:
            encoded[key] = encode_value(key, value)
        except SettingError as exc:
            raise SettingError(f"{key}: {exc}") from None
    values = _per_key({k: v for k, v in stored.items() if k in PARSERS}, [])
    values.update({k: parse_value(k, raw) for k, raw in encoded.items()})
    touched = set(encoded)
    inverted = _difficulty_problem(values)
    if inverted is not None and touched & {"min_difficulty", "max_difficulty"}:
        raise SettingError(inverted)
    if touched & {*SERVING_KEYS, "ml_enabled"}:
        cannot_serve = serving_problem(ChallengeSettings(**values))
        if cannot_serve is not None:
            raise SettingError(cannot_serve)
    return encoded


def encode_value(key: str, value: Any) -> str:
    """The JSON text to store for a setting, validated the same way it will be read."""
    raw = json.dumps(list(value) if isinstance(value, tuple) else value)
    parse_value(key, raw)
    return raw
