"""Admin controls from ``challenge_settings``: parsed, validated, defaulted.

A key that is missing takes its default. A value that is malformed or out of range is
reported (one line per problem, for the run summary) and takes its default; it never
stops the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from daglig.catalogue import CATEGORY_KEYS, TYPE_KEYS


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


def parse_challenge_settings(rows: Mapping[str, str]) -> ChallengeSettings:
    """Build the run's settings from ``{key: json value}`` rows, defaulting what is wrong."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, raw in sorted(rows.items()):
        if key not in PARSERS:
            problems.append(f"{key}: unknown setting, ignored")
            continue
        try:
            values[key] = parse_value(key, raw)
        except SettingError as exc:
            default = getattr(DEFAULTS, key)
            shown = list(default) if isinstance(default, tuple) else default
            problems.append(f"{key}: {exc}; using default {json.dumps(shown)}")
    lo = values.get("min_difficulty", DEFAULTS.min_difficulty)
    hi = values.get("max_difficulty", DEFAULTS.max_difficulty)
    if lo > hi:
        problems.append(
            f"min_difficulty {lo} > max_difficulty {hi}; using defaults "
            f"{DEFAULTS.min_difficulty} .. {DEFAULTS.max_difficulty}"
        )
        values["min_difficulty"], values["max_difficulty"] = (
            DEFAULTS.min_difficulty,
            DEFAULTS.max_difficulty,
        )
    for key in ("enabled_types", "enabled_categories"):
        if key in values and not values[key]:
            problems.append(f"{key}: empty list; nothing of that kind can be generated")
    return ChallengeSettings(**values, problems=tuple(problems))


def encode_value(key: str, value: Any) -> str:
    """The JSON text to store for a setting, validated the same way it will be read."""
    raw = json.dumps(list(value) if isinstance(value, tuple) else value)
    parse_value(key, raw)
    return raw
