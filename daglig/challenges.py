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


def content_key_expr() -> pl.Expr:
    """``type|category|t<target>|n<count>|s<seconds>|d<difficulty>|source|language``; '-'
    for none (the language is ``nb`` or ``nn``, never none)."""

    def part(prefix: str, col: str) -> pl.Expr:
        return pl.concat_str(pl.lit(prefix), pl.col(col).cast(pl.String)).fill_null(f"{prefix}-")

    hundredths = (pl.col("difficulty") * 100).round(0).cast(pl.Int64)
    return pl.concat_str(
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


def with_content_key(assignments: pl.DataFrame) -> pl.DataFrame:
    """Assignments with their ``content_key`` column (input unchanged); without a
    ``language`` column (older run folders, tests) every row is Bokmål."""
    if "language" not in assignments.columns:
        assignments = assignments.with_columns(language=pl.lit(DEFAULT_LANGUAGE))
    return assignments.with_columns(content_key=content_key_expr())


def distinct_challenges(keyed: pl.DataFrame) -> pl.DataFrame:
    """The distinct challenges among keyed assignments, with the category's Norwegian name
    in the challenge's written form: the rows to render (each once)."""
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
        )
        .unique("content_key", keep="first", maintain_order=True)
        .join(
            category_name_frame(),
            on=["category", "language"],
            how="left",
            maintain_order="left",
        )
        .sort("content_key")
    )


def finish_challenges(rendered: pl.DataFrame) -> pl.DataFrame:
    """Rendered distinct challenges with XP: the ``daily_challenges`` rows of the day."""
    return with_xp(rendered.lazy()).select(CHALLENGE_COLUMNS).collect()
