"""Connections: a SQLAlchemy engine for writes and small reads, ADBC for bulk reads to Arrow.

ADBC reads PostgreSQL and SQLite straight into Arrow (2-6x faster than fetching Python
tuples). On SQLite it returns booleans as int64 and timestamps as text, so
:func:`read_frame` casts columns to the schema the caller asks for.

Every session is bounded and named (:class:`daglig.config.SessionLimits`): on PostgreSQL
``lock_timeout``, ``statement_timeout``, ``idle_in_transaction_session_timeout`` and
``application_name=daglig`` are set when the connection opens (libpq ``options``), for
SQLAlchemy and ADBC alike; SQLite's busy timeout is the lock timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, TextClause, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from daglig import sql as sqlfiles
from daglig.config import SessionLimits


def sql_statement(name: str) -> TextClause:
    """A SQLAlchemy text clause for ``sql/<name>.sql``."""
    return text(sqlfiles.load(name))


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def pg_session_options(limits: SessionLimits) -> dict[str, str]:
    """libpq connection parameters that bound and name a PostgreSQL session."""
    return {
        "application_name": limits.application_name,
        "options": (
            f"-c lock_timeout={_ms(limits.lock_timeout_seconds)} "
            f"-c statement_timeout={_ms(limits.statement_timeout_seconds)} "
            "-c idle_in_transaction_session_timeout="
            f"{_ms(limits.idle_in_transaction_timeout_seconds)}"
        ),
    }


def _pg_connect_args(u: Any, limits: SessionLimits, read_only: bool) -> dict[str, Any]:
    """Our session parameters, under any the URL itself sets (those win: a URL's own
    ``application_name`` is kept, its ``options`` come after ours)."""
    ours = pg_session_options(limits)
    query = dict(u.query)
    args: dict[str, Any] = {"application_name": ours["application_name"]}
    if "application_name" in query:
        args.pop("application_name")
    options = ours["options"] + (" -c default_transaction_read_only=on" if read_only else "")
    given = query.get("options")
    args["options"] = options + (f" {given}" if isinstance(given, str) else "")
    return args


@contextmanager
def engine_of(
    url: str,
    limits: SessionLimits | None = None,
    *,
    read_only: bool = False,
    timeout: float | None = None,
) -> Iterator[Engine]:
    """:func:`make_engine` for a ``with`` block, disposed of at its end (the one way the
    tasks and the CLI open a database for one piece of work)."""
    engine = make_engine(url, limits, read_only=read_only, timeout=timeout)
    try:
        yield engine
    finally:
        engine.dispose()


def make_engine(
    url: str,
    limits: SessionLimits | None = None,
    *,
    read_only: bool = False,
    timeout: float | None = None,
    pooled: bool = True,
) -> Engine:
    """An engine for ``url``; SQLite gets WAL and foreign keys on, its folder created and
    the lock timeout as busy timeout; PostgreSQL sessions get ``limits`` (default: the
    defaults of :class:`~daglig.config.SessionLimits`).

    ``read_only``: an engine that cannot change the database or create anything: SQLite
    opens the file with ``mode=ro`` (no folder or file is created, no pragma written; an
    absent file fails to open), PostgreSQL sessions are read-only transactions.
    ``timeout``: seconds to wait for a connection, a lock or a statement before failing,
    for bookkeeping that must not hang (it overrides the lock and statement limits).
    ``pooled=False``: SQLite closes each connection when it is returned (a long-lived
    read-only reader must not keep a connection open beside the night's writers: a writer
    then failed with "disk I/O error" switching the file to WAL).
    """
    limits = limits or SessionLimits()
    if timeout is not None:
        limits = replace(limits, lock_timeout_seconds=timeout, statement_timeout_seconds=timeout)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        path = u.database
        if read_only and path and path != ":memory:":
            # pysqlite's URI form: file:<path>?mode=ro (SQLAlchemy passes uri=true on)
            u = u.set(database=f"file:{path}", query={"mode": "ro", "uri": "true"})
        elif path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            u,
            connect_args={"timeout": limits.lock_timeout_seconds},
            **({} if pooled else {"poolclass": NullPool}),
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if not read_only:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if u.get_backend_name() == "postgresql" and u.get_driver_name() in ("", "psycopg2"):
        # psycopg 3 is what we install; a plain postgresql:// URL means it.
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() == "postgresql":
        args = _pg_connect_args(u, limits, read_only)
        if timeout is not None:
            args["connect_timeout"] = max(1, int(timeout))
        u = u.difference_update_query(["options"])
        return create_engine(u, pool_pre_ping=True, connect_args=args)
    return create_engine(u, pool_pre_ping=True)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another backend or an in-memory database)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def backend(url: str) -> str:
    """'sqlite', 'postgresql' or another SQLAlchemy backend name."""
    return make_url(url).get_backend_name()


@contextmanager
def adbc_connection(url: str, limits: SessionLimits | None = None) -> Iterator[tuple[Any, str]]:
    """An ADBC DB-API connection to a SQLite or PostgreSQL ``url`` (PostgreSQL with the
    session limits, as SQLAlchemy's) and its bind style (``qmark`` / ``numeric_dollar``,
    for :func:`daglig.sql.positional`); closed on leaving, whatever happened."""
    conn, style = _adbc_connect(url, limits)
    try:
        yield conn, style
    finally:
        conn.close()


def _adbc_connect(url: str, limits: SessionLimits | None = None) -> tuple[Any, str]:
    u = make_url(url)
    name = u.get_backend_name()
    if name == "sqlite":
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        return adbc_sqlite.connect(u.database or ":memory:"), "qmark"
    if name == "postgresql":
        from urllib.parse import quote, urlencode

        import adbc_driver_postgresql.dbapi as adbc_pg

        query = {**dict(u.query), **_pg_connect_args(u, limits or SessionLimits(), False)}
        base = u.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
        # libpq decodes %20, not the "+" SQLAlchemy's rendering puts for a space
        libpq = f"{base}?{urlencode(query, doseq=True, quote_via=quote)}"
        return adbc_pg.connect(libpq), "numeric_dollar"
    raise ValueError(f"no ADBC driver for backend {name!r}")


def _bind_value(v: Any, style: str) -> Any:
    # SQLite stores SQLAlchemy DateTime as 'YYYY-MM-DD HH:MM:SS.ffffff' text: compare as text.
    if style == "qmark" and isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if style == "qmark" and isinstance(v, date):
        return v.isoformat()
    return v


def read_frame(
    url: str,
    name: str,
    params: dict[str, Any] | None = None,
    schema: dict[str, Any] | None = None,
    limits: SessionLimits | None = None,
) -> pl.DataFrame:
    """Run ``sql/<name>.sql`` and return a polars frame cast to ``schema``.

    Uses ADBC on SQLite and PostgreSQL, SQLAlchemy elsewhere.
    """
    params = params or {}
    if backend(url) in ("sqlite", "postgresql"):
        with adbc_connection(url, limits) as (conn, style):
            query, args = sqlfiles.positional(sqlfiles.load(name), params, style)
            with conn.cursor() as cur:
                cur.execute(query, [_bind_value(a, style) for a in args] or None)
                table = cur.fetch_arrow_table()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
    else:
        engine = make_engine(url, limits)
        with engine.connect() as c:
            frame = pl.read_database(sql_statement(name), c, execute_options={"parameters": params})
    return cast_frame(frame, schema) if schema else frame


def stream_frames(
    url: str,
    name: str,
    params: dict[str, Any] | None = None,
    schema: dict[str, Any] | None = None,
    batch_rows: int = 1_000_000,
    limits: SessionLimits | None = None,
) -> Iterator[pl.DataFrame]:
    """Run ``sql/<name>.sql`` through ADBC and yield its rows as frames of Arrow record
    batches (cast to ``schema``), never holding the whole result: the answer log of a
    million learners is ~100M rows. SQLite and PostgreSQL only."""
    with adbc_connection(url, limits) as (conn, style):
        query, args = sqlfiles.positional(sqlfiles.load(name), params or {}, style)
        with conn.cursor() as cur:
            if style == "qmark":  # ADBC-SQLite's batch size (rows), default 1024
                cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "65536"})
            cur.execute(query, [_bind_value(a, style) for a in args] or None)
            reader = cur.fetch_record_batch()
            pending: list[Any] = []
            held = 0
            for batch in reader:
                pending.append(batch)
                held += batch.num_rows
                if held >= batch_rows:
                    yield _frame_of(pending, schema)
                    pending, held = [], 0
            if pending:
                yield _frame_of(pending, schema)


def stream_answer_log(
    url: str, cutoff: datetime, limits: SessionLimits | None = None
) -> Iterator[pl.DataFrame]:
    """The answer log's answers before ``cutoff`` (naive UTC), in batches of the columns the
    features use. ``sql/read/answer_log.sql`` has no bind parameters on purpose, so
    ADBC-PostgreSQL streams it through COPY; the cutoff is applied batch by batch."""
    from daglig.user_features import ATTEMPTS_SCHEMA

    for batch in stream_frames(url, "read/answer_log", None, ATTEMPTS_SCHEMA, limits=limits):
        yield batch.filter(pl.col("answered_at") < cutoff)


def _frame_of(batches: list[Any], schema: dict[str, Any] | None) -> pl.DataFrame:
    import pyarrow as pa

    frame = pl.from_arrow(pa.Table.from_batches(batches))
    assert isinstance(frame, pl.DataFrame)
    return cast_frame(frame, schema) if schema else frame


def cast_frame(frame: pl.DataFrame, schema: dict[str, Any]) -> pl.DataFrame:
    """Cast to ``schema``, parsing SQLite's text timestamps and dates and 0/1 booleans."""
    exprs = []
    for col, dtype in schema.items():
        if col not in frame.columns:
            exprs.append(pl.lit(None, dtype).alias(col))
            continue
        src = frame.schema[col]
        e = pl.col(col)
        if src == pl.String and dtype == pl.Datetime:
            e = e.str.to_datetime(time_unit="us", strict=False)
        elif src == pl.String and dtype == pl.Date:
            e = e.str.slice(0, 10).str.to_date(strict=False)
        elif isinstance(src, pl.Datetime) and dtype == pl.Datetime:
            e = e.dt.cast_time_unit("us").dt.replace_time_zone(None)
        exprs.append(e.cast(dtype).alias(col))
    return frame.select(exprs)
