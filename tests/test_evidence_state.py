"""The carried learner state (daglig/learner/evidence_state.py) equals the full recompute
from the answer log (daglig/learner/examples.py): every column of ``state_at`` and
``scoring_rows`` — counts exactly, floats to 1e-9, NULLs in the same places, the same
dtypes and row order — in one batch, night by night (the log arriving over twelve nights,
late answers among them, folded one night at a time) and on random logs (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daglig.answer_tallies import tally
from daglig.catalogue import CATEGORY_KEYS
from daglig.learner import examples as ex
from daglig.learner.evidence_state import (
    EVIDENCE_SCHEMA,
    fold_evidence,
    learner_state_from,
    rescale_evidence,
    scoring_rows_from,
    summarise_evidence,
)
from daglig.learner.examples import EXAMS_SCHEMA, LAST_K, PracticeCurve
from daglig.shards import population_partials, population_stats, shard_of
from daglig.user_features import ATTEMPTS_SCHEMA, QUESTIONS_SCHEMA, clean_attempts, day_cutoff
from simulator import generate

pytestmark = pytest.mark.pure  # the fast tier: no database, no Prefect, no process

TOLERANCE = 1e-9
# A curve far from the defaults, so that the practice gain's terms are exercised too.
STEEP = PracticeCurve(practice_gain=0.45, gain_kept=0.2, fade_days=9.0)
END = date(2026, 11, 20)
SHARDS = 3


def population(clean: pl.DataFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The whole population's (difficulty curve, category accuracy), summed from the
    shards' counts as the nightly run does (daglig/shards.py)."""
    parts = [
        pl.collect_all(
            population_partials(clean.filter(shard_of(clean["user_id"], SHARDS) == k).lazy())
        )
        for k in range(SHARDS)
    ]
    curve, cat_acc = population_stats([b for b, _ in parts], [c for _, c in parts])
    return curve.lazy(), cat_acc.lazy()


def assert_equal(ref: pl.DataFrame, got: pl.DataFrame) -> None:
    """Same columns, dtypes, rows and row order; integer, string and date columns equal,
    float columns within TOLERANCE, NULLs in the same places."""
    assert got.schema == ref.schema
    assert got.height == ref.height
    for name, dtype in ref.schema.items():
        a, b = ref[name], got[name]
        assert a.is_null().equals(b.is_null()), f"{name}: NULLs differ"
        if dtype.is_float():
            both = a.is_not_null()
            diff = (a.filter(both) - b.filter(both)).abs().max()
            assert diff is None or diff <= TOLERANCE, f"{name}: off by {diff}"  # type: ignore[operator]
        else:
            assert a.equals(b), f"{name} differs"


def assert_same_evidence(ref: pl.DataFrame, got: pl.DataFrame) -> None:
    """Two evidence tables agree: keys, counts and last-k lists exactly, sums to
    TOLERANCE."""
    assert ref.schema == got.schema == pl.Schema(EVIDENCE_SCHEMA)
    assert_equal(ref, got)


def compare(
    log: pl.DataFrame,
    tallies: pl.LazyFrame,
    evidence: pl.DataFrame,
    exams: pl.DataFrame,
    users: pl.DataFrame,
    questions: pl.DataFrame,
    cutoff: datetime,
    practice: PracticeCurve,
) -> None:
    """``state_at`` and ``scoring_rows`` from ``log`` equal their carried counterparts."""
    pop = population(log)
    state, curve = ex.state_at(
        log.lazy(), exams.lazy(), users.lazy(), cutoff, population=pop, practice=practice
    )
    carried, carried_curve = learner_state_from(
        tallies, evidence.lazy(), exams.lazy(), users.lazy(), cutoff, pop, practice
    )
    ref_rows = ex.scoring_rows(
        log.lazy(), exams.lazy(), users.lazy(), questions.lazy(), cutoff, pop, practice
    )
    got_rows = scoring_rows_from(
        tallies,
        evidence.lazy(),
        exams.lazy(),
        users.lazy(),
        questions.lazy(),
        cutoff,
        pop,
        practice,
    )
    frames = pl.collect_all([state, carried, curve, carried_curve, ref_rows, got_rows])
    assert_equal(frames[0], frames[1])
    assert frames[2].equals(frames[3])
    assert_equal(frames[4], frames[5])


# ------------------------------------------------------------------ a simulated population


@pytest.fixture(scope="module")
def simulated() -> dict[str, pl.DataFrame]:
    """Four hundred simulated learners over 60 days (new ones without answers among them),
    the log cleaned as the nightly run cleans it, plus two users who never answered."""
    frames = generate(users=400, seed=5, end_date=END, history_days=60)
    questions = frames["questions"].rename({"id": "question_id"}).cast(QUESTIONS_SCHEMA)  # type: ignore[arg-type]
    users = frames["users"].rename({"id": "user_id"})
    attempts = frames["question_attempts"].rename({"id": "attempt_id"})
    clean, _ = clean_attempts(attempts.lazy(), questions.lazy(), users=users.lazy())
    exams = (
        frames["quiz_sessions"]
        .filter(pl.col("quiz_type") == "exam")
        .select(list(EXAMS_SCHEMA))
        .cast(EXAMS_SCHEMA)  # type: ignore[arg-type]
    )
    everyone = pl.concat([users.select("user_id"), pl.DataFrame({"user_id": [10_001, 10_002]})])
    return {"clean": clean.collect(), "questions": questions, "users": everyone, "exams": exams}


@pytest.mark.parametrize("practice", [ex.DEFAULT_CURVE, STEEP])
def test_one_batch_equals_the_full_recompute(
    simulated: dict[str, pl.DataFrame], practice: PracticeCurve
) -> None:
    clean = simulated["clean"]
    cutoff = day_cutoff(END - timedelta(days=4))  # later answers are in the log: left out
    assert clean.filter(pl.col("answered_at") >= cutoff).height > 0
    assert clean["difficulty"].null_count() > 0 and clean["time_spent_seconds"].is_not_null().all()
    evidence = summarise_evidence(clean.lazy(), cutoff).collect()
    assert evidence.schema == pl.Schema(EVIDENCE_SCHEMA)
    compare(
        clean,
        tally(clean.lazy()),
        evidence,
        simulated["exams"],
        simulated["users"],
        simulated["questions"],
        cutoff,
        practice,
    )


def _nights(
    log: pl.DataFrame, cutoffs: list[datetime]
) -> Iterator[tuple[datetime, pl.DataFrame, pl.DataFrame]]:
    """Each night's (cutoff, log as arrived by then, evidence folded night by night): the
    answers folded on a night are those arrived and before its cutoff, not folded
    before (late ones included)."""
    evidence: pl.DataFrame | None = None
    folded = pl.lit(False)
    for j, cutoff in enumerate(cutoffs):
        now = (pl.col("night") <= j) & (pl.col("answered_at") < cutoff)
        new = summarise_evidence(log.filter(now & ~folded).drop("night").lazy(), cutoff)
        folded = now
        evidence = (
            new.collect()
            if evidence is None
            else fold_evidence(evidence.lazy(), cutoffs[j - 1], new, cutoff).collect()
        )
        yield cutoff, log.filter(pl.col("night") <= j).drop("night"), evidence


def _arrival(log: pl.DataFrame, cutoffs: list[datetime]) -> pl.DataFrame:
    """``log`` with the night each answer reaches the pipeline (``night``, an index of
    ``cutoffs``): the first night whose run (two hours after its cutoff) comes after it,
    so that answers of the small hours arrive the night they are in the future of; one in
    fifty arrives one to three nights late (a device that was offline). Answers before
    the first night arrive on it; after the last, on the last."""
    runs = pl.Series([c + timedelta(hours=2) for c in cutoffs], dtype=pl.Datetime("us"))
    first = runs.search_sorted(log["answered_at"], side="right").cast(pl.Int64)
    late = pl.when(pl.col("attempt_id").hash(seed=3) % 50 == 0).then(1 + pl.col("attempt_id") % 3)
    return log.with_columns(night=pl.Series(first)).with_columns(
        night=(pl.col("night") + late.fill_null(0)).clip(0, len(cutoffs) - 1)
    )


@pytest.mark.parametrize("nights", [12, pytest.param(30, marks=pytest.mark.slow)])
def test_night_by_night_folding_equals_the_full_recompute_every_night(
    simulated: dict[str, pl.DataFrame], nights: int
) -> None:
    """Twelve daily cutoffs (thirty in the slow tier; across the end of summer time), the
    log as it had arrived by each night, the evidence folded one night at a time."""
    cutoffs = [day_cutoff(date(2026, 10, 18) + timedelta(days=j)) for j in range(nights)]
    log = _arrival(simulated["clean"], cutoffs)
    late = log.filter(
        pl.col("night") > pl.Series(cutoffs).search_sorted(log["answered_at"], side="right")
    )
    assert late.height > 0  # some answers arrive after the night they belong to
    for cutoff, whole, evidence in _nights(log, cutoffs):
        assert_same_evidence(summarise_evidence(whole.lazy(), cutoff).collect(), evidence)
        compare(
            whole,
            tally(whole.lazy()),
            evidence,
            simulated["exams"],
            simulated["users"],
            simulated["questions"],
            cutoff,
            STEEP,
        )


# ------------------------------------------------------------------------ small literal logs


def _log(rows: list[dict[str, object]]) -> pl.DataFrame:
    """A clean log (clean_attempts' columns) from rows of user_id, category, difficulty,
    is_correct, time_spent_seconds, answered_at and attempt_id."""
    schema = {**ATTEMPTS_SCHEMA, "category": pl.String, "difficulty": pl.Float64}
    frame = pl.DataFrame(
        [{"question_id": 1, "quiz_session_id": None, **r} for r in rows], schema=schema
    )
    return frame.with_columns(
        local_date=pl.col("answered_at")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone("Europe/Oslo")
        .dt.date()
    )


QUESTIONS = pl.DataFrame(
    {
        "question_id": list(range(1, 2 * len(CATEGORY_KEYS) + 1)),
        "category": [c for c in CATEGORY_KEYS for _ in range(2)],
        "difficulty": [d for _ in CATEGORY_KEYS for d in (0.3, None)],
        "is_active": [True] * (2 * len(CATEGORY_KEYS)),
    },
    schema=QUESTIONS_SCHEMA,
)
NO_EXAMS = pl.DataFrame(schema=EXAMS_SCHEMA)


def test_last_k_ties_in_time_are_broken_by_attempt_id_whatever_the_row_order() -> None:
    """Twelve answers at one instant: the last ten are the ten highest attempt ids, in the
    full recompute and in the carried table alike, however the log's rows are ordered."""
    at = datetime(2026, 11, 10, 18)
    rows = [
        {
            "attempt_id": i,
            "user_id": 1,
            "category": "traffic_signs",
            "difficulty": 0.5,
            "is_correct": i <= 2,  # the two lowest ids right: not among the last ten
            "time_spent_seconds": 10.0,
            "answered_at": at,
        }
        for i in range(1, 13)
    ]
    log = _log(rows)
    cutoff = day_cutoff(date(2026, 11, 11))
    users = pl.DataFrame({"user_id": [1]})
    pop = population(log)
    for shuffled in (log, log.reverse(), log.sample(fraction=1.0, shuffle=True, seed=1)):
        state, _ = ex.state_at(
            shuffled.lazy(), NO_EXAMS.lazy(), users.lazy(), cutoff, population=pop
        )
        row = state.collect().filter(pl.col("category") == "traffic_signs").row(0, named=True)
        assert row[f"uc_last{LAST_K}_accuracy"] == pytest.approx(1 / 12)  # 0 right of 10
        evidence = summarise_evidence(shuffled.lazy(), cutoff).collect()
        assert evidence["k_id"].to_list() == [list(range(12, 2, -1))]
    compare(
        log,
        tally(log.lazy()),
        summarise_evidence(log.lazy(), cutoff).collect(),
        NO_EXAMS,
        users,
        QUESTIONS,
        cutoff,
        ex.DEFAULT_CURVE,
    )


def test_evidence_cannot_be_moved_back_in_time() -> None:
    empty = pl.LazyFrame(schema=EVIDENCE_SCHEMA)
    with pytest.raises(ValueError, match="cannot move the evidence back"):
        rescale_evidence(empty, datetime(2026, 11, 2), datetime(2026, 11, 1))


# --------------------------------------------------------------------------- property tests

START = date(2026, 10, 20)  # the end of summer time (25 October) falls inside
USERS = pl.DataFrame({"user_id": [1, 2, 3, 4, 5, 6, 7]})  # 6 and 7 never answer
DIFFICULTIES = st.one_of(
    st.none(),
    st.sampled_from([0.0, 0.1, 0.2, 0.5, 0.9, 0.95, 1.0]),  # bin edges among them
    st.floats(0.0, 1.0, allow_nan=False),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[pl.DataFrame, list[datetime], PracticeCurve]:
    """A random log with the night each answer arrives, and the nights' cutoffs: 1–4
    nights, 1–3 days apart; answers over the ten days from START at quarter hours (so
    ties in time are common), some with NULL difficulty or seconds; each arrives on any
    night — before its own (an answer of the small hours, still in the future), on it,
    or late."""
    gaps = draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    days = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    cutoffs = [day_cutoff(START + timedelta(days=d)) for d in days]
    n = draw(st.integers(0, 40))
    rows = [
        {
            "attempt_id": i + 1,
            "user_id": draw(st.integers(1, 5)),
            "category": draw(st.sampled_from(CATEGORY_KEYS[:3])),
            "difficulty": draw(DIFFICULTIES),
            "is_correct": draw(st.booleans()),
            "time_spent_seconds": draw(st.none() | st.floats(0.5, 300.0)),
            "answered_at": datetime.combine(START, datetime.min.time())
            + timedelta(minutes=15 * draw(st.integers(0, 10 * 96))),
            "night": draw(st.integers(0, len(cutoffs) - 1)),
        }
        for i in range(n)
    ]
    order = draw(st.permutations(range(n)))  # the log's row order is no clue
    log = _log([{k: v for k, v in r.items() if k != "night"} for r in rows]).with_columns(
        night=pl.Series([r["night"] for r in rows], dtype=pl.Int64)
    )
    practice = draw(st.sampled_from([ex.DEFAULT_CURVE, STEEP]))
    return log[list(order)] if n else log, cutoffs, practice


@settings(max_examples=50, deadline=None)
@given(scenarios())
def test_random_logs_folded_night_by_night_equal_one_summary(
    scenario: tuple[pl.DataFrame, list[datetime], PracticeCurve],
) -> None:
    """Table 2 itself: the evidence folded night by night equals the summary of the whole
    log as arrived, every night."""
    log, cutoffs, _ = scenario
    for cutoff, whole, evidence in _nights(log, cutoffs):
        assert_same_evidence(summarise_evidence(whole.lazy(), cutoff).collect(), evidence)


@settings(max_examples=30, deadline=None)
@given(scenarios())
def test_random_logs_give_the_full_recompute_s_state_every_night(
    scenario: tuple[pl.DataFrame, list[datetime], PracticeCurve],
) -> None:
    """The state and scoring rows from the carried tables equal the full recompute's,
    every night."""
    log, cutoffs, practice = scenario
    for cutoff, whole, evidence in _nights(log, cutoffs):
        compare(
            whole,
            tally(whole.lazy()),
            evidence,
            NO_EXAMS,
            USERS,
            QUESTIONS,
            cutoff,
            practice,
        )
