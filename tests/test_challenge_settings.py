"""Admin settings: defaults, validation for type and meaning, problems reported and never
fatal in the run, refused before anything is stored by ``daglig admin settings set``.

One validator (``daglig.challenge_settings``) serves the CLI, the API and the nightly run:
the tables here drive it directly; the selector test checks its claim about a combination
(can every learner get ``challenges_per_user`` challenges every day?) against the real
selectors over three days; the subprocess tests type ``daglig admin settings set`` and
``daglig run`` as a person does, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from daglig.catalogue import CATEGORY_KEYS, TYPE_KEYS
from daglig.challenge_settings import (
    DEFAULTS,
    ChallengeSettings,
    SettingError,
    encode_value,
    parse_challenge_settings,
    serving_problem,
    validate_update,
)
from daglig.selection import PREVIOUS_SCHEMA
from tests.builders import AppDataBuilder
from tests.cli import cli_env, daglig
from tests.dq_helpers import body, outbox, query, run_logs, set_settings

FOUR = '["quiz", "perfect_score", "category_focus", "streak"]'
FOUR_T = ("quiz", "perfect_score", "category_focus", "streak")


def test_missing_settings_take_defaults() -> None:
    s = parse_challenge_settings({})
    assert s == DEFAULTS
    assert s.challenges_per_user == 3 and s.min_difficulty == 0.1 and s.max_difficulty == 0.95
    assert s.ml_min_answers == 30 and len(s.enabled_types) == 6 and len(s.enabled_categories) == 12
    assert s.ml_title_prefix is True  # the seed's "[ML] " prefix, until an admin turns it off
    assert s.problems == ()
    assert serving_problem(DEFAULTS) is None


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("generation_enabled", "false", False),
        ("ml_enabled", "false", False),
        ("challenges_per_user", "4", 4),
        ("min_difficulty", "0.3", 0.3),
        ("enabled_types", '["streak", "perfect_score", "quiz", "category_focus"]', FOUR_T),
        (
            "enabled_categories",
            '["winter_driving", "traffic_signs"]',
            ("traffic_signs", "winter_driving"),
        ),
        ("ml_min_answers", "100", 100),
        ("ml_title_prefix", "false", False),
        ("target_completion", "0.8", 0.8),
        ("target_completion", "0.5", 0.5),
    ],
)
def test_valid_values_are_used(key: str, raw: str, expected: object) -> None:
    s = parse_challenge_settings({key: raw})
    assert getattr(s, key) == expected  # lists in the catalogue's order
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
        ("min_difficulty", "NaN", "outside"),
        ("max_difficulty", "Infinity", "outside"),
        ("enabled_types", '["quiz", "karaoke"]', "unknown keys ['karaoke']"),
        ("enabled_types", "[]", "must not be empty"),
        ("enabled_categories", "[]", "must not be empty"),
        ("enabled_categories", '"traffic_signs"', "JSON list"),
        ("ml_min_answers", "true", "whole number"),
        ("ml_title_prefix", '"no"', "true or false"),
        ("ml_title_prefix", "0", "true or false"),
        ("target_completion", "0.3", "outside 0.5 .. 0.95"),
        ("target_completion", "0.96", "outside 0.5 .. 0.95"),
        ("target_completion", '"high"', "must be a number in 0.5 .. 0.95"),
    ],
)
def test_malformed_values_are_reported_and_defaulted(key: str, raw: str, fragment: str) -> None:
    s = parse_challenge_settings({key: raw})
    assert getattr(s, key) == getattr(DEFAULTS, key)
    assert len(s.problems) == 1 and s.problems[0].startswith(key) and fragment in s.problems[0]
    assert "; using default " in s.problems[0]  # every line says what was used instead


def test_inverted_difficulty_bounds_fall_back_to_defaults() -> None:
    s = parse_challenge_settings({"min_difficulty": "0.8", "max_difficulty": "0.2"})
    assert (s.min_difficulty, s.max_difficulty) == (0.1, 0.95)
    assert s.problems == (
        "min_difficulty 0.8 is above max_difficulty 0.2; using defaults 0.1 .. 0.95",
    )


def test_unknown_key_is_reported() -> None:
    assert parse_challenge_settings({"colour": '"blue"'}).problems == (
        "colour: unknown setting, ignored",
    )


def test_encode_validates() -> None:
    assert encode_value("enabled_types", ("quiz",)) == '["quiz"]'
    with pytest.raises(SettingError):
        encode_value("challenges_per_user", 9)


# ------------------------------------------------------------ combinations that can serve

ONE_CAT = '["winter_driving"]'
TWO_CATS = '["winter_driving", "right_of_way"]'


@pytest.mark.parametrize(
    ("rows", "defaulted", "fragment"),
    [
        # the case: no type at all
        ({"enabled_types": "[]"}, {"enabled_types"}, "must not be empty"),
        # two types besides streak cannot fill 4 slots on the day after a streak
        (
            {"enabled_types": FOUR, "challenges_per_user": "5"},
            {"challenges_per_user"},
            "challenges_per_user 5 needs 5 enabled types besides streak",
        ),
        # the admin's own challenges_per_user is kept when more types fix it ...
        (
            {"enabled_types": '["quiz", "streak", "category_focus"]', "challenges_per_user": "4"},
            {"enabled_types"},
            "enabled_types [quiz, category_focus, streak] has 2",
        ),
        # ... and the admin's types are kept when the default number fits them
        (
            {"enabled_types": FOUR, "challenges_per_user": "4"},
            {"challenges_per_user"},
            "needs 4 enabled types besides streak",
        ),
        # streak alone can never be given two days running
        ({"enabled_types": '["streak"]', "challenges_per_user": "1"}, {"enabled_types"}, "has 0"),
        # the learner model gives speed only to advanced learners
        (
            {"enabled_types": '["speed_challenge"]', "challenges_per_user": "1"},
            {"enabled_types"},
            "advanced learners only",
        ),
        # one category: no type may come back the next day, so twice the types
        ({"enabled_categories": ONE_CAT}, {"enabled_categories"}, "needs 6 enabled types"),
        # nothing fixes it alone: all three keys of the rule take their defaults
        (
            {
                "enabled_types": '["quiz"]',
                "enabled_categories": ONE_CAT,
                "challenges_per_user": "3",
            },
            {"enabled_types", "enabled_categories", "challenges_per_user"},
            "with one enabled category (winter_driving) needs 6 enabled types",
        ),
    ],
    ids=[
        "no-types",
        "5-of-4",
        "types-fixed",
        "count-fixed",
        "streak-only",
        "speed-only",
        "one-category",
        "all-three",
    ],
)
def test_a_combination_that_cannot_serve_falls_back_for_the_offending_keys(
    rows: dict[str, str], defaulted: set[str], fragment: str
) -> None:
    s = parse_challenge_settings(rows)
    assert serving_problem(s) is None  # what the run uses can serve
    for key, raw in rows.items():
        parsed = json.loads(raw)
        used = getattr(s, key)
        if key in defaulted:
            assert used == getattr(DEFAULTS, key), key
        else:
            assert (list(used) if isinstance(used, tuple) else used) == parsed, key
    assert len(s.problems) == 1 and fragment in s.problems[0], s.problems
    assert "using default" in s.problems[0]


@pytest.mark.parametrize(
    ("stored", "changes", "fragment"),
    [
        ({}, {"enabled_types": []}, "enabled_types: must not be empty"),
        ({}, {"enabled_categories": []}, "enabled_categories: must not be empty"),
        ({}, {"enabled_types": ["quiz", "karaoke"]}, "unknown keys ['karaoke']"),
        ({}, {"colour": "blue"}, "unknown setting 'colour'"),
        ({}, {"min_difficulty": 0.97}, "min_difficulty 0.97 is above max_difficulty 0.95"),
        ({"min_difficulty": "0.5"}, {"max_difficulty": 0.4}, "is above max_difficulty 0.4"),
        ({}, {"min_difficulty": float("nan")}, "outside 0.0 .. 1.0"),
        ({}, {"challenges_per_user": 6}, "needs 6 enabled types besides streak"),
        ({}, {"challenges_per_user": 5}, "advanced learners only"),
        ({"ml_enabled": "false", "challenges_per_user": "5"}, {"ml_enabled": True}, "needs 5"),
        # one key at a time: the combination the change would leave is checked
        ({"challenges_per_user": "4"}, {"enabled_types": ["quiz", "streak"]}, "has 1"),
        ({"enabled_types": '["quiz", "streak"]'}, {"challenges_per_user": 2}, "has 1"),
        ({}, {"enabled_categories": ["winter_driving"]}, "one enabled category"),
    ],
)
def test_an_update_that_makes_no_sense_is_refused(
    stored: dict[str, str], changes: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(SettingError) as info:
        validate_update(stored, changes)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"challenges_per_user": 4},
        {"challenges_per_user": 5, "ml_enabled": False},
        {"enabled_types": ["quiz"], "challenges_per_user": 1},
        {"enabled_categories": ["winter_driving"], "challenges_per_user": 2},
        {"min_difficulty": 0.95},  # equal bounds are a range of one
        {"ml_min_answers": 0},
    ],
)
def test_an_update_that_makes_sense_is_stored_as_the_run_reads_it(changes: dict[str, Any]) -> None:
    encoded = validate_update({}, changes)
    assert set(encoded) == set(changes)
    s = parse_challenge_settings(encoded)
    assert s.problems == ()
    assert {k: getattr(s, k) for k in changes} == {
        k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()
    }


def test_one_key_at_a_time_in_an_order_that_serves() -> None:
    stored = validate_update({}, {"challenges_per_user": 1})
    stored |= validate_update(stored, {"enabled_types": ["quiz"]})
    assert parse_challenge_settings(stored).problems == ()


def test_a_stored_combination_that_cannot_serve_does_not_block_an_unrelated_change() -> None:
    stored = {"enabled_types": '["streak"]'}  # written by hand: the run defaults it
    assert validate_update(stored, {"ml_min_answers": 50}) == {"ml_min_answers": "50"}
    with pytest.raises(SettingError, match="has 0"):
        validate_update(stored, {"challenges_per_user": 1})  # a key of the rule: checked


# ------------------------------------------------- the validator's claim, on the selectors


def _counts_over_three_days(settings: ChallengeSettings) -> tuple[int, int]:
    """(learners, the fewest challenges any active learner got on any of three days in a
    row), each day excluding what the day before gave, from the selector the run would
    use: the learner model's (with the rule-based one for the rest) or the rule-based."""
    from tests.test_learner import ml_population, ml_select
    from tests.test_selection import population, select

    previous = pl.DataFrame(schema=PREVIOUS_SCHEMA)
    fewest, learners = 99, 0
    for _ in range(3):
        if settings.ml_enabled:
            b = ml_population()
            out, _assessment = ml_select(b, settings, previous)
        else:
            b = population()
            out = select(b, settings, previous)
        learners = sum(1 for u in b.users if u["is_active"])
        per_user = out.group_by("user_id").len()
        fewest = min(fewest, per_user["len"].min() if per_user.height == learners else 0)  # type: ignore[type-var]
        previous = out.select(list(PREVIOUS_SCHEMA))
    return learners, fewest


COMBINATIONS = [
    # (enabled_types, number of categories, challenges_per_user, ml_enabled)
    (TYPE_KEYS, 12, 3, True),
    (TYPE_KEYS, 12, 4, True),
    (TYPE_KEYS, 12, 5, True),
    (TYPE_KEYS, 12, 5, False),
    (TYPE_KEYS, 12, 6, False),
    (("quiz",), 12, 1, True),
    (("streak",), 12, 1, False),
    (("speed_challenge",), 12, 1, True),
    (("speed_challenge",), 12, 1, False),
    (("quiz", "streak"), 12, 2, False),
    (("quiz", "category_focus", "streak"), 2, 2, True),
    (("quiz", "streak"), 1, 1, False),
    (("quiz",), 1, 1, False),
    (TYPE_KEYS, 1, 2, True),
    (TYPE_KEYS, 1, 3, True),
    (TYPE_KEYS, 1, 3, False),
]


@pytest.mark.parametrize(("types", "n_cats", "per_user", "ml"), COMBINATIONS)
def test_the_validator_says_what_the_selectors_can_serve(
    types: tuple[str, ...], n_cats: int, per_user: int, ml: bool
) -> None:
    s = ChallengeSettings(
        enabled_types=types,
        enabled_categories=CATEGORY_KEYS[:n_cats],
        challenges_per_user=per_user,
        ml_enabled=ml,
    )
    learners, fewest = _counts_over_three_days(s)
    assert learners > 0
    can_serve = serving_problem(s) is None
    assert can_serve == (fewest == per_user), (serving_problem(s), fewest)


# ---------------------------------------------------------- as a person types it


def _small_app(url: str) -> None:
    b = AppDataBuilder()
    for _ in range(3):
        b.user()
    b.answers(2, "right_of_way", 40, correct=0.6, day=date(2026, 11, 20))
    b.write(url)


def test_settings_set_refuses_nonsense_with_one_line_and_stores_nothing(
    db_url: str, tmp_path: Path
) -> None:
    _small_app(db_url)
    env = cli_env(db_url, tmp_path / "data")
    refused = [  # the table above has every case; here, one of each kind, as typed
        (["enabled_types", "[]"], "enabled_types: must not be empty"),
        (["challenges_per_user", "6"], "needs 6 enabled types besides streak"),
        (["max_difficulty", "NaN"], "outside 0.0 .. 1.0"),
    ]
    for args, fragment in refused:
        r = daglig("admin", "settings", "set", *args, "--by", "kari", env=env)
        assert r.returncode == 2, r
        assert len(r.err_lines) == 1 and fragment in r.err_lines[0], r
        assert r.stdout == ""
    assert query(db_url, "SELECT COUNT(*) FROM challenge_settings") == [(0,)]
    # one key at a time, in an order where each step can serve
    for args in (["challenges_per_user", "1"], ["enabled_types", "quiz"]):
        r = daglig("admin", "settings", "set", *args, "--by", "kari", env=env)
        assert r.returncode == 0, r
    r = daglig("admin", "settings", "set", "challenges_per_user", "2", env=env)
    assert r.returncode == 2 and "enabled_types [quiz] has 1" in r.err_lines[0], r
    rows = dict(query(db_url, "SELECT key, value FROM challenge_settings"))
    assert rows == {"challenges_per_user": "1", "enabled_types": '["quiz"]'}


def test_settings_set_target_completion_as_typed(db_url: str, tmp_path: Path) -> None:
    _small_app(db_url)
    env = cli_env(db_url, tmp_path / "data")
    r = daglig("admin", "settings", "set", "target_completion", "0.97", env=env)
    assert r.returncode == 2 and r.err_lines == [
        "error: target_completion: 0.97 is outside 0.5 .. 0.95"
    ], r
    r = daglig("admin", "settings", "set", "target_completion", "0.8", "--by", "kari", env=env)
    assert r.returncode == 0, r
    assert query(db_url, "SELECT key, value FROM challenge_settings") == [
        ("target_completion", "0.8")
    ]


def test_a_bad_stored_setting_is_reported_alike_by_the_run_its_log_and_email(
    sqlite_url: str, tmp_path: Path, prefect_api: str
) -> None:
    """Stored by hand (or before this check existed): the run defaults it, says so on the
    terminal, in the log and in the email with the same words, and serves everyone."""
    _small_app(sqlite_url)
    set_settings(sqlite_url, enabled_types="[]", challenges_per_user="5")
    env = cli_env(sqlite_url, tmp_path / "data", prefect_api)
    r = daglig("run", "--date", "2026-11-24", env=env)
    assert r.returncode == 0, r
    problems = [
        "enabled_types: must not be empty (known: " + ", ".join(TYPE_KEYS) + "); "
        "using default all six",
        "challenges_per_user 5 needs 5 enabled types besides streak, speed_challenge",
    ]
    printed = [line for line in r.out_lines if line.startswith("settings problem: ")]
    assert len(printed) == 2 and printed[1].endswith("using default challenges_per_user 3")
    for line, want in zip(printed, problems, strict=True):
        assert line.startswith(f"settings problem: {want}")
    ((flow_run_id,),) = query(sqlite_url, "SELECT flow_run_id FROM pipeline_runs")
    logged = [line for line in run_logs(flow_run_id) if "settings problem: " in line]
    assert [line[line.index("settings problem: ") :] for line in logged] == printed
    text = body(outbox(tmp_path)[-1])
    assert "Innstillinger med feil (hver linje sier hva som ble brukt i stedet)" in text
    for line in printed:
        assert line.removeprefix("settings problem: ") in text
    assert "Elever: 3 av 3 aktive" in text
    served = query(sqlite_url, "SELECT user_id, COUNT(*) FROM user_daily_challenges GROUP BY 1")
    assert sorted(served) == [(1, 3), (2, 3), (3, 3)]
