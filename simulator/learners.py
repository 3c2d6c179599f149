"""The learner model: vectorised generation of the app's tables plus the true learner state.

Everything is drawn from one ``numpy.random.default_rng(seed)`` in a fixed order, with
numpy arrays over all users / sessions / answers at once (the only Python loops run over
the 12 categories or the five archetypes), so the same arguments give identical frames.
A later chunk of a chunked simulation (``chunk`` > 0) takes the question bank from that
same stream and its learners from child streams (:func:`chunk_streams`).

See docs/simulator.md for the model in words. Time is handled as int64 microseconds since
the Unix epoch: ``*_utc`` arrays are naive UTC (the contract's form), ``*_local`` arrays are
Europe/Oslo wall-clock time; conversions go through polars' time-zone database, so DST
is exact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from daglig.catalogue import CATEGORY_KEYS

TZ = "Europe/Oslo"
US_PER_S = 1_000_000
US_PER_H = 3_600 * US_PER_S
US_PER_DAY = 86_400 * US_PER_S
EPOCH = dt.date(1970, 1, 1)

ARCHETYPES: tuple[str, ...] = ("new", "casual", "heavy", "lapsed", "inactive")
NEW, CASUAL, HEAVY, LAPSED, INACTIVE = range(5)
ARCHETYPE_MIX = np.array([0.10, 0.40, 0.15, 0.25, 0.10])
# Expected answers of an archetype relative to a casual learner (new: none; inactive: the
# half of them that practised at all).
RELATIVE_ANSWERS = np.array([0.0, 1.0, 4.0, 0.8, 0.6])
INACTIVE_WITH_ANSWERS = 0.5

# Latent-skill offset per category: some topics are systematically harder.
CATEGORY_OFFSET: dict[str, float] = {
    "traffic_signs": 0.45,
    "road_markings": 0.25,
    "right_of_way": -0.55,
    "traffic_rules": 0.0,
    "speed_and_distance": -0.2,
    "dangerous_situations": -0.65,
    "vehicle_and_equipment": 0.3,
    "human_factors": 0.2,
    "environment": 0.4,
    "lights_and_visibility": 0.0,
    "winter_driving": -0.45,
    "accidents_and_first_aid": -0.1,
}

# Skill model: theta = base + g * log1p(prior answers in the category) * fade(days since the
# previous answer in the category); fade(t) = RETAINED + (1 - RETAINED) * exp(-t / FADE_DAYS).
ABILITY_MEAN, ABILITY_SD = 0.7, 0.8
CATEGORY_SD = 0.45
# Weak spots: most learners have one or two categories they never really got (a chapter
# skipped, a rule misunderstood): a deficit on top of the per-category spread. Drawn from
# their own stream so the rest of the simulation does not move with these settings.
WEAK_SPOTS_P = np.array([0.15, 0.55, 0.30])  # P(0, 1, 2 weak spots)
WEAK_SPOT_DEFICIT = (1.0, 2.0)  # uniform, in logits
LEARN_RATE = 0.28
RETAINED = 0.55
FADE_DAYS = 30.0
DIFFICULTY_SLOPE = 3.0  # k in P = sigmoid(theta - k (difficulty - 0.5))

# Quiz sessions.
QUIZ_TYPES: tuple[str, ...] = ("practice", "category", "exam")
QUIZ_TYPE_P = np.array([0.50, 0.35, 0.15])
SHORT_SIZES = np.array([5, 10, 15, 20])
SHORT_SIZES_P = np.array([0.15, 0.60, 0.15, 0.10])
EXAM_SIZE = 45
ABANDON_P = 0.10
SESSION_GAP_S = 60  # at least this much between the end of one session and the next start

# Oslo wall-clock hour of session starts: evening peak, little at night.
HOUR_WEIGHTS = np.array(
    [0.6, 0.25, 0.1, 0.1, 0.1, 0.3, 1.0, 2.5, 3.0, 2.5, 2.5, 3.0,
     3.5, 3.0, 3.0, 3.5, 4.0, 4.5, 5.5, 7.0, 7.5, 7.0, 5.0, 2.2]
)  # fmt: skip

XP_PER_CORRECT = 10
XP_PER_LEVEL_STEP = 100  # level = 1 + floor(sqrt(xp / 100))

NO_DIFFICULTY_P = 0.10
INACTIVE_QUESTION_P = 0.03


@dataclass(frozen=True)
class SimulatedData:
    """The generated tables (``frames``) plus per-user archetype labels (for tests/reports)."""

    frames: dict[str, pl.DataFrame]
    archetype: np.ndarray  # per user (index = user id - 1): an index into ARCHETYPES
    cutoff_utc: dt.datetime  # end of end_date in Oslo, naive UTC: nothing is at or after it
    latent: dict[str, np.ndarray] = field(default_factory=dict)
    # The hidden state the day-by-day player continues from (simulator/days.py): base
    # (users × categories logits), learn (per user), speed (per user), q_true (true
    # question difficulty, by question index), q_cat, q_active, count_uc and last_at_uc
    # (answers and last answer µs per user × category at the cutoff).

    @property
    def by_archetype(self) -> dict[str, int]:
        counts = np.bincount(self.archetype, minlength=len(ARCHETYPES))
        return {name: int(counts[i]) for i, name in enumerate(ARCHETYPES)}


# --------------------------------------------------------------------------- time helpers


def _local_to_utc(local_us: np.ndarray) -> np.ndarray:
    """Oslo wall-clock µs → naive-UTC µs. Times skipped by the spring DST jump move one hour
    on; ambiguous autumn times take the earlier (summer-time) instant."""
    s = pl.Series("t", local_us, dtype=pl.Int64).cast(pl.Datetime("us"))
    frame = pl.DataFrame({"t": s}).select(
        a=pl.col("t").dt.replace_time_zone(TZ, ambiguous="earliest", non_existent="null"),
        b=(pl.col("t") + pl.duration(hours=1)).dt.replace_time_zone(
            TZ, ambiguous="earliest", non_existent="null"
        ),
    )
    out = frame.select(
        pl.coalesce("a", "b").dt.convert_time_zone("UTC").dt.replace_time_zone(None).cast(pl.Int64)
    )
    return out.to_series().to_numpy()


def _utc_offsets(utc_us: np.ndarray) -> np.ndarray:
    """Oslo UTC offset (µs) at each naive-UTC instant. Oslo's offset only changes on whole
    UTC hours, so one lookup per hour of the covered range is exact."""
    if utc_us.size == 0:
        return np.zeros(0, dtype=np.int64)
    h = utc_us // US_PER_H
    h0, h1 = int(h.min()), int(h.max())
    hours = np.arange(h0, h1 + 1, dtype=np.int64) * US_PER_H
    local = (
        pl.Series("t", hours, dtype=pl.Int64)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(TZ)
        .dt.replace_time_zone(None)
        .cast(pl.Int64)
        .to_numpy()
    )
    return (local - hours)[h - h0]


def _oslo_day(utc_us: np.ndarray) -> np.ndarray:
    """Oslo calendar day (days since 1970-01-01) of naive-UTC instants."""
    return (utc_us + _utc_offsets(utc_us)) // US_PER_DAY


def day_end_utc(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` in Oslo, as naive UTC."""
    local = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(TZ))
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def _us(ts: dt.datetime) -> int:
    return (ts - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


def _segment_starts(counts: np.ndarray) -> np.ndarray:
    starts = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class FirstIds:
    """Ids already taken by earlier chunks of a chunked simulation: this chunk's users,
    quiz sessions and attempts are numbered from ``users + 1``, ``sessions + 1`` and
    ``attempts + 1``. Question ids are never offset (every chunk shares the bank)."""

    users: int = 0
    sessions: int = 0
    attempts: int = 0

    def after(self, frames: dict[str, pl.DataFrame]) -> FirstIds:
        """The offsets for the chunk that follows the one whose ``frames`` these are."""
        return FirstIds(
            users=self.users + frames["users"].height,
            sessions=self.sessions + frames["quiz_sessions"].height,
            attempts=self.attempts + frames["question_attempts"].height,
        )


def chunk_streams(seed: int, chunk: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(main, weak-spot) random streams of learner chunk ``chunk``.

    Chunk 0 keeps the unchunked streams (``default_rng(seed)`` after the question bank,
    ``default_rng([seed, 7])``), so a simulation that fits in one chunk is unchanged. Later
    chunks get child streams of the same seed sequences (numpy's spawn key), independent of
    each other and of chunk 0.
    """
    if chunk == 0:
        raise ValueError("chunk 0 draws from the question bank's stream; see simulate_frames")
    main = np.random.SeedSequence(seed, spawn_key=(chunk,))
    weak = np.random.SeedSequence([seed, 7], spawn_key=(chunk,))
    return np.random.default_rng(main), np.random.default_rng(weak)


@dataclass(frozen=True)
class QuestionBank:
    """The question bank: category, true and observed difficulty, and which are active
    (``active_ids`` sorted by category, ``act_count``/``act_start`` per category)."""

    q_cat: np.ndarray
    q_true: np.ndarray
    q_obs: np.ndarray
    q_null: np.ndarray
    q_active: np.ndarray
    active_ids: np.ndarray
    act_count: np.ndarray
    act_start: np.ndarray


@dataclass(frozen=True)
class Learners:
    """Per user: archetype, skill (``base``: users × categories logits), learning rate,
    speed, number of sessions and the active span [first, last] in day offsets."""

    arch: np.ndarray
    base: np.ndarray
    learn: np.ndarray
    speed: np.ndarray
    n_sess: np.ndarray
    first: np.ndarray
    last: np.ndarray


@dataclass(frozen=True)
class Sessions:
    """Per quiz session, in time order per user (users stay grouped, in user order)."""

    user: np.ndarray
    start: np.ndarray
    type: np.ndarray
    size: np.ndarray
    cat: np.ndarray
    abandoned: np.ndarray
    answered: np.ndarray


@dataclass(frozen=True)
class AnswerSlots:
    """Per answer: its session, user, category, question and true difficulty, and the
    grouping by (user, category) that keeps time order inside each group."""

    sess: np.ndarray
    first_answer: np.ndarray  # per session: the index of its first answer
    user: np.ndarray
    cat: np.ndarray
    q: np.ndarray
    diff: np.ndarray
    uc: np.ndarray
    by_uc: np.ndarray
    uc_sorted: np.ndarray
    new_group: np.ndarray
    group_start: np.ndarray
    group_len: np.ndarray
    prior: np.ndarray


@dataclass(frozen=True)
class Answered:
    """When each answer was given, how long it took and whether it was right; the
    sessions' final start, completion (-1: abandoned) and correct answers."""

    spent: np.ndarray
    at: np.ndarray
    correct: np.ndarray
    t_sorted: np.ndarray  # ``at`` in (user, category) order
    s_start: np.ndarray
    s_completed: np.ndarray
    s_correct: np.ndarray


def simulate_frames(
    *,
    users: int,
    seed: int,
    end_date: dt.date,
    history_days: int = 180,
    answers_per_user: float = 100.0,
    questions_per_category: int = 100,
    chunk: int = 0,
    first_ids: FirstIds = FirstIds(),  # noqa: B008 (frozen, so a shared default is safe)
) -> SimulatedData:
    """Generate every table; see :func:`simulator.generate`.

    ``chunk`` > 0 makes one later chunk of a larger simulation: the same question bank
    (drawn from ``default_rng(seed)`` as always), its learners from the chunk's own streams
    (:func:`chunk_streams`) and its ids numbered after ``first_ids``. Inside a chunk the
    archetype and latent arrays are indexed by ``user id - 1 - first_ids.users``.

    The steps below draw from the streams in this order; keep it (same seed, same data).
    """
    if users < 0 or history_days < 1 or questions_per_category < 1 or answers_per_user < 0:
        raise ValueError(
            "users, answers_per_user must be >= 0; history_days, questions_per_category >= 1"
        )
    if chunk < 0:
        raise ValueError("chunk must be >= 0")
    rng = np.random.default_rng(seed)
    n_cat = len(CATEGORY_KEYS)
    cutoff = day_end_utc(end_date)
    cutoff_us = _us(cutoff)
    end_day = (end_date - EPOCH).days

    bank = _question_bank(rng, n_cat, questions_per_category)
    if chunk == 0:
        weak_rng = np.random.default_rng([seed, 7])
    else:  # the bank above is chunk 0's; the learners come from the chunk's own streams
        rng, weak_rng = chunk_streams(seed, chunk)
    people = _learners(rng, weak_rng, users, n_cat, answers_per_user, history_days)
    sessions = _sessions(rng, people, n_cat, end_day)
    slots = _answer_slots(rng, sessions, bank, n_cat)
    answered = _answer(rng, people, sessions, slots, cutoff_us)
    created, login = _user_timestamps(rng, people, answered.s_start, users, cutoff_us, history_days)

    # user_progress
    n = users
    correct_per_user = np.bincount(
        slots.user, weights=answered.correct.astype(np.int64), minlength=n
    ).astype(np.int64)
    total_xp = XP_PER_CORRECT * correct_per_user
    level = 1 + np.floor(np.sqrt(total_xp / XP_PER_LEVEL_STEP)).astype(np.int64)
    cur, longest, last_day = _streaks(slots.user, _oslo_day(answered.at), n, end_day)

    gt_theta, count_uc, last_at_uc = _ground_truth(people, slots, answered, n, n_cat, cutoff_us)

    # ids in time order
    n_s = len(sessions.user)
    s_rank = np.argsort(answered.s_start, kind="stable")
    s_id = np.empty(n_s, dtype=np.int64)
    s_id[s_rank] = np.arange(1, n_s + 1)
    a_rank = np.argsort(answered.at, kind="stable")

    frames = _frames(
        n=n,
        first_ids=first_ids,
        arch=people.arch,
        created=created,
        login=login,
        total_xp=total_xp,
        level=level,
        cur=cur,
        longest=longest,
        last_day=last_day,
        q_cat=bank.q_cat,
        q_obs=bank.q_obs,
        q_null=bank.q_null,
        q_active=bank.q_active,
        s_rank=s_rank,
        s_user=sessions.user,
        s_type=sessions.type,
        s_cat=sessions.cat,
        s_start=answered.s_start,
        s_completed=answered.s_completed,
        s_size=sessions.size,
        s_correct=answered.s_correct,
        a_rank=a_rank,
        a_user=slots.user,
        a_q=slots.q,
        a_sess_id=s_id[slots.sess],
        a_correct=answered.correct,
        a_spent=answered.spent,
        a_at=answered.at,
        gt_theta=gt_theta,
        gt_mastery=_sigmoid(gt_theta),
        gt_count=count_uc,
    )
    latent = {
        "base": people.base,
        "learn": people.learn,
        "speed": people.speed,
        "q_true": bank.q_true,
        "q_cat": bank.q_cat,
        "q_active": bank.q_active,
        "count_uc": count_uc,
        "last_at_uc": np.where(count_uc > 0, last_at_uc, -1),
    }
    return SimulatedData(frames=frames, archetype=people.arch, cutoff_utc=cutoff, latent=latent)


def _question_bank(rng: np.random.Generator, n_cat: int, qpc: int) -> QuestionBank:
    """``qpc`` questions per category; every category keeps at least one active one."""
    n_q = n_cat * qpc
    q_cat = np.repeat(np.arange(n_cat), qpc)
    q_true = rng.beta(2.4, 2.4, n_q)
    q_obs = np.clip(np.round(q_true + rng.normal(0.0, 0.05, n_q), 2), 0.0, 1.0)
    q_null = rng.random(n_q) < NO_DIFFICULTY_P
    q_active = rng.random(n_q) >= INACTIVE_QUESTION_P
    for c in range(n_cat):
        if not q_active[c * qpc : (c + 1) * qpc].any():
            q_active[c * qpc] = True
    active_ids = np.flatnonzero(q_active)  # sorted by category since ids are category-major
    act_count = np.bincount(q_cat[active_ids], minlength=n_cat)
    return QuestionBank(
        q_cat, q_true, q_obs, q_null, q_active, active_ids, act_count, _segment_starts(act_count)
    )


def _learners(
    rng: np.random.Generator,
    weak_rng: np.random.Generator,
    n: int,
    n_cat: int,
    answers_per_user: float,
    history_days: int,
) -> Learners:
    """Archetypes, skills, sessions per user (scaled so that the mean answers per user is
    about ``answers_per_user``) and each user's active span."""
    earliest = -(history_days - 1)  # day offsets are relative to end_date (0 = end_date)
    arch = rng.choice(len(ARCHETYPES), size=n, p=ARCHETYPE_MIX).astype(np.int64)
    practised = rng.random(n) < INACTIVE_WITH_ANSWERS
    has_answers = np.isin(arch, (CASUAL, HEAVY, LAPSED)) | ((arch == INACTIVE) & practised)
    ability = rng.normal(ABILITY_MEAN, ABILITY_SD, n)
    learn = LEARN_RATE * np.exp(rng.normal(0.0, 0.35, n))
    speed = rng.normal(0.0, 0.25, n)
    offsets = np.array([CATEGORY_OFFSET.get(k, 0.0) for k in CATEGORY_KEYS])
    base = ability[:, None] + offsets[None, :] + rng.normal(0.0, CATEGORY_SD, (n, n_cat))
    base -= _weak_spots(weak_rng, n, n_cat)

    sizes_mean = float(SHORT_SIZES @ SHORT_SIZES_P)
    answered_short = (1 - ABANDON_P) * sizes_mean + ABANDON_P * (sizes_mean / 2)
    answered_exam = (1 - ABANDON_P) * EXAM_SIZE + ABANDON_P * (EXAM_SIZE / 2)
    p_practice, p_category, p_exam = QUIZ_TYPE_P
    per_session = (p_practice + p_category) * answered_short + p_exam * answered_exam
    rel_mean = float(
        ARCHETYPE_MIX @ RELATIVE_ANSWERS
        - ARCHETYPE_MIX[INACTIVE] * RELATIVE_ANSWERS[INACTIVE] * (1 - INACTIVE_WITH_ANSWERS)
    )
    spread = 0.8
    target = (
        answers_per_user / rel_mean * RELATIVE_ANSWERS[arch]
        * rng.lognormal(-spread**2 / 2, spread, n)
    )  # fmt: skip
    n_sess = np.where(has_answers, np.maximum(1, rng.poisson(target / per_session)), 0)

    # Active span [first, last] in day offsets.
    last_casual = -(rng.geometric(0.2, n) - 1)
    last_heavy = -(rng.geometric(0.65, n) - 1)
    last_lapsed = -rng.integers(20, 121, n)
    last_inactive = -rng.integers(30, max(31, history_days), n)
    last = np.select(
        [arch == CASUAL, arch == HEAVY, arch == LAPSED],
        [last_casual, last_heavy, last_lapsed],
        last_inactive,
    )
    last = np.maximum(last, earliest)
    factor = np.select(
        [arch == CASUAL, arch == HEAVY],
        [rng.uniform(2.0, 8.0, n), rng.uniform(0.7, 2.0, n)],
        rng.uniform(1.5, 6.0, n),
    )
    span = np.clip(np.round(n_sess * factor), 1, history_days).astype(np.int64)
    first = np.maximum(last - span + 1, earliest)
    return Learners(arch, base, learn, speed, n_sess, first, last)


def _sessions(rng: np.random.Generator, p: Learners, n_cat: int, end_day: int) -> Sessions:
    """Each user's sessions inside their span (the first on its last day, the second on
    its first), with hour, quiz type, size, category and whether abandoned."""
    n = len(p.arch)
    n_s = int(p.n_sess.sum())
    s_user = np.repeat(np.arange(n, dtype=np.int64), p.n_sess)
    s_k = np.arange(n_s) - np.repeat(_segment_starts(p.n_sess), p.n_sess)
    lo, hi = p.first[s_user], p.last[s_user]
    s_day = lo + np.floor(rng.random(n_s) * (hi - lo + 1)).astype(np.int64)
    s_day = np.where(s_k == 0, hi, np.where(s_k == 1, lo, s_day))
    hour_p = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
    s_sec = rng.choice(24, size=n_s, p=hour_p) * 3600 + rng.integers(0, 3600, n_s)
    s_type = rng.choice(3, size=n_s, p=QUIZ_TYPE_P)
    s_size = np.where(s_type == 2, EXAM_SIZE, rng.choice(SHORT_SIZES, size=n_s, p=SHORT_SIZES_P))
    s_cat = np.where(s_type == 1, rng.integers(0, n_cat, n_s), -1)
    s_abandoned = rng.random(n_s) < ABANDON_P
    s_answered = np.where(
        s_abandoned, 1 + np.floor(rng.random(n_s) * (s_size - 1)).astype(np.int64), s_size
    )
    s_start = _local_to_utc(
        (end_day + s_day) * US_PER_DAY + s_sec * US_PER_S + rng.integers(0, US_PER_S, n_s)
    )
    # Sessions in time order per user (users stay grouped: s_user is the primary key).
    order = np.lexsort((s_start, s_user))
    return Sessions(
        s_user[order],
        s_start[order],
        s_type[order],
        s_size[order],
        s_cat[order],
        s_abandoned[order],
        s_answered[order],
    )


def _answer_slots(
    rng: np.random.Generator, s: Sessions, bank: QuestionBank, n_cat: int
) -> AnswerSlots:
    """The answers' sessions, categories and questions, and how many answers each had
    before it in the same (user, category)."""
    n_a = int(s.answered.sum())
    n_s = len(s.user)
    a_sess = np.repeat(np.arange(n_s, dtype=np.int64), s.answered)
    a_user = s.user[a_sess]
    a_cat = np.where(s.type[a_sess] == 1, s.cat[a_sess], rng.integers(0, n_cat, n_a))
    pick = np.floor(rng.random(n_a) * bank.act_count[a_cat]).astype(np.int64)
    a_q = bank.active_ids[bank.act_start[a_cat] + pick]  # 0-based question index

    # Prior answers in the same (user, category): answers are in time order per user, so a
    # stable sort by (user, category) keeps time order inside each group.
    uc = a_user * n_cat + a_cat
    by_uc = np.argsort(uc, kind="stable")
    uc_sorted = uc[by_uc]
    new_group = np.empty(n_a, dtype=bool)
    new_group[:1] = True
    np.not_equal(uc_sorted[1:], uc_sorted[:-1], out=new_group[1:])
    group_start = np.flatnonzero(new_group)
    group_len = np.diff(np.append(group_start, n_a))
    prior_sorted = np.arange(n_a) - np.repeat(group_start, group_len)
    a_prior = np.empty(n_a, dtype=np.int64)
    a_prior[by_uc] = prior_sorted
    return AnswerSlots(
        sess=a_sess,
        first_answer=_segment_starts(s.answered),
        user=a_user,
        cat=a_cat,
        q=a_q,
        diff=bank.q_true[a_q],
        uc=uc,
        by_uc=by_uc,
        uc_sorted=uc_sorted,
        new_group=new_group,
        group_start=group_start,
        group_len=group_len,
        prior=a_prior,
    )


def _answer(
    rng: np.random.Generator, p: Learners, s: Sessions, a: AnswerSlots, cutoff_us: int
) -> Answered:
    """Time per answer, the sessions scheduled without overlap before the cutoff, the
    answers' timestamps and whether each was correct."""
    n_a, n_s = len(a.user), len(s.user)
    a_base = p.base[a.user, a.cat]
    a_gain = p.learn[a.user] * np.log1p(a.prior)
    # Time per answer: lognormal, slower on hard questions, faster with skill.
    log_t = (
        np.log(12.0)
        + 0.9 * (a.diff - 0.5)
        - 0.18 * np.clip(a_base + a_gain, -3, 4)
        + p.speed[a.user]
        + rng.normal(0.0, 0.45, n_a)
    )
    a_spent = np.round(np.clip(np.exp(log_t), 1.5, 300.0), 2)
    a_step = np.round((a_spent + rng.uniform(0.5, 4.0, n_a)) * US_PER_S).astype(np.int64)
    first = a.first_answer
    s_duration = np.add.reduceat(a_step, first) if n_a else np.zeros(0, np.int64)
    s_tail = rng.integers(1 * US_PER_S, 8 * US_PER_S, n_s)  # last answer → completed_at

    s_start = _schedule(s.user, s.start, s_duration + s_tail + SESSION_GAP_S * US_PER_S, cutoff_us)

    cs = np.cumsum(a_step)
    a_at = s_start[a.sess] + cs - (cs[first] - a_step[first])[a.sess]
    s_last_answer = a_at[first + s.answered - 1] if n_a else np.zeros(0, np.int64)
    s_completed = np.where(s.abandoned, -1, s_last_answer + s_tail)

    # Skill at each answer: the practice gain fades with days since the previous answer
    # in the category.
    t_sorted = a_at[a.by_uc]
    gap_sorted = np.zeros(n_a, dtype=np.float64)
    gap_sorted[1:] = (t_sorted[1:] - t_sorted[:-1]) / US_PER_DAY
    gap_sorted[a.new_group] = 0.0
    a_gap = np.empty(n_a)
    a_gap[a.by_uc] = gap_sorted
    theta = a_base + a_gain * (RETAINED + (1 - RETAINED) * np.exp(-a_gap / FADE_DAYS))
    a_correct = rng.random(n_a) < _sigmoid(theta - DIFFICULTY_SLOPE * (a.diff - 0.5))
    s_correct = np.add.reduceat(a_correct.astype(np.int64), first) if n_a else np.zeros(0, np.int64)
    return Answered(a_spent, a_at, a_correct, t_sorted, s_start, s_completed, s_correct)


def _user_timestamps(
    rng: np.random.Generator,
    p: Learners,
    s_start: np.ndarray,
    n: int,
    cutoff_us: int,
    history_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(created, last login; -1: never) per user, in µs UTC."""
    u_sess_n = p.n_sess  # sessions stayed grouped by user in user order
    u_first_sess = _segment_starts(u_sess_n)
    has = u_sess_n > 0
    created = np.empty(n, dtype=np.int64)
    login = np.full(n, -1, dtype=np.int64)
    idx_first = u_first_sess[has]
    idx_last = idx_first + u_sess_n[has] - 1
    # Joined 10 minutes to a few days before the first session (so before the last login).
    lead = np.maximum(600 * US_PER_S, rng.exponential(2.0, n) * US_PER_DAY).astype(np.int64)
    created[has] = s_start[idx_first] - lead[has]
    login[has] = s_start[idx_last] - rng.integers(5 * US_PER_S, 300 * US_PER_S, n)[has]
    # Users without answers: new ones joined in the last five days; silent inactive ones
    # joined some time in the history window.
    new_created = cutoff_us - rng.integers(60 * US_PER_S, 5 * US_PER_DAY, n)
    old_created = cutoff_us - rng.integers(7 * US_PER_DAY, max(8, history_days) * US_PER_DAY, n)
    created = np.where(has, created, np.where(p.arch == NEW, new_created, old_created))
    later = created + rng.integers(10 * US_PER_S, 2 * US_PER_H, n)
    logged_in = rng.random(n) >= 0.3
    login = np.where(has, login, np.where(logged_in & (later < cutoff_us), later, -1))
    return created, login


def _ground_truth(
    p: Learners, a: AnswerSlots, answered: Answered, n: int, n_cat: int, cutoff_us: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true skill logit, answers, last answer µs) per user × category at the cutoff."""
    count_uc = np.bincount(a.uc, minlength=n * n_cat)
    last_at_uc = np.full(n * n_cat, cutoff_us, dtype=np.int64)
    group_end = a.group_start + a.group_len - 1
    last_at_uc[a.uc_sorted[group_end]] = answered.t_sorted[group_end]
    idle_days = (cutoff_us - last_at_uc) / US_PER_DAY
    gt_theta = p.base.reshape(-1) + np.repeat(p.learn, n_cat) * np.log1p(count_uc) * (
        RETAINED + (1 - RETAINED) * np.exp(-idle_days / FADE_DAYS)
    )
    return gt_theta, count_uc, last_at_uc


def _weak_spots(rng: np.random.Generator, n: int, n_cat: int) -> np.ndarray:
    """Per (user, category) logit deficit: 0 except on each user's 0–2 weak spots."""
    k = rng.choice(len(WEAK_SPOTS_P), size=n, p=WEAK_SPOTS_P)
    pick = np.argsort(rng.random((n, n_cat)), axis=1) < k[:, None]
    return np.where(pick, rng.uniform(*WEAK_SPOT_DEFICIT, (n, n_cat)), 0.0)


def _schedule(
    user: np.ndarray, start: np.ndarray, length: np.ndarray, cutoff_us: int
) -> np.ndarray:
    """Shift session starts so that a user's sessions never overlap and all end before the
    cutoff. ``length`` is each session's duration plus the pause before the next.

    Forward pass: s'_i = max(s_i, s'_{i-1} + c_{i-1}), i.e. with P the exclusive prefix sum
    of c per user, s'_i = P_i + cummax_{j<=i}(s_j - P_j). Backward pass against the cutoff:
    s''_i = min(s'_i, s''_{i+1} - c_i, cutoff - c_i) = min(cummin_{j>=i}(s'_j + S_j), cutoff) - S_i
    with S the inclusive suffix sum. Both scans run per user with polars ``over``.
    """
    if start.size == 0:
        return start
    f = pl.DataFrame({"u": user, "s": start, "c": length})
    f = f.with_columns(p=(pl.col("c").cum_sum() - pl.col("c")).over("u"))
    f = f.with_columns(s=(pl.col("s") - pl.col("p")).cum_max().over("u") + pl.col("p"))
    f = f.with_columns(q=pl.col("c").cum_sum(reverse=True).over("u"))
    f = f.with_columns(
        s=pl.min_horizontal((pl.col("s") + pl.col("q")).cum_min(reverse=True).over("u"), cutoff_us)
        - pl.col("q")
    )
    return f["s"].to_numpy()


def _streaks(
    user: np.ndarray, day: np.ndarray, n_users: int, end_day: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(current_streak, longest_streak, last_activity_day or -1) per user from answers
    ordered by user then time (so Oslo days are non-decreasing inside each user)."""
    cur = np.zeros(n_users, dtype=np.int64)
    longest = np.zeros(n_users, dtype=np.int64)
    last_day = np.full(n_users, -1, dtype=np.int64)
    if user.size == 0:
        return cur, longest, last_day
    keep = np.ones(user.size, dtype=bool)
    keep[1:] = (user[1:] != user[:-1]) | (day[1:] != day[:-1])
    u, d = user[keep], day[keep]  # distinct (user, day), sorted
    run_start = np.ones(u.size, dtype=bool)
    run_start[1:] = (u[1:] != u[:-1]) | (d[1:] != d[:-1] + 1)
    starts = np.flatnonzero(run_start)
    lengths = np.diff(np.append(starts, u.size))
    run_user = u[starts]
    run_last_day = d[starts + lengths - 1]
    np.maximum.at(longest, run_user, lengths)
    # The last run of each user is the current streak if it reaches end_date or the day before.
    is_last = np.ones(starts.size, dtype=bool)
    is_last[:-1] = run_user[1:] != run_user[:-1]
    lu, ll, ld = run_user[is_last], lengths[is_last], run_last_day[is_last]
    last_day[lu] = ld
    cur[lu] = np.where(ld >= end_day - 1, ll, 0)
    return cur, longest, last_day


def _ts(values: np.ndarray, name: str) -> pl.Series:
    """int64 µs (-1 = NULL) → naive pl.Datetime('us')."""
    s = pl.Series(name, values, dtype=pl.Int64)
    return s.set(s < 0, None).cast(pl.Datetime("us"))


NYNORSK_SHARE = 0.12  # learners who read nynorsk (users.preferred_language 'nn')
BOKMAL_SET_SHARE = 0.40  # learners who chose Bokmål explicitly; the rest left it NULL


def preferred_language(user_id: pl.Expr) -> pl.Expr:
    """``users.preferred_language`` of a simulated learner: 'nn' for about 12 %, 'nb' for
    about 40 %, NULL (never chosen: Bokmål) for the rest. A function of the id alone (a
    multiplicative hash, no draw from the random streams), so adding it moved no other
    number of the simulation and a learner keeps the form in every chunk and day."""
    u = (user_id.cast(pl.UInt64) * 2654435761) % (2**32) / 2**32
    return (
        pl.when(u < NYNORSK_SHARE)
        .then(pl.lit("nn"))
        .when(u < NYNORSK_SHARE + BOKMAL_SET_SHARE)
        .then(pl.lit("nb"))
        .otherwise(pl.lit(None, pl.String))
    )


def _frames(n: int, first_ids: FirstIds, **v: Any) -> dict[str, pl.DataFrame]:
    u0, s0, a0 = first_ids.users, first_ids.sessions, first_ids.attempts
    ids = pl.Series("id", np.arange(u0 + 1, u0 + n + 1, dtype=np.int64))
    cats = pl.Series("category", list(CATEGORY_KEYS), dtype=pl.String)

    users = (
        pl.DataFrame({"id": ids})
        .with_columns(username=pl.lit("elev") + pl.col("id").cast(pl.String).str.zfill(5))
        .with_columns(
            email=pl.when(pl.col("id") % 23 == 7)
            .then(None)
            .otherwise(pl.col("username") + pl.lit("@example.no")),
            is_active=pl.Series(v["arch"] != INACTIVE, dtype=pl.Boolean),
            created_at=_ts(v["created"], "created_at"),
            last_login_at=_ts(v["login"], "last_login_at"),
            preferred_language=preferred_language(pl.col("id")),
        )
    )

    last_day = v["last_day"]
    progress = pl.DataFrame(
        {
            "user_id": ids,
            "total_xp": pl.Series(v["total_xp"], dtype=pl.Int32),
            "level": pl.Series(v["level"], dtype=pl.Int32),
            "current_streak": pl.Series(v["cur"], dtype=pl.Int32),
            "longest_streak": pl.Series(v["longest"], dtype=pl.Int32),
            "last_activity_date": pl.Series(last_day, dtype=pl.Int32)
            .set(pl.Series(last_day) < 0, None)
            .cast(pl.Date),
        }
    )

    q_obs = v["q_obs"]
    n_q = len(q_obs)
    questions = pl.DataFrame(
        {
            "id": np.arange(1, n_q + 1, dtype=np.int64),
            "category": cats.gather(v["q_cat"]),
            "difficulty": pl.Series(q_obs, dtype=pl.Float64).set(
                pl.Series(v["q_null"], dtype=pl.Boolean), None
            ),
            "is_active": pl.Series(v["q_active"], dtype=pl.Boolean),
        }
    )

    r = v["s_rank"]
    n_s = len(r)
    s_cat = v["s_cat"][r]
    sessions = pl.DataFrame(
        {
            "id": np.arange(s0 + 1, s0 + n_s + 1, dtype=np.int64),
            "user_id": v["s_user"][r] + (u0 + 1),
            "quiz_type": pl.Series(list(QUIZ_TYPES), dtype=pl.String).gather(v["s_type"][r]),
            "category": cats.gather(np.maximum(s_cat, 0)).set(pl.Series(s_cat < 0), None),
            "started_at": _ts(v["s_start"][r], "started_at"),
            "completed_at": _ts(v["s_completed"][r], "completed_at"),
            "total_questions": pl.Series(v["s_size"][r], dtype=pl.Int32),
            "correct_answers": pl.Series(v["s_correct"][r], dtype=pl.Int32),
        }
    )

    r = v["a_rank"]
    n_a = len(r)
    attempts = pl.DataFrame(
        {
            "id": np.arange(a0 + 1, a0 + n_a + 1, dtype=np.int64),
            "user_id": v["a_user"][r] + (u0 + 1),
            "question_id": v["a_q"][r] + 1,
            "quiz_session_id": v["a_sess_id"][r] + s0,
            "is_correct": pl.Series(v["a_correct"][r], dtype=pl.Boolean),
            "time_spent_seconds": pl.Series(v["a_spent"][r], dtype=pl.Float64),
            "answered_at": _ts(v["a_at"][r], "answered_at"),
        }
    )

    n_cat = len(CATEGORY_KEYS)
    truth = pl.DataFrame(
        {
            "user_id": np.repeat(np.arange(u0 + 1, u0 + n + 1, dtype=np.int64), n_cat),
            "category": cats.gather(np.tile(np.arange(n_cat), n)),
            "theta": pl.Series(v["gt_theta"], dtype=pl.Float64),
            "mastery": pl.Series(v["gt_mastery"], dtype=pl.Float64),
            "answers": pl.Series(v["gt_count"], dtype=pl.Int32),
        }
    )
    return {
        "users": users,
        "user_progress": progress,
        "questions": questions,
        "quiz_sessions": sessions,
        "question_attempts": attempts,
        "sim_ground_truth": truth,
    }
