"""From assignments to the two frames the database receives.

* ``challenges`` — one row per distinct challenge of the day (``content_key`` unique),
  with text, XP and source: the rows of ``daily_challenges``.
* ``assignments`` — one row per (user, slot) naming its challenge by ``content_key``, with
  the reason: the rows of ``user_daily_challenges``.

The ``content_key`` is a stable, readable key of *what the challenge is*: type, category,
target and its parameters, difficulty, source and the written form it is phrased in
(``nb`` Bokmål, ``nn`` nynorsk: the learner's ``users.preferred_language``). Two users
given the same challenge in the same written form share one row, and a rerun computes the
same key.

**Readiness.** The one assignment of a learner's day that carries their exam readiness
(the ML selector's reason has ``readiness_band`` and ``readiness_focus``, see
:mod:`daglig.learner.selection`) gets one more key part after the language,
``r<band>:<category>`` (``…|ml|nb|r40-60:traffic_rules``), so every part keeps its position;
every other key is exactly
what it was without readiness.

**The week's path to the exam.** The assignment that is a learner's day on their path
(``path_day``, ``path_days``: day 2 of 7, :mod:`daglig.learner.exam_path`) gets a last part
``|p<day>of<days>`` (``…|ml|nb|p2of7``, after the readiness part when there is one), so
the parts before it keep their positions and every other key is unchanged.

**Gentle.** A struggling learner's adapted challenge (``gentle``, see
:mod:`daglig.selection`) is phrased kindly, so its key ends in ``|kind`` (after any
readiness and path parts: ``…|ml|nb|p2of7|kind``); every other key is
unchanged.
"""

from __future__ import annotations

import polars as pl

from daglig.catalogue import DEFAULT_LANGUAGE, category_name_frame, with_xp

CHALLENGE_COLUMNS: tuple[str, ...] = (
    "content_key",
    "challenge_type",
    "category",
    "title",
    "description",
    "target_value",
    "difficulty",
    "xp_reward",
    "bonus_xp",
    "source",
)


READINESS_COLUMNS: tuple[str, ...] = ("readiness_band", "readiness_focus")
GENTLE_COLUMN = "gentle"
PATH_COLUMNS: tuple[str, ...] = ("path_day", "path_days")


def content_key_expr() -> pl.Expr:
    """``type|category|t<target>|n<count>|s<seconds>|d<difficulty>|source|language``; '-'
    for none (the language is ``nb`` or ``nn``, never none). A row with a
    ``readiness_band`` has ``|r<band>:<readiness_focus>`` after the language part, a row
    with a ``path_day`` ``|p<path_day>of<path_days>`` after that, a ``gentle`` one
    ``|kind`` at the very end."""

    def part(prefix: str, col: str) -> pl.Expr:
        return pl.concat_str(pl.lit(prefix), pl.col(col).cast(pl.String)).fill_null(f"{prefix}-")

    hundredths = (pl.col("difficulty") * 100).round(0).cast(pl.Int64)
    base = pl.concat_str(
        pl.col("challenge_type"),
        pl.col("category").fill_null("-"),
        part("t", "target_value"),
        part("n", "question_count"),
        part("s", "seconds_limit"),
        pl.concat_str(
            pl.lit("d"),
            hundredths // 100,
            pl.lit("."),
            (hundredths % 100).cast(pl.String).str.zfill(2),
        ),
        pl.col("source"),
        pl.col("language").fill_null(DEFAULT_LANGUAGE),
        separator="|",
    )
    readiness = (
        pl.when(pl.col("readiness_band").is_not_null())
        .then(
            pl.concat_str(
                pl.lit("|r"), pl.col("readiness_band"), pl.lit(":"), pl.col("readiness_focus")
            )
        )
        .otherwise(pl.lit(""))
    )
    path = (
        pl.when(pl.col("path_day").is_not_null())
        .then(
            pl.concat_str(
                pl.lit("|p"),
                pl.col("path_day").cast(pl.String),
                pl.lit("of"),
                pl.col("path_days").cast(pl.String),
            )
        )
        .otherwise(pl.lit(""))
    )
    kind = (
        pl.when(pl.col(GENTLE_COLUMN).fill_null(False)).then(pl.lit("|kind")).otherwise(pl.lit(""))
    )
    return pl.concat_str(base, readiness, path, kind)


def language_of(preferred: pl.Expr) -> pl.Expr:
    """The written form a learner's challenges are phrased in, from
    ``users.preferred_language``: ``'nn'`` nynorsk; NULL or anything else Bokmål ``'nb'``."""
    return pl.when(preferred == "nn").then(pl.lit("nn")).otherwise(pl.lit(DEFAULT_LANGUAGE))


def with_language(assignments: pl.DataFrame, users: pl.DataFrame) -> pl.DataFrame:
    """Assignments with each learner's ``language`` (``nb``/``nn``) from the users'
    ``preferred_language`` (a users frame without that column: everyone Bokmål)."""
    if "preferred_language" not in users.columns:
        return assignments.with_columns(language=pl.lit(DEFAULT_LANGUAGE))
    langs = users.select("user_id", language=language_of(pl.col("preferred_language")))
    return assignments.join(langs, on="user_id", how="left", maintain_order="left").with_columns(
        pl.col("language").fill_null(DEFAULT_LANGUAGE)
    )


def readiness_of(reason: pl.Expr) -> dict[str, pl.Expr]:
    """``readiness_band`` and ``readiness_focus`` read from the reason JSON (null where the
    reason names none: every assignment but a learner's carrying one)."""
    return {
        col: reason.str.extract(f'"{col}":"([^"]+)"', 1).alias(col) for col in READINESS_COLUMNS
    }


def with_readiness(assignments: pl.DataFrame) -> pl.DataFrame:
    """Assignments with the two readiness columns (from ``reason`` when they are not there
    yet; null without a reason)."""
    missing = [c for c in READINESS_COLUMNS if c not in assignments.columns]
    if not missing:
        return assignments
    if "reason" in assignments.columns:
        exprs = readiness_of(pl.col("reason"))
        return assignments.with_columns(exprs[c] for c in missing)
    return assignments.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)


def with_content_key(assignments: pl.DataFrame) -> pl.DataFrame:
    """Assignments with their ``content_key`` and readiness columns (input unchanged);
    without a ``language`` column (older run folders, tests) every row is Bokmål, without
    the path columns no row is on a path."""
    if "language" not in assignments.columns:
        assignments = assignments.with_columns(language=pl.lit(DEFAULT_LANGUAGE))
    if GENTLE_COLUMN not in assignments.columns:
        assignments = assignments.with_columns(pl.lit(False).alias(GENTLE_COLUMN))
    assignments = assignments.with_columns(
        pl.lit(None, pl.Int16).alias(c) for c in PATH_COLUMNS if c not in assignments.columns
    )
    return with_readiness(assignments).with_columns(content_key=content_key_expr())


def distinct_challenges(keyed: pl.DataFrame) -> pl.DataFrame:
    """The distinct challenges among keyed assignments, with the category's Norwegian name
    in the challenge's written form (and the readiness focus's, ``readiness_focus_name``):
    the rows to render (each once)."""
    return (
        keyed.select(
            "content_key",
            "challenge_type",
            "category",
            "target_value",
            "question_count",
            "seconds_limit",
            "difficulty",
            "source",
            "language",
            *READINESS_COLUMNS,
            GENTLE_COLUMN,
            *PATH_COLUMNS,
        )
        .unique("content_key", keep="first", maintain_order=True)
        .join(
            category_name_frame(),
            on=["category", "language"],
            how="left",
            maintain_order="left",
        )
        .join(
            category_name_frame().rename(
                {"category": "readiness_focus", "category_name": "readiness_focus_name"}
            ),
            on=["readiness_focus", "language"],
            how="left",
            maintain_order="left",
        )
        .sort("content_key")
    )


def finish_challenges(rendered: pl.DataFrame) -> pl.DataFrame:
    """Rendered distinct challenges with XP: the ``daily_challenges`` rows of the day."""
    return with_xp(rendered.lazy()).select(CHALLENGE_COLUMNS).collect()
