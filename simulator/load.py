"""Bulk loading of the generated frames into SQLite or PostgreSQL.

The schema comes from SQLAlchemy (``models.tables.create_app_tables`` plus the side table
:data:`GROUND_TRUTH`); the rows go in as one transaction per database, one chunk of learners
after another (:func:`load_chunks`): ``executemany`` of Python's sqlite3 on SQLite, ADBC
bulk ingest (binary COPY) on PostgreSQL. What would slow the rows down is created only
after the last chunk, from the same SQLAlchemy objects, so the final schema is exactly
``create_app_tables``': on SQLite the secondary indexes of ``question_attempts``; on
PostgreSQL also the primary keys of the big tables (:data:`DEFERRED_KEYS`) and every foreign
key of the loaded tables.

SQLite stores what SQLAlchemy's SQLite dialect reads back: DateTime as
``'YYYY-MM-DD HH:MM:SS.ffffff'`` text, Date as ``'YYYY-MM-DD'``, booleans as 0/1.
PostgreSQL gets Arrow columns of the exact column types (INTEGER → int32, REAL → float32),
since binary COPY does not convert between widths.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import (
    REAL,
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    inspect,
    select,
)
from sqlalchemy.schema import AddConstraint, CreateIndex

from daglig.io.db import engine_of
from models.tables import APP_TABLES, Base, create_app_tables

GROUND_TRUTH_METADATA = MetaData()
GROUND_TRUTH = Table(
    "sim_ground_truth",
    GROUND_TRUTH_METADATA,
    Column("user_id", BigInteger, nullable=False),
    Column("category", Text, nullable=False),
    Column("theta", REAL, nullable=False),
    Column("mastery", REAL, nullable=False),
    Column("answers", Integer, nullable=False),
    PrimaryKeyConstraint("user_id", "category"),
)

# Load order respects the foreign keys.
LOAD_ORDER: tuple[str, ...] = (*APP_TABLES, "sim_ground_truth")
_DEFERRED_INDEX_TABLE = "question_attempts"
# PostgreSQL: tables whose primary key is built after the load (one sort instead of a B-tree
# insert per row). Only tables that nothing outside the load references: the pipeline's
# tables (kept with replace=False) reference users, whose key therefore stays.
DEFERRED_KEYS: tuple[str, ...] = ("quiz_sessions", "question_attempts", "sim_ground_truth")

Frames = dict[str, pl.DataFrame]


@dataclass
class LoadTimings:
    """Wall-clock seconds of a load: ``prepare`` dropping and creating the tables, ``rows``
    writing the rows of every chunk (not waiting for them), ``finish``
    the keys, indexes, foreign keys and ANALYZE after them; ``steps`` splits ``finish``
    by statement."""

    prepare: float = 0.0
    rows: float = 0.0
    finish: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)


def _table(name: str) -> Table:
    return GROUND_TRUTH if name == GROUND_TRUTH.name else Base.metadata.tables[name]


def prepare_schema(engine: Engine, *, replace: bool) -> None:
    """Drop (when ``replace``) and create the app tables and the ground-truth table, leaving
    the deferred indexes off until :func:`load_chunks` has run. Without ``replace`` the tables must
    be missing or empty."""
    with engine.begin() as conn:
        if replace:
            # Every contract table goes, pipeline tables included (they reference users).
            GROUND_TRUTH_METADATA.drop_all(conn, checkfirst=True)
            Base.metadata.drop_all(conn, checkfirst=True)
        else:
            existing = set(inspect(conn).get_table_names())
            for name in LOAD_ORDER:
                if name in existing:
                    tbl = _table(name)
                    if conn.execute(tbl.select().limit(1)).first() is not None:
                        raise ValueError(
                            f"table {name!r} already holds rows; use replace=True to start over"
                        )
        create_app_tables(conn)
        GROUND_TRUTH_METADATA.create_all(conn, checkfirst=True)
        for idx in sorted(
            Base.metadata.tables[_DEFERRED_INDEX_TABLE].indexes, key=lambda i: str(i.name)
        ):
            idx.drop(conn, checkfirst=True)


def existing_rows(database_url: str) -> dict[str, int]:
    """Rows per table of what ``replace=True`` would drop (the contract's tables, the
    pipeline's, the ground truth), for the tables that hold any; empty for a new database.
    Reads only: a SQLite file that does not exist is not created."""
    from daglig.io.db import sqlite_file

    path = sqlite_file(database_url)
    if path is not None and not path.exists():
        return {}
    with engine_of(database_url, read_only=True) as engine, engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        tables = [*Base.metadata.sorted_tables, GROUND_TRUTH]
        counts = {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in tables
            if t.name in present
        }
    return {name: n for name, n in counts.items() if n}


def _index_ddl(engine: Engine) -> list[str]:
    indexes = sorted(Base.metadata.tables[_DEFERRED_INDEX_TABLE].indexes, key=lambda i: str(i.name))
    return [str(CreateIndex(idx).compile(dialect=engine.dialect)) for idx in indexes]


# ------------------------------------------------------------------ SQLite


def sqlite_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame in the text/integer forms SQLAlchemy's SQLite dialect writes and reads."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            col = col.dt.to_string("%Y-%m-%d %H:%M:%S%.6f")
        elif dtype == pl.Date:
            col = col.dt.to_string("%Y-%m-%d")
        elif dtype == pl.Boolean:
            col = col.cast(pl.Int64)
        exprs.append(col)
    return frame.select(exprs)


_SQLITE_CHUNK = 500_000


def _journal_mode(conn: sqlite3.Connection, mode: str) -> bool:
    try:
        return str(conn.execute(f"PRAGMA journal_mode={mode}").fetchone()[0]).upper() == mode
    except sqlite3.OperationalError:  # "database is locked": another connection is open
        return False


def _load_sqlite(engine: Engine, chunks: Iterable[Frames], timings: LoadTimings) -> None:
    """Python's sqlite3 ``executemany`` in one transaction over all chunks; each chunk's
    tables are written in :data:`LOAD_ORDER` (a table missing from a chunk is skipped).

    ADBC ingest was faster (10M answers: 6.3 s against 17 s) but links its own SQLite
    (3.53 here; Python's is 3.40). Two SQLite copies in one process do not see each other's
    POSIX locks: with a caller's SQLAlchemy connection open, the ADBC connection switched the
    journal mode under it and that connection then read "database disk image is malformed".
    sqlite3 is the library SQLAlchemy uses, so its locking stays coherent.
    """
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise ValueError("simulate needs a SQLite database file (not :memory:)")
    conn = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        # New tables appended to need no WAL copy of their pages: load in rollback-journal
        # mode and go back to WAL (what daglig.io.db.make_engine uses) at the end. SQLite
        # refuses the switch while another connection has the file open in WAL mode; the
        # load then simply runs in WAL.
        switched = _journal_mode(conn, "DELETE")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA foreign_keys=OFF")
        # Measured: two sorter threads speed the index builds up; a larger cache_size slows
        # them down (6 s with the default 2 MiB, 13-17 s with 64 MiB-1 GiB).
        conn.execute("PRAGMA threads=2")
        conn.execute("BEGIN")
        for frames in chunks:
            t0 = time.perf_counter()
            for name in LOAD_ORDER:
                if name not in frames:
                    continue
                frame = sqlite_frame(frames[name])
                columns = ", ".join(frame.columns)
                marks = ", ".join("?" * frame.width)
                insert = f"INSERT INTO {name} ({columns}) VALUES ({marks})"
                for offset in range(0, frame.height, _SQLITE_CHUNK):
                    chunk = frame.slice(offset, _SQLITE_CHUNK)
                    conn.executemany(
                        insert, zip(*(chunk[c].to_list() for c in chunk.columns), strict=True)
                    )
            del frames
            timings.rows += time.perf_counter() - t0
        t0 = time.perf_counter()
        for ddl in _index_ddl(engine):
            _timed(timings, ddl, lambda ddl=ddl: conn.execute(ddl))
        conn.execute("COMMIT")
        if switched:
            _journal_mode(conn, "WAL")
        timings.finish += time.perf_counter() - t0
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def _timed(timings: LoadTimings, label: str, step: Any) -> None:
    t0 = time.perf_counter()
    step()
    timings.steps[" ".join(label.split())[:90]] = round(time.perf_counter() - t0, 3)


# ------------------------------------------------------------------ PostgreSQL

_PG_TYPES: dict[str, pl.DataType] = {
    "BIGINT": pl.Int64(),
    "INTEGER": pl.Int32(),
    "SMALLINT": pl.Int16(),
    "REAL": pl.Float32(),
    "FLOAT": pl.Float64(),
    "DOUBLE PRECISION": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
    "TEXT": pl.String(),
    "TIMESTAMP WITHOUT TIME ZONE": pl.Datetime("us"),
    "TIMESTAMP": pl.Datetime("us"),
    "DATE": pl.Date(),
}


def postgres_arrow(frame: pl.DataFrame, table: Table, engine: Engine) -> Any:
    """The frame as Arrow with each column in its PostgreSQL column's exact type."""
    exprs = []
    for col in table.columns:
        ddl_type = col.type.compile(dialect=engine.dialect).upper()
        m = re.fullmatch(r"FLOAT\((\d+)\)", ddl_type)
        if m:  # PostgreSQL: float(1..24) is REAL, float(25..53) DOUBLE PRECISION
            ddl_type = "REAL" if int(m.group(1)) <= 24 else "DOUBLE PRECISION"
        exprs.append(pl.col(col.name).cast(_PG_TYPES[ddl_type]))
    return frame.select(exprs).to_arrow()


def _deferred_ddl(engine: Engine) -> tuple[list[str], list[str], list[str]]:
    """(DROP, BUILD, ADD FOREIGN KEY) statements for what PostgreSQL makes after the load:
    the primary keys of :data:`DEFERRED_KEYS`, the secondary indexes (already dropped by
    :func:`prepare_schema`) and every foreign key of the loaded tables.

    BUILD (keys, then indexes) and ADD are SQLAlchemy's DDL for the models' objects, so the
    result is the schema ``create_app_tables`` creates: PostgreSQL names them
    ``<table>_pkey`` and ``<table>_<column>_fkey`` again. The foreign keys go last: each
    needs the key it references.
    """
    drops: list[str] = []
    insp = inspect(engine)
    for name in LOAD_ORDER:
        for fk in insp.get_foreign_keys(name):
            drops.append(f'ALTER TABLE {name} DROP CONSTRAINT "{fk["name"]}"')
    for name in DEFERRED_KEYS:
        pk = insp.get_pk_constraint(name)
        if pk.get("name"):
            drops.append(f'ALTER TABLE {name} DROP CONSTRAINT "{pk["name"]}"')
    # isolate_from_table=False: by default AddConstraint marks the model's constraint as
    # "not inline", and every later create_all in the process (create_app_tables in a test,
    # the next simulate) would then create the table without it.
    builds = [
        str(
            AddConstraint(_table(name).primary_key, isolate_from_table=False).compile(
                dialect=engine.dialect
            )
        )
        for name in DEFERRED_KEYS
    ] + _index_ddl(engine)
    adds: list[str] = []
    for name in LOAD_ORDER:
        table = _table(name)
        for con in sorted(table.foreign_key_constraints, key=lambda c: tuple(c.column_keys)):
            add = AddConstraint(con, isolate_from_table=False)
            adds.append(str(add.compile(dialect=engine.dialect)))
    return drops, builds, adds


def _load_postgres(engine: Engine, chunks: Iterable[Frames], timings: LoadTimings) -> None:
    """ADBC ingest (binary COPY) of every chunk, then the deferred keys and indexes,
    ANALYZE and the foreign keys, all in one transaction."""
    import adbc_driver_postgresql.dbapi as adbc_pg

    # Foreign keys are dropped for the load and re-added (and so validated) after it:
    # checking them row by row made the 10M-answer COPY 9x slower.
    drops, builds, fks = _deferred_ddl(engine)
    libpq = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = adbc_pg.connect(libpq)
    try:
        with conn.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit = off")
            # Index builds sort in memory up to this much (per build; the parallel workers
            # share it). Measured on the 10M-answer (user_id, answered_at) index: 7.4 s with
            # 256 MB, 5.6-5.8 s with 1 GB, no clear gain beyond.
            cur.execute("SET LOCAL maintenance_work_mem = '1GB'")
            for ddl in drops:
                cur.execute(ddl)
            for frames in chunks:
                t0 = time.perf_counter()
                for name in LOAD_ORDER:
                    if name in frames:
                        arrow = postgres_arrow(frames[name], _table(name), engine)
                        cur.adbc_ingest(name, arrow, mode="append")
                        del arrow
                del frames
                timings.rows += time.perf_counter() - t0
            t0 = time.perf_counter()
            for ddl in builds:
                _timed(timings, ddl, lambda ddl=ddl: cur.execute(ddl))
            # Statistics before the foreign keys are validated: their check is one join
            # query per key, planned better with row counts than with guesses.
            analyze = f"ANALYZE {', '.join(LOAD_ORDER)}"
            _timed(timings, "ANALYZE", lambda: cur.execute(analyze))
            for ddl in fks:
                _timed(timings, ddl, lambda ddl=ddl: cur.execute(ddl))
        conn.commit()
        timings.finish += time.perf_counter() - t0
    finally:
        conn.close()


def load_chunks(
    database_url: str, chunks: Iterable[Frames], *, replace: bool = True
) -> LoadTimings:
    """Create the schema and bulk-load every chunk of frames, in order, in one transaction.

    Each chunk is a dict of frames as returned by ``generate`` (ids already unique across
    chunks); a table absent from a chunk is skipped, so the question bank can come with the
    first chunk only. ``chunks`` may be a lazy iterator: each chunk is released once
    written, so memory stays at about one chunk (two while the next is generated ahead).
    """
    timings = LoadTimings()
    with engine_of(database_url) as engine:
        t0 = time.perf_counter()
        prepare_schema(engine, replace=replace)
        engine.dispose()  # a pooled SQLite connection would block the journal-mode switch
        timings.prepare = time.perf_counter() - t0
        backend = engine.url.get_backend_name()
        if backend == "sqlite":
            _load_sqlite(engine, chunks, timings)
        elif backend == "postgresql":
            _load_postgres(engine, chunks, timings)
        else:
            raise ValueError(f"unsupported database backend {backend!r} (sqlite or postgresql)")
    return timings


def load_frames(database_url: str, frames: Frames, *, replace: bool = True) -> None:
    """Create the schema and bulk-load ``frames`` (as returned by ``generate``)."""
    load_chunks(database_url, [frames], replace=replace)
