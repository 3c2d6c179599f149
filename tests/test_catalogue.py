"""The catalogue and the XP formula."""

from __future__ import annotations

import polars as pl
import pytest

from daglig.catalogue import CATEGORIES, CHALLENGE_TYPES, with_xp, xp_for

pytestmark = pytest.mark.pure  # the fast tier: no database, no Prefect, no process


def test_seed_example_gives_68_and_9() -> None:
    # base 75 (category_focus), difficulty 0.7, dangerous_situations 1.3
    assert CHALLENGE_TYPES["category_focus"].base_xp == 75
    assert CATEGORIES["dangerous_situations"].weight == 1.3
    assert xp_for(75, 0.7, 1.3) == (68, 9)
    # plain int() on floats gives 8 for the bonus: the reason for exact arithmetic
    assert int(75 * (0.7 - 0.5) * 0.6) == 8


@pytest.mark.parametrize(
    ("base", "difficulty", "weight", "scaling", "expected"),
    [
        (75, 0.7, 1.3, True, (68, 9)),
        (100, 0.5, 1.0, True, (50, 0)),  # bonus exactly 0 at difficulty 0.5
        (50, 0.3, 1.0, True, (15, 0)),  # negative bonus floors at 0
        (50, 0.45, 1.1, True, (25, 0)),  # 24.75 rounds half-up to 25
        (80, 0.95, 1.2, True, (91, 22)),  # 91.2 → 91; 21.6 → 22
        (90, 0.25, 0.9, True, (20, 0)),  # 20.25 → 20
        (60, 0.3, 1.0, False, (60, 18)),  # streak ignores difficulty (priced at 1.0)
        (60, 0.9, 1.0, False, (60, 18)),
    ],
)
def test_xp_table(
    base: int, difficulty: float, weight: float, scaling: bool, expected: tuple[int, int]
) -> None:
    assert xp_for(base, difficulty, weight, scaling) == expected


def test_vectorised_xp_matches_scalar_for_every_type_category_and_grid_difficulty() -> None:
    rows = [
        (t, c, d / 100)
        for t in CHALLENGE_TYPES
        for c in [*CATEGORIES, None]
        for d in range(0, 101, 5)
    ]
    frame = pl.DataFrame(rows, schema=["challenge_type", "category", "difficulty"], orient="row")
    got = with_xp(frame.lazy()).collect()
    assert got.height == frame.height
    for t, c, d, xp, bonus in got.select(
        "challenge_type", "category", "difficulty", "xp_reward", "bonus_xp"
    ).iter_rows():
        ct = CHALLENGE_TYPES[t]
        w = CATEGORIES[c].weight if c else 1.0
        assert (xp, bonus) == xp_for(ct.base_xp, d, w, ct.difficulty_scaling), (t, c, d)


def test_catalogue_matches_contract() -> None:
    assert list(CHALLENGE_TYPES) == [
        "quiz",
        "perfect_score",
        "category_focus",
        "streak",
        "accuracy_challenge",
        "speed_challenge",
    ]
    weights = {k: t.ml_weight for k, t in CHALLENGE_TYPES.items()}
    assert weights == {
        "quiz": 1.0,
        "perfect_score": 0.7,
        "category_focus": 1.2,
        "streak": 0.8,
        "accuracy_challenge": 0.9,
        "speed_challenge": 0.6,
    }
    assert [k for k, t in CHALLENGE_TYPES.items() if not t.difficulty_scaling] == ["streak"]
    assert len(CATEGORIES) == 12
    assert CATEGORIES["human_factors"].name_no == "Mennesket i trafikken"
