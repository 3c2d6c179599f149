"""The challenge catalogue: challenge types, categories, and the XP formula.

Numbers that the seed fixes (ML weights, difficulty-scaling flags, the base XP of
``category_focus`` = 75, the weight of ``dangerous_situations`` = 1.3) are kept as given;
the others are ours and documented in docs/catalogue.md.

XP is computed in exact integer arithmetic: difficulty is held in hundredths and category
weights in hundredths, so ``base × difficulty × weight`` is an exact rational and rounding
half-up is exact. Binary floating point would turn the seed's bonus example
``75 × (0.7 − 0.5) × 0.6 = 9`` into 8.999… and ``int()`` into 8.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import polars as pl


@dataclass(frozen=True, slots=True)
class ChallengeType:
    """One kind of challenge the app can show."""

    key: str
    ml_weight: float
    difficulty_scaling: bool
    base_xp: int
    unit: str  # what target_value counts: questions, quizzes, days, percent


@dataclass(frozen=True, slots=True)
class Category:
    """A question category: stable key, Norwegian name (Bokmål, and nynorsk in
    ``name_nn``), content-difficulty weight."""

    key: str
    name_no: str
    weight: float
    name_nn: str

    def name(self, language: str = "nb") -> str:
        """The name in the learner's written form: ``'nn'`` nynorsk, anything else Bokmål."""
        return self.name_nn if language == "nn" else self.name_no


CHALLENGE_TYPES: dict[str, ChallengeType] = {
    t.key: t
    for t in (
        ChallengeType("quiz", 1.0, True, 50, "quizzes"),
        ChallengeType("perfect_score", 0.7, True, 100, "questions"),
        ChallengeType("category_focus", 1.2, True, 75, "questions"),
        ChallengeType("streak", 0.8, False, 60, "days"),
        ChallengeType("accuracy_challenge", 0.9, True, 80, "percent"),
        ChallengeType("speed_challenge", 0.6, True, 90, "questions"),
    )
}
TYPE_KEYS: tuple[str, ...] = tuple(CHALLENGE_TYPES)
# Types not tied to a category (the selectors never give one two days running).
CATEGORYLESS_TYPES: tuple[str, ...] = ("streak",)
# Types the learner model's selector gives only to learners it rates advanced.
ADVANCED_ONLY_TYPES: tuple[str, ...] = ("speed_challenge",)

CATEGORIES: dict[str, Category] = {
    c.key: c
    for c in (
        Category("traffic_signs", "Trafikkskilt", 1.0, "Trafikkskilt"),
        Category("road_markings", "Vegoppmerking", 1.0, "Vegoppmerking"),
        Category("right_of_way", "Vikeplikt", 1.2, "Vikeplikt"),
        Category("traffic_rules", "Trafikkregler", 1.1, "Trafikkreglar"),
        Category("speed_and_distance", "Fart og avstand", 1.1, "Fart og avstand"),
        Category("dangerous_situations", "Farlige situasjoner", 1.3, "Farlege situasjonar"),
        Category("vehicle_and_equipment", "Kjøretøy og utstyr", 0.9, "Køyretøy og utstyr"),
        Category("human_factors", "Mennesket i trafikken", 1.0, "Mennesket i trafikken"),
        Category("environment", "Miljø og økonomisk kjøring", 0.9, "Miljø og økonomisk køyring"),
        Category("lights_and_visibility", "Lys og sikt", 1.0, "Lys og sikt"),
        Category("winter_driving", "Vinterkjøring", 1.2, "Vinterkøyring"),
        Category(
            "accidents_and_first_aid", "Ulykker og førstehjelp", 1.1, "Ulukker og førstehjelp"
        ),
    )
}
CATEGORY_KEYS: tuple[str, ...] = tuple(CATEGORIES)

SOURCES: tuple[str, ...] = ("ml", "fallback", "onboarding", "manual")

# The learner's written form (users.preferred_language): Bokmål unless the app says 'nn'.
LANGUAGES: tuple[str, ...] = ("nb", "nn")
DEFAULT_LANGUAGE = "nb"

# Difficulty is stored on a grid of this step so that many users share one challenge row
# (and one rendering); it is also what keeps XP arithmetic exact.
DIFFICULTY_STEP = 0.05


def _hundredths(x: float) -> int:
    return int(Decimal(str(x)).scaleb(2).to_integral_value(rounding=ROUND_HALF_UP))


def xp_for(
    base_xp: int, difficulty: float, category_weight: float, scaling: bool = True
) -> tuple[int, int]:
    """(xp_reward, bonus_xp) for one challenge, rounded half-up.

    final = base × difficulty × weight; bonus = base × (difficulty − 0.5) × 0.6, never below 0.
    A type without difficulty scaling is priced as if difficulty were 1.0.
    """
    d = _hundredths(difficulty) if scaling else 100
    w = _hundredths(category_weight)
    final = (base_xp * d * w * 2 + 10_000) // 20_000  # round half-up of base*d*w/10_000
    bonus_num = base_xp * (d - 50) * 6  # base*(d-50)/100*0.6 = bonus_num/1000
    bonus = max(0, (bonus_num * 2 + 1_000) // 2_000)
    return final, bonus


def catalogue_frame() -> pl.DataFrame:
    """The challenge types as a frame, to join against selections."""
    return pl.DataFrame(
        {
            "challenge_type": list(CHALLENGE_TYPES),
            "ml_weight": [t.ml_weight for t in CHALLENGE_TYPES.values()],
            "difficulty_scaling": [t.difficulty_scaling for t in CHALLENGE_TYPES.values()],
            "base_xp": [t.base_xp for t in CHALLENGE_TYPES.values()],
        },
        schema={
            "challenge_type": pl.String,
            "ml_weight": pl.Float64,
            "difficulty_scaling": pl.Boolean,
            "base_xp": pl.Int64,
        },
    )


def category_frame() -> pl.DataFrame:
    """The categories as a frame (key, Norwegian name, weight in hundredths)."""
    return pl.DataFrame(
        {
            "category": list(CATEGORIES),
            "category_name": [c.name_no for c in CATEGORIES.values()],
            "category_weight_pct": [_hundredths(c.weight) for c in CATEGORIES.values()],
        },
        schema={"category": pl.String, "category_name": pl.String, "category_weight_pct": pl.Int64},
    )


def category_name_frame() -> pl.DataFrame:
    """Every category's name in each written form: (category, language, category_name)."""
    rows = [(c.key, lang, c.name(lang)) for c in CATEGORIES.values() for lang in LANGUAGES]
    return pl.DataFrame(
        rows,
        schema={"category": pl.String, "language": pl.String, "category_name": pl.String},
        orient="row",
    )


def with_xp(challenges: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``xp_reward`` and ``bonus_xp`` to challenges (columns challenge_type, category,
    difficulty): the vectorised twin of :func:`xp_for`, in the same integer arithmetic."""
    cats = category_frame().lazy().select("category", "category_weight_pct")
    d_pct = (pl.col("difficulty") * 100).round(0).cast(pl.Int64)
    d_eff = pl.when(pl.col("difficulty_scaling")).then(d_pct).otherwise(pl.lit(100, pl.Int64))
    w = pl.col("category_weight_pct").fill_null(100)
    base = pl.col("base_xp")
    return (
        challenges.join(
            catalogue_frame().lazy(), on="challenge_type", how="left", maintain_order="left"
        )
        .join(cats, on="category", how="left", nulls_equal=False, maintain_order="left")
        .with_columns(
            xp_reward=((base * d_eff * w * 2 + 10_000) // 20_000).cast(pl.Int32),
            bonus_xp=pl.max_horizontal(
                pl.lit(0, pl.Int64), (base * (d_eff - 50) * 6 * 2 + 1_000) // 2_000
            ).cast(pl.Int32),
        )
        .drop("ml_weight", "difficulty_scaling", "base_xp", "category_weight_pct")
    )
