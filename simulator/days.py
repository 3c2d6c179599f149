"""The app's side, night after night: learners act on their challenges and learn from it.

``play_days`` continues a simulated history day by day. Each simulated night runs the real
nightly flow (``generate_daily_challenges``; the learner model is trained first and every
``train_every`` days after). Each simulated day, the learners who open the app act on
what they were given:

* who opens the app: a daily chance by archetype (heavy 0.7, casual 0.25, new 0.35,
  lapsed 0.04; inactive users never);
* what they do with their challenges is the response model (docs/simulator.md "Response
  model"): a daily effort budget around each learner's habitual volume; take-up by
  engagement × taste for the type × a mild penalty for effort above the budget; the
  budget spent in slot order; completion decided by the simulated answers themselves
  (enough answers, all right, the accuracy reached, each answer under the time limit, or
  practising that day). It reads no ``reason`` and no ``source``: blind to the arm;
* the answers follow the same skill model as the history (simulator/learners.py): right with
  σ(θ − 3·(difficulty − 0.5)), θ = base + learn·log1p(answers in the category)·fade, so a
  learner's skill grows in the categories they practise — fastest where they have
  practised least; a challenge's questions are aimed at its difficulty;
* progress, completion and XP are written back as the app would: ``question_attempts``,
  ``quiz_sessions``, ``user_daily_challenges.progress/completed_at``, ``user_progress``.

The report compares the ML group with the holdout (both ML-eligible on the first night;
the holdout got fallback challenges): completion per learner, the growth of true mastery
in each learner's two truly weakest categories at the start, the growth of exam readiness
from the true mastery, and answers given, each difference with a 95 % Welch interval.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import text

from daglig.catalogue import CATEGORY_KEYS, TYPE_KEYS
from daglig.io.db import engine_of, make_engine, read_frame
from daglig.learner.assessment import exam_allocation, pass_probability
from daglig.stats import welch
from simulator.learners import (
    CASUAL,
    DIFFICULTY_SLOPE,
    FADE_DAYS,
    HEAVY,
    LAPSED,
    NEW,
    RETAINED,
    US_PER_DAY,
    US_PER_S,
    SimulatedData,
    _local_to_utc,
    _sigmoid,
    day_end_utc,
    simulate_frames,
)
from simulator.load import load_frames

EPOCH = dt.date(1970, 1, 1)
P_OPEN = {NEW: 0.35, CASUAL: 0.25, HEAVY: 0.7, LAPSED: 0.04}
SESSION_SIZE = 10
XP_PER_CORRECT = 10
WEAK_K = 2
# the response model (docs/simulator.md "Response model")
HABIT_DEFAULT = 10.0  # answers per active day for a learner without history
HABIT_RANGE = (5.0, 120.0)
BUDGET_SIGMA = 0.6  # the day's budget: lognormal around the habit (mean = habit)
TASTE_SIGMA = 0.35  # per-learner taste per challenge type: lognormal, mean 1
OVER_BUDGET = 0.35  # take-up × exp(-0.35 · (asked / budget - 1)) when asked > budget
AIM_SPREAD = 0.15  # a challenge's questions: quantile difficulty + N(0, 0.15)
HURRY = 0.3  # a speed challenge's answers take e^-0.3 ≈ 0.74 of the usual time
# frustration (docs/simulator.md "Frustration"): a day with more than half the answers
# wrong adds 2 × (wrong share − 0.5); it fades to 0.6 of itself each day; it lowers the
# chance of opening the app (× e^(−f)) and the day's budget (× e^(−0.5 f))
FRUSTRATION_FROM = 0.5
FRUSTRATION_GAIN = 2.0
FRUSTRATION_KEEP = 0.6
FRUSTRATION_OPEN = 1.0
FRUSTRATION_BUDGET = 0.5
# the only assignment columns the learners see (no reason, no source: blind to the arm)
ACT_COLUMNS = (
    "user_id",
    "slot",
    "challenge_type",
    "category",
    "target_value",
    "difficulty",
    "xp_reward",
    "content_key",
)

DAY_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "user_id": pl.Int64,
    "slot": pl.Int16,
    "challenge_type": pl.String,
    "category": pl.String,
    "target_value": pl.Int32,
    "difficulty": pl.Float64,
    "xp_reward": pl.Int32,
    "content_key": pl.String,
    "source": pl.String,
    "reason": pl.String,
}


class Learners:
    """The simulated learners' hidden state, moved forward day by day (in memory)."""

    def __init__(self, data: SimulatedData, seed: int) -> None:
        lat = data.latent
        self.n = len(data.archetype)
        self.n_cat = len(CATEGORY_KEYS)
        self.arch = data.archetype
        self.is_active = data.frames["users"]["is_active"].to_numpy()
        self.base = lat["base"]
        self.learn = lat["learn"]
        self.speed = lat["speed"]
        self.q_true = lat["q_true"]
        self.q_cat = lat["q_cat"]
        self.count = lat["count_uc"].reshape(self.n, self.n_cat).astype(np.int64)
        self.last_at = lat["last_at_uc"].reshape(self.n, self.n_cat).astype(np.int64)
        self.rng = np.random.default_rng([seed, 2024])
        self.engagement = self.rng.beta(3.0, 2.0, self.n)
        self.taste = np.exp(
            self.rng.normal(-(TASTE_SIGMA**2) / 2, TASTE_SIGMA, (self.n, len(TYPE_KEYS)))
        )
        active_q = np.flatnonzero(lat["q_active"])
        # each category's active questions, easiest first (a challenge aims at a quantile)
        self.q_by_cat = [
            q[np.argsort(self.q_true[q], kind="stable")]
            for q in (active_q[self.q_cat[active_q] == c] for c in range(self.n_cat))
        ]
        f = data.frames
        self.habit = habitual_volume(f["question_attempts"], self.n)
        self.next_attempt = f["question_attempts"].height + 1
        self.next_session = f["quiz_sessions"].height + 1
        prog = f["user_progress"]
        self.streak = prog["current_streak"].to_numpy().astype(np.int64)
        self.longest = prog["longest_streak"].to_numpy().astype(np.int64)
        self.xp = prog["total_xp"].to_numpy().astype(np.int64)
        last = prog["last_activity_date"].to_numpy()
        self.last_day = np.array([(d - EPOCH).days if d else -(10**6) for d in last.tolist()])
        self.frustration = np.zeros(self.n)  # from the learner's own days only (never the arm)
        self.practised: list[np.ndarray] = []  # per day played: who answered anything

    def theta(self, at_us: int) -> np.ndarray:
        """True skill (users × categories) at instant ``at_us``."""
        idle = np.where(self.last_at >= 0, (at_us - self.last_at) / US_PER_DAY, 0.0)
        fade = RETAINED + (1 - RETAINED) * np.exp(-idle / FADE_DAYS)
        return self.base + self.learn[:, None] * np.log1p(self.count) * fade

    def mastery(self, at_us: int) -> np.ndarray:
        """P(right) at difficulty 0.5, users × categories."""
        return _sigmoid(self.theta(at_us))


def habitual_volume(attempts: pl.DataFrame, users: int) -> np.ndarray:
    """Each learner's mean answers per active day (UTC days) in the history, clipped to
    ``HABIT_RANGE``; ``HABIT_DEFAULT`` without history. Index: user id − 1."""
    per_user = attempts.group_by("user_id").agg(
        answers=pl.len(), days=pl.col("answered_at").dt.date().n_unique()
    )
    habit = np.full(users, HABIT_DEFAULT)
    idx = per_user["user_id"].to_numpy() - 1
    habit[idx] = (per_user["answers"] / per_user["days"]).to_numpy()
    return np.clip(habit, *HABIT_RANGE)


def exam_readiness(mastery: np.ndarray, allocation: dict[str, int]) -> np.ndarray:
    """P(at least 38 of 45 right) per row of ``mastery`` (users × categories in
    ``CATEGORY_KEYS`` order), the exam's questions spread as ``allocation``."""
    weights = [allocation.get(k, 0) for k in CATEGORY_KEYS]
    return pass_probability(np.repeat(mastery, weights, axis=1))


@dataclass
class DayResult:
    """What happened on one simulated day."""

    day: str
    flow_seconds: float
    ml_status: str | None
    assignments: int
    opened: int
    taken_up: int
    completed: int
    answers: int
    completion_model: str | None = None  # the ML targets' completion model (None: rules)
    struggling: int = 0  # learners the night found struggling (adapted or held out)


@dataclass
class DaysReport:
    """The run's figures: per day, and ML vs holdout with 95 % intervals."""

    users: int
    days: int
    start: str
    holdout_share: float
    ml_users: int = 0
    holdout_users: int = 0
    completion: dict[str, float | int | None] = field(default_factory=dict)
    weak_mastery_gain: dict[str, float | int | None] = field(default_factory=dict)
    weak_answers_per_user: dict[str, float | int | None] = field(default_factory=dict)
    exam_readiness_gain: dict[str, float | int | None] = field(default_factory=dict)
    answers_per_user: dict[str, float | int | None] = field(default_factory=dict)
    # struggling learners from the night they were first found: adapted vs held out
    struggle: dict[str, Any] = field(default_factory=dict)
    # the week's path to the exam vs the path holdout (day-by-day choice), from the first
    # night's reasons: exam-readiness gain of the true mastery, start → end (welch: "ml"
    # is the path's side, "holdout" the path holdout's), and the path holdout share
    exam_path: dict[str, Any] = field(default_factory=dict)
    per_day: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _content_part(content_key: pl.Expr, index: int, prefix: str) -> pl.Expr:
    """One numeric parameter of a ``content_key`` (``n<count>``, ``s<seconds>``); null for '-'."""
    return (
        content_key.str.split("|")
        .list.get(index)
        .str.strip_prefix(prefix)
        .cast(pl.Int32, strict=False)
    )


def asked_answers(
    challenge_type: np.ndarray, target: np.ndarray, question_count: np.ndarray
) -> np.ndarray:
    """Answers a challenge asks for: ``quiz`` target × 10; ``accuracy_challenge`` its question
    count; ``streak`` one session; the others their target in questions."""
    t = challenge_type
    return np.select(
        [t == "quiz", t == "accuracy_challenge", t == "streak"],
        [target * SESSION_SIZE, question_count, np.full(t.size, SESSION_SIZE)],
        target,
    ).astype(np.int64)


def act(
    state: Learners, day: dt.date, assignments: pl.DataFrame
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame, dict[str, int]]:
    """One day of learners acting on ``assignments``. Returns the new app rows
    (``question_attempts``, ``quiz_sessions``), the assignments' progress/completed_at,
    and counts. Moves ``state`` forward.

    Blind to the arm: only ``ACT_COLUMNS`` are read (no ``reason``, no ``source``), and the
    source part of ``content_key`` is dropped once its parameters are parsed."""
    rng, n_cat = state.rng, state.n_cat
    day_no = (day - EPOCH).days
    morning_us = int(_local_to_utc(np.array([day_no * US_PER_DAY]))[0])
    # draws of fixed size first, whatever the assignments hold
    p_open = np.array([P_OPEN.get(int(x), 0.0) for x in state.arch]) * state.is_active
    opened = rng.random(state.n) < p_open * np.exp(-FRUSTRATION_OPEN * state.frustration)
    budget = np.maximum(
        1,
        np.round(
            state.habit
            * np.exp(-FRUSTRATION_BUDGET * state.frustration)
            * np.exp(rng.normal(-(BUDGET_SIGMA**2) / 2, BUDGET_SIGMA, state.n))
        ),
    ).astype(np.int64)
    theta_now = state.theta(morning_us)

    a = (
        assignments.select(ACT_COLUMNS)
        .with_columns(
            u=pl.col("user_id") - 1,
            c=pl.col("category").replace_strict(
                {k: i for i, k in enumerate(CATEGORY_KEYS)}, default=-1, return_dtype=pl.Int64
            ),
            ty=pl.col("challenge_type").replace_strict(
                {k: i for i, k in enumerate(TYPE_KEYS)}, default=0, return_dtype=pl.Int64
            ),
            question_count=_content_part(pl.col("content_key"), 3, "n"),
            seconds_limit=_content_part(pl.col("content_key"), 4, "s"),
        )
        .drop("content_key")
    )
    h = a.height
    u = a["u"].to_numpy()
    slot = a["slot"].to_numpy()
    c_given = a["c"].to_numpy()
    c = np.where(c_given >= 0, c_given, rng.integers(0, n_cat, h))
    t = a["challenge_type"].to_numpy()
    target = a["target_value"].to_numpy().astype(np.int64)
    difficulty = a["difficulty"].fill_null(0.5).to_numpy()
    qcount = a["question_count"].fill_null(SESSION_SIZE).to_numpy().astype(np.int64)
    limit = a["seconds_limit"].fill_null(30).to_numpy().astype(np.float64)
    asked = asked_answers(t, target, qcount)

    # take-up: engagement × taste for the type × a mild penalty for effort above the budget
    over = np.maximum(0.0, asked / budget[u] - 1.0) if h else np.zeros(0)
    p_take = state.engagement[u] * state.taste[u, a["ty"].to_numpy()] * np.exp(-OVER_BUDGET * over)
    taken = opened[u] & (rng.random(h) < np.clip(p_take, 0.0, 1.0))
    # the day's budget spent on the taken-up challenges in slot order
    order = np.lexsort((slot, u))
    ask_taken = np.where(taken, asked, 0)[order]
    cum = np.cumsum(ask_taken)
    u_sorted = u[order]
    first_of_user = np.r_[True, u_sorted[1:] != u_sorted[:-1]] if h else np.zeros(0, bool)
    user_base = np.maximum.accumulate(np.where(first_of_user, cum - ask_taken, 0)) if h else cum
    before = np.empty(h, np.int64)
    before[order] = cum - ask_taken - user_base
    given = np.where(taken, np.clip(budget[u] - before, 0, asked), 0).astype(np.int64)

    # sessions: a quiz's full sessions of 10 and what is left; the others one session
    is_quiz = t == "quiz"
    n_full = np.where(is_quiz, given // SESSION_SIZE, 0)
    rest = np.where(is_quiz, given % SESSION_SIZE, given)
    rest_planned = np.where(is_quiz, SESSION_SIZE, asked)
    full_row = np.repeat(np.arange(h), n_full)
    rest_row = np.flatnonzero(rest > 0)
    req_row = np.concatenate([full_row, rest_row])
    req_size = np.concatenate([np.full(full_row.size, SESSION_SIZE), rest[rest_row]])
    req_planned = np.concatenate([np.full(full_row.size, SESSION_SIZE), rest_planned[rest_row]])
    # free practice for learners who opened the app and answered nothing asked
    took = np.zeros(state.n, bool)
    took[u[given > 0]] = True
    free_users = np.flatnonzero(opened & ~took)
    free_size = np.minimum(budget[free_users], SESSION_SIZE)
    s_user = np.concatenate([u[req_row], free_users]).astype(np.int64)
    s_cat = np.concatenate([c[req_row], rng.integers(0, n_cat, free_users.size)])
    s_size = np.concatenate([req_size, free_size]).astype(np.int64)
    s_planned = np.concatenate([req_planned, free_size]).astype(np.int64)
    s_row = np.concatenate([req_row, np.full(free_users.size, -1)]).astype(np.int64)
    n_s = s_user.size

    # answers: a challenge's questions near its difficulty (a quantile of the category's
    # true difficulties), free practice's uniform over the category
    a_sess = np.repeat(np.arange(n_s), s_size)
    n_a = a_sess.size
    a_user, a_cat, a_row = s_user[a_sess], s_cat[a_sess], s_row[a_sess]
    pool_len = np.array([len(p) for p in state.q_by_cat])
    # per-assignment values indexed by a_row; -1 (free practice) takes the padding
    aimed = np.clip(np.r_[difficulty, 0.5][a_row] + rng.normal(0.0, AIM_SPREAD, n_a), 0, 1)
    uniform = rng.random(n_a)
    quantile = np.where(a_row >= 0, aimed, uniform)
    pick = np.minimum((quantile * pool_len[a_cat]).astype(np.int64), pool_len[a_cat] - 1)
    offsets = np.concatenate([[0], np.cumsum(pool_len)[:-1]])
    a_q = np.concatenate(state.q_by_cat)[offsets[a_cat] + pick]
    theta = theta_now[a_user, a_cat]
    q_diff = state.q_true[a_q]
    a_right = rng.random(n_a) < _sigmoid(theta - DIFFICULTY_SLOPE * (q_diff - 0.5))
    hurry = np.r_[t == "speed_challenge", False][a_row]
    spent = np.round(
        np.clip(
            np.exp(
                np.log(12.0)
                + 0.9 * (q_diff - 0.5)
                - 0.18 * np.clip(theta, -3, 4)
                + state.speed[a_user]
                - HURRY * hurry
                + rng.normal(0, 0.45, n_a)
            ),
            1.5,
            300.0,
        ),
        2,
    )
    # evening sessions: each learner's sessions one after another from 18:00 Oslo
    s_order = np.argsort(s_user, kind="stable")
    step_sec = (spent + 3.0) * US_PER_S
    s_len = np.bincount(a_sess, weights=step_sec, minlength=n_s).astype(np.int64) + 120 * US_PER_S
    s_cum = np.zeros(n_s, np.int64)
    if n_s:
        su = s_user[s_order]
        lens = s_len[s_order]
        csum = np.cumsum(lens)
        start_of_user = np.r_[0, np.flatnonzero(np.diff(su)) + 1]
        base = np.repeat(
            csum[start_of_user] - lens[start_of_user], np.diff(np.r_[start_of_user, n_s])
        )
        s_cum[s_order] = csum - lens - base
    s_start = _local_to_utc(np.full(n_s, day_no * US_PER_DAY + 18 * 3600 * US_PER_S)) + s_cum
    within = (
        np.cumsum(step_sec)
        - np.repeat(
            np.r_[0, np.cumsum(np.bincount(a_sess, weights=step_sec, minlength=n_s))[:-1]], s_size
        )
        if n_a
        else np.zeros(0, np.int64)
    )
    a_at = (s_start[a_sess] + within).astype(np.int64)
    s_correct = np.bincount(a_sess, weights=a_right, minlength=n_s).astype(np.int64)
    s_end = s_start + s_len - 60 * US_PER_S
    s_finished = s_size >= s_planned

    # progress and completion per assignment, from the simulated answers
    mine = a_row >= 0
    row_right = np.bincount(a_row[mine], weights=a_right[mine], minlength=h).astype(np.int64)
    row_fast = np.bincount(
        a_row[mine], weights=spent[mine] < limit[a_row[mine]], minlength=h
    ).astype(np.int64)
    practised = np.zeros(state.n, bool)
    practised[s_user] = True
    new_streak = np.where(practised, np.where(state.last_day == day_no - 1, state.streak + 1, 1), 0)
    full = (given >= asked) & (given > 0)
    percent = np.round(100 * row_right / np.maximum(given, 1))
    progress = np.select(
        [
            t == "quiz",
            t == "streak",
            t == "accuracy_challenge",
            t == "perfect_score",
            t == "speed_challenge",
        ],
        [
            given // SESSION_SIZE,
            new_streak[u],
            np.where(given > 0, percent, 0),
            row_right,
            row_fast,
        ],
        np.minimum(given, target),
    ).astype(np.int64)
    completed = np.select(
        [t == "streak", t == "accuracy_challenge", t == "perfect_score", t == "speed_challenge"],
        [
            practised[u] & (new_streak[u] >= target),
            full & (percent >= target),
            full & (row_right >= target),
            full & (row_fast >= target),
        ],
        full,
    )
    row_end = np.full(h, -1, np.int64)
    np.maximum.at(row_end, s_row[s_row >= 0], s_end[s_row >= 0])
    user_end = np.full(state.n, -1, np.int64)
    np.maximum.at(user_end, s_user, s_end)
    done_at = np.where(completed, np.where(t == "streak", user_end[u], row_end), -1)

    # state forward
    np.add.at(state.count, (a_user, a_cat), 1)
    if a_sess.size:
        last = np.full(state.n * n_cat, -1, np.int64)
        np.maximum.at(last, a_user * n_cat + a_cat, a_at)
        state.last_at = np.maximum(state.last_at, last.reshape(state.n, n_cat))
    xp_today = (
        np.bincount(a_user, weights=a_right, minlength=state.n).astype(np.int64) * XP_PER_CORRECT
    )
    xp_today += np.bincount(
        u[completed], weights=a["xp_reward"].to_numpy()[completed], minlength=state.n
    ).astype(np.int64)
    state.xp += xp_today
    state.streak = np.where(
        practised, new_streak, np.where(state.last_day >= day_no - 1, state.streak, 0)
    )
    state.longest = np.maximum(state.longest, state.streak)
    state.last_day = np.where(practised, day_no, state.last_day)
    answered = np.bincount(a_user, minlength=state.n)
    wrong = answered - np.bincount(a_user, weights=a_right, minlength=state.n)
    bad_day = np.maximum(0.0, wrong / np.maximum(answered, 1) - FRUSTRATION_FROM)
    state.frustration = FRUSTRATION_KEEP * state.frustration + FRUSTRATION_GAIN * bad_day
    state.practised.append(practised)

    sess_ids = np.arange(state.next_session, state.next_session + n_s, dtype=np.int64)
    att_ids = np.arange(state.next_attempt, state.next_attempt + a_sess.size, dtype=np.int64)
    state.next_session += n_s
    state.next_attempt += a_sess.size
    cats = pl.Series(list(CATEGORY_KEYS), dtype=pl.String)

    def ts(us: np.ndarray) -> pl.Series:
        return pl.Series(us, dtype=pl.Int64).cast(pl.Datetime("us"))

    frames = {
        "quiz_sessions": pl.DataFrame(
            {
                "id": sess_ids,
                "user_id": s_user + 1,
                "quiz_type": pl.Series(["category"] * n_s, dtype=pl.String),
                "category": cats.gather(s_cat),
                "started_at": ts(s_start),
                "completed_at": ts(np.where(s_finished, s_end, 0)).set(
                    pl.Series(~s_finished), None
                ),
                "total_questions": pl.Series(s_planned, dtype=pl.Int32),
                "correct_answers": pl.Series(s_correct, dtype=pl.Int32),
            }
        ),
        "question_attempts": pl.DataFrame(
            {
                "id": att_ids,
                "user_id": a_user + 1,
                "question_id": a_q + 1,
                "quiz_session_id": sess_ids[a_sess],
                "is_correct": pl.Series(a_right, dtype=pl.Boolean),
                "time_spent_seconds": spent,
                "answered_at": ts(a_at),
            }
        ),
    }
    updates = a.select("user_id", "slot").with_columns(
        progress=pl.Series(progress, dtype=pl.Int32),
        completed_at=pl.Series(done_at, dtype=pl.Int64)
        .set(pl.Series(done_at) < 0, None)
        .cast(pl.Datetime("us")),
    )
    counts = {
        "opened": int(opened.sum()),
        "taken_up": int(taken.sum()),
        "completed": int(completed.sum()),
        "answers": int(a_sess.size),
    }
    return frames, updates, counts


def write_simulated_day(
    url: str, day: dt.date, state: Learners, frames: dict[str, pl.DataFrame], updates: pl.DataFrame
) -> None:
    """Write a day's app rows in one transaction: new sessions and answers, assignment
    progress, learners' XP and streaks."""
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"

    def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
        """Parameters for a raw ``text()`` statement (SQLAlchemy types do not apply)."""
        out = frame.to_dicts()
        if sqlite:  # SQLAlchemy's SQLite text forms
            for r in out:
                for k, v in r.items():
                    if isinstance(v, dt.datetime):
                        r[k] = v.strftime("%Y-%m-%d %H:%M:%S.%f")
        return out

    from models.tables import Base

    try:
        with engine.begin() as conn:
            for name in ("quiz_sessions", "question_attempts"):
                if frames[name].height:
                    conn.execute(Base.metadata.tables[name].insert(), frames[name].to_dicts())
            if updates.height:
                conn.execute(
                    text(
                        "UPDATE user_daily_challenges SET progress = :progress, "
                        "completed_at = :completed_at WHERE user_id = :user_id "
                        "AND challenge_date = :challenge_date AND slot = :slot"
                    ),
                    [
                        {**r, "challenge_date": day.isoformat() if sqlite else day}
                        for r in rows(updates)
                    ],
                )
            prog = pl.DataFrame(
                {
                    "user_id": np.arange(1, state.n + 1),
                    "total_xp": state.xp,
                    "level": 1 + np.floor(np.sqrt(state.xp / 100)).astype(np.int64),
                    "current_streak": state.streak,
                    "longest_streak": state.longest,
                }
            )
            conn.execute(
                text(
                    "UPDATE user_progress SET total_xp = :total_xp, level = :level, "
                    "current_streak = :current_streak, longest_streak = :longest_streak "
                    "WHERE user_id = :user_id"
                ),
                prog.to_dicts(),
            )
    finally:
        engine.dispose()


def play_days(
    url: str,
    *,
    users: int,
    seed: int,
    start: dt.date,
    days: int,
    train_every: int = 7,
    on_day: Callable[[DayResult], None] | None = None,
) -> DaysReport:
    """Simulate a history ending the day before ``start``, then play ``days`` days: each
    night the real nightly flow, each day the learners acting on it."""
    from daglig.config import Settings
    from flows.daily_challenges import generate_daily_challenges
    from flows.train_completion_model import train_completion_model
    from flows.train_learner_model import train_learner_model

    t0 = time.perf_counter()
    data = simulate_frames(users=users, seed=seed, end_date=start - dt.timedelta(days=1))
    load_frames(url, data.frames, replace=True)
    state = Learners(data, seed)
    start_us = int(day_end_utc(start - dt.timedelta(days=1)).timestamp() * US_PER_S)
    mastery_start = state.mastery(start_us)
    report = DaysReport(
        users=users, days=days, start=start.isoformat(), holdout_share=Settings().ml_holdout_share
    )
    report.seconds["simulate_history"] = round(time.perf_counter() - t0, 2)
    first: pl.DataFrame | None = None
    flags: list[pl.DataFrame] = []
    count_start = state.count.copy()
    for i in range(days):
        day = start + dt.timedelta(days=i)
        if i % train_every == 0:
            t = time.perf_counter()
            train_learner_model(as_of=day)
            train_completion_model(as_of=day)  # none until enough outcomes (says why)
            report.seconds["train"] = report.seconds.get("train", 0.0) + round(
                time.perf_counter() - t, 2
            )
        t = time.perf_counter()
        result = generate_daily_challenges(run_date=day)
        flow_s = time.perf_counter() - t
        assignments = read_frame(url, "sim/day_assignments", {"challenge_date": day}, DAY_SCHEMA)
        frames, updates, counts = act(state, day, assignments)
        write_simulated_day(url, day, state, frames, updates)
        if first is None:
            first = assignments
        flags.append(struggle_flags(assignments, i))
        day_result = DayResult(
            day=day.isoformat(),
            flow_seconds=round(flow_s, 2),
            ml_status=result.get("ml_status"),
            assignments=assignments.height,
            completion_model=result.get("completion_model_version"),
            struggling=flags[-1].height,
            **counts,
        )
        report.per_day.append(asdict(day_result))
        if on_day:
            on_day(day_result)
    end_us = int(day_end_utc(start + dt.timedelta(days=days - 1)).timestamp() * US_PER_S)
    _compare(
        report,
        url,
        first,
        (start, start + dt.timedelta(days=days - 1)),
        (mastery_start, state.mastery(end_us)),
        state.count - count_start,
        exam_allocation(data.frames["questions"]),
    )
    _compare_struggle(report, url, pl.concat(flags), np.array(state.practised), start)
    report.seconds["total"] = round(time.perf_counter() - t0, 2)
    return report


def _compare(
    report: DaysReport,
    url: str,
    first: pl.DataFrame | None,
    period: tuple[dt.date, dt.date],
    mastery: tuple[np.ndarray, np.ndarray],
    answered: np.ndarray,
    allocation: dict[str, int],
) -> None:
    """ML group vs holdout: completion per learner, weak-category mastery growth, the
    answers each learner gave in those categories during the period, the growth of exam
    readiness from the true mastery (exam spread as ``allocation``) and all answers given."""
    start, end = period
    m0, m1 = mastery
    if first is None or first.is_empty():
        return
    group = (
        first.group_by("user_id")
        .agg(
            ml=(pl.col("source") == "ml").any(),
            holdout=pl.col("reason").str.contains('"ml_holdout":true').any(),
        )
        .with_columns(
            group=pl.when(pl.col("ml"))
            .then(pl.lit("ml"))
            .when(pl.col("holdout"))
            .then(pl.lit("holdout"))
        )
        .drop_nulls("group")
        .select("user_id", "group")
    )
    report.ml_users = int((group["group"] == "ml").sum())
    report.holdout_users = int((group["group"] == "holdout").sum())
    with engine_of(url) as engine, engine.connect() as conn:
        done = pl.DataFrame(
            conn.execute(
                text(
                    "SELECT user_id, COUNT(*) AS n, "
                    "SUM(CASE WHEN completed_at IS NOT NULL THEN 1 ELSE 0 END) AS done "
                    "FROM user_daily_challenges WHERE challenge_date BETWEEN :a AND :b "
                    "GROUP BY user_id"
                ),
                {"a": start.isoformat(), "b": end.isoformat()},
            ).all(),
            schema={"user_id": pl.Int64, "n": pl.Int64, "done": pl.Int64},
            orient="row",
        )
    per_user = group.join(done, on="user_id", how="left").with_columns(
        rate=pl.col("done") / pl.col("n")
    )

    def by(frame: pl.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
        return (
            frame.filter(pl.col("group") == "ml")[col].cast(pl.Float64).to_numpy(),
            frame.filter(pl.col("group") == "holdout")[col].cast(pl.Float64).to_numpy(),
        )

    report.completion = welch(*by(per_user, "rate"))
    # each learner's WEAK_K truly weakest categories at the start; their mastery growth
    idx = group["user_id"].to_numpy() - 1
    weakest = np.argsort(m0[idx], axis=1)[:, :WEAK_K]
    rows = np.arange(idx.size)[:, None]
    gain = (m1[idx][rows, weakest] - m0[idx][rows, weakest]).mean(axis=1)
    g = group.with_columns(gain=pl.Series(gain))
    report.weak_mastery_gain = welch(*by(g, "gain"))
    g = g.with_columns(weak_answers=pl.Series(answered[idx][rows, weakest].sum(axis=1)))
    report.weak_answers_per_user = welch(*by(g, "weak_answers"))
    readiness = exam_readiness(m1[idx], allocation) - exam_readiness(m0[idx], allocation)
    g = g.with_columns(
        readiness_gain=pl.Series(readiness), answers=pl.Series(answered[idx].sum(axis=1))
    )
    report.exam_readiness_gain = welch(*by(g, "readiness_gain"))
    report.answers_per_user = welch(*by(g, "answers"))
    report.exam_path = compare_paths(first, mastery, allocation)


def compare_paths(
    first: pl.DataFrame, mastery: tuple[np.ndarray, np.ndarray], allocation: dict[str, int]
) -> dict[str, Any]:
    """The week's path to the exam vs the path holdout: each learner's arm from the first
    night's reasons (``"exam_path":`` on the path's slot, ``"path_holdout":true`` on the
    holdout's first slot), and the gain of exam readiness of their true mastery from the
    start to the end of the period, compared with :func:`welch` (``ml``: the path's side)."""
    from daglig.config import Settings

    m0, m1 = mastery
    arm = (
        first.group_by("user_id")
        .agg(
            path=pl.col("reason").str.contains('"exam_path":', literal=True).any(),
            held=pl.col("reason").str.contains('"path_holdout":true', literal=True).any(),
        )
        .with_columns(
            arm=pl.when(pl.col("path") & ~pl.col("held"))
            .then(pl.lit("path"))
            .when(pl.col("held") & ~pl.col("path"))
            .then(pl.lit("holdout"))
        )
        .drop_nulls("arm")
        .sort("user_id")
    )
    idx = arm["user_id"].to_numpy() - 1
    gain = exam_readiness(m1[idx], allocation) - exam_readiness(m0[idx], allocation)
    on = arm["arm"].to_numpy()
    return {
        "path_holdout_share": Settings().path_holdout_share,
        "path_users": int((on == "path").sum()),
        "holdout_users": int((on == "holdout").sum()),
        "exam_readiness_gain": welch(gain[on == "path"], gain[on == "holdout"]),
    }


_SIGNALS = r'"struggle":\{"signals":\[([^\]]*)\]'


def struggle_flags(assignments: pl.DataFrame, day_index: int) -> pl.DataFrame:
    """The learners a night found struggling, from its reasons (the report's side, not the
    learners'): ``user_id``, ``day_index``, ``held`` (the struggle holdout), ``signals``."""
    reason = pl.col("reason")
    return (
        assignments.filter(reason.str.contains('"struggle":', literal=True))
        .group_by("user_id")
        .agg(reason.first())
        .select(
            "user_id",
            day_index=pl.lit(day_index, pl.Int32),
            held=reason.str.contains(_SIGNALS + r',"holdout":true\}'),
            signals=reason.str.extract(_SIGNALS, 1).str.replace_all('"', "").str.split(","),
        )
        .sort("user_id")
    )


def _compare_struggle(
    report: DaysReport, url: str, flags: pl.DataFrame, practised: np.ndarray, start: dt.date
) -> None:
    """Struggling learners, adapted vs held out, each from the night they were first found
    (until then both arms were treated alike, so the arms stay comparable): completion
    rate of their challenges and return rate (share of days they answered anything), each
    difference with its 95 % Welch interval; and how often each signal fired that night."""
    if flags.is_empty() or practised.size == 0:
        return
    days = practised.shape[0]
    cohort = flags.sort("day_index").group_by("user_id").first()
    i0 = cohort["day_index"].to_numpy()
    u = cohort["user_id"].to_numpy() - 1
    left = np.cumsum(practised[::-1], axis=0)[::-1]  # answered on day i or later, per user
    cohort = cohort.with_columns(
        return_rate=pl.Series(left[i0, u] / (days - i0)),
        first_day=pl.Series([start + dt.timedelta(days=int(i)) for i in i0], dtype=pl.Date),
    )
    with engine_of(url) as engine, engine.connect() as conn:
        got = conn.execute(
            text(
                "SELECT user_id, challenge_date, "
                "CASE WHEN completed_at IS NOT NULL THEN 1 ELSE 0 END AS done "
                "FROM user_daily_challenges WHERE challenge_date >= :a"
            ),
            {"a": start.isoformat()},
        ).all()
    rows = pl.DataFrame(  # a date on PostgreSQL, its ISO text on SQLite
        [(int(uid), str(day)[:10], int(d)) for uid, day, d in got],
        schema={"user_id": pl.Int64, "challenge_date": pl.String, "done": pl.Int64},
        orient="row",
    ).with_columns(pl.col("challenge_date").str.to_date())
    done = (
        rows.join(cohort.select("user_id", "first_day"), on="user_id")
        .filter(pl.col("challenge_date") >= pl.col("first_day"))
        .group_by("user_id")
        .agg(completion=pl.col("done").mean())
    )
    cohort = cohort.join(done, on="user_id", how="left")

    def arms(col: str) -> dict[str, float | int | None]:
        adapted = cohort.filter(~pl.col("held"))[col].cast(pl.Float64).to_numpy()
        held = cohort.filter(pl.col("held"))[col].cast(pl.Float64).to_numpy()
        d = welch(adapted, held)  # its "ml" side is the adapted, "holdout" the held out
        names = {
            "ml": "adapted",
            "holdout": "held_out",
            "n_ml": "n_adapted",
            "n_holdout": "n_held_out",
        }
        return {names.get(k, k): v for k, v in d.items()}

    signals = cohort.explode("signals").group_by("signals").len().sort("signals")
    report.struggle = {
        "learners": cohort.height,
        "adapted": int((~cohort["held"]).sum()),
        "held_out": int(cohort["held"].sum()),
        "signals_first_night": dict(signals.iter_rows()),
        "completion": arms("completion"),
        "return_rate": arms("return_rate"),
    }
