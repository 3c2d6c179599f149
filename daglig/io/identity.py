"""Which database is this? A pipeline-owned identity, so a learner model knows its database.

``pipeline_identity`` holds one row: a random id (``db-`` and 16 hex digits) and when it
was made. Training creates it when missing (:func:`ensure_identity`) and records it in
the model's metadata; the nightly run only reads it (:func:`read_identity`; a dry run or a
read-only database creates nothing) and uses a model only when its identity is the
database's. The model store is laid out by identity: ``data/models/<identity>/…``.

Why not the URL: the same database is reached by different URLs (host names, a proxy, a
copied SQLite file), and different databases by the same one (``sqlite:///data/daglig.db``
after a new ``daglig simulate``). A copy of the database carries the row, and so may use
the models trained on the original; a re-simulated one gets a new row.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL, make_url

from daglig.io.db import sql_statement
from models.tables import Base

TABLE = "pipeline_identity"


def read_identity(engine: Engine) -> str | None:
    """This database's identity, or None when it has none yet (nothing trained on it)."""
    if not inspect(engine).has_table(TABLE):
        return None
    with engine.connect() as conn:
        row = conn.execute(sql_statement("identity/read")).first()
    return None if row is None else str(row.identity)


def ensure_identity(engine: Engine, now: datetime | None = None) -> str:
    """This database's identity, created (table and row) when missing; safe when two
    processes create it at once (one row wins, both read it)."""
    Base.metadata.tables[TABLE].create(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(
            sql_statement("identity/insert"),
            {
                "identity": f"db-{secrets.token_hex(8)}",
                "created_at": now or datetime.now(UTC).replace(tzinfo=None),
            },
        )
        row = conn.execute(sql_statement("identity/read")).one()
    return str(row.identity)


def url_without_credentials(url: str) -> str:
    """A database URL for metadata and messages: no user name, no password."""
    u = make_url(url)
    bare = URL.create(u.drivername, host=u.host, port=u.port, database=u.database, query=u.query)
    return bare.render_as_string(hide_password=False)
