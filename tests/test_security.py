"""Security: secrets never leave (logs, artifacts, emails, exceptions), the HTML email
escapes user-controlled text, SQL takes bind parameters only, settings have bounds."""

from __future__ import annotations

import ast
import json
import logging
import re
import traceback
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from daglig.config import Settings
from daglig.summary import RunSummary, compose_email
from tests.builders import AppDataBuilder
from tests.dq_helpers import (
    body,
    flow_env,
    free_port,
    run_artifacts,
    run_flow,
    run_logs,
    set_settings,
    smtp_server,
)

REPO = Path(__file__).resolve().parent.parent
EVIL = "<script>alert('elev')</script>"


def _psql(url: str) -> psycopg.Connection[Any]:
    u = make_url(url)
    return psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, autocommit=True
    )


@pytest.fixture
def secret_url(postgres_url: str) -> Iterator[tuple[str, str]]:
    """(URL with a password, the password): a login role of its own on the test database.
    The local server trusts loopback, so the password is carried, not checked."""
    role, password = f"daglig_sec_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    admin = make_url(postgres_url).set(database="postgres").render_as_string(hide_password=False)
    with _psql(admin) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")  # test setup DDL
    db = make_url(postgres_url).database
    with _psql(postgres_url) as conn:
        conn.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{db}" TO {role}')
        conn.execute(f"GRANT ALL ON SCHEMA public TO {role}")
        for kind in ("TABLES", "SEQUENCES"):
            conn.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON {kind} TO {role}")
    url = make_url(postgres_url).set(username=role, password=password)
    try:
        yield url.render_as_string(hide_password=False), password
    finally:
        with _psql(postgres_url) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            conn.execute(f"DROP OWNED BY {role}")
        with _psql(admin) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {role}")


class _Capture(logging.Handler):
    """Every log record, formatted with its traceback, from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs() -> Iterator[_Capture]:
    cap = _Capture()
    loggers = [logging.getLogger(), logging.getLogger("prefect")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(cap)
        lg.setLevel(logging.DEBUG)
    try:
        yield cap
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(cap)
            lg.setLevel(level)


@pytest.mark.postgres
@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
def test_no_secret_in_logs_artifacts_emails_or_exceptions(
    secret_url: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    captured_logs: _Capture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, db_password = secret_url
    smtp_password = f"smtp-{uuid.uuid4().hex}"
    b = AppDataBuilder()
    for i in range(5):
        uid = b.user()
        b.answers(uid, "traffic_signs", 10 * i + 1)
    b.users[0]["username"] = EVIL  # user-controlled text in the database
    admin_url = make_url(url).set(username="postgres", password=None)
    admin_str = admin_url.render_as_string(hide_password=False)
    b.write(admin_str)  # the app's tables belong to the app (postgres), granted to our role
    set_settings(admin_str, **{"<img src=x onerror=alert(1)>": "true"})

    seen: list[str] = []
    with smtp_server(password=smtp_password) as mail:
        env: dict[str, str | int] = {
            "smtp_host": "127.0.0.1",
            "smtp_port": mail.port,
            "smtp_user": "daglig",
        }
        flow_env(monkeypatch, url, tmp_path, smtp_password=smtp_password, **env)
        ok = run_flow(return_state=True)
        assert ok.is_completed(), ok.message
        summary = ok.result()
        # the same secrets, now with the database unreachable: a failed run, an exception
        dead = make_url(url).set(port=free_port()).render_as_string(hide_password=False)
        flow_env(monkeypatch, dead, tmp_path, smtp_password=smtp_password, **env)
        failed = run_flow(return_state=True)
        exc = failed.result(raise_on_failure=False)
        assert isinstance(exc, Exception) and failed.is_failed()
    assert mail.logins == [("daglig", smtp_password)] * 2  # the secret was used, twice
    assert summary["status"] == "ok" and summary["users_served"] == 5

    seen += ["".join(traceback.format_exception(exc)), repr(exc), json.dumps(summary)]
    seen += captured_logs.lines
    out = capsys.readouterr()
    seen += [out.out, out.err]
    for state in (ok, failed):
        seen += run_logs(state.state_details.flow_run_id)
        seen += run_artifacts(state.state_details.flow_run_id)
    messages = mail.parsed()
    assert len(messages) == 2
    seen += [m.as_string() for m in messages] + [body(m) for m in messages]
    seen += [body(m, "html") for m in messages]
    seen += [repr(Settings()), str(Settings())]
    assert len(seen) > 20 and any("check-health" in s for s in seen)  # we did capture
    for secret in (db_password, smtp_password):
        leaks = [s[max(0, s.find(secret) - 80) : s.find(secret) + 40] for s in seen if secret in s]
        assert leaks == []

    # user-controlled text is escaped in the HTML email, not executed
    html = body(messages[0], "html")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # the one image is the trend chart (cid:); no image or script comes from app data
    assert [t[:36] for t in re.findall(r"<img [^>]*>", html)] == [
        '<img src="cid:trend-chart@daglig.loc'
    ]
    assert "<script" not in html


def test_html_email_escapes_user_controlled_text() -> None:
    s = RunSummary(run_date=date(2026, 11, 24), status="failed", database="sqlite:///x.db")
    s.error = f"RenderError: username {EVIL} broke a template"
    s.failed_task = "render-challenges"
    s.notes = [f"user {EVIL} skipped"]
    s.settings_problems = ['enabled_categories: unknown keys ["<b>bold</b>"]']
    s.quarantined = {"<i>reason</i>": 1}
    from daglig.rendering import make_environment

    msg = compose_email(s, "daglig@localhost", ["admin@localhost"], make_environment())
    html, text = body(msg, "html"), body(msg)
    assert "<script" not in html and "<b>bold" not in html and "<i>reason" not in html
    assert "&lt;script&gt;alert(&#39;elev&#39;)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "&lt;i&gt;reason&lt;/i&gt;" in html
    assert EVIL in text  # the plain-text part shows it as typed: text is not executed


# ------------------------------------------------------------------------ bind parameters

CODE_DIRS = ("daglig", "tasks", "flows", "models", "simulator", "bench")
SQL_START = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|DROP|ALTER|COPY|PRAGMA|ANALYZE|TRUNCATE|"
    r"GRANT|LOCK|MERGE|VACUUM)\b"
)
# Statements built with f-strings that cannot take bind parameters, because what they
# interpolate is an identifier or a keyword chosen by the code, never a value:
ALLOWED = {
    ("daglig/io/store.py", "COPY "): "staging table and column names from CHALLENGE_COLUMNS",
    ("simulator/load.py", "PRAGMA journal_mode="): "a journal mode keyword (WAL/DELETE)",
    ("simulator/load.py", "ANALYZE "): "table names from the models' LOAD_ORDER",
    ("simulator/load.py", "INSERT INTO "): "model table and column names; values bound as ?",
    ("simulator/load.py", "ALTER TABLE "): "foreign-key names read from the catalogue",
    ("simulator/add_day.py", "ANALYZE "): "stage names, the keys of _UPDATES",
    ("simulator/add_day.py", "CREATE TEMP TABLE "): "stage names of _UPDATES, frame columns",
    ("simulator/add_day.py", "DROP TABLE "): "stage names, the keys of _UPDATES",
    ("simulator/add_day.py", "INSERT INTO "): "model table and column names; values bound as ?",
    ("bench/scale.py", 'DROP DATABASE IF EXISTS "'): "a daglig_bench_* name, checked first",
    ("bench/scale.py", 'CREATE DATABASE "'): "a daglig_bench_* name, checked first",
    ("bench/scale.py", "SELECT count(*) FROM "): "table names written in the code",
}


def _leading_text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def formatted_sql(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, leading text) of every SQL text assembled from values at run time: f-strings,
    ``%``, ``+`` and ``.format`` on a string that starts like SQL."""
    found = []
    for node in ast.walk(tree):
        text: str | None = None
        if isinstance(node, ast.JoinedStr) and any(
            isinstance(v, ast.FormattedValue) for v in node.values
        ):
            text = _leading_text(node)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
            text = _leading_text(node.left)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
        ):
            text = _leading_text(node.func.value)
        if text is not None and SQL_START.match(text):
            found.append((getattr(node, "lineno", 0), text.lstrip()[:40]))
    return found


def test_formatted_sql_is_caught() -> None:
    tree = ast.parse(
        'a = f"SELECT * FROM t WHERE id = {x}"\n'
        'b = "DELETE FROM t WHERE id = %s" % x\n'
        'c = "UPDATE t SET a = {}".format(x)\n'
        'd = "INSERT INTO t VALUES (" + x + ")"\n'
        'e = text("SELECT * FROM t WHERE id = :id")\n'
        'f = f"Selected {n} users"\n'
    )
    assert [line for line, _ in formatted_sql(tree)] == [1, 2, 3, 4]


def test_every_sql_statement_takes_bind_parameters() -> None:
    offenders = []
    for folder in CODE_DIRS:
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            for line, text in formatted_sql(ast.parse(path.read_text(encoding="utf-8"))):
                if not any(rel == f and text.startswith(p) for f, p in ALLOWED):
                    offenders.append(f"{rel}:{line}: {text}")
    assert offenders == []
    # the statement files: named (or DuckDB $n) markers only, no formatting placeholders
    for path in sorted((REPO / "sql").rglob("*.sql")):
        sql = "\n".join(
            ln.split("--", 1)[0] for ln in path.read_text(encoding="utf-8").splitlines()
        )
        assert not re.search(r"\{[^}]*\}|%\(?\w*\)?s\b|\?\?", sql), path


def test_a_statement_with_a_value_goes_through_a_bind_parameter() -> None:
    from daglig import sql as sqlfiles
    from daglig.io.db import sql_statement

    stmt = sql_statement("read/attempts")
    assert "cutoff" in stmt.compile().params  # a bind, not text
    query, args = sqlfiles.positional(sqlfiles.load("read/attempts"), {"cutoff": "x"}, "qmark")
    assert "?" in query and args == ["x"] and ":cutoff" not in query


# ------------------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("DAGLIG_SMTP_PORT", "0"),
        ("DAGLIG_SMTP_PORT", "70000"),
        ("DAGLIG_SMTP_TIMEOUT_SECONDS", "0"),
        ("DAGLIG_DQ_MAX_EXCLUDED_SHARE", "1.5"),
        ("DAGLIG_DQ_MAX_EXCLUDED_SHARE", "-0.1"),
        ("DAGLIG_DQ_MIN_ANSWERS", "-1"),
    ],
)
def test_settings_out_of_bounds_are_refused(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    monkeypatch.setenv("DAGLIG_SMTP_PASSWORD", "hunter2-not-shown")
    with pytest.raises(ValidationError) as info:
        Settings()
    assert var.removeprefix("DAGLIG_").lower() in str(info.value)
    assert "hunter2-not-shown" not in str(info.value)


def test_settings_repr_hides_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:db-secret-1@db.example/app")
    monkeypatch.setenv("DAGLIG_SMTP_PASSWORD", "smtp-secret-2")
    s = Settings()
    assert "db-secret-1" not in repr(s) and "smtp-secret-2" not in repr(s)
    assert "db-secret-1" not in s.safe_database_url()
    assert s.smtp_password is not None and s.smtp_password.get_secret_value() == "smtp-secret-2"


# --------------------------------------------- markdown artifacts (issue 12, item 17)

IMG = "traffic_signs<img src=x onerror=alert(1)>"
MARKUP = [IMG, EVIL, "**bold** _it_ [link](http://x) ![i](http://x/i.png)", "a | b", "# h1"]


def _rendered(markdown_text: str) -> str:
    """The markdown as HTML by a CommonMark renderer that lets raw HTML through (the
    worst case of what the Prefect UI may do with an artifact)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown_text)


def _no_markup(html_out: str) -> None:
    for tag in ("<img", "<script", "<em>", "<a ", "<h2>h1"):
        assert tag not in html_out, (tag, html_out)


def test_markdown_summary_shows_app_data_as_text() -> None:
    import html

    from daglig import markdown
    from daglig.summary import to_markdown

    s = RunSummary(run_date=date(2026, 11, 24), status="failed", database="sqlite:///x.db")
    s.error = f"IntegrityError: category {IMG} refused"
    s.failed_task = "upsert-challenges"
    s.notes = list(MARKUP)
    s.settings_problems = [f"enabled_categories: unknown keys [{m!r}]" for m in MARKUP]
    s.quality = {"inputs": {"checks": 2, "passed": 1, "warnings": [f"e.g. [{IMG!r}]"]}}
    s.quarantined = {IMG: 1}
    s.ml_status, s.ml_reason = "fallback", f"model {IMG} unusable"
    out = _rendered(to_markdown(s))
    _no_markup(out)
    assert out.count("<strong>") == 1 and out.count("<h1>") == 1  # ours: "Failed in", title
    visible = html.unescape(out)
    for m in MARKUP:
        assert m in visible, m  # shown as the characters they are
    assert out.count("<table>") == 1  # the "a | b" note made no table of its own
    for cell in markdown.cells([{"category": IMG, "assignments": 3}]):
        assert cell["assignments"] == 3
        _no_markup(_rendered(cell["category"]))
        assert IMG in html.unescape(_rendered(cell["category"]))
    assert markdown.code("a`b") == "`` a`b ``" and "<img" not in _rendered(markdown.code(IMG))


@pytest.mark.usefixtures("prefect_harness")
def test_a_run_puts_no_app_markup_into_its_artifacts(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A question whose category is an HTML tag, answered: the run's artifacts (markdown and
    tables) carry it escaped."""
    b = AppDataBuilder()
    for _ in range(3):
        uid = b.user()
        b.answers(uid, "traffic_signs", 10)
    b.extra_questions.append({"id": 9001, "category": IMG, "difficulty": 0.5, "is_active": True})
    b.answers(1, "traffic_signs", 1, question=9001)
    b.write(sqlite_url)
    flow_env(monkeypatch, sqlite_url, tmp_path)
    state = run_flow(return_state=True)
    assert state.is_completed(), state.message
    artifacts = run_artifacts(state.state_details.flow_run_id)
    summary = next(a for a in artifacts if a.startswith("daily-challenges-2026-11-24 "))
    assert "| unknown_category | 1 |" in summary
    assert "&lt;img src=x onerror=alert(1)&gt;" in summary  # the input gate's example
    for a in artifacts:
        assert "<img" not in a
