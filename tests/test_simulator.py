"""The learner simulator: determinism, realism of the generated app data, and the bulk load."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3

import numpy as np
import polars as pl
import pytest
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.orm import Session

from daglig.catalogue import CATEGORY_KEYS
from models.tables import (
    ChallengeSetting,
    Question,
    QuestionAttempt,
    QuizSession,
    User,
    UserProgress,
    create_app_tables,
    create_pipeline_tables,
)
from simulator import SimulationSummary, generate, simulate
from simulator.learners import ARCHETYPES, day_end_utc, simulate_frames

# 2025-03-30 is a DST switch day in Oslo (02:00 → 03:00): the cutoff is 22:00 UTC.
END = dt.date(2025, 3, 30)
CUTOFF = dt.datetime(2025, 3, 30, 22, 0)


@pytest.fixture(scope="module")
def sim():  # type: ignore[no-untyped-def]
    return simulate_frames(users=2000, seed=7, end_date=END)


@pytest.fixture(scope="module")
def frames(sim):  # type: ignore[no-untyped-def]
    return sim.frames


def _oslo(col: str) -> pl.Expr:
    return pl.col(col).dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Oslo")


def _attempts_with_category(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    q = frames["questions"].select(pl.col("id").alias("question_id"), "category")
    return frames["question_attempts"].join(q, on="question_id", how="left", maintain_order="left")


# ------------------------------------------------------------------ determinism and shape


@pytest.mark.pure
def test_generate_is_deterministic_and_seed_dependent() -> None:
    kw = dict(users=300, end_date=END, history_days=90)
    a = generate(seed=11, **kw)  # type: ignore[arg-type]
    b = generate(seed=11, **kw)  # type: ignore[arg-type]
    c = generate(seed=12, **kw)  # type: ignore[arg-type]
    assert set(a) == {
        "users", "user_progress", "questions", "quiz_sessions", "question_attempts",
        "sim_ground_truth",
    }  # fmt: skip
    for name in a:
        assert a[name].equals(b[name]), name
    assert not a["question_attempts"].equals(c["question_attempts"])
    assert not a["sim_ground_truth"].equals(c["sim_ground_truth"])


@pytest.mark.pure
def test_frames_have_contract_columns_and_types(frames: dict[str, pl.DataFrame]) -> None:
    ts = pl.Datetime("us")
    expected = {
        "users": {"id": pl.Int64, "username": pl.String, "email": pl.String,
                  "is_active": pl.Boolean, "created_at": ts, "last_login_at": ts,
                  "preferred_language": pl.String},
        "user_progress": {"user_id": pl.Int64, "total_xp": pl.Int32, "level": pl.Int32,
                          "current_streak": pl.Int32, "longest_streak": pl.Int32,
                          "last_activity_date": pl.Date},
        "questions": {"id": pl.Int64, "category": pl.String, "difficulty": pl.Float64,
                      "is_active": pl.Boolean},
        "quiz_sessions": {"id": pl.Int64, "user_id": pl.Int64, "quiz_type": pl.String,
                          "category": pl.String, "started_at": ts, "completed_at": ts,
                          "total_questions": pl.Int32, "correct_answers": pl.Int32},
        "question_attempts": {"id": pl.Int64, "user_id": pl.Int64, "question_id": pl.Int64,
                              "quiz_session_id": pl.Int64, "is_correct": pl.Boolean,
                              "time_spent_seconds": pl.Float64, "answered_at": ts},
        "sim_ground_truth": {"user_id": pl.Int64, "category": pl.String, "theta": pl.Float64,
                             "mastery": pl.Float64, "answers": pl.Int32},
    }  # fmt: skip
    for name, schema in expected.items():
        assert dict(frames[name].schema) == schema, name
    users = frames["users"]
    assert users["id"].to_list() == list(range(1, 2001))
    assert users["username"][41] == "elev00042"
    assert users["username"].is_unique().all()


@pytest.mark.pure
def test_about_an_eighth_of_the_learners_read_nynorsk(frames: dict[str, pl.DataFrame]) -> None:
    """users.preferred_language (optional in the contract, issue 17): ~12 % 'nn', some 'nb',
    the rest NULL; a function of the id, so every seed and chunk agrees."""
    lang = frames["users"]["preferred_language"]
    assert 0.10 < lang.eq_missing("nn").mean() < 0.14  # type: ignore[operator]
    assert 0.35 < lang.eq_missing("nb").mean() < 0.45  # type: ignore[operator]
    assert set(lang.drop_nulls()) == {"nb", "nn"} and lang.null_count() > 0.4 * lang.len()
    other = simulate_frames(users=200, seed=8, end_date=END).frames["users"]
    assert other["preferred_language"].equals(lang.head(200))


@pytest.mark.pure
def test_mean_answers_per_user_is_about_the_target(frames: dict[str, pl.DataFrame]) -> None:
    mean = frames["question_attempts"].height / frames["users"].height
    assert 85 <= mean <= 115
    small = generate(users=1000, seed=3, end_date=END, answers_per_user=40)
    assert 30 <= small["question_attempts"].height / 1000 <= 50


# ------------------------------------------------------------------ users and archetypes


@pytest.mark.pure
def test_archetypes(sim, frames: dict[str, pl.DataFrame]) -> None:  # type: ignore[no-untyped-def]
    arch = pl.DataFrame(
        {"id": np.arange(1, 2001), "archetype": np.array(ARCHETYPES)[sim.archetype]}
    )
    counts = sim.by_archetype
    assert set(counts) == set(ARCHETYPES) and all(counts[a] > 50 for a in ARCHETYPES)
    answers = frames["question_attempts"].group_by("user_id").agg(n=pl.len())
    users = (
        frames["users"]
        .join(arch, on="id", maintain_order="left")
        .join(answers, left_on="id", right_on="user_id", how="left", maintain_order="left")
        .with_columns(pl.col("n").fill_null(0))
    )
    inactive = users.filter(pl.col("archetype") == "inactive")
    assert not inactive["is_active"].any()
    assert users.filter(pl.col("archetype") != "inactive")["is_active"].all()
    assert 0.3 < (inactive["n"] > 0).mean() < 0.7  # about half practised before leaving

    new = users.filter(pl.col("archetype") == "new")
    assert (new["n"] == 0).all()
    assert (new["created_at"] >= CUTOFF - dt.timedelta(days=5)).all()
    for a in ("casual", "heavy", "lapsed"):
        assert (users.filter(pl.col("archetype") == a)["n"] > 0).all(), a
    mean_n = users.group_by("archetype").agg(pl.col("n").mean())
    m = dict(mean_n.iter_rows())
    assert m["heavy"] > 2 * m["casual"] > 0

    # Lapsed learners stopped 20-120 days before end_date (Oslo days).
    last = (
        frames["question_attempts"]
        .group_by("user_id")
        .agg(last=_oslo("answered_at").max().dt.date())
        .join(arch, left_on="user_id", right_on="id")
    )
    lapsed_gap = last.filter(pl.col("archetype") == "lapsed").select(
        (pl.lit(END) - pl.col("last")).dt.total_days()
    )
    assert lapsed_gap.min().item() >= 19 and lapsed_gap.max().item() <= 121
    heavy_recent = last.filter(pl.col("archetype") == "heavy").select(
        ((pl.lit(END) - pl.col("last")).dt.total_days() <= 7).mean()
    )
    assert heavy_recent.item() > 0.9


@pytest.mark.pure
def test_user_timestamps_are_consistent(frames: dict[str, pl.DataFrame]) -> None:
    first_last = (
        frames["question_attempts"]
        .group_by("user_id")
        .agg(first=pl.col("answered_at").min(), last=pl.col("answered_at").max())
    )
    users = frames["users"].join(first_last, left_on="id", right_on="user_id", how="left")
    assert users["created_at"].null_count() == 0
    practised = users.filter(pl.col("first").is_not_null())
    assert (practised["created_at"] < practised["first"]).all()
    # last_login_at ≈ last activity: within the hour before the last answer.
    gap = (practised["last"] - practised["last_login_at"]).dt.total_seconds()
    assert gap.min() > 0 and gap.max() < 3600
    logged = users.filter(pl.col("last_login_at").is_not_null())
    assert (logged["last_login_at"] >= logged["created_at"]).all()
    assert users["email"].null_count() < users.height * 0.1


# ------------------------------------------------------------------ time


@pytest.mark.pure
def test_nothing_after_end_date_in_oslo(sim, frames: dict[str, pl.DataFrame]) -> None:  # type: ignore[no-untyped-def]
    assert sim.cutoff_utc == CUTOFF == day_end_utc(END)
    checks = [
        ("question_attempts", "answered_at"),
        ("quiz_sessions", "started_at"),
        ("quiz_sessions", "completed_at"),
        ("users", "created_at"),
        ("users", "last_login_at"),
    ]
    for table, col in checks:
        assert frames[table][col].max() < CUTOFF, (table, col)
    assert frames["user_progress"]["last_activity_date"].max() == END
    # History window: 180 Oslo days ending at end_date.
    first_day = frames["question_attempts"].select(_oslo("answered_at").min().dt.date()).item()
    assert first_day >= END - dt.timedelta(days=180)


@pytest.mark.pure
def test_answer_hours_follow_oslo_daily_rhythm(frames: dict[str, pl.DataFrame]) -> None:
    hours = frames["question_attempts"].select(h=_oslo("answered_at").dt.hour())["h"]
    daytime = ((hours >= 7) & (hours <= 23)).mean()
    assert daytime > 0.9
    evening = ((hours >= 18) & (hours <= 22)).mean()
    night = ((hours >= 1) & (hours <= 5)).mean()
    assert evening > 0.3 and night < 0.03
    # Without the UTC→Oslo conversion the evening peak would sit 1-2 hours earlier.
    naive = frames["question_attempts"]["answered_at"].dt.hour()
    assert ((naive >= 18) & (naive <= 22)).mean() < evening


@pytest.mark.pure
def test_answers_within_a_session_are_seconds_apart(frames: dict[str, pl.DataFrame]) -> None:
    a = frames["question_attempts"].sort("quiz_session_id", "answered_at")
    gaps = a.select(
        g=pl.col("answered_at").diff().over("quiz_session_id").dt.total_milliseconds() / 1000
    )["g"].drop_nulls()
    assert gaps.min() > 1.0
    assert 5 < gaps.median() < 60
    spent = a["time_spent_seconds"]
    assert spent.min() > 0 and 5 < spent.median() < 40
    # Harder questions take longer.
    q = frames["questions"].select(pl.col("id").alias("question_id"), "difficulty")
    j = a.join(q, on="question_id").drop_nulls("difficulty")
    hard = j.filter(pl.col("difficulty") > 0.7)["time_spent_seconds"].median()
    easy = j.filter(pl.col("difficulty") < 0.3)["time_spent_seconds"].median()
    assert hard > easy


# ------------------------------------------------------------------ questions and sessions


@pytest.mark.pure
def test_questions(frames: dict[str, pl.DataFrame]) -> None:
    q = frames["questions"]
    assert q.height == 12 * 100 and q["id"].to_list() == list(range(1, 1201))
    per_cat = q.group_by("category").len()
    assert set(per_cat["category"]) == set(CATEGORY_KEYS) and (per_cat["len"] == 100).all()
    null_share = q["difficulty"].null_count() / q.height
    assert 0.05 < null_share < 0.15
    d = q["difficulty"].drop_nulls()
    assert d.min() >= 0 and d.max() <= 1 and 0.4 < d.mean() < 0.6
    assert 0.005 < (~q["is_active"]).mean() < 0.07
    # Answers only to questions that exist, including some with NULL difficulty.
    a = frames["question_attempts"].join(
        q.select(pl.col("id").alias("question_id"), "difficulty"), on="question_id", how="left"
    )
    assert a["question_id"].is_in(q["id"].implode()).all()
    assert a["difficulty"].null_count() > 0


@pytest.mark.pure
def test_sessions_match_their_attempts(frames: dict[str, pl.DataFrame]) -> None:
    s = frames["quiz_sessions"]
    a = _attempts_with_category(frames)
    assert s["id"].to_list() == list(range(1, s.height + 1))
    assert s["started_at"].is_sorted()
    per = a.group_by("quiz_session_id").agg(
        n=pl.len(),
        correct=pl.col("is_correct").sum(),
        first=pl.col("answered_at").min(),
        last=pl.col("answered_at").max(),
        cats=pl.col("category").n_unique(),
        cat=pl.col("category").first(),
        user=pl.col("user_id").first(),
        users=pl.col("user_id").n_unique(),
    )
    j = s.join(per, left_on="id", right_on="quiz_session_id", how="left")
    assert j["n"].null_count() == 0  # every session has answers
    assert (j["users"] == 1).all() and (j["user"] == j["user_id"]).all()
    assert (j["correct"] == j["correct_answers"]).all()
    done = j.filter(pl.col("completed_at").is_not_null())
    abandoned = j.filter(pl.col("completed_at").is_null())
    assert (done["n"] == done["total_questions"]).all()
    assert (done["completed_at"] > done["last"]).all()
    assert (abandoned["n"] < abandoned["total_questions"]).all()
    assert 0.05 < abandoned.height / j.height < 0.15
    assert (j["first"] > j["started_at"]).all()

    by_type = dict(j.group_by("quiz_type").len().iter_rows())
    assert set(by_type) == {"practice", "category", "exam"}
    cat = j.filter(pl.col("quiz_type") == "category")
    assert cat["category"].null_count() == 0
    assert (cat["cats"] == 1).all() and (cat["cat"] == cat["category"]).all()
    other = j.filter(pl.col("quiz_type") != "category")
    assert other["category"].null_count() == other.height
    exam = j.filter(pl.col("quiz_type") == "exam")
    assert (exam["total_questions"] == 45).all()
    assert exam.filter(pl.col("completed_at").is_not_null())["cats"].min() >= 8
    practice = j.filter(pl.col("quiz_type") == "practice")
    assert 8 <= practice["total_questions"].mean() <= 14

    # A user's sessions never overlap.
    ordered = j.sort("user_id", "started_at").with_columns(
        prev_last=pl.col("last").shift().over("user_id")
    )
    assert ordered.filter(pl.col("started_at") <= pl.col("prev_last")).height == 0


@pytest.mark.pure
def test_attempt_ids_follow_time(frames: dict[str, pl.DataFrame]) -> None:
    a = frames["question_attempts"]
    assert a["id"].to_list() == list(range(1, a.height + 1))
    assert a["answered_at"].is_sorted()
    assert a["quiz_session_id"].null_count() == 0


# ------------------------------------------------------------------ user_progress


def _reference_progress(frames: dict[str, pl.DataFrame], user_ids: list[int]) -> dict[int, tuple]:
    """Plain-Python streaks, XP and last day for some users."""
    a = frames["question_attempts"].filter(pl.col("user_id").is_in(user_ids))
    days = a.select("user_id", "is_correct", day=_oslo("answered_at").dt.date())
    out = {}
    for uid in user_ids:
        mine = days.filter(pl.col("user_id") == uid)
        dset = sorted(set(mine["day"].to_list()))
        xp = 10 * int(mine["is_correct"].sum())
        longest, run, prev = 0, 0, None
        for d in dset:
            run = run + 1 if prev is not None and (d - prev).days == 1 else 1
            longest = max(longest, run)
            prev = d
        current = run if dset and (END - dset[-1]).days <= 1 else 0
        out[uid] = (xp, 1 + math.isqrt(xp // 100), current, longest, dset[-1] if dset else None)
    return out


@pytest.mark.pure
def test_user_progress_is_derived_from_answers(frames: dict[str, pl.DataFrame]) -> None:
    p = frames["user_progress"]
    assert p["user_id"].to_list() == frames["users"]["id"].to_list()
    heavy_streakers = p.sort("current_streak", descending=True)["user_id"].head(20).to_list()
    sample = sorted(set(heavy_streakers + list(range(1, 200))))
    ref = _reference_progress(frames, sample)
    rows = {r[0]: r[1:] for r in p.filter(pl.col("user_id").is_in(sample)).iter_rows()}
    for uid in sample:
        assert rows[uid] == ref[uid], uid
    assert p["current_streak"].max() >= 3 and p["longest_streak"].max() >= 5
    assert (p["longest_streak"] >= p["current_streak"]).all()


# ------------------------------------------------------------------ skill and ground truth


@pytest.mark.pure
def test_skill_grows_with_practice(frames: dict[str, pl.DataFrame]) -> None:
    a = _attempts_with_category(frames).with_columns(
        k=pl.int_range(pl.len()).over("user_id", "category", order_by="id")
    )
    early = a.filter(pl.col("k") < 3)["is_correct"].mean()
    late = a.filter(pl.col("k") >= 20)["is_correct"].mean()
    assert late > early + 0.05  # type: ignore[operator]
    # Within the same learners: their later answers beat their own first ones.
    per_user = (
        a.filter(pl.col("user_id").is_in(a.filter(pl.col("k") >= 20)["user_id"].implode()))
        .group_by("user_id")
        .agg(
            early=pl.col("is_correct").filter(pl.col("k") < 3).mean(),
            late=pl.col("is_correct").filter(pl.col("k") >= 20).mean(),
        )
        .drop_nulls()
    )
    assert (per_user["late"] > per_user["early"]).mean() > 0.6


@pytest.mark.pure
def test_ground_truth(frames: dict[str, pl.DataFrame]) -> None:
    g = frames["sim_ground_truth"]
    assert g.height == 2000 * 12
    assert g.select(pl.struct("user_id", "category").is_unique().all()).item()
    assert set(g["category"]) == set(CATEGORY_KEYS)
    assert g["mastery"].min() > 0 and g["mastery"].max() < 1  # type: ignore[operator]
    np.testing.assert_allclose(g["mastery"], 1 / (1 + np.exp(-g["theta"].to_numpy())))
    # answers = the attempts of that user in that category.
    counted = _attempts_with_category(frames).group_by("user_id", "category").agg(c=pl.len())
    j = g.join(counted, on=["user_id", "category"], how="left").with_columns(
        pl.col("c").fill_null(0)
    )
    assert (j["answers"] == j["c"]).all()
    # Practice raises mastery; some categories are systematically harder.
    corr = g.select(pl.corr(pl.col("answers").log1p(), pl.col("mastery"))).item()
    assert corr > 0.1
    means = dict(g.group_by("category").agg(pl.col("mastery").mean()).iter_rows())
    for hard in ("dangerous_situations", "right_of_way", "winter_driving"):
        assert means[hard] < means["traffic_signs"] - 0.05
    # The observed accuracy tracks the hidden mastery.
    acc = _attempts_with_category(frames).group_by("user_id").agg(acc=pl.col("is_correct").mean())
    m = g.group_by("user_id").agg(pl.col("mastery").mean()).join(acc, on="user_id")
    assert m.select(pl.corr("acc", "mastery")).item() > 0.5


# ------------------------------------------------------------------ writing


def _check_orm_roundtrip(
    url: str, frames: dict[str, pl.DataFrame], summary: SimulationSummary
) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with Session(engine) as s:
            assert s.scalar(select(func.count()).select_from(User)) == summary.users
            assert s.scalar(select(func.count()).select_from(QuestionAttempt)) == summary.answers
            assert s.scalar(select(func.count()).select_from(QuizSession)) == summary.sessions
            assert s.scalar(select(func.count()).select_from(Question)) == summary.questions

            u = s.get(User, 42)
            assert u is not None and u.username == "elev00042"
            assert isinstance(u.created_at, dt.datetime) and isinstance(u.is_active, bool)
            fu = frames["users"].row(41, named=True)
            assert u.created_at == fu["created_at"] and u.last_login_at == fu["last_login_at"]
            assert u.is_active is fu["is_active"]
            inactive = s.scalars(select(User).where(User.is_active.is_(False))).all()
            assert len(inactive) == summary.users - summary.active_users > 0

            att = s.get(QuestionAttempt, 1234)
            fa = frames["question_attempts"].row(1233, named=True)
            assert att is not None
            assert isinstance(att.answered_at, dt.datetime) and att.answered_at == fa["answered_at"]
            assert isinstance(att.is_correct, bool) and att.is_correct is fa["is_correct"]
            assert att.time_spent_seconds == pytest.approx(fa["time_spent_seconds"], rel=1e-6)
            assert (att.user_id, att.question_id, att.quiz_session_id) == (
                fa["user_id"], fa["question_id"], fa["quiz_session_id"],
            )  # fmt: skip
            last = s.scalar(select(func.max(QuestionAttempt.answered_at)))
            assert last == frames["question_attempts"]["answered_at"].max()

            nulls = s.scalar(select(func.count()).where(Question.difficulty.is_(None)))
            assert nulls == frames["questions"]["difficulty"].null_count() > 0
            q = s.scalars(select(Question).where(Question.difficulty.is_not(None))).first()
            assert q is not None and isinstance(q.difficulty, float)

            abandoned = s.scalars(
                select(QuizSession).where(QuizSession.completed_at.is_(None))
            ).first()
            assert abandoned is not None and isinstance(abandoned.started_at, dt.datetime)

            prog = s.scalars(
                select(UserProgress).where(UserProgress.last_activity_date.is_not(None))
            ).first()
            assert prog is not None and isinstance(prog.last_activity_date, dt.date)
            assert not isinstance(prog.last_activity_date, dt.datetime)
            fp = frames["user_progress"].row(prog.user_id - 1, named=True)
            assert prog.last_activity_date == fp["last_activity_date"]
            assert prog.total_xp == fp["total_xp"] and prog.current_streak == fp["current_streak"]

        insp = inspect(engine)
        assert {"users", "question_attempts", "sim_ground_truth"} <= set(insp.get_table_names())
        assert {ix["name"] for ix in insp.get_indexes("question_attempts")} == {
            "ix_question_attempts_answered_at", "ix_question_attempts_user",
        }  # fmt: skip
        with engine.connect() as c:
            truth = c.exec_driver_sql(
                "SELECT COUNT(*), MIN(mastery), MAX(mastery) FROM sim_ground_truth"
            ).one()
        assert truth[0] == summary.users * 12 and 0 < truth[1] < truth[2] < 1
    finally:
        engine.dispose()


def test_simulate_into_sqlite_reads_back_through_the_orm(sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    kw = dict(users=300, seed=5, end_date=END, history_days=60)
    summary = simulate(sqlite_url, **kw)  # type: ignore[arg-type]
    frames = generate(**kw)  # type: ignore[arg-type]
    assert summary.users == 300 and summary.answers == frames["question_attempts"].height
    assert summary.active_users == int(frames["users"]["is_active"].sum())
    assert sum(summary.by_archetype.values()) == 300 and summary.write_seconds >= 0
    _check_orm_roundtrip(sqlite_url, frames, summary)

    # Stored forms are exactly what SQLAlchemy's SQLite dialect writes.
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as c:
        at, ok = c.execute(
            "SELECT answered_at, is_correct FROM question_attempts WHERE id=1"
        ).fetchone()
        assert len(at) == 26 and at[19] == "." and ok in (0, 1)
        (day,) = c.execute(
            "SELECT last_activity_date FROM user_progress WHERE last_activity_date IS NOT NULL"
        ).fetchone()
        assert len(day) == 10
        schema = sorted(
            c.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE tbl_name != 'sim_ground_truth'"
            )
        )
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ref = tmp_path / "ref.db"
    ref_engine = create_engine(f"sqlite:///{ref}")
    create_app_tables(ref_engine)
    ref_engine.dispose()
    with sqlite3.connect(ref) as c:
        assert schema == sorted(c.execute("SELECT type, name, sql FROM sqlite_master"))


def test_simulate_replace_drops_pipeline_tables_and_refuses_to_mix(sqlite_url: str) -> None:
    kw = dict(users=50, seed=1, end_date=END, history_days=30, answers_per_user=20)
    simulate(sqlite_url, **kw)  # type: ignore[arg-type]
    engine = create_engine(sqlite_url)
    create_pipeline_tables(engine)
    with Session(engine) as s:
        s.add(ChallengeSetting(key="ml_enabled", value="true", updated_at=dt.datetime(2025, 1, 1)))
        s.commit()
    with pytest.raises(ValueError, match="already holds rows"):
        simulate(sqlite_url, replace=False, **kw)  # type: ignore[arg-type]
    again = simulate(sqlite_url, **{**kw, "users": 60})  # type: ignore[arg-type]
    names = set(inspect(engine).get_table_names())
    assert "challenge_settings" not in names and "daily_challenges" not in names
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(User)) == again.users == 60
    engine.dispose()


@pytest.mark.postgres
def test_simulate_into_postgres_round_trips_types(postgres_url: str) -> None:
    kw = dict(users=300, seed=5, end_date=END, history_days=60)
    summary = simulate(postgres_url, **kw)  # type: ignore[arg-type]
    frames = generate(**kw)  # type: ignore[arg-type]
    _check_orm_roundtrip(postgres_url, frames, summary)
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        insp = inspect(engine)
        fks = {
            (fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"])
            for fk in insp.get_foreign_keys("question_attempts")
        }
        assert fks == {
            ("question_attempts_user_id_fkey", ("user_id",), "users"),
            ("question_attempts_question_id_fkey", ("question_id",), "questions"),
            ("question_attempts_quiz_session_id_fkey", ("quiz_session_id",), "quiz_sessions"),
        }
        cols = {c["name"]: str(c["type"]) for c in insp.get_columns("question_attempts")}
        assert cols["time_spent_seconds"] == "REAL" and cols["is_correct"] == "BOOLEAN"
        assert cols["answered_at"] == "TIMESTAMP"
        truth_cols = {c["name"]: str(c["type"]) for c in insp.get_columns("sim_ground_truth")}
        assert truth_cols == {"user_id": "BIGINT", "category": "TEXT", "theta": "REAL",
                              "mastery": "REAL", "answers": "INTEGER"}  # fmt: skip
        assert insp.get_pk_constraint("sim_ground_truth")["constrained_columns"] == [
            "user_id", "category",
        ]  # fmt: skip
    finally:
        engine.dispose()
