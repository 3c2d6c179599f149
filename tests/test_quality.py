"""The data-quality gates: each check on literal frames (pure, GX only), then the gates
stopping a real run before anything is written."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from daglig.challenge_settings import ChallengeSettings
from daglig.challenges import distinct_challenges, finish_challenges, with_content_key
from daglig.quality import (
    DataQualityError,
    GateReport,
    check_input_gate,
    check_output_gate,
    eligible_users,
    last_day_answers,
)
from daglig.rendering import render_challenges
from daglig.selection import PREVIOUS_SCHEMA, FallbackSelector, SelectionInputs
from daglig.user_features import ATTEMPTS_SCHEMA, QUESTIONS_SCHEMA, USERS_SCHEMA, extract_features
from tests.builders import AppDataBuilder
from tests.dq_helpers import (
    RUN,
    body,
    flow_env,
    has_table,
    outbox,
    query,
    run_flow,
    write_dirty,
)

# ------------------------------------------------------------------------------ frames


def frames(b: AppDataBuilder) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(users, questions, attempts) as the extract step reads them."""
    given = ("user_id", "is_active", "created_at")
    users = (
        pl.DataFrame(
            [
                dict(zip(given, (u["id"], u["is_active"], u["created_at"]), strict=True))
                for u in b.users
            ],
            schema={k: USERS_SCHEMA[k] for k in given},
        )
        .with_columns([pl.lit(None, t).alias(c) for c, t in USERS_SCHEMA.items() if c not in given])
        .select(list(USERS_SCHEMA))
    )
    questions = pl.DataFrame(
        [
            {
                "question_id": q["id"],
                "category": q["category"],
                "difficulty": q["difficulty"],
                "is_active": q["is_active"],
            }
            for q in b.question_rows()
        ],
        schema=QUESTIONS_SCHEMA,
    )
    attempts = pl.DataFrame(
        [{"attempt_id": a["id"], **{k: v for k, v in a.items() if k != "id"}} for a in b.attempts],
        schema=ATTEMPTS_SCHEMA,
    )
    return users, questions, attempts


def small_app() -> AppDataBuilder:
    b = AppDataBuilder()
    for i in range(6):
        uid = b.user()
        if i:
            b.answers(uid, ["traffic_signs", "right_of_way"][i % 2], 20 * i, correct=0.7)
    b.user(active=False)
    return b


def day_outputs(
    settings: ChallengeSettings | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(challenges, keyed assignments, users, previous) as the pipeline makes them."""
    settings = settings or ChallengeSettings()
    users, questions, attempts = frames(small_app())
    fs = extract_features(users, questions, attempts, RUN)
    previous = pl.DataFrame(schema=PREVIOUS_SCHEMA)
    assignments = FallbackSelector().select(
        SelectionInputs(
            RUN,
            fs.user_features.filter(pl.col("is_active")),
            fs.user_category_features,
            previous,
            settings,
        )
    )
    keyed = with_content_key(assignments)
    challenges = finish_challenges(render_challenges(distinct_challenges(keyed)))
    return challenges, keyed, users.select("user_id", "is_active"), previous


def failed(report: GateReport) -> set[str]:
    return {c.check for c in report.failures}


# ---------------------------------------------------------------------------- input gate


def inputs_report(
    attempts_edit: Any = None, users_edit: Any = None, **kw: Any
) -> tuple[GateReport, pl.DataFrame]:
    users, questions, attempts = frames(small_app())
    if attempts_edit is not None:
        attempts = attempts_edit(attempts)
    if users_edit is not None:
        users = users_edit(users)
    fs = extract_features(users, questions, attempts, RUN)
    last = last_day_answers(attempts, fs.quarantine, RUN)
    args = {"max_excluded_share": 0.05, "min_answers": 10} | kw
    return check_input_gate(users, questions, last, **args), last


def test_input_gate_passes_clean_data() -> None:
    report, last = inputs_report()
    assert report.failures == () and report.warnings == ()
    assert report.figures == {"last_day_answers": last.height, "last_day_excluded": 0}
    assert last.height == sum(20 * i for i in range(1, 6))


def test_input_gate_stops_when_too_many_last_day_answers_are_excluded() -> None:
    def dirty(a: pl.DataFrame) -> pl.DataFrame:
        # 8 of the last day's 300 answers point at a question that does not exist (2.7 %)
        # and 10 more are duplicates: 18 of 310 (5.8 %) excluded
        bad = a.head(8).with_columns(question_id=pl.lit(999_999, pl.Int64))
        dups = a.slice(10, 10).with_columns(attempt_id=pl.col("attempt_id") + 100_000)
        return pl.concat([bad, a.slice(8), dups])

    report, last = inputs_report(dirty)
    assert failed(report) == {"last day's answers excluded"}
    with pytest.raises(DataQualityError) as info:
        report.raise_for_failures()
    msg = str(info.value)
    assert msg.startswith("input gate failed: last day's answers excluded: 18 of 310 rows (5.8 %)")
    assert "limit 5 %" in msg and "\n" not in msg
    # the same share passes under a looser threshold
    looser, _ = inputs_report(dirty, max_excluded_share=0.06)
    assert looser.failures == ()


def test_excluded_share_is_only_reported_on_a_thin_last_day() -> None:
    def dirty(a: pl.DataFrame) -> pl.DataFrame:
        return a.with_columns(question_id=pl.lit(999_999, pl.Int64))

    report, last = inputs_report(dirty, min_answers=10_000)
    assert report.failures == ()
    (warning,) = report.warnings
    assert warning.check == "last day's answers excluded"
    assert warning.unexpected_count == last.height == 300
    assert "not enforced below 10000 answers" in warning.line()


def test_a_bad_time_value_keeps_the_answer_and_is_not_excluded() -> None:
    report, last = inputs_report(
        lambda a: a.with_columns(time_spent_seconds=pl.lit(-4.0, pl.Float64))
    )
    assert report.failures == () and report.figures["last_day_excluded"] == 0


def test_duplicate_or_null_user_ids_stop_the_run() -> None:
    def twice(u: pl.DataFrame) -> pl.DataFrame:
        return pl.concat([u, u.head(1), u.head(1).with_columns(user_id=pl.lit(None, pl.Int64))])

    report, _ = inputs_report(users_edit=twice)
    assert failed(report) == {"users.user_id unique", "users.user_id not null"}


def test_question_bank_problems_are_warnings() -> None:
    users, questions, attempts = frames(small_app())
    questions = pl.concat(
        [
            questions,
            pl.DataFrame(
                [
                    {"question_id": 9001, "category": "bogus", "difficulty": 0.5},
                    {"question_id": 9002, "category": "traffic_signs", "difficulty": 7.0},
                ],
                schema={k: QUESTIONS_SCHEMA[k] for k in ("question_id", "category", "difficulty")},
            ).with_columns(is_active=pl.lit(True)),
        ]
    )
    last = last_day_answers(
        attempts, extract_features(users, questions, attempts, RUN).quarantine, RUN
    )
    report = check_input_gate(users, questions, last, max_excluded_share=0.05, min_answers=0)
    assert report.failures == ()
    assert {w.check: w.examples for w in report.warnings} == {
        "questions.category is a known key": ("bogus",),
        "questions.difficulty within 0 .. 1": ("7.0",),
    }


def test_last_day_is_the_oslo_day_before_the_run() -> None:
    b = AppDataBuilder()
    uid = b.user()
    b.answers(uid, "traffic_signs", 2, day=RUN - timedelta(days=1), hour=23)  # 23:00 UTC = 00:00
    b.answers(uid, "traffic_signs", 3, day=RUN - timedelta(days=1), hour=22)  # 23:00 Oslo
    b.answers(uid, "traffic_signs", 4, day=RUN - timedelta(days=2), hour=12)
    users, questions, attempts = frames(b)
    last = last_day_answers(
        attempts, extract_features(users, questions, attempts, RUN).quarantine, RUN
    )
    assert last.height == 3 and last["exclusion_reason"].null_count() == 3


# --------------------------------------------------------------------------- output gate


def test_output_gate_passes_what_the_pipeline_makes() -> None:
    report = check_output_gate(*day_outputs(), ChallengeSettings())
    assert report.failures == () and report.warnings == ()
    assert report.figures == {"eligible_users": 6, "users_covered": 6}


def test_output_gate_honours_the_admins_bounds() -> None:
    s = ChallengeSettings(min_difficulty=0.4, max_difficulty=0.6, enabled_types=("quiz", "streak"))
    challenges, keyed, users, previous = day_outputs(s)
    assert check_output_gate(challenges, keyed, users, previous, s).failures == ()
    # the same rows under tighter settings break the bounds and the enabled types
    tighter = ChallengeSettings(min_difficulty=0.45, max_difficulty=0.5, enabled_types=("quiz",))
    report = check_output_gate(challenges, keyed, users, previous, tighter)
    assert failed(report) == {
        "challenges.difficulty within the admin's bounds",
        "challenges.challenge_type enabled",
    }


@pytest.mark.parametrize(
    ("column", "value", "check"),
    [
        ("title", "", "challenges.title has text"),
        ("description", "   \t", "challenges.description has text"),
        ("title", None, "challenges.title not blank"),
        ("difficulty", 1.2, "challenges.difficulty within 0 .. 1"),
        ("xp_reward", 10_000, "challenges.xp_reward within bounds"),
        ("bonus_xp", -1, "challenges.bonus_xp within bounds"),
        ("source", "manual?", "challenges.source known"),
        ("category", "bogus", "challenges.category enabled"),
    ],
)
def test_output_gate_catches_a_broken_challenge(column: str, value: Any, check: str) -> None:
    challenges, keyed, users, previous = day_outputs()
    dtype = challenges.schema[column]
    broken = pl.concat(
        [challenges.head(1).with_columns(pl.lit(value, dtype).alias(column)), challenges.slice(1)]
    )
    report = check_output_gate(broken, keyed, users, previous, ChallengeSettings())
    assert check in failed(report)
    with pytest.raises(DataQualityError, match=rf"output gate failed: .*{check.split('.')[-1]}"):
        report.raise_for_failures()


def test_output_gate_catches_broken_assignments() -> None:
    challenges, keyed, users, previous = day_outputs()
    twice = pl.concat([keyed, keyed.head(1)])
    assert failed(check_output_gate(challenges, twice, users, previous, ChallengeSettings())) == {
        "assignments one per (user, date, slot)"
    }
    inactive = int(users.filter(~pl.col("is_active"))["user_id"][0])
    stray = pl.concat([keyed, keyed.head(1).with_columns(user_id=pl.lit(inactive, pl.Int64))])
    assert "assignments go to active users only" in failed(
        check_output_gate(challenges, stray, users, previous, ChallengeSettings())
    )
    unknown = keyed.with_columns(content_key=pl.lit("quiz|-|t1|n-|s-|d0.30|ml"))
    assert "assignments refer to a challenge of the day" in failed(
        check_output_gate(challenges, unknown, users, previous, ChallengeSettings())
    )
    slot9 = keyed.with_columns(slot=pl.lit(9, pl.Int16))
    assert "assignments.slot within 1 .. challenges_per_user" in failed(
        check_output_gate(challenges, slot9, users, previous, ChallengeSettings())
    )


def test_output_gate_requires_every_eligible_user_covered() -> None:
    challenges, keyed, users, previous = day_outputs()
    dropped = keyed.filter(pl.col("user_id") != keyed["user_id"][0])
    report = check_output_gate(challenges, dropped, users, previous, ChallengeSettings())
    assert failed(report) == {"every eligible user covered"}
    assert report.figures == {"eligible_users": 6, "users_covered": 5}


def test_a_user_left_with_nothing_by_yesterday_is_not_eligible() -> None:
    users = pl.DataFrame({"user_id": [1, 2, 3], "is_active": [True, True, False]})
    s = ChallengeSettings(enabled_types=("streak", "quiz"), enabled_categories=("winter_driving",))
    previous = pl.DataFrame(
        {
            "user_id": [1, 1, 2],
            "challenge_type": ["streak", "quiz", "streak"],
            "category": [None, "winter_driving", None],
        },
        schema=PREVIOUS_SCHEMA,
    )
    assert eligible_users(users, previous, s)["user_id"].to_list() == [2]
    assert eligible_users(users, previous, ChallengeSettings(enabled_types=())).height == 0


# ------------------------------------------------------------------------- in the flow

pytestmark_flow = pytest.mark.usefixtures("prefect_harness")


def app_with_broken_feed(url: str) -> None:
    """20 learners; 11 % of yesterday's answers are on questions the bank does not have."""
    b = AppDataBuilder()
    for _ in range(20):
        uid = b.user()
        b.answers(uid, "traffic_signs", 10, day=RUN - timedelta(days=1))
        b.answers(uid, "right_of_way", 20, day=RUN - timedelta(days=3))
    for uid in range(1, 4):
        b.answers(uid, "traffic_signs", 8, day=RUN - timedelta(days=1), question=999_999)
    write_dirty(b, url)


@pytestmark_flow
def test_input_gate_failure_stops_the_run_before_writing(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app_with_broken_feed(sqlite_url)
    flow_env(monkeypatch, sqlite_url, tmp_path)
    with pytest.raises(DataQualityError, match=r"last day's answers excluded: 24 of 224 rows"):
        run_flow()
    assert query(sqlite_url, "SELECT COUNT(*) FROM user_daily_challenges") == [(0,)]
    (msg,) = outbox(tmp_path)
    text_body = body(msg)
    assert "FEILET" in text_body and "«Kontrollere inndata» (validate-inputs)" in text_body
    assert "DataQualityError: input gate failed: last day's answers excluded" in text_body
    # raising the threshold (an admin's informed decision) lets the run through
    monkeypatch.setenv("DAGLIG_DQ_MAX_EXCLUDED_SHARE", "0.2")
    result = run_flow()
    assert result["status"] == "ok" and result["quarantined"] == {"missing_question": 24}
    assert result["quality"]["inputs"]["last_day_excluded"] == 24
    assert result["quality"]["outputs"]["failed"] == []
    assert query(sqlite_url, "SELECT COUNT(DISTINCT user_id) FROM user_daily_challenges") == [(20,)]


class _TooHard:
    """A selector that ignores the admin's maximum difficulty."""

    name = "too_hard"

    def select(self, inputs: SelectionInputs) -> pl.DataFrame:
        out = FallbackSelector().select(inputs)
        return out.with_columns(difficulty=pl.lit(0.99))


@pytestmark_flow
def test_output_gate_failure_stops_the_run_before_writing(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import flows.daily_challenges as fd

    small_app().write(sqlite_url)
    flow_env(monkeypatch, sqlite_url, tmp_path)
    monkeypatch.setattr(fd, "choose_selector", lambda *a, **k: _TooHard())
    with pytest.raises(DataQualityError) as info:
        run_flow()
    assert "challenges.difficulty within the admin's bounds" in str(info.value)
    assert "e.g. ['0.99'" in str(info.value)
    assert has_table(sqlite_url, "daily_challenges")  # the health check made the tables...
    assert query(sqlite_url, "SELECT COUNT(*) FROM daily_challenges") == [(0,)]  # ...no rows
    (msg,) = outbox(tmp_path)
    assert "«Kontrollere resultatet» (validate-outputs)" in body(msg)


def test_the_error_survives_pickling() -> None:
    import pickle

    report, _ = inputs_report(lambda a: a.with_columns(question_id=pl.lit(999_999, pl.Int64)))
    with pytest.raises(DataQualityError) as info:
        report.raise_for_failures()
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and again.failures == info.value.failures
    assert again.gate == "input" and again.failures[0].check == "last day's answers excluded"
