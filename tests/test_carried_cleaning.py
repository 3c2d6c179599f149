"""The edge of an incremental night, as a property: splitting the raw answer log the way the
night reads it (the carried state holds ``id <= max`` answered before its cutoff; tonight
reads the rest, marking a late row that repeats a carried answer, as
sql/read/answers_since_state.sql does) and cleaning each part alone gives the same
tallies and the same quarantine as cleaning the whole log — with duplicates, late
duplicates of carried answers, answers to missing questions and answers from before the
account among them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from daglig.answer_tallies import TALLY_KEY, fold_tallies, tally
from daglig.catalogue import CATEGORY_KEYS
from daglig.user_features import ATTEMPTS_SCHEMA, clean_attempts

pytestmark = pytest.mark.pure

START = datetime.combine(date(2026, 11, 1), time())
QUESTIONS = pl.DataFrame(
    {
        "question_id": [1, 2, 3],
        "category": list(CATEGORY_KEYS[:3]),
        "difficulty": [0.3, None, 0.8],
        "is_active": [True, True, True],
    }
)
USERS = pl.DataFrame(
    {"user_id": [1, 2, 3], "created_at": [START, START + timedelta(days=3), START]},
    schema={"user_id": pl.Int64, "created_at": pl.Datetime("us")},
)

# (user, question — 9 does not exist, hour of the log, right?, seconds, a copy of an
# earlier row's user, question and instant?)
raw_rows = st.lists(
    st.tuples(
        st.integers(1, 3),
        st.sampled_from([1, 2, 3, 9]),
        st.integers(0, 10 * 24 - 1),
        st.booleans(),
        st.one_of(st.none(), st.floats(0.0, 5000.0)),
        st.integers(0, 4),  # 0: its own row; k > 0: the k-th row before it, repeated
    ),
    min_size=1,
    max_size=50,
)


def _log(
    rows: list[tuple[int, int, int, bool, float | None, int]], order: list[int]
) -> pl.DataFrame:
    """The raw answers, ids given in arrival order ``order`` (a late row gets a high id)."""
    out: list[dict[str, object]] = []
    for i, (u, q, hour, ok, s, copy) in enumerate(rows):
        if copy and i >= copy:
            src = out[i - copy]
            u, q, at = int(src["user_id"]), int(src["question_id"]), src["answered_at"]  # type: ignore[call-overload]
        else:
            at = START + timedelta(hours=hour)
        out.append(
            {
                "user_id": u,
                "question_id": q,
                "quiz_session_id": None,
                "is_correct": ok,
                "time_spent_seconds": s,
                "answered_at": at,
            }
        )
    frame = pl.DataFrame(
        out, schema={k: v for k, v in ATTEMPTS_SCHEMA.items() if k != "attempt_id"}
    )
    ids = pl.Series("attempt_id", [order.index(i) + 1 for i in range(len(rows))], dtype=pl.Int64)
    return frame.with_columns(ids).select(list(ATTEMPTS_SCHEMA)).sort("attempt_id")


def _clean(attempts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    clean, quarantine = clean_attempts(
        attempts.sort("attempt_id").lazy(), QUESTIONS.lazy(), users=USERS.lazy()
    )
    return pl.collect_all([clean, quarantine])  # type: ignore[return-value]


@settings(max_examples=80, deadline=None, database=None)
@given(
    rows=raw_rows,
    arrival=st.randoms(use_true_random=False),
    state_hour=st.integers(0, 10 * 24),
    max_share=st.floats(0.0, 1.0),
)
def test_the_carried_and_the_unfolded_answers_clean_as_the_whole_log(
    rows: list[tuple[int, int, int, bool, float | None, int]],
    arrival: object,
    state_hour: int,
    max_share: float,
) -> None:
    order = list(range(len(rows)))
    arrival.shuffle(order)  # type: ignore[attr-defined]
    log = _log(rows, order)
    state_cutoff = START + timedelta(hours=state_hour)
    max_id = int(round(max_share * log.height))
    held = (pl.col("attempt_id") <= max_id) & (pl.col("answered_at") < state_cutoff)
    carried, tonight = log.filter(held), log.filter(~held)
    # sql/read/answers_since_state.sql's mark, computed the same way
    repeats = tonight.join(
        carried.select("user_id", "question_id", "answered_at", _id="attempt_id"),
        on=["user_id", "question_id", "answered_at"],
        how="left",
    )
    marked = (
        repeats.group_by("attempt_id")
        .agg(
            dup_of_carried=(
                (pl.col("answered_at").first() < state_cutoff)
                & (pl.col("_id") < pl.col("attempt_id")).any()
            ).fill_null(False)
        )
        .join(tonight, on="attempt_id")
        .select(*ATTEMPTS_SCHEMA, "dup_of_carried")
    )

    whole_clean, whole_q = _clean(log)
    old_clean, old_q = _clean(carried)
    new_clean, new_q = _clean(marked)

    folded = fold_tallies(tally(old_clean.lazy()), tally(new_clean.lazy())).collect()
    assert_frame_equal(
        folded.sort(TALLY_KEY),
        tally(whole_clean.lazy()).collect().sort(TALLY_KEY),
        check_exact=False,
        abs_tol=1e-9,
        rel_tol=0,
    )
    assert "dup_of_carried" not in new_clean.columns
    quarantined = pl.concat([old_q, new_q]).sort("attempt_id", "reason")
    assert_frame_equal(quarantined, whole_q.sort("attempt_id", "reason"))
