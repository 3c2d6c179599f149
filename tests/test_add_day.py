"""``daglig simulate --add-day`` (issue 16): one more day of answers appended to a simulated
database, written as the app would, from what the database holds."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy.engine import make_url

from daglig.catalogue import CATEGORY_KEYS
from daglig.io.db import make_engine
from simulator import generate, simulate
from simulator.add_day import (
    WINDOW_DAYS,
    AddDayRefused,
    History,
    _history,
    plan_day,
    practisers,
)
from simulator.learners import EPOCH, _oslo_day, _streaks, day_end_utc
from tests.cli import Result, cli_env, daglig
from tests.dq_helpers import query

END = dt.date(2026, 11, 23)
DAY = END + dt.timedelta(days=1)


def _read(url: str, sql: str) -> pl.DataFrame:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return pl.read_database(sql, conn)
    finally:
        engine.dispose()


def _as_utc(frame: pl.DataFrame, *cols: str) -> pl.DataFrame:
    """SQLite hands timestamps back as text: parse them (PostgreSQL's are datetimes)."""
    return frame.with_columns(
        pl.col(c).cast(pl.String).str.to_datetime(time_unit="us", strict=False)
        if frame.schema[c] == pl.String
        else pl.col(c).cast(pl.Datetime("us"))
        for c in cols
    )


def _oslo_dates(frame: pl.DataFrame, col: str) -> pl.Series:
    return frame[col].dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Oslo").dt.date()


def _attempts(url: str) -> pl.DataFrame:
    return _as_utc(
        _read(
            url,
            "SELECT a.id, a.user_id, a.question_id, a.quiz_session_id, a.is_correct, "
            "a.time_spent_seconds, a.answered_at, q.category "
            "FROM question_attempts a JOIN questions q ON q.id = a.question_id ORDER BY a.id",
        ),
        "answered_at",
    ).with_columns(pl.col("is_correct").cast(pl.Boolean))


def _sessions(url: str) -> pl.DataFrame:
    return _as_utc(
        _read(url, "SELECT * FROM quiz_sessions ORDER BY id"), "started_at", "completed_at"
    )


def _progress(url: str) -> pl.DataFrame:
    return _read(url, "SELECT * FROM user_progress ORDER BY user_id").with_columns(
        pl.col("last_activity_date").cast(pl.String).str.slice(0, 10).str.to_date(strict=False)
    )


def _add_day(url: str, data: Path, *extra: str) -> Result:
    return daglig("simulate", "--add-day", *extra, env=cli_env(url, data))


def _one_line(r: Result) -> str:
    assert r.returncode == 2, r
    assert len(r.err_lines) == 1, r
    assert "Traceback" not in r.stderr + r.stdout, r
    return r.err_lines[0]


# ------------------------------------------------------------------ on both databases


def test_add_day_appends_one_day_as_the_app_would(db_url: str, tmp_path: Path) -> None:
    simulate(db_url, users=300, seed=5, end_date=END)
    attempts0, sessions0, progress0 = _attempts(db_url), _sessions(db_url), _progress(db_url)
    logins0 = _as_utc(_read(db_url, "SELECT id, last_login_at FROM users"), "last_login_at")

    r = _add_day(db_url, tmp_path / "data", "--seed", "3")
    assert r.returncode == 0, r
    assert r.out_lines[-1].startswith(f"added {DAY} to "), r

    attempts, sessions, progress = _attempts(db_url), _sessions(db_url), _progress(db_url)
    # the history is untouched; the new rows come after it, ids dense and unique
    assert attempts.head(attempts0.height).equals(attempts0)
    assert sessions.head(sessions0.height).equals(sessions0)
    new_a = attempts.slice(attempts0.height)
    new_s = sessions.slice(sessions0.height)
    assert new_a.height > 100 and new_s.height > 10
    assert new_a["id"].to_list() == list(range(attempts0.height + 1, attempts.height + 1))
    assert new_s["id"].to_list() == list(range(sessions0.height + 1, sessions.height + 1))
    # on the new day in Oslo, except a few late arrivals timestamped the day before
    days = _oslo_dates(new_a, "answered_at")
    assert set(days.unique().to_list()) <= {DAY, END}
    late = int((days == END).sum())
    assert late < 0.05 * new_a.height
    assert f"{new_a.height:,} answers ({late:,} late" in r.out_lines[-1]
    # every new answer belongs to a new session of the same learner, inside its times
    joined = new_a.join(
        new_s.select(
            pl.col("id").alias("quiz_session_id"),
            pl.col("user_id").alias("s_user"),
            "started_at",
            "completed_at",
            "total_questions",
            "correct_answers",
        ),
        on="quiz_session_id",
        how="left",
    )
    assert joined["s_user"].null_count() == 0
    assert (joined["s_user"] == joined["user_id"]).all()
    assert (joined["answered_at"] >= joined["started_at"]).all()
    per = joined.group_by("quiz_session_id").agg(
        n=pl.len(),
        right=pl.col("is_correct").sum(),
        correct=pl.col("correct_answers").first(),
        total=pl.col("total_questions").first(),
        done=pl.col("completed_at").first(),
        last=pl.col("answered_at").max(),
    )
    assert per.height == new_s.height  # no session without answers
    assert (per["right"] == per["correct"]).all()
    completed = per.filter(pl.col("done").is_not_null())
    assert (completed["n"] == completed["total"]).all()
    assert (completed["done"] > completed["last"]).all()
    abandoned = per.filter(pl.col("done").is_null())
    assert (abandoned["n"] < abandoned["total"]).all()
    assert set(new_s["quiz_type"].unique().to_list()) <= {"practice", "category", "exam"}
    assert 0.6 < new_a["is_correct"].mean() < 0.9  # type: ignore[operator]
    assert new_a["time_spent_seconds"].is_between(1.5, 300.0).all()

    # user_progress is what the whole answer log says, by the history's rules
    log = attempts.sort("user_id", "answered_at", "id")
    n_users = int(progress["user_id"].max())  # type: ignore[arg-type]
    user = log["user_id"].to_numpy() - 1
    oslo_day = _oslo_day(log["answered_at"].cast(pl.Int64).to_numpy())
    cur, longest, last_day = _streaks(user, oslo_day, n_users, (DAY - EPOCH).days)
    xp = 10 * np.bincount(user, weights=log["is_correct"].to_numpy(), minlength=n_users)
    assert progress["total_xp"].to_list() == xp.astype(int).tolist()
    assert progress["current_streak"].to_list() == cur.tolist()
    assert progress["longest_streak"].to_list() == longest.tolist()
    expected_last = [EPOCH + dt.timedelta(days=int(d)) if d >= 0 else None for d in last_day]
    assert progress["last_activity_date"].to_list() == expected_last
    assert progress["level"].to_list() == (1 + np.floor(np.sqrt(xp / 100))).astype(int).tolist()
    changed = progress.join(progress0, on="user_id", suffix="_0").filter(
        pl.col("total_xp") != pl.col("total_xp_0")
    )
    assert changed.height > 0

    # the practisers logged in just before their last session of the day; nobody else did
    logins = _as_utc(_read(db_url, "SELECT id, last_login_at FROM users"), "last_login_at")
    moved = logins.join(logins0, on="id", suffix="_0").filter(
        pl.col("last_login_at").ne_missing(pl.col("last_login_at_0"))
    )
    practisers = set(new_a.filter(days == DAY)["user_id"].to_list())
    assert set(moved["id"].to_list()) == practisers
    last_start = new_s.group_by("user_id").agg(pl.col("started_at").max())
    m = moved.join(last_start, left_on="id", right_on="user_id")
    assert (m["last_login_at"] < m["started_at"]).all()
    assert (m["started_at"] - m["last_login_at"] <= dt.timedelta(minutes=5)).all()

    # the ground truth counts the day's answers too
    truth = _read(db_url, "SELECT user_id, category, answers FROM sim_ground_truth")
    counts = log.group_by("user_id", "category").agg(n=pl.len())
    both = truth.join(counts, on=["user_id", "category"], how="left").with_columns(
        pl.col("n").fill_null(0)
    )
    assert (both["answers"] == both["n"]).all()


def test_add_day_twice_adds_two_successive_days(db_url: str, tmp_path: Path) -> None:
    simulate(db_url, users=200, seed=6, end_date=END)
    data = tmp_path / "data"
    first = _add_day(db_url, data)
    second = _add_day(db_url, data)
    assert first.returncode == 0 and second.returncode == 0, (first, second)
    assert first.out_lines[-1].startswith(f"added {DAY} ")
    assert second.out_lines[-1].startswith(f"added {DAY + dt.timedelta(days=1)} ")
    ((n_ids, max_id),) = query(db_url, "SELECT COUNT(DISTINCT id), MAX(id) FROM question_attempts")
    ((n,),) = query(db_url, "SELECT COUNT(*) FROM question_attempts")
    assert n_ids == n == max_id
    # the day given must come after the history
    line = _one_line(_add_day(db_url, data, "--end-date", DAY.isoformat()))
    assert line.endswith(
        f"{DAY} is not after the history (its latest answer is on "
        f"{DAY + dt.timedelta(days=1)}, Oslo); leave --end-date out to add the next day"
    ), line
    assert query(db_url, "SELECT COUNT(*) FROM question_attempts") == [(n,)]
    later = DAY + dt.timedelta(days=5)
    r = _add_day(db_url, data, "--end-date", later.isoformat())
    assert r.returncode == 0 and r.out_lines[-1].startswith(f"added {later} "), r


def test_add_day_refuses_a_database_without_a_simulated_history(
    db_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    safe = make_url(db_url).render_as_string(hide_password=True)
    if make_url(db_url).get_backend_name() == "sqlite":
        sqlite3.connect(str(make_url(db_url).database)).close()  # an empty file
    line = _one_line(_add_day(db_url, data))
    assert line.endswith(
        f"{safe} has no users, user_progress, quiz_sessions, question_attempts table; "
        "--add-day continues a simulated history (`daglig simulate` first)"
    ), line

    from models.tables import create_app_tables

    engine = make_engine(db_url)
    with engine.begin() as conn:
        create_app_tables(conn)
    engine.dispose()
    line = _one_line(_add_day(db_url, data))
    assert line.endswith(f"{safe} has no sim_ground_truth (the learners' true skill), so "
                         "--add-day cannot draw their answers; it continues a database made "
                         "by `daglig simulate`"), line  # fmt: skip

    simulate(db_url, users=50, seed=1, end_date=END)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM question_attempts")
    engine.dispose()
    line = _one_line(_add_day(db_url, data))
    assert "holds no answers, so there is no history to add a day to" in line, line

    simulate(db_url, users=50, seed=1, end_date=END)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE sim_ground_truth")
    engine.dispose()
    assert "has no sim_ground_truth" in _one_line(_add_day(db_url, data))
    assert "--add-day appends" in _one_line(_add_day(db_url, data, "--days", "2"))


def test_add_day_refuses_a_missing_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    line = _one_line(_add_day(url, tmp_path / "data"))
    assert line.endswith(f"{url} does not exist; `daglig simulate` makes a history first"), line
    assert not (tmp_path / "none.db").exists()


# ------------------------------------------------------------------ pure: the draw


def _history_of(frames: dict[str, pl.DataFrame], last_day: dt.date) -> History:
    """The History ``read_history`` would read from a database holding ``frames``."""
    attempts, sessions = frames["question_attempts"], frames["quiz_sessions"]
    users = (
        frames["users"]
        .join(frames["user_progress"], left_on="id", right_on="user_id")
        .rename({"id": "user_id"})
        .select(
            "user_id",
            "is_active",
            "created_at",
            "total_xp",
            "current_streak",
            "longest_streak",
            "last_activity_date",
        )  # fmt: skip
        .with_columns(pl.col("total_xp", "current_streak", "longest_streak").cast(pl.Int64))
    )
    since = day_end_utc(last_day - dt.timedelta(days=WINDOW_DAYS))
    extent = pl.DataFrame(
        {"max_attempt": [attempts["id"].max()], "max_session": [sessions["id"].max()]}
    )
    return _history(
        last_day,
        extent,
        users,
        sessions.filter(pl.col("started_at") >= since).select("user_id", "started_at"),
        frames["questions"].rename({"id": "question_id"}),
    )


@pytest.fixture(scope="module")
def history() -> tuple[dict[str, pl.DataFrame], History, pl.DataFrame]:
    frames = generate(users=3000, seed=2, end_date=END)
    truth = frames["sim_ground_truth"].select("user_id", "category", "theta", "answers")
    return frames, _history_of(frames, END), truth


@pytest.mark.pure
def test_the_day_is_deterministic_for_the_seed(history) -> None:  # type: ignore[no-untyped-def]
    _, h, truth = history
    a, b, c = (plan_day(h, DAY, s, truth) for s in (9, 9, 10))
    for name in a.inserts:
        assert a.inserts[name].equals(b.inserts[name]), name
        assert not a.inserts[name].equals(c.inserts[name]), name
    for name in a.updates:
        assert a.updates[name].equals(b.updates[name]), name
    # the practisers' ground truth is all it needs (what read_truth reads)
    who = h.user_id[practisers(h, DAY, 9)]
    only = plan_day(h, DAY, 9, truth.filter(pl.col("user_id").is_in(who.tolist())))
    assert only.inserts["question_attempts"].equals(a.inserts["question_attempts"])
    assert only.updates["add_day_truth"].equals(a.updates["add_day_truth"])
    other_day = plan_day(h, DAY + dt.timedelta(days=1), 9, truth)
    assert not other_day.inserts["question_attempts"].equals(a.inserts["question_attempts"])
    with pytest.raises(AddDayRefused, match=f"{END} is not after the history"):
        plan_day(h, END, 9, truth)


@pytest.mark.pure
def test_the_day_looks_like_the_history_s_last_weeks(history) -> None:  # type: ignore[no-untyped-def]
    frames, h, truth = history
    plan = plan_day(h, DAY, 1, truth)
    new = plan.inserts["question_attempts"]
    log = frames["question_attempts"].with_columns(day=_oslo_dates(frames["question_attempts"],
                                                                    "answered_at"))  # fmt: skip
    window = log.filter(pl.col("day") > END - dt.timedelta(days=WINDOW_DAYS))
    per_day = window.group_by("day").agg(answers=pl.len(), users=pl.col("user_id").n_unique())
    # about the window's daily mean of learners and answers (within a third)
    assert plan.practised == pytest.approx(per_day["users"].mean(), rel=0.33)
    assert new.height == pytest.approx(per_day["answers"].mean(), rel=0.33)
    # only active learners practise; accuracy and evening hours like the history
    active = set(frames["users"].filter("is_active")["id"].to_list())
    assert set(new["user_id"].unique().to_list()) <= active
    assert new["is_correct"].mean() == pytest.approx(log["is_correct"].mean(), abs=0.06)
    hours = (
        new["answered_at"].dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Oslo").dt.hour()
    )
    assert ((hours >= 17) & (hours <= 22)).mean() > 0.4  # type: ignore[operator]
    assert ((hours >= 2) & (hours <= 4)).mean() < 0.02  # type: ignore[operator]
    # the question bank's active questions only, categories all used
    q = frames["questions"]
    inactive = set(q.filter(~pl.col("is_active"))["id"].to_list())
    assert not set(new["question_id"].to_list()) & inactive
    truth = plan.updates["add_day_truth"]
    assert set(truth["category"].unique().to_list()) == set(CATEGORY_KEYS)
    assert 0 < plan.late_answers < 0.02 * new.height
