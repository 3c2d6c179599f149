"""Chunked simulation: learners generated and bulk-loaded ``chunk_users`` at a time share one
question bank, get unique dense ids, and end in the schema ``create_app_tables`` makes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, create_engine, inspect

from models.tables import create_app_tables
from simulator import chunk_sizes, generate, generate_chunks, simulate
from simulator.learners import FirstIds, simulate_frames
from simulator.load import GROUND_TRUTH_METADATA, LOAD_ORDER

END = dt.date(2026, 11, 23)
KW: dict[str, Any] = dict(seed=3, end_date=END, history_days=60, answers_per_user=40)
USERS, CHUNK = 600, 200  # three chunks

# (table, column, referenced table) of every foreign key of the loaded tables.
FOREIGN_KEYS = (
    ("user_progress", "user_id", "users"),
    ("quiz_sessions", "user_id", "users"),
    ("question_attempts", "user_id", "users"),
    ("question_attempts", "question_id", "questions"),
    ("question_attempts", "quiz_session_id", "quiz_sessions"),
)


@pytest.fixture(scope="module")
def chunks() -> list[dict[str, pl.DataFrame]]:
    return list(generate_chunks(users=USERS, chunk_users=CHUNK, **KW))


@pytest.fixture(scope="module")
def whole(chunks: list[dict[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    """The chunks' frames concatenated: what the database must hold."""
    return {name: pl.concat([c[name] for c in chunks if name in c]) for name in LOAD_ORDER}


def test_chunk_sizes() -> None:
    assert chunk_sizes(600, 200) == [200, 200, 200]
    assert chunk_sizes(450, 200) == [200, 200, 50]
    assert chunk_sizes(150, 200) == [150]
    assert chunk_sizes(0, 200) == [0]
    with pytest.raises(ValueError):
        chunk_sizes(10, 0)


def test_one_chunk_is_generate() -> None:
    (only,) = list(generate_chunks(users=150, chunk_users=200, **KW))
    ref = generate(users=150, **KW)
    assert only.keys() == ref.keys()
    for name, frame in ref.items():
        assert only[name].equals(frame), name


def test_chunks_share_the_bank_and_number_ids_on(
    chunks: list[dict[str, pl.DataFrame]], whole: dict[str, pl.DataFrame]
) -> None:
    assert len(chunks) == 3 and "questions" in chunks[0]
    assert all("questions" not in c for c in chunks[1:])
    # A later chunk draws chunk 0's question bank, whatever its ids start from.
    later = simulate_frames(users=5, chunk=2, first_ids=FirstIds(10, 20, 30), **KW).frames
    assert later["questions"].equals(chunks[0]["questions"])
    assert later["users"]["id"].to_list() == [11, 12, 13, 14, 15]
    assert later["users"]["username"][0] == "elev00011"

    for name in ("users", "quiz_sessions", "question_attempts", "questions"):
        ids = whole[name]["id"]
        assert ids.to_list() == list(range(1, ids.len() + 1)), name  # unique, dense, in order
    assert whole["users"].height == USERS
    assert whole["user_progress"]["user_id"].equals(whole["users"]["id"].alias("user_id"))
    assert whole["sim_ground_truth"].height == USERS * 12
    for table, column, ref in FOREIGN_KEYS:
        assert whole[table][column].is_in(whole[ref]["id"].implode()).all(), (table, column)
    # Sessions and answers of a chunk belong to that chunk's users.
    for c in chunks:
        lo, hi = c["users"]["id"].min(), c["users"]["id"].max()
        assert c["question_attempts"]["user_id"].is_between(lo, hi).all()
        assert c["quiz_sessions"]["user_id"].is_between(lo, hi).all()
    # Different streams: the chunks' learners are not copies of each other.
    a0, a1 = (c["question_attempts"] for c in chunks[:2])
    assert a0.height != a1.height or not a0["is_correct"].equals(a1["is_correct"])


def test_chunks_are_deterministic(chunks: list[dict[str, pl.DataFrame]]) -> None:
    again = list(generate_chunks(users=USERS, chunk_users=CHUNK, **KW))
    for c, d in zip(chunks, again, strict=True):
        assert c.keys() == d.keys() and all(c[k].equals(d[k]) for k in c)
    other = next(generate_chunks(users=USERS, chunk_users=CHUNK, **{**KW, "seed": 4}))
    assert not other["question_attempts"].equals(chunks[0]["question_attempts"])


# ------------------------------------------------------------------ loaded databases


def _schema(engine: Engine) -> dict[str, Any]:
    insp = inspect(engine)
    out: dict[str, Any] = {}
    for name in LOAD_ORDER:
        out[name] = (
            insp.get_pk_constraint(name),
            sorted(insp.get_indexes(name), key=lambda i: str(i["name"])),
            sorted(insp.get_foreign_keys(name), key=lambda f: str(f["constrained_columns"])),
            insp.get_unique_constraints(name),
        )
    return out


def _fresh_schema(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        create_app_tables(engine)
        GROUND_TRUTH_METADATA.create_all(engine)
        return _schema(engine)
    finally:
        engine.dispose()


def _check_database(engine: Engine, whole: dict[str, pl.DataFrame]) -> None:
    with engine.connect() as conn:
        for name in LOAD_ORDER:
            key = "user_id" if name in ("user_progress", "sim_ground_truth") else "id"
            n, lo, hi, distinct = conn.exec_driver_sql(
                f"SELECT COUNT(*), MIN({key}), MAX({key}), COUNT(DISTINCT {key}) FROM {name}"
            ).one()
            assert n == whole[name].height, name
            if name != "sim_ground_truth":
                assert (lo, hi, distinct) == (1, n, n), name  # unique and dense
        for table, column, ref in FOREIGN_KEYS:
            orphans = conn.exec_driver_sql(
                f"SELECT COUNT(*) FROM {table} t LEFT JOIN {ref} r ON r.id = t.{column} "
                f"WHERE t.{column} IS NOT NULL AND r.id IS NULL"
            ).scalar()
            assert orphans == 0, (table, column)
        rows = conn.exec_driver_sql(
            "SELECT id, user_id, question_id, quiz_session_id, is_correct "
            "FROM question_attempts ORDER BY id"
        ).all()
    attempts = whole["question_attempts"]
    assert [tuple(r[:4]) for r in rows] == list(
        attempts.select("id", "user_id", "question_id", "quiz_session_id").iter_rows()
    )
    assert [bool(r[4]) for r in rows] == attempts["is_correct"].to_list()


def _check_run(url: str, whole: dict[str, pl.DataFrame], **kw: Any) -> None:
    # The schema create_app_tables makes, taken first: simulate (replace=True) drops it.
    fresh = _fresh_schema(url)
    summary = simulate(url, users=USERS, chunk_users=CHUNK, **KW, **kw)
    assert summary.chunks == 3 and summary.users == USERS
    assert summary.answers == whole["question_attempts"].height
    assert summary.sessions == whole["quiz_sessions"].height
    assert summary.questions == whole["questions"].height
    assert summary.active_users == int(whole["users"]["is_active"].sum())
    assert sum(summary.by_archetype.values()) == USERS
    assert 0 <= summary.index_seconds <= summary.write_seconds
    engine = create_engine(url)
    try:
        _check_database(engine, whole)
        assert _schema(engine) == fresh
    finally:
        engine.dispose()


def test_chunked_simulate(db_url: str, whole: dict[str, pl.DataFrame]) -> None:
    # both ways of producing the chunks: in turn (SQLite) and read ahead (PostgreSQL)
    _check_run(db_url, whole, read_ahead=not db_url.startswith("sqlite"))
