"""Bulk loading of the generated frames into SQLite or PostgreSQL.

The schema comes from SQLAlchemy (``models.tables.create_app_tables`` plus the side table
:data:`GROUND_TRUTH`); the rows go in as one transaction per database: ``executemany`` of
Python's sqlite3 on SQLite, ADBC bulk ingest (binary COPY) on PostgreSQL.
The contract's secondary indexes on ``question_attempts`` are dropped before the load and
re-created from the same SQLAlchemy ``Index`` objects afterwards, so the final schema is
exactly ``create_app_tables``'.

SQLite stores what SQLAlchemy's SQLite dialect reads back: DateTime as
``'YYYY-MM-DD HH:MM:SS.ffffff'`` text, Date as ``'YYYY-MM-DD'``, booleans as 0/1.
PostgreSQL gets Arrow columns of the exact column types (INTEGER → int32, REAL → float32),
since binary COPY does not convert between widths.
"""

from __future__ import annotations

import re
import sqlite3
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
    inspect,
)
from sqlalchemy.schema import AddConstraint, CreateIndex

from daglig.db import make_engine
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


def _table(name: str) -> Table:
    return GROUND_TRUTH if name == GROUND_TRUTH.name else Base.metadata.tables[name]


def prepare_schema(engine: Engine, *, replace: bool) -> None:
    """Drop (when ``replace``) and create the app tables and the ground-truth table, leaving
    the deferred indexes off until :func:`load` has run. Without ``replace`` the tables must
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


def _load_sqlite(engine: Engine, frames: dict[str, pl.DataFrame]) -> None:
    """Python's sqlite3 ``executemany`` in one transaction.

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
        # mode and go back to WAL (what daglig.db.make_engine uses) at the end. SQLite
        # refuses the switch while another connection has the file open in WAL mode; the
        # load then simply runs in WAL.
        switched = _journal_mode(conn, "DELETE")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA foreign_keys=OFF")
        # Measured: two sorter threads speed the index builds up; a larger cache_size slows
        # them down (6 s with the default 2 MiB, 13-17 s with 64 MiB-1 GiB).
        conn.execute("PRAGMA threads=2")
        conn.execute("BEGIN")
        for name in LOAD_ORDER:
            frame = sqlite_frame(frames[name])
            columns = ", ".join(frame.columns)
            marks = ", ".join("?" * frame.width)
            insert = f"INSERT INTO {name} ({columns}) VALUES ({marks})"
            for offset in range(0, frame.height, _SQLITE_CHUNK):
                chunk = frame.slice(offset, _SQLITE_CHUNK)
                conn.executemany(
                    insert, zip(*(chunk[c].to_list() for c in chunk.columns), strict=True)
                )
        for ddl in _index_ddl(engine):
            conn.execute(ddl)
        conn.execute("COMMIT")
        if switched:
            _journal_mode(conn, "WAL")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


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


def _foreign_keys(engine: Engine) -> tuple[list[str], list[str]]:
    """(DROP, ADD) statements for the foreign keys of the loaded tables. The ADD statements
    are SQLAlchemy's DDL for the models' constraints, so re-adding them gives the schema
    ``create_app_tables`` creates (PostgreSQL names them ``<table>_<column>_fkey`` again)."""
    drops, adds = [], []
    insp = inspect(engine)
    for name in LOAD_ORDER:
        table = _table(name)
        for fk in insp.get_foreign_keys(name):
            drops.append(f'ALTER TABLE {table.name} DROP CONSTRAINT "{fk["name"]}"')
        for con in sorted(table.foreign_key_constraints, key=lambda c: tuple(c.column_keys)):
            adds.append(str(AddConstraint(con).compile(dialect=engine.dialect)))
    return drops, adds


def _load_postgres(engine: Engine, frames: dict[str, pl.DataFrame]) -> None:
    import adbc_driver_postgresql.dbapi as adbc_pg

    # Foreign keys are dropped for the load and re-added (and so validated) after it, in
    # the same transaction: checking them row by row made the 10M-answer COPY 9x slower.
    drop_fks, add_fks = _foreign_keys(engine)
    libpq = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = adbc_pg.connect(libpq)
    try:
        with conn.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit = off")
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for ddl in drop_fks:
                cur.execute(ddl)
            for name in LOAD_ORDER:
                cur.adbc_ingest(
                    name, postgres_arrow(frames[name], _table(name), engine), mode="append"
                )
            for ddl in _index_ddl(engine) + add_fks:
                cur.execute(ddl)
            for name in LOAD_ORDER:
                cur.execute(f"ANALYZE {name}")
        conn.commit()
    finally:
        conn.close()


def load_frames(
    database_url: str, frames: dict[str, pl.DataFrame], *, replace: bool = True
) -> None:
    """Create the schema and bulk-load ``frames`` (as returned by ``generate``)."""
    engine = make_engine(database_url)
    try:
        prepare_schema(engine, replace=replace)
        engine.dispose()  # a pooled SQLite connection would block the journal-mode switch
        backend = engine.url.get_backend_name()
        if backend == "sqlite":
            _load_sqlite(engine, frames)
        elif backend == "postgresql":
            _load_postgres(engine, frames)
        else:
            raise ValueError(f"unsupported database backend {backend!r} (sqlite or postgresql)")
    finally:
        engine.dispose()
