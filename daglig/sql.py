"""SQL lives in ``sql/``, one statement per file, loaded by name, bind parameters only.
The text only (pure); a SQLAlchemy clause of it is ``daglig.io.db.sql_statement``.

Files use SQLAlchemy's named style (``:cutoff``). :func:`positional` rewrites a statement
for a DB-API driver that wants positional markers (ADBC: ``?`` on SQLite, ``$n`` on
PostgreSQL).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_NAMED = re.compile(r"(?<![:\w]):([a-zA-Z_]\w*)")


@cache
def load(name: str) -> str:
    """The text of ``sql/<name>.sql`` (name may contain a sub-folder: ``features/user``)."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL statement named {name!r} (looked for {path})")
    return path.read_text(encoding="utf-8").strip().rstrip(";")


def positional(sql: str, params: dict[str, Any], style: str) -> tuple[str, list[Any]]:
    """Rewrite ``:name`` markers to ``?`` (style 'qmark') or ``$n`` (style 'numeric_dollar')."""
    order: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if style == "qmark":
            order.append(name)
            return "?"
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    # Whole-line comments may mention parameters; they must not become markers.
    sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    out = _NAMED.sub(repl, sql)
    missing = [n for n in order if n not in params]
    if missing:
        raise KeyError(f"missing bind parameters {missing}")
    return out, [params[n] for n in order]
