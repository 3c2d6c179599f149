"""Helpers for the data-quality, dirty-input, fault and security tests: run the flow with a
given environment, read the database back, and a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from daglig.io.db import make_engine
from tests.builders import AppDataBuilder

RUN = date(2026, 11, 24)


def write_dirty(b: AppDataBuilder, url: str) -> None:
    """Write the builder's rows the way a lax app can end up with them: foreign keys not
    enforced (SQLite's default; on PostgreSQL the superuser skips the FK triggers), so
    answers can point at questions that do not exist."""
    from sqlalchemy import create_engine, insert

    from models import Question, QuestionAttempt, User, UserProgress, create_app_tables

    engine = make_engine(url)
    create_app_tables(engine)
    engine.dispose()
    lax = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with lax.begin() as conn:
            if lax.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(insert(User), b.users)
            conn.execute(insert(UserProgress), [{"user_id": u["id"]} for u in b.users])
            conn.execute(insert(Question), b.question_rows())
            if b.attempts:
                conn.execute(insert(QuestionAttempt), b.attempts)
    finally:
        lax.dispose()


def set_settings(url: str, **values: Any) -> None:
    """Admin settings rows: str values are stored as given (raw JSON text), others JSON-encoded."""
    import json
    from datetime import datetime

    from sqlalchemy import delete, insert

    from models import ChallengeSetting, create_pipeline_tables

    engine = make_engine(url)
    create_pipeline_tables(engine)
    with engine.begin() as conn:
        for k, v in values.items():
            conn.execute(delete(ChallengeSetting).where(ChallengeSetting.key == k))
            conn.execute(
                insert(ChallengeSetting),
                {
                    "key": k,
                    "value": v if isinstance(v, str) else json.dumps(v),
                    "updated_at": datetime(2026, 11, 1),
                    "updated_by": "test",
                },
            )
    engine.dispose()


def flow_env(
    monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path, **env: str | int | float
) -> None:
    """Point the flow at ``url`` with its data in ``tmp_path/data``; ``env`` adds DAGLIG_*
    variables (``smtp_host="127.0.0.1"`` → ``DAGLIG_SMTP_HOST``)."""
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))
    for k in ("SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD"):
        monkeypatch.delenv(f"DAGLIG_{k}", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(f"DAGLIG_{k.upper()}", str(v))


def copy_world(world: Path, to: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private copy of a simulated world (``app.db`` and ``data/models``) in ``to``, the
    flow pointed at it (:func:`flow_env`); returns its URL."""
    to.mkdir(parents=True, exist_ok=True)
    shutil.copy(world / "app.db", to / "app.db")
    shutil.copytree(world / "data" / "models", to / "data" / "models")
    url = f"sqlite:///{to / 'app.db'}"
    flow_env(monkeypatch, url, to)
    return url


def run_flow(**kwargs: Any) -> Any:
    """The nightly flow for RUN (or run_date=...): its summary dict, or its State with
    return_state=True."""
    from flows.daily_challenges import generate_daily_challenges

    return generate_daily_challenges(run_date=kwargs.pop("run_date", RUN), **kwargs)


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def snapshot(url: str) -> list[tuple[Any, ...]]:
    """Every assignment with its challenge's content: what a learner sees and has done."""
    return query(
        url,
        "SELECT a.user_id, a.challenge_date, a.slot, d.content_key, d.title, a.progress, "
        "a.completed_at FROM user_daily_challenges a "
        "JOIN daily_challenges d ON d.id = a.challenge_id ORDER BY 1, 2, 3",
    )


def has_table(url: str, name: str) -> bool:
    from sqlalchemy import inspect

    engine = make_engine(url)
    try:
        return inspect(engine).has_table(name)
    finally:
        engine.dispose()


def outbox(tmp_path: Path) -> list[Message]:
    return [
        message_from_bytes(p.read_bytes())
        for p in sorted((tmp_path / "data" / "outbox").glob("*.eml"))
    ]


def body(msg: Message, subtype: str = "plain") -> str:
    part = next(p for p in msg.walk() if p.get_content_type() == f"text/{subtype}")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """What the loopback SMTP server received."""

    port: int
    messages: list[bytes] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def parsed(self) -> list[Message]:
        return [message_from_bytes(m) for m in self.messages]


@contextmanager
def smtp_server(password: str | None = None) -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; with ``password`` it requires AUTH
    (plain text allowed on loopback) and accepts only that password."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(bytes(envelope.original_content or envelope.content))
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, pw = data.login.decode(), data.password.decode()
        box.logins.append((login, pw))
        # handled=False: the server replies 535 itself (AuthResult's default, handled=True,
        # sends no reply at all and the client waits for its timeout)
        return AuthResult(success=pw == password, handled=False)

    kwargs: dict[str, Any] = {}
    if password is not None:
        kwargs = {
            "authenticator": authenticator,
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port, **kwargs)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def run_artifacts(flow_run_id: Any) -> list[str]:
    """Every artifact of one flow run (markdown, tables, progress) as text, oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return [
        f"{a.key} {a.description} {a.data}" for a in sorted(found, key=lambda a: str(a.created))
    ]


def run_logs(flow_run_id: Any) -> list[str]:
    """Every log line the Prefect API holds for one flow run and its tasks."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # logs are shipped in batches: send what is queued
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
    return [f"{log.name} {log.message}" for log in logs]


def task_run_messages(flow_run_id: Any) -> dict[str, str]:
    """{task name: its final state's message} of one flow run (call after :func:`task_runs`
    found the tasks recorded)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {
        r.name.rsplit("-", 1)[0]: r.state.message or ""
        for r in runs
        if r.state is not None and r.state.is_final()
    }


def task_runs(flow_run_id: Any, expect: set[str]) -> dict[str, tuple[str, int]]:
    """{task name: (final state type, run count)} of one flow run, from the Prefect API.
    The server records task runs from events, a moment later: wait until the ``expect``ed
    tasks are there in a final state."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    found: dict[str, tuple[str, int]] = {}
    with get_client(sync_client=True) as client:
        for _ in range(300):
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            found = {
                r.name.rsplit("-", 1)[0]: (r.state.type.value, r.run_count)
                for r in runs
                if r.state is not None and r.state.is_final()
            }
            if expect <= found.keys():
                return found
            time.sleep(0.1)
    raise AssertionError(f"task runs {expect - found.keys()} not recorded; found {found}")


def latest_flow_run(name: str, after: Any) -> Any:
    """The newest flow run called ``name`` that started after ``after`` (an aware datetime):
    how a test finds the run a ``daglig`` subprocess reported to the test's Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        FlowRunFilterStartTime,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(any_=[name]),
                start_time=FlowRunFilterStartTime(after_=after),
            ),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    assert runs, f"no flow run {name!r} after {after}"
    return runs[0]
