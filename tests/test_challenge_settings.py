"""Admin settings: defaults, validation, problems reported and never fatal."""

from __future__ import annotations

import pytest

from daglig.challenge_settings import DEFAULTS, SettingError, encode_value, parse_challenge_settings


def test_missing_settings_take_defaults() -> None:
    s = parse_challenge_settings({})
    assert s == DEFAULTS
    assert s.challenges_per_user == 3 and s.min_difficulty == 0.1 and s.max_difficulty == 0.95
    assert s.ml_min_answers == 30 and len(s.enabled_types) == 6 and len(s.enabled_categories) == 12
    assert s.problems == ()


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("generation_enabled", "false", False),
        ("ml_enabled", "false", False),
        ("challenges_per_user", "6", 6),
        ("min_difficulty", "0.3", 0.3),
        ("enabled_types", '["streak", "quiz"]', ("quiz", "streak")),  # catalogue order
        ("enabled_categories", '["winter_driving"]', ("winter_driving",)),
        ("ml_min_answers", "100", 100),
    ],
)
def test_valid_values_are_used(key: str, raw: str, expected: object) -> None:
    s = parse_challenge_settings({key: raw})
    assert getattr(s, key) == expected
    assert s.problems == ()


@pytest.mark.parametrize(
    ("key", "raw", "fragment"),
    [
        ("challenges_per_user", "7", "outside 1 .. 6"),
        ("challenges_per_user", "0", "outside 1 .. 6"),
        ("challenges_per_user", "2.5", "whole number"),
        ("challenges_per_user", "three", "not valid JSON"),
        ("generation_enabled", '"yes"', "true or false"),
        ("min_difficulty", "-0.1", "outside"),
        ("max_difficulty", "1.5", "outside"),
        ("enabled_types", '["quiz", "karaoke"]', "unknown keys ['karaoke']"),
        ("enabled_categories", '"traffic_signs"', "JSON list"),
        ("ml_min_answers", "true", "whole number"),
    ],
)
def test_malformed_values_are_reported_and_defaulted(key: str, raw: str, fragment: str) -> None:
    s = parse_challenge_settings({key: raw})
    assert getattr(s, key) == getattr(DEFAULTS, key)
    assert len(s.problems) == 1 and s.problems[0].startswith(key) and fragment in s.problems[0]


def test_inverted_difficulty_bounds_fall_back_to_defaults() -> None:
    s = parse_challenge_settings({"min_difficulty": "0.8", "max_difficulty": "0.2"})
    assert (s.min_difficulty, s.max_difficulty) == (0.1, 0.95)
    assert any("min_difficulty 0.8 > max_difficulty 0.2" in p for p in s.problems)


def test_unknown_key_is_reported() -> None:
    assert parse_challenge_settings({"colour": '"blue"'}).problems == (
        "colour: unknown setting, ignored",
    )


def test_encode_validates() -> None:
    assert encode_value("enabled_types", ("quiz",)) == '["quiz"]'
    with pytest.raises(SettingError):
        encode_value("challenges_per_user", 9)
