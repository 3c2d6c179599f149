"""Dirty input, one kind per test: quarantined with a reason (kept in the run folder and
counted in the summary) or handled, never crashing, and never losing a clean row. Then
all kinds at once through the real flow on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from daglig.challenge_settings import parse_challenge_settings
from daglig.user_features import (
    ATTEMPTS_SCHEMA,
    QUESTIONS_SCHEMA,
    USERS_SCHEMA,
    clean_attempts,
    extract_features,
)
from tests.builders import AppDataBuilder
from tests.dq_helpers import (
    RUN,
    body,
    flow_env,
    has_table,
    outbox,
    query,
    run_flow,
    set_settings,
    write_dirty,
)

NOW = datetime(2026, 11, 23, 20, 0)  # the run's start in these tests (naive UTC)
LAST_DAY = RUN - timedelta(days=1)


def attempts_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """One user's answers, a minute apart unless a row says otherwise."""
    base = {"quiz_session_id": None, "is_correct": True, "time_spent_seconds": 10.0}
    return pl.DataFrame(
        [
            {
                "attempt_id": i + 1,
                "user_id": 1,
                "answered_at": datetime(2026, 11, 20, 12) + timedelta(minutes=i),
                **base,
                **r,
            }
            for i, r in enumerate(rows)
        ],
        schema=ATTEMPTS_SCHEMA,
    )


QUESTIONS = pl.DataFrame(
    {
        "question_id": [1, 2, 3, 4],
        "category": ["traffic_signs", "winter_driving", "not_a_category", "right_of_way"],
        "difficulty": [0.4, None, 0.5, 3.5],
        "is_active": [True] * 4,
    },
    schema=QUESTIONS_SCHEMA,
)


def clean(
    rows: list[dict[str, Any]], now: datetime | None = NOW
) -> tuple[pl.DataFrame, pl.DataFrame]:
    c, q = clean_attempts(attempts_frame(rows).lazy(), QUESTIONS.lazy(), now=now)
    return c.collect(), q.collect()


def reasons(q: pl.DataFrame) -> dict[int, str]:
    return dict(zip(q["attempt_id"].to_list(), q["reason"].to_list(), strict=True))


# ------------------------------------------------------------------ one kind per test


def test_unknown_category_key_is_quarantined() -> None:
    c, q = clean([{"question_id": 1}, {"question_id": 3}])
    assert reasons(q) == {2: "unknown_category"} and c["attempt_id"].to_list() == [1]


def test_attempts_on_missing_questions_are_quarantined() -> None:
    c, q = clean([{"question_id": 1}, {"question_id": 77}, {"question_id": None}])
    assert reasons(q) == {2: "missing_question", 3: "missing_question"}
    assert c["attempt_id"].to_list() == [1]


def test_answers_dated_after_the_run_started_are_quarantined() -> None:
    rows = [
        {"question_id": 1, "answered_at": NOW - timedelta(seconds=1)},
        {"question_id": 1, "answered_at": NOW + timedelta(seconds=1)},
        {"question_id": 1, "answered_at": datetime(2031, 1, 1)},
    ]
    c, q = clean(rows)
    assert reasons(q) == {2: "future_answered_at", 3: "future_answered_at"}
    assert c["attempt_id"].to_list() == [1]
    # the rule needs the run's start: without it nothing is called "future"
    assert clean(rows, now=None)[1].height == 0


def test_answers_before_the_account_was_created_are_quarantined() -> None:
    """A device clock reset to 1970, long before the learner's account existed."""
    created = datetime(2026, 1, 1, 12)
    users = pl.DataFrame(
        {"user_id": [1], "created_at": [created]},
        schema={"user_id": pl.Int64, "created_at": pl.Datetime("us")},
    )
    rows = [
        {"question_id": 1, "answered_at": datetime(1970, 1, 1, 0, 0, 7)},
        {"question_id": 1, "answered_at": created - timedelta(seconds=1)},
        {"question_id": 1, "answered_at": created},
        {"question_id": 1, "answered_at": datetime(2026, 11, 20, 12)},
        {"question_id": 3, "answered_at": datetime(1970, 1, 1)},  # the first reason wins
    ]
    c, q = clean_attempts(
        attempts_frame(rows).lazy(), QUESTIONS.lazy(), now=NOW, users=users.lazy()
    )
    c, q = c.collect(), q.collect()
    assert reasons(q) == {1: "before_account", 2: "before_account", 5: "unknown_category"}
    assert c["attempt_id"].to_list() == [3, 4] and "_created_at" not in c.columns
    # the rule needs the accounts: without them nothing is called "before_account"
    assert clean(rows)[1]["reason"].to_list() == ["unknown_category"]
    # through the whole feature pass (the account made at midnight): 1970 counts for nothing
    fs = extract_features(_users((1, True)), QUESTIONS, attempts_frame(rows), RUN, now=NOW)
    assert fs.user_features["total_answers"].to_list() == [3]
    assert reasons(fs.quarantine) == {1: "before_account", 5: "unknown_category"}


@pytest.mark.parametrize("seconds", [-5.0, -0.001, 3600.5, 1e12, float("nan")])
def test_impossible_time_spent_is_quarantined_but_the_answer_kept(seconds: float) -> None:
    c, q = clean([{"question_id": 1, "time_spent_seconds": seconds}, {"question_id": 1}])
    assert reasons(q) == {1: "bad_time_spent_seconds"}
    assert c["attempt_id"].to_list() == [1, 2]  # both answers count
    assert c["time_spent_seconds"].to_list() == [None, 10.0]  # the bad value does not


def test_plausible_and_missing_times_are_left_alone() -> None:
    c, q = clean([{"question_id": 1, "time_spent_seconds": s} for s in (0.0, 3600.0, None)])
    assert q.height == 0 and c["time_spent_seconds"].to_list() == [0.0, 3600.0, None]


def test_duplicate_attempts_are_kept_once() -> None:
    at = datetime(2026, 11, 20, 12, 0, 5)
    same: dict[str, Any] = {"question_id": 1, "answered_at": at}
    c, q = clean([same, {"question_id": 2}, same, same])
    assert reasons(q) == {3: "duplicate", 4: "duplicate"}
    assert c["attempt_id"].to_list() == [1, 2]
    # the same question answered again later is practice, not a duplicate
    later = {**same, "answered_at": at + timedelta(seconds=1)}
    assert clean([same, later])[1].height == 0


def test_null_question_difficulty_is_kept_and_out_of_range_is_unknown() -> None:
    c, q = clean([{"question_id": 2}, {"question_id": 4}, {"question_id": 1}])
    assert q.height == 0
    assert c["difficulty"].to_list() == [None, None, 0.4]


def _users(*rows: tuple[int, bool]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"user_id": u, "is_active": a, "created_at": datetime(2026, 1, 1)} for u, a in rows],
        schema={k: USERS_SCHEMA[k] for k in ("user_id", "is_active", "created_at")},
    ).with_columns(
        [
            pl.lit(None, t).alias(c)
            for c, t in USERS_SCHEMA.items()
            if c not in ("user_id", "is_active", "created_at")
        ]
    )


def test_users_with_no_answers_get_zero_features() -> None:
    fs = extract_features(
        _users((1, True), (2, True)), QUESTIONS, attempts_frame([{"question_id": 1}]), RUN
    )
    row = fs.user_features.filter(pl.col("user_id") == 2).row(0, named=True)
    assert row["total_answers"] == 0 and row["current_streak"] == 0
    assert row["accuracy"] is None and row["typical_daily_volume"] == 0.0
    assert fs.user_category_features["user_id"].to_list() == [1]


def test_inactive_users_answers_are_used_for_their_features() -> None:
    fs = extract_features(
        _users((1, False)), QUESTIONS, attempts_frame([{"question_id": 1}] * 1), RUN
    )
    assert fs.user_features.select("is_active", "total_answers").row(0) == (False, 1)


def test_malformed_and_out_of_range_settings_are_reported_and_defaulted() -> None:
    cs = parse_challenge_settings(
        {
            "challenges_per_user": "7",
            "min_difficulty": '"hard"',
            "max_difficulty": "1.5",
            "enabled_types": '["quiz", "nope"]',
            "generation_enabled": "maybe",
            "shiny_new_key": "1",
        }
    )
    assert (cs.challenges_per_user, cs.min_difficulty, cs.max_difficulty) == (3, 0.1, 0.95)
    assert cs.generation_enabled is True and len(cs.enabled_types) == 6
    assert sorted(p.split(":")[0] for p in cs.problems) == [
        "challenges_per_user",
        "enabled_types",
        "generation_enabled",
        "max_difficulty",
        "min_difficulty",
        "shiny_new_key",
    ]


# ---------------------------------------------------------------------- through the flow


def dirty_app() -> tuple[AppDataBuilder, dict[str, Any]]:
    """Every kind of dirt at once, with what the run should make of it."""
    b = AppDataBuilder()
    active = []
    for i in range(30):
        uid = b.user()
        active.append(uid)
        cat = ["traffic_signs", "right_of_way", "winter_driving"][i % 3]
        b.answers(uid, cat, 10, day=LAST_DAY)
        b.answers(uid, cat, 20, day=RUN - timedelta(days=4))
    no_answers = [b.user(), b.user()]
    inactive = [b.user(active=False), b.user(active=False)]
    for uid in inactive:
        b.answers(uid, "traffic_signs", 10, day=LAST_DAY)
    b.extra_questions.append(
        {"id": 9001, "category": "mopeds", "difficulty": 0.5, "is_active": True}
    )
    b.answers(active[0], "traffic_signs", 3, day=RUN - timedelta(days=6), question=9001)
    b.answers(active[1], "traffic_signs", 4, day=RUN - timedelta(days=6), question=999_999)
    b.answers(active[2], "traffic_signs", 3, day=RUN - timedelta(days=7), seconds=-5.0)
    b.answers(active[3], "traffic_signs", 2, day=RUN - timedelta(days=7), seconds=99_999.0)
    # after the run started (NOW), before the day's cutoff: a phone clock running fast
    b.answers(active[4], "traffic_signs", 2, day=LAST_DAY, hour=21)
    # far in the future: past the cutoff, so not even read (counted as after the cutoff)
    b.answers(active[5], "traffic_signs", 1, day=date(2031, 1, 1))
    # a phone clock reset to 1970, long before the account (2026-01-01) existed
    b.answers(active[6], "traffic_signs", 2, day=date(1970, 1, 2))
    for a in b.attempts[40:45]:  # five answers logged twice (a retried request)
        b.attempts.append({**a, "id": len(b.attempts) + 1})
    read = len(b.attempts) - 1
    expected = {
        "active": active + no_answers,
        "inactive": inactive,
        "quarantined": {
            "bad_time_spent_seconds": 5,
            "before_account": 2,
            "duplicate": 5,
            "future_answered_at": 2,
            "missing_question": 4,
            "unknown_category": 3,
        },
        "answers_used": read - 16,
        "answers_after_cutoff": 1,
        "questions": len(b.question_rows()),
    }
    return b, expected


def _with_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the run's start to NOW, so "in the future" does not depend on the wall clock."""
    import flows.daily_challenges as fd
    from tasks.features import extract_user_features

    def extract(settings: Any, day: date, user_ids: Any, *_: Any, **__: Any) -> Any:
        return extract_user_features(settings, day, user_ids, NOW)

    monkeypatch.setattr(fd, "extract_user_features", extract)


def _dirty_run(url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    b, want = dirty_app()
    write_dirty(b, url)
    set_settings(url, challenges_per_user="7", min_difficulty='"hard"', enabled_types='["quiz", 3]')
    flow_env(monkeypatch, url, tmp_path)
    _with_now(monkeypatch)
    result = run_flow()
    assert result["status"] == "ok"
    assert result["quarantined"] == want["quarantined"]
    assert result["answers_used"] == want["answers_used"]
    assert result["answers_after_cutoff"] == want["answers_after_cutoff"]
    # the quarantined rows are kept, with their reasons, in the run folder
    kept = pl.read_parquet(result["quarantine_file"])
    assert Path(result["quarantine_file"]).is_relative_to(tmp_path / "data" / "runs")
    assert dict(kept.group_by("reason").len().iter_rows()) == want["quarantined"]
    # ... and counted in the summary email, in Norwegian
    mail = body(outbox(tmp_path)[-1])
    assert "svar datert før kontoen ble opprettet: 2" in mail, mail
    # bad settings: reported, defaults used, the run went on
    assert [p.split(":")[0] for p in result["settings_problems"]] == [
        "challenges_per_user",
        "enabled_types",
        "min_difficulty",
    ]
    served = dict(
        query(url, "SELECT user_id, COUNT(*) FROM user_daily_challenges GROUP BY user_id")
    )
    assert served == {u: 3 for u in want["active"]}  # no-answer users too; no inactive one
    onboarding = query(
        url,
        "SELECT DISTINCT d.source FROM user_daily_challenges a "
        "JOIN daily_challenges d ON d.id = a.challenge_id WHERE a.user_id IN (:a, :b)",
        a=want["active"][-1],
        b=want["active"][-2],
    )
    assert onboarding == [("onboarding",)]
    assert result["quality"]["inputs"]["failed"] == []
    assert result["quality"]["inputs"]["warnings"] == [
        f"questions.category is a known key: 1 of {want['questions']} rows "
        f"({100 / want['questions']:.1f} %) failed, e.g. ['mopeds']"
    ]
    assert result["quality"]["outputs"] == result["quality"]["outputs"] | {
        "failed": [],
        "warnings": [],
        "eligible_users": 32,
        "users_covered": 32,
    }
    # a rerun of the dirty day doubles nothing
    before = query(
        url, "SELECT user_id, slot, challenge_id FROM user_daily_challenges ORDER BY 1, 2"
    )
    again = run_flow()
    assert again["written"]["assignments_inserted"] == 0
    assert (
        query(url, "SELECT user_id, slot, challenge_id FROM user_daily_challenges ORDER BY 1, 2")
        == before
    )


@pytest.mark.usefixtures("prefect_harness")
def test_dirty_day(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _dirty_run(db_url, monkeypatch, tmp_path)


@pytest.mark.usefixtures("prefect_harness")
def test_a_template_with_an_undefined_variable_fails_the_run_before_writing(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import daglig.rendering as rendering

    templates = tmp_path / "templates_no"
    shutil.copytree(rendering.TEMPLATES_DIR, templates)
    for tpl in (templates / "challenges").glob("*.j2"):
        text = tpl.read_text(encoding="utf-8")
        tpl.write_text(
            text.replace("{% macro title(c) %}", "{% macro title(c) %}{{ oppmuntring }}", 1),
            encoding="utf-8",
        )
    monkeypatch.setattr(rendering, "TEMPLATES_DIR", templates)
    rendering._default_environment.cache_clear()
    try:
        b = AppDataBuilder()
        for _ in range(3):
            b.answers(b.user(), "traffic_signs", 12)
        b.write(sqlite_url)
        flow_env(monkeypatch, sqlite_url, tmp_path)
        with pytest.raises(rendering.RenderError) as info:
            run_flow()
    finally:
        rendering._default_environment.cache_clear()
    msg = str(info.value)
    assert "template 'challenges/" in msg and "'oppmuntring' is undefined" in msg
    assert has_table(sqlite_url, "daily_challenges")
    assert query(sqlite_url, "SELECT COUNT(*) FROM daily_challenges") == [(0,)]
    (email,) = outbox(tmp_path)
    assert "«Lage utfordringstekstene» (render-challenges)" in body(
        email
    ) and "oppmuntring" in body(email)
