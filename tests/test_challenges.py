"""content_key: stable, readable, and what makes a challenge distinct."""

from __future__ import annotations

import polars as pl
import pytest

from daglig.challenges import distinct_challenges, with_content_key
from daglig.selection import ASSIGNMENT_SCHEMA

pytestmark = pytest.mark.pure  # the fast tier: no database, no Prefect, no process


def assignments(rows: list[dict]) -> pl.DataFrame:  # type: ignore[type-arg]
    base = {
        "user_id": 1,
        "slot": 1,
        "category": None,
        "question_count": None,
        "seconds_limit": None,
        "source": "fallback",
        "reason": "{}",
    }
    return pl.DataFrame([base | r for r in rows], schema=ASSIGNMENT_SCHEMA)


@pytest.mark.parametrize(
    ("row", "key"),
    [
        (
            {"challenge_type": "streak", "target_value": 4, "difficulty": 0.3},
            "streak|-|t4|n-|s-|d0.30|fallback|nb",
        ),
        (
            {
                "challenge_type": "category_focus",
                "category": "dangerous_situations",
                "target_value": 10,
                "difficulty": 0.7,
                "source": "ml",
            },
            "category_focus|dangerous_situations|t10|n-|s-|d0.70|ml|nb",
        ),
        (
            {
                "challenge_type": "accuracy_challenge",
                "category": "right_of_way",
                "target_value": 80,
                "question_count": 20,
                "difficulty": 0.55,
            },
            "accuracy_challenge|right_of_way|t80|n20|s-|d0.55|fallback|nb",
        ),
        (
            {
                "challenge_type": "speed_challenge",
                "category": "traffic_signs",
                "target_value": 10,
                "seconds_limit": 15,
                "difficulty": 0.05,
                "source": "onboarding",
            },
            "speed_challenge|traffic_signs|t10|n-|s15|d0.05|onboarding|nb",
        ),
        # float noise from arithmetic does not change the key
        (
            {"challenge_type": "quiz", "target_value": 2, "difficulty": 0.1 + 0.2},
            "quiz|-|t2|n-|s-|d0.30|fallback|nb",
        ),
    ],
)
def test_content_key_is_stable(row: dict, key: str) -> None:  # type: ignore[type-arg]
    assert with_content_key(assignments([row]))["content_key"].to_list() == [key]


def test_same_challenge_for_many_users_is_one_row_and_source_separates() -> None:
    rows = [
        {"user_id": u, "challenge_type": "quiz", "target_value": 2, "difficulty": 0.4}
        for u in range(1, 6)
    ]
    rows.append(
        {
            "user_id": 9,
            "challenge_type": "quiz",
            "target_value": 2,
            "difficulty": 0.4,
            "source": "ml",
        }
    )
    keyed = with_content_key(assignments(rows))
    distinct = distinct_challenges(keyed)
    assert distinct.height == 2
    assert sorted(distinct["source"]) == ["fallback", "ml"]
    assert keyed.height == 6  # input rows are untouched


def test_language_is_the_last_part_and_separates_written_forms() -> None:
    """The learner's written form (users.preferred_language) is the key's last part: the
    same challenge in Bokmål and in nynorsk is two rows, each with its category's name in
    that form; NULL or an unknown language is Bokmål."""
    from daglig.challenges import with_language

    rows = [
        {"user_id": u, "challenge_type": "category_focus", "category": "winter_driving",
         "target_value": 8, "difficulty": 0.5}
        for u in (1, 2, 3, 4, 5)
    ]  # fmt: skip
    users = pl.DataFrame(
        {"user_id": [1, 2, 3, 4], "preferred_language": ["nn", "nb", None, "se"]},
        schema={"user_id": pl.Int64, "preferred_language": pl.String},
    )  # user 5 is not among the users: Bokmål too
    with_lang = with_language(assignments(rows), users)
    assert with_lang["language"].to_list() == ["nn", "nb", "nb", "nb", "nb"]
    keyed = with_content_key(with_lang)
    assert keyed["content_key"].to_list()[:2] == [
        "category_focus|winter_driving|t8|n-|s-|d0.50|fallback|nn",
        "category_focus|winter_driving|t8|n-|s-|d0.50|fallback|nb",
    ]
    distinct = distinct_challenges(keyed)
    assert distinct.select("language", "category_name").rows() == [
        ("nb", "Vinterkjøring"),
        ("nn", "Vinterkøyring"),
    ]
    # a users frame without the column (a database without it): everyone Bokmål
    none = with_language(assignments(rows), users.drop("preferred_language"))
    assert set(none["language"]) == {"nb"}


def test_a_day_on_the_exam_path_gets_the_last_key_part() -> None:
    base = {
        "challenge_type": "category_focus",
        "category": "dangerous_situations",
        "target_value": 10,
        "difficulty": 0.7,
        "source": "ml",
    }
    frame = assignments(
        [
            base,
            {**base, "user_id": 2, "path_day": 2, "path_days": 7},
            {
                **base,
                "user_id": 3,
                "path_day": 7,
                "path_days": 7,
                "reason": '{"readiness_band":"40-60","readiness_focus":"traffic_rules"}',
            },
        ]
    )
    keyed = with_content_key(frame)
    assert keyed["content_key"].to_list() == [
        "category_focus|dangerous_situations|t10|n-|s-|d0.70|ml|nb",  # as before
        "category_focus|dangerous_situations|t10|n-|s-|d0.70|ml|nb|p2of7",
        "category_focus|dangerous_situations|t10|n-|s-|d0.70|ml|nb|r40-60:traffic_rules|p7of7",
    ]
    distinct = distinct_challenges(keyed)
    assert distinct.select("path_day", "path_days").rows() == [(None, None), (2, 7), (7, 7)]
    # frames without the path columns (older run folders): no row on a path, same keys
    older = with_content_key(frame.drop("path_day", "path_days"))
    assert older["content_key"][1] == keyed["content_key"][0]
