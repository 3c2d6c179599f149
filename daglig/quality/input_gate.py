"""The input gate: the users, the question bank and the last day's answers (each marked
with the reason it was excluded, if it was), before anything downstream uses them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta

import polars as pl

from daglig.catalogue import CATEGORY_KEYS
from daglig.quality.gx import Spec, expectations, run_suite
from daglig.quality.report import GateReport

#: quarantine reasons that keep the answer (only a value was bad): not "excluded"
KEPT_REASONS: frozenset[str] = frozenset({"bad_time_spent_seconds"})


def last_day_answers(
    attempts: pl.DataFrame, quarantine: pl.DataFrame, run_date: date, tz: str = "Europe/Oslo"
) -> pl.DataFrame:
    """The answers of the day before ``run_date`` (local ``tz``), each with the reason it
    was excluded from the features (``exclusion_reason``, null when used)."""
    excluded = (
        quarantine.filter(~pl.col("reason").is_in(list(KEPT_REASONS)))
        .select("attempt_id", exclusion_reason=pl.col("reason"))
        .unique("attempt_id", keep="first", maintain_order=True)
    )
    local = pl.col("answered_at").dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.date()
    return attempts.filter(local == run_date - timedelta(days=1)).join(
        excluded, on="attempt_id", how="left", maintain_order="left"
    )


def _user_specs() -> list[Spec]:
    g = expectations()
    return [
        ("users.user_id not null", True, lambda: g.ExpectColumnValuesToNotBeNull(column="user_id")),
        ("users.user_id unique", True, lambda: g.ExpectColumnValuesToBeUnique(column="user_id")),
        (
            "users.is_active not null",
            True,
            lambda: g.ExpectColumnValuesToNotBeNull(column="is_active"),
        ),
    ]


def _question_specs() -> list[Spec]:
    g = expectations()
    return [
        (
            "questions.question_id not null",
            True,
            lambda: g.ExpectColumnValuesToNotBeNull(column="question_id"),
        ),
        (
            "questions.question_id unique",
            True,
            lambda: g.ExpectColumnValuesToBeUnique(column="question_id"),
        ),
        # answers on these are quarantined as unknown_category: report, do not stop
        (
            "questions.category is a known key",
            False,
            lambda: g.ExpectColumnValuesToBeInSet(column="category", value_set=list(CATEGORY_KEYS)),
        ),
        # NULL means unknown (the contract allows it); out of range is treated as unknown
        (
            "questions.difficulty within 0 .. 1",
            False,
            lambda: g.ExpectColumnValuesToBeBetween(column="difficulty", min_value=0, max_value=1),
        ),
    ]


def _answer_specs(max_excluded_share: float, blocking: bool) -> Callable[[], list[Spec]]:
    def specs() -> list[Spec]:
        g = expectations()
        not_null = [
            (
                f"last day's answers.{c} not null",
                True,
                lambda c=c: g.ExpectColumnValuesToNotBeNull(column=c),
            )
            for c in ("attempt_id", "user_id", "answered_at", "is_correct")
        ]
        return [
            *not_null,
            (
                "last day's answers.attempt_id unique",
                True,
                lambda: g.ExpectColumnValuesToBeUnique(column="attempt_id"),
            ),
            (
                "last day's answers excluded",
                blocking,
                lambda: g.ExpectColumnValuesToBeNull(
                    column="exclusion_reason", mostly=1.0 - max_excluded_share
                ),
            ),
        ]

    return specs


def check_input_gate(
    users: pl.DataFrame,
    questions: pl.DataFrame,
    last_day: pl.DataFrame,
    *,
    max_excluded_share: float,
    min_answers: int,
) -> GateReport:
    """The input gate over the users, the question bank and the last day's answers (see
    :func:`last_day_answers`). The excluded-share check blocks only when the last day has
    at least ``min_answers`` answers: a handful of answers says nothing about the feed."""
    t0 = time.perf_counter()
    blocking = last_day.height >= min_answers
    excluded = int(last_day["exclusion_reason"].is_not_null().sum()) if last_day.height else 0
    checks = [
        *run_suite("users", (), _user_specs, users.select("user_id", "is_active")),
        *run_suite(
            "questions",
            (),
            _question_specs,
            questions.select("question_id", "category", "difficulty"),
        ),
        *run_suite(
            "last_day_answers",
            (max_excluded_share, blocking),
            _answer_specs(max_excluded_share, blocking),
            last_day.select(
                "attempt_id", "user_id", "answered_at", "is_correct", "exclusion_reason"
            ),
            {
                "last day's answers excluded": f"{100 * max_excluded_share:g} %"
                + ("" if blocking else f" (not enforced below {min_answers} answers)")
            },
        ),
    ]
    return GateReport(
        "input",
        tuple(checks),
        time.perf_counter() - t0,
        {"last_day_answers": last_day.height, "last_day_excluded": excluded},
    )
