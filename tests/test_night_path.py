"""Which way a night computes its features (daglig/night_path.py), and the carried state's
store (daglig/io/state_store.py): full whenever anything is in doubt, with the reason."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from daglig.io import state_store
from daglig.night_path import (
    CarriedManifest,
    changed_accounts,
    check_counts,
    choose_path,
    feature_schema,
    questions_fingerprint,
)

pytestmark = pytest.mark.pure

RUN = date(2026, 12, 3)
CUTOFF = datetime(2026, 12, 2, 23, 0)
PRIOR = CarriedManifest(
    schema="s1",
    identity="db-1",
    cutoff=CUTOFF - timedelta(days=1),
    run_date=RUN - timedelta(days=1),
    shards=2,
    max_attempt_id=1000,
    folded=990,
    questions="q1",
    last_full=RUN - timedelta(days=3),
)
TONIGHT: dict[str, Any] = {
    "run_date": RUN,
    "cutoff": CUTOFF,
    "identity": "db-1",
    "schema": "s1",
    "shards": 2,
    "questions": "q1",
}


def test_nothing_in_doubt_folds_into_the_prior_state() -> None:
    path = choose_path(PRIOR, **TONIGHT)
    assert path.incremental and path.prior == PRIOR and path.code == "folded"
    assert path.reason == "folded into the state of 2026-12-02"


@pytest.mark.parametrize(
    ("prior", "tonight", "code", "reason"),
    [
        (PRIOR, {"force_full": True}, "forced", "asked for (--full)"),
        (PRIOR, {"some_users": True}, "some_users", "a run for some users only"),
        (None, {}, "no_state", "no carried state yet"),
        (PRIOR, {"identity": "db-2"}, "other_database", "another database"),
        (PRIOR, {"identity": None}, "other_database", "another database"),
        (PRIOR, {"schema": "s2"}, "schema", "the features changed"),
        (
            replace(PRIOR, cutoff=CUTOFF + timedelta(days=1), run_date=RUN + timedelta(days=1)),
            {},
            "later_state",
            "of a later night (2026-12-04)",
        ),
        (
            replace(PRIOR, run_date=RUN - timedelta(days=5), last_full=RUN - timedelta(days=5)),
            {},
            "old_state",
            "5 days old (more than 3)",
        ),
        (
            replace(PRIOR, last_full=RUN - timedelta(days=7)),
            {},
            "weekly",
            "weekly full night (7 days since the last one)",
        ),
        (PRIOR, {"shards": 3}, "shards", "shard count changed (2 → 3)"),
        (PRIOR, {"questions": "q2"}, "questions", "question bank changed"),
    ],
)
def test_any_doubt_makes_a_full_night_with_its_reason(
    prior: CarriedManifest | None, tonight: dict[str, Any], code: str, reason: str
) -> None:
    path = choose_path(prior, **(TONIGHT | tonight))
    assert path.path == "full" and path.prior is None
    assert path.code == code and reason in path.reason


def test_the_counts_beneath_the_state_must_be_the_answers_it_holds() -> None:
    path = choose_path(PRIOR, **TONIGHT)
    # 1,000 ids at or below the state's max, 10 of them at or after its cutoff: 990 held
    assert check_counts(path, 1000, 10) == path
    deleted = check_counts(path, 999, 10)
    assert deleted.path == "full" and deleted.code == "answers_changed"
    assert "(990 carried, 989 in the database)" in deleted.reason
    assert check_counts(path, 1001, 10).code == "answers_changed"  # one inserted beneath
    full = choose_path(None, **TONIGHT)
    assert check_counts(full, 5, 0) == full  # a full night has nothing to check


def test_an_account_whose_creation_time_moved_is_counted_new_ones_are_not() -> None:
    t = datetime(2026, 1, 1)
    prior = pl.DataFrame({"user_id": [1, 2, 3], "created_at": [t, t, None]})
    same = pl.DataFrame({"user_id": [1, 2, 3, 4], "created_at": [t, t, None, t]})
    assert changed_accounts(prior, same) == 0
    moved = same.with_columns(
        created_at=pl.when(pl.col("user_id") == 2)
        .then(t + timedelta(days=1))
        .otherwise(pl.col("created_at"))
    )
    assert changed_accounts(prior, moved) == 1
    assert changed_accounts(prior, same.with_columns(created_at=pl.lit(t))) == 1  # NULL → t


def test_fingerprints_change_with_what_they_cover() -> None:
    assert feature_schema("a") == feature_schema("a") != feature_schema("b")
    q = pl.DataFrame(
        {
            "question_id": [2, 1],
            "category": ["x", "y"],
            "difficulty": [0.5, None],
            "is_active": [True, False],
        }
    )
    assert questions_fingerprint(q) == questions_fingerprint(q.reverse())  # row order: no
    assert questions_fingerprint(q) == questions_fingerprint(q.with_columns(is_active=True))
    assert questions_fingerprint(q) != questions_fingerprint(q.with_columns(difficulty=0.4))


def test_the_manifest_reads_back_as_written() -> None:
    assert CarriedManifest.from_dict(json.loads(json.dumps(PRIOR.as_dict()))) == PRIOR


def _staged(root: Path, marker: str) -> Path:
    folder = root / f"run-{marker}" / "state"
    path = state_store.shard_table(folder, 0, "tallies")
    path.parent.mkdir(parents=True)
    pl.DataFrame({"marker": [marker]}).write_parquet(path)
    return folder


def test_the_store_keeps_whole_states_and_finds_the_newest_before_a_night(tmp_path: Path) -> None:
    store = tmp_path / "state"
    assert state_store.newest(store, "db-1", CUTOFF.isoformat()) is None
    for k in range(5):  # five nights: the last three are kept
        m = replace(
            PRIOR, run_date=RUN - timedelta(days=5 - k), cutoff=CUTOFF - timedelta(days=5 - k)
        )
        kept = state_store.keep(_staged(tmp_path, str(k)), store, m)
        assert state_store.read_manifest(kept) == m
        assert not (tmp_path / f"run-{k}" / "state").exists()  # moved, not copied
    assert sorted(p.name for p in (store / "db-1").iterdir()) == [
        "2026-11-30",
        "2026-12-01",
        "2026-12-02",
    ]
    found = state_store.newest(store, "db-1", CUTOFF.isoformat())
    assert found is not None and found[1].run_date == date(2026, 12, 2)
    # a rerun of 2026-12-01 finds that night's own state (its cutoff is not after it) ...
    rerun = state_store.newest(store, "db-1", (CUTOFF - timedelta(days=2)).isoformat())
    assert rerun is not None and rerun[1].run_date == date(2026, 12, 1)
    # ... a backfill between two kept states the one before it
    back = state_store.newest(store, "db-1", (CUTOFF - timedelta(days=2, hours=1)).isoformat())
    assert back is not None and back[1].run_date == date(2026, 11, 30)
    # before every kept one: the newest is still returned, so the reason can name it
    early = state_store.newest(store, "db-1", (CUTOFF - timedelta(days=9)).isoformat())
    assert early is not None and early[1].run_date == date(2026, 12, 2)
    assert choose_path(early[1], **(TONIGHT | {"cutoff": CUTOFF - timedelta(days=9)})).code == (
        "later_state"
    )
    assert state_store.newest(store, "db-2", CUTOFF.isoformat()) is None


def test_a_rerun_replaces_the_state_of_its_date_and_a_broken_one_is_no_state(
    tmp_path: Path,
) -> None:
    store = tmp_path / "state"
    state_store.keep(_staged(tmp_path, "a"), store, PRIOR)
    kept = state_store.keep(_staged(tmp_path, "b"), store, PRIOR)
    table = pl.read_parquet(state_store.shard_table(kept, 0, "tallies"))
    assert table["marker"].to_list() == ["b"]
    (kept / state_store.MANIFEST).write_text("{not json", encoding="utf-8")
    assert state_store.read_manifest(kept) is None
    assert state_store.newest(store, "db-1", CUTOFF.isoformat()) is None


def _summary(**kw: Any) -> Any:
    from daglig.summary import RunSummary

    return RunSummary(run_date=RUN, status="ok", database="sqlite:///x.db", **kw)


def test_the_admins_read_how_the_features_were_computed_in_bokmal() -> None:
    from daglig.summary import email_context, to_markdown

    inc = _summary(
        features_path="incremental",
        features_reason="folded into the state of 2026-12-02",
        features_reason_code="folded",
        answers_read=2_210_345,
    )
    assert email_context(inc)["features_no"] == (
        "Beregnet trinnvis: 2\u00a0210\u00a0345 nye svar lagt til det som var kjent natten før."
    )
    assert "Features: incremental — folded into the state of 2026-12-02 (2,210,345 answers" in (
        to_markdown(inc)
    )
    weekly = _summary(
        features_path="full",
        features_reason="the weekly full night (7 days since the last one)",
        features_reason_code="weekly",
        answers_read=101_072_061,
    )
    assert email_context(weekly)["features_no"] == (
        "Beregnet fra hele svarloggen (101\u00a0072\u00a0061 svar): "
        "den ukentlige fulle omregningen."
    )
    assert email_context(_summary())["features_no"] is None  # a run that did not get there
