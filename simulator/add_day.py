"""One more realistic day of answers for an existing simulated database
(``daglig simulate --add-day``), from what the database holds: the app tables and
``sim_ground_truth``. docs/simulator.md, "Adding a day".

:func:`read_history` reads the state (one pass over the recent sessions, the users with
their progress, the question bank, the ground truth), :func:`plan_day` draws the day
(pure: numpy and polars over all learners at once, the history's helpers of
simulator/learners.py for session types, sizes, hours, scheduling, time per answer and
right/wrong), :func:`write_day` appends and updates in one transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sqlalchemy import Engine, inspect

from daglig import sql as sqlfiles
from daglig.catalogue import CATEGORY_KEYS
from daglig.io.db import adbc_connection, cast_frame, engine_of, read_frame, sqlite_file
from simulator.learners import (
    EPOCH,
    LEARN_RATE,
    US_PER_DAY,
    US_PER_S,
    XP_PER_CORRECT,
    XP_PER_LEVEL_STEP,
    Learners,
    QuestionBank,
    _answer,
    _answer_slots,
    _oslo_day,
    _segment_starts,
    _sessions,
    _sigmoid,
    _us,
    day_end_utc,
)
from simulator.load import _table, postgres_arrow, sqlite_frame

#: Days of history before the new day that say how often each learner practises.
WINDOW_DAYS = 28
#: Active learners who never answered and joined in the last week start with this chance.
NEW_LEARNER_DAYS = 7
NEW_LEARNER_P = 0.25
#: At most this many sessions in a learner's day.
MAX_SESSIONS = 8
#: Share of the day's answers that arrive late: whole sessions timestamped the day before.
LATE_SHARE = 0.005
#: The random streams' tag: default_rng([seed, ADD_DAY_TAG, day]) for the day,
#: default_rng([seed, ADD_DAY_TAG]) for each learner's speed (the same every day).
ADD_DAY_TAG = 16
SPEED_SD = 0.25


class AddDayRefused(ValueError):
    """The database cannot take a day: the message is the one line to show."""


@dataclass(frozen=True)
class History:
    """What the day is drawn from, besides the practisers' ground truth (:func:`read_truth`).
    Per learner (index i, id ``user_id[i]``, sorted): the app's state and the history's
    recent practice; the question bank (category-major); the ids taken."""

    last_day: dt.date  # Oslo day of the latest answer
    max_attempt: int
    max_session: int
    user_id: np.ndarray
    is_active: np.ndarray
    created_us: np.ndarray
    total_xp: np.ndarray
    streak: np.ndarray
    longest: np.ndarray
    last_active: np.ndarray  # Oslo day number of last_activity_date; -10**6 when NULL
    recent_days: np.ndarray  # distinct practice days in the window
    recent_sessions: np.ndarray  # sessions in the window
    q_id: np.ndarray  # question ids, category-major
    q_cat: np.ndarray
    q_diff: np.ndarray  # stored difficulty, NULL as 0.5
    q_active: np.ndarray


@dataclass(frozen=True)
class DayPlan:
    """The rows a day adds (``quiz_sessions``, ``question_attempts``, contract columns) and
    the rows it updates (``user_progress``, ``users.last_login_at``, ``sim_ground_truth``)."""

    day: dt.date
    inserts: dict[str, pl.DataFrame]
    updates: dict[str, pl.DataFrame]
    practised: int
    active: int
    late_answers: int
    first_ids: tuple[int, int]  # (max quiz_sessions.id, max question_attempts.id) before


@dataclass(frozen=True)
class AddDaySummary:
    """What :func:`add_day` wrote, and its seconds (read, plan, write, total)."""

    day: dt.date
    practised: int
    active: int
    sessions: int
    answers: int
    late_answers: int
    last_attempt_id: int  # the largest question_attempts.id before the day
    progress_rows: int
    read_seconds: float
    plan_seconds: float
    write_seconds: float
    total_seconds: float
    write_steps: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------ reading

_USERS_SCHEMA = {
    "user_id": pl.Int64,
    "is_active": pl.Boolean,
    "created_at": pl.Datetime("us"),
    "total_xp": pl.Int64,
    "current_streak": pl.Int64,
    "longest_streak": pl.Int64,
    "last_activity_date": pl.Date,
}
_QUESTIONS_SCHEMA = {
    "question_id": pl.Int64,
    "category": pl.String,
    "difficulty": pl.Float64,
    "is_active": pl.Boolean,
}
_TRUTH_SCHEMA = {
    "user_id": pl.Int64,
    "category": pl.String,
    "theta": pl.Float64,
    "answers": pl.Int64,
}


def _oslo_date(utc: dt.datetime) -> dt.date:
    return dt.date.fromordinal(EPOCH.toordinal() + int(_oslo_day(np.array([_us(utc)]))[0]))


def read_history(url: str, safe_url: str) -> History:
    """The state :func:`plan_day` draws from; :class:`AddDayRefused` when the database holds
    no simulated history (no answers, no ``sim_ground_truth``)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise AddDayRefused(f"{safe_url} does not exist; `daglig simulate` makes a history first")
    with engine_of(url, read_only=True) as engine:
        tables = set(inspect(engine).get_table_names())
    missing = [t for t in ("users", "user_progress", "quiz_sessions", "question_attempts")
               if t not in tables]  # fmt: skip
    if missing:
        raise AddDayRefused(
            f"{safe_url} has no {', '.join(missing)} table; --add-day continues a simulated "
            "history (`daglig simulate` first)"
        )
    if "sim_ground_truth" not in tables:
        raise AddDayRefused(
            f"{safe_url} has no sim_ground_truth (the learners' true skill), so --add-day cannot "
            "draw their answers; it continues a database made by `daglig simulate`"
        )
    extent = read_frame(
        url,
        "sim/add_day_extent",
        schema={
            "last_answer": pl.Datetime("us"),
            "max_attempt": pl.Int64,
            "max_session": pl.Int64,
            "truth_rows": pl.Int64,
        },
    )
    last_answer = extent["last_answer"][0]
    if last_answer is None:
        raise AddDayRefused(
            f"{safe_url} holds no answers, so there is no history to add a day to; "
            "`daglig simulate` makes one"
        )
    if not extent["truth_rows"][0]:
        raise AddDayRefused(
            f"{safe_url} has an empty sim_ground_truth (the learners' true skill); --add-day "
            "continues a database made by `daglig simulate`"
        )
    last_day = _oslo_date(last_answer)
    users = read_frame(url, "sim/add_day_users", schema=_USERS_SCHEMA).sort("user_id")
    window_first = last_day - dt.timedelta(days=WINDOW_DAYS - 1)
    since = day_end_utc(window_first - dt.timedelta(days=1))
    recent = read_frame(
        url,
        "sim/add_day_recent_sessions",
        {"since": since},
        {"user_id": pl.Int64, "started_at": pl.Datetime("us")},
    )
    questions = read_frame(url, "read/questions", schema=_QUESTIONS_SCHEMA)
    return _history(last_day, extent, users, recent, questions)


def _row_of(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Index into ``sorted_ids`` of each of ``ids``; -1 where it is not there."""
    if not sorted_ids.size:
        return np.full(ids.size, -1, np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1)


def read_truth(url: str, user_ids: np.ndarray) -> pl.DataFrame:
    """The ``sim_ground_truth`` rows of ``user_ids`` (not the whole table: 12M rows at 1M
    learners), through a temporary table of the ids on the same ADBC connection."""
    import pyarrow as pa

    with adbc_connection(url) as (conn, style):
        with conn.cursor() as cur:
            ids = pa.table({"user_id": pa.array(user_ids, pa.int64())})
            cur.adbc_ingest("add_day_who", ids, mode="create", temporary=True)
            if style == "numeric_dollar":  # PostgreSQL: plan the join with the row count
                cur.execute("ANALYZE add_day_who")
            cur.execute(sqlfiles.positional(sqlfiles.load("sim/add_day_truth"), {}, style)[0])
            table = cur.fetch_arrow_table()
        conn.rollback()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return cast_frame(frame, _TRUTH_SCHEMA)


def _history(
    last_day: dt.date,
    extent: pl.DataFrame,
    users: pl.DataFrame,
    recent: pl.DataFrame,
    questions: pl.DataFrame,
) -> History:
    uid = users["user_id"].to_numpy()
    n = uid.size
    cat_index = {k: i for i, k in enumerate(CATEGORY_KEYS)}

    # recent practice: distinct Oslo days and sessions per learner in the window
    r_row = _row_of(uid, recent["user_id"].to_numpy())
    r_day = _oslo_day(recent["started_at"].cast(pl.Int64).to_numpy())
    keep = r_row >= 0
    per = (
        pl.DataFrame({"row": r_row[keep], "day": r_day[keep]})
        .group_by("row")
        .agg(days=pl.col("day").n_unique(), sessions=pl.len())
    )
    recent_days = np.zeros(n, np.int64)
    recent_sessions = np.zeros(n, np.int64)
    recent_days[per["row"].to_numpy()] = per["days"].to_numpy()
    recent_sessions[per["row"].to_numpy()] = per["sessions"].to_numpy()

    q = (
        questions.with_columns(
            c=pl.col("category").replace_strict(cat_index, default=-1, return_dtype=pl.Int64)
        )
        .filter(pl.col("c") >= 0)
        .sort("c", "question_id")
    )
    last_active = users["last_activity_date"].cast(pl.Int64).fill_null(-(10**6)).to_numpy()
    return History(
        last_day=last_day,
        max_attempt=int(extent["max_attempt"][0] or 0),
        max_session=int(extent["max_session"][0] or 0),
        user_id=uid,
        is_active=users["is_active"].fill_null(False).to_numpy(),
        created_us=users["created_at"].cast(pl.Int64).to_numpy(),
        total_xp=users["total_xp"].fill_null(0).to_numpy(),
        streak=users["current_streak"].fill_null(0).to_numpy(),
        longest=users["longest_streak"].fill_null(0).to_numpy(),
        last_active=last_active,
        recent_days=recent_days,
        recent_sessions=recent_sessions,
        q_id=q["question_id"].to_numpy(),
        q_cat=q["c"].to_numpy(),
        q_diff=q["difficulty"].fill_null(0.5).clip(0.0, 1.0).to_numpy(),
        q_active=q["is_active"].fill_null(False).to_numpy(),
    )


# ------------------------------------------------------------------ drawing the day


def _bank(h: History) -> QuestionBank:
    n_cat = len(CATEGORY_KEYS)
    q_active = h.q_active.copy()
    active_ids = np.flatnonzero(q_active)  # category-major, like the simulator's bank
    act_count = np.bincount(h.q_cat[active_ids], minlength=n_cat)
    return QuestionBank(
        h.q_cat, h.q_diff, h.q_diff, np.zeros(h.q_cat.size, bool), q_active, active_ids,
        act_count, _segment_starts(act_count),
    )  # fmt: skip


def _check_day(h: History, day: dt.date) -> None:
    if day <= h.last_day:
        raise AddDayRefused(
            f"{day} is not after the history (its latest answer is on {h.last_day}, Oslo); "
            "leave --end-date out to add the next day"
        )


def practisers(h: History, day: dt.date, seed: int) -> np.ndarray:
    """Who practises on ``day`` (indexes into ``h``'s learners, sorted): an active learner
    with the share of days they practised in the history's last ``WINDOW_DAYS`` days;
    ``NEW_LEARNER_P`` for one who joined in the last week and never answered. Drawn from
    ``default_rng([seed, ADD_DAY_TAG, day])``."""
    _check_day(h, day)
    day_start_us = _us(day_end_utc(day - dt.timedelta(days=1)))
    rng = np.random.default_rng([seed, ADD_DAY_TAG, (day - EPOCH).days])
    p = h.recent_days / WINDOW_DAYS
    fresh = (h.last_active < 0) & (h.created_us >= day_start_us - NEW_LEARNER_DAYS * US_PER_DAY)
    p = np.where(fresh & (h.recent_days == 0), NEW_LEARNER_P, p)
    p = np.where(h.is_active & (h.created_us < day_start_us), p, 0.0)
    return np.flatnonzero(rng.random(h.user_id.size) < p)


def _truth_matrix(truth: pl.DataFrame, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(theta, answers), ``user_ids`` × categories, from ground-truth rows (others ignored;
    a missing row is theta 0 and no answers)."""
    n_cat = len(CATEGORY_KEYS)
    theta = np.zeros((user_ids.size, n_cat))
    answers = np.zeros((user_ids.size, n_cat), np.int64)
    order = np.argsort(user_ids, kind="stable")
    pos = _row_of(user_ids[order], truth["user_id"].to_numpy())
    row = np.where(pos >= 0, order[np.maximum(pos, 0)], -1)
    cat = (
        truth["category"]
        .replace_strict({k: i for i, k in enumerate(CATEGORY_KEYS)}, default=-1,
                        return_dtype=pl.Int64)
        .to_numpy()
    )  # fmt: skip
    ok = (row >= 0) & (cat >= 0)
    theta[row[ok], cat[ok]] = truth["theta"].to_numpy()[ok]
    answers[row[ok], cat[ok]] = truth["answers"].to_numpy()[ok]
    return theta, answers


def plan_day(h: History, day: dt.date, seed: int, truth: pl.DataFrame) -> DayPlan:
    """The day's sessions, answers and updates; pure and deterministic for (history, day,
    seed, truth). ``truth`` holds the ground-truth rows (user_id, category, theta, answers)
    of at least the day's :func:`practisers`. Each practiser has 1 + Poisson(their extra
    sessions per practice day in the window) sessions. Types, sizes, abandonment, Oslo
    hours, non-overlap, time per answer and right/wrong are the history's
    (simulator/learners.py), with the ground truth's skill plus the practice gain of the
    day's answers; drawn from ``default_rng([seed, ADD_DAY_TAG, day, 1])``."""
    idx = practisers(h, day, seed)
    n_cat = len(CATEGORY_KEYS)
    day_no = (day - EPOCH).days
    cutoff_us = _us(day_end_utc(day))
    rng = np.random.default_rng([seed, ADD_DAY_TAG, day_no, 1])
    k = idx.size
    max_uid = int(h.user_id.max()) if h.user_id.size else 0
    speed_all = np.random.default_rng([seed, ADD_DAY_TAG]).normal(0.0, SPEED_SD, max_uid + 1)
    practise = np.zeros(h.user_id.size, bool)
    practise[idx] = True
    extra = np.where(
        h.recent_days > 0, h.recent_sessions / np.maximum(h.recent_days, 1) - 1.0, 0.0
    )[idx]
    n_sess = np.minimum(1 + rng.poisson(np.maximum(extra, 0.0)), MAX_SESSIONS).astype(np.int64)

    # The gain model on top of the ground truth: theta at the n-th answer of the day in a
    # category is theta_truth + LEARN_RATE (log1p(answers + n) - log1p(answers)). _answer
    # adds learn · log1p(prior) to base, so base = theta - LEARN_RATE log1p(answers) with
    # prior = answers + n.
    theta0, hist_answers = _truth_matrix(truth, h.user_id[idx])
    people = Learners(
        arch=np.zeros(k, np.int64),
        base=theta0 - LEARN_RATE * np.log1p(hist_answers),
        learn=np.full(k, LEARN_RATE),
        speed=speed_all[h.user_id[idx]],
        n_sess=n_sess,
        first=np.zeros(k, np.int64),
        last=np.zeros(k, np.int64),
    )
    s = _sessions(rng, people, n_cat, day_no)
    slots = _answer_slots(rng, s, _bank(h), n_cat)
    slots = dataclasses.replace(slots, prior=slots.prior + hist_answers[slots.user, slots.cat])
    done = _answer(rng, people, s, slots, cutoff_us)
    n_s, n_a = s.user.size, slots.user.size

    # ids in time order (arrival order: late sessions keep their place)
    s_rank = np.argsort(done.s_start, kind="stable")
    s_id = np.empty(n_s, np.int64)
    s_id[s_rank] = np.arange(h.max_session + 1, h.max_session + n_s + 1)
    a_rank = np.argsort(done.at, kind="stable")

    # late arrivals: whole sessions, never a learner's last of the day, timestamped 24 h
    # earlier (kept only where that is the day before in Oslo)
    s_first = _segment_starts(n_sess)
    not_last = np.ones(n_s, bool)
    not_last[s_first + n_sess - 1] = False
    eligible_answers = int(s.answered[not_last].sum())
    p_late = min(1.0, LATE_SHARE * n_a / eligible_answers) if eligible_answers else 0.0
    late = not_last & (rng.random(n_s) < p_late)
    late &= _oslo_day(done.s_start - US_PER_DAY) == day_no - 1
    shift = np.where(late, US_PER_DAY, 0)
    s_start = done.s_start - shift
    s_completed = np.where(done.s_completed >= 0, done.s_completed - shift, -1)
    a_at = done.at - shift[slots.sess]
    a_late = late[slots.sess]

    # user_progress of the practisers: XP, streak continued (from yesterday, or from the
    # day before through a late session yesterday) or restarted, longest, last day
    right = np.bincount(slots.user, weights=done.correct, minlength=k).astype(np.int64)
    late_user = np.bincount(s.user, weights=late, minlength=k) > 0
    last, streak = h.last_active[idx], np.maximum(h.streak[idx], 1)
    before = np.select(
        [last == day_no - 1, late_user & (last == day_no - 2), late_user],
        [streak, streak + 1, np.ones(k, np.int64)],
        0,
    )
    xp = h.total_xp[idx] + XP_PER_CORRECT * right
    progress = pl.DataFrame(
        {
            "user_id": h.user_id[idx],
            "total_xp": xp,
            "level": 1 + np.floor(np.sqrt(xp / XP_PER_LEVEL_STEP)).astype(np.int64),
            "current_streak": before + 1,
            "longest_streak": np.maximum(h.longest[idx], before + 1),
            "last_activity_date": np.full(k, day_no, np.int64),
        }
    )
    # the others' streak ends when they missed yesterday (the history's rule: a streak is
    # current while its last day is the end date or the day before)
    broken = ~practise & (h.streak > 0) & (h.last_active < day_no - 1)
    b = np.flatnonzero(broken)
    progress = pl.concat(
        [
            progress,
            pl.DataFrame(
                {
                    "user_id": h.user_id[b],
                    "total_xp": h.total_xp[b],
                    "level": 1 + np.floor(np.sqrt(h.total_xp[b] / XP_PER_LEVEL_STEP)),
                    "current_streak": np.zeros(b.size, np.int64),
                    "longest_streak": h.longest[b],
                    "last_activity_date": h.last_active[b],
                }
            ),
        ],
        how="vertical_relaxed",
    ).with_columns(
        pl.col("total_xp", "level", "current_streak", "longest_streak").cast(pl.Int32),
        pl.col("last_activity_date").cast(pl.Int32).cast(pl.Date),
    )

    # last login: 5 s - 5 min before the learner's last session (never a late one)
    last_start = done.s_start[s_first + n_sess - 1]
    logins = pl.DataFrame(
        {
            "user_id": h.user_id[idx],
            "last_login_at": _ts(
                last_start - rng.integers(5 * US_PER_S, 300 * US_PER_S, k), "last_login_at"
            ),
        }
    )

    # the ground truth moved on: answers and the practice gain in each category practised
    uc = slots.user * n_cat + slots.cat
    added = np.bincount(uc, minlength=k * n_cat).reshape(k, n_cat)
    tu, tc = np.nonzero(added)
    n0, n1 = hist_answers[tu, tc], hist_answers[tu, tc] + added[tu, tc]
    theta1 = theta0[tu, tc] + LEARN_RATE * (np.log1p(n1) - np.log1p(n0))
    truth = pl.DataFrame(
        {
            "user_id": h.user_id[idx][tu],
            "category": pl.Series(list(CATEGORY_KEYS), dtype=pl.String).gather(tc),
            "theta": theta1,
            "mastery": _sigmoid(theta1),
            "answers": pl.Series(n1, dtype=pl.Int32),
        }
    )

    cats = pl.Series(list(CATEGORY_KEYS), dtype=pl.String)
    quiz_types = pl.Series(["practice", "category", "exam"], dtype=pl.String)
    r = s_rank
    s_cat = s.cat[r]
    sessions = pl.DataFrame(
        {
            "id": s_id[r],
            "user_id": h.user_id[idx][s.user[r]],
            "quiz_type": quiz_types.gather(s.type[r]),
            "category": cats.gather(np.maximum(s_cat, 0)).set(pl.Series(s_cat < 0), None),
            "started_at": _ts(s_start[r], "started_at"),
            "completed_at": _ts(s_completed[r], "completed_at"),
            "total_questions": pl.Series(s.size[r], dtype=pl.Int32),
            "correct_answers": pl.Series(done.s_correct[r], dtype=pl.Int32),
        }
    )
    r = a_rank
    attempts = pl.DataFrame(
        {
            "id": np.arange(h.max_attempt + 1, h.max_attempt + n_a + 1, dtype=np.int64),
            "user_id": h.user_id[idx][slots.user[r]],
            "question_id": h.q_id[slots.q[r]],
            "quiz_session_id": s_id[slots.sess[r]],
            "is_correct": pl.Series(done.correct[r], dtype=pl.Boolean),
            "time_spent_seconds": pl.Series(done.spent[r], dtype=pl.Float64),
            "answered_at": _ts(a_at[r], "answered_at"),
        }
    )
    return DayPlan(
        day=day,
        inserts={"quiz_sessions": sessions, "question_attempts": attempts},
        updates={"add_day_progress": progress, "add_day_logins": logins, "add_day_truth": truth},
        practised=k,
        active=int(h.is_active.sum()),
        late_answers=int(a_late.sum()),
        first_ids=(h.max_session, h.max_attempt),
    )


def _ts(values: np.ndarray, name: str) -> pl.Series:
    """int64 µs (-1 = NULL) → naive pl.Datetime('us')."""
    out = pl.Series(name, values, dtype=pl.Int64)
    return out.set(out < 0, None).cast(pl.Datetime("us"))


# ------------------------------------------------------------------ writing

#: Rows go in sorted by the key the big indexes are on: the (user_id, answered_at) index
#: and the primary key of sim_ground_truth are then touched page after page, not at random
#: (at 1M learners a random order kept evicting and re-reading their pages).
_LOAD_ORDER = {
    "quiz_sessions": ("user_id", "started_at"),
    "question_attempts": ("user_id", "answered_at"),
    "add_day_progress": ("user_id",),
    "add_day_logins": ("user_id",),
    "add_day_truth": ("user_id", "category"),
}

#: The stage tables' updates (sql/sim/), in order.
_UPDATES = {
    "add_day_progress": "sim/add_day_update_progress",
    "add_day_logins": "sim/add_day_update_logins",
    "add_day_truth": "sim/add_day_update_truth",
}


def write_day(url: str, plan: DayPlan) -> dict[str, float]:
    """Append the day's sessions and answers and apply its updates, in one transaction:
    binary COPY (ADBC ingest) on PostgreSQL, sqlite3 ``executemany`` on SQLite, the updates
    from stage tables (sql/sim/add_day_update_*.sql, the same on both). Returns the
    seconds of each step (table or stage, and the commit)."""
    steps: dict[str, float] = {}
    plan = dataclasses.replace(
        plan,
        inserts={k: v.sort(_LOAD_ORDER[k]) for k, v in plan.inserts.items()},
        updates={k: v.sort(_LOAD_ORDER[k]) for k, v in plan.updates.items()},
    )
    with engine_of(url) as engine:
        if engine.url.get_backend_name() == "postgresql":
            _write_postgres(engine, plan, steps)
        elif engine.url.get_backend_name() == "sqlite":
            engine.dispose()
            _write_sqlite(engine, plan, steps)
        else:
            raise AddDayRefused(
                f"--add-day writes SQLite or PostgreSQL, not {engine.url.get_backend_name()}"
            )
    return steps


def _write_postgres(engine: Engine, plan: DayPlan, steps: dict[str, float]) -> None:
    """Binary COPY of the new rows, then the updates. As a superuser the foreign keys'
    row triggers are off for the COPY (``session_replication_role = replica``: 4x faster
    at 230k answers) and ``sql/sim/add_day_orphans.sql`` checks the new rows' references
    in one query instead; without the right the triggers check them row by row."""
    import adbc_driver_postgresql.dbapi as adbc_pg

    libpq = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = adbc_pg.connect(libpq)
    try:
        with conn.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit = off")
            cur.execute("SELECT current_setting('is_superuser')")
            row = cur.fetchone()
            unchecked = row is not None and row[0] == "on"
            if unchecked:
                cur.execute("SET LOCAL session_replication_role = replica")
            for name, frame in plan.inserts.items():
                if frame.height:
                    t0 = time.perf_counter()
                    cur.adbc_ingest(
                        name, postgres_arrow(frame, _table(name), engine), mode="append"
                    )
                    steps[name] = round(time.perf_counter() - t0, 3)
            if unchecked:
                t0 = time.perf_counter()
                cur.execute("SET LOCAL session_replication_role = origin")
                query, args = sqlfiles.positional(
                    sqlfiles.load("sim/add_day_orphans"),
                    {"max_session": plan.first_ids[0], "max_attempt": plan.first_ids[1]},
                    "numeric_dollar",
                )
                cur.execute(query, args)
                names = [d[0] for d in cur.description or ()]
                found = cur.fetchone() or ()
                orphans = {n: int(v) for n, v in zip(names, found, strict=True) if v}
                if orphans:
                    raise RuntimeError(f"the day's rows reference missing rows: {orphans}")
                steps["reference check"] = round(time.perf_counter() - t0, 3)
            for stage, statement in _UPDATES.items():
                frame = plan.updates[stage]
                if frame.height:
                    t0 = time.perf_counter()
                    arrow = _stage_frame(frame).to_arrow()
                    cur.adbc_ingest(stage, arrow, mode="create", temporary=True)
                    cur.execute(f"ANALYZE {stage}")  # row counts: index lookups, not a scan
                    cur.execute(sqlfiles.load(statement))
                    steps[stage] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        conn.commit()
        steps["commit"] = round(time.perf_counter() - t0, 3)
    finally:
        conn.close()


def _stage_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The stage's columns in the target's types: REAL for theta/mastery (float32)."""
    return frame.with_columns(
        pl.col(c).cast(pl.Float32) for c in ("theta", "mastery") if c in frame.columns
    )


def _write_sqlite(engine: Engine, plan: DayPlan, steps: dict[str, float]) -> None:
    database = engine.url.database
    assert database
    conn = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("BEGIN")
        for name, frame in plan.inserts.items():
            t0 = time.perf_counter()
            _insert_sqlite(conn, name, sqlite_frame(frame))
            steps[name] = round(time.perf_counter() - t0, 3)
        for stage, statement in _UPDATES.items():
            frame = sqlite_frame(plan.updates[stage])
            if frame.height:
                t0 = time.perf_counter()
                conn.execute(f"CREATE TEMP TABLE {stage} ({', '.join(frame.columns)})")
                _insert_sqlite(conn, stage, frame)
                conn.execute(sqlfiles.load(statement))
                conn.execute(f"DROP TABLE {stage}")
                steps[stage] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        conn.execute("COMMIT")
        steps["commit"] = round(time.perf_counter() - t0, 3)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def _insert_sqlite(conn: sqlite3.Connection, name: str, frame: pl.DataFrame) -> None:
    marks = ", ".join("?" * frame.width)
    insert = f"INSERT INTO {name} ({', '.join(frame.columns)}) VALUES ({marks})"
    for offset in range(0, frame.height, 500_000):
        part = frame.slice(offset, 500_000)
        conn.executemany(insert, zip(*(part[c].to_list() for c in part.columns), strict=True))


# ------------------------------------------------------------------ the whole


def add_day(
    url: str, *, seed: int, day: dt.date | None = None, safe_url: str | None = None
) -> AddDaySummary:
    """Read the history, draw the day after its latest answer's Oslo day (or ``day``, which
    must be after it) and write it. :class:`AddDayRefused` names what is wrong."""
    t0 = time.perf_counter()
    h = read_history(url, safe_url or url)
    target = day or h.last_day + dt.timedelta(days=1)
    truth = read_truth(url, h.user_id[practisers(h, target, seed)])
    t1 = time.perf_counter()
    plan = plan_day(h, target, seed, truth)
    t2 = time.perf_counter()
    steps = write_day(url, plan)
    t3 = time.perf_counter()
    return AddDaySummary(
        day=target,
        practised=plan.practised,
        active=plan.active,
        sessions=plan.inserts["quiz_sessions"].height,
        answers=plan.inserts["question_attempts"].height,
        late_answers=plan.late_answers,
        last_attempt_id=h.max_attempt,
        progress_rows=plan.updates["add_day_progress"].height,
        read_seconds=round(t1 - t0, 3),
        plan_seconds=round(t2 - t1, 3),
        write_seconds=round(t3 - t2, 3),
        total_seconds=round(t3 - t0, 3),
        write_steps=steps,
    )
