"""Nynorsk end to end (issue 17): the optional ``users.preferred_language`` read on SQLite
and PostgreSQL, with and without the column, and the nightly flow on SQLite giving a
nynorsk learner nynorsk challenges while everyone else, and the admins' email, stay Bokmål.
"""

from __future__ import annotations

import email
import email.header
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from daglig.io.db import make_engine, read_frame
from daglig.user_features import USERS_SCHEMA, day_cutoff
from tasks.read_log import with_preferred_language
from tests.builders import AppDataBuilder
from tests.dq_helpers import query
from tests.test_flow import RUN
from tests.test_rendering_nn import BOKMAL_ONLY, NYNORSK_ONLY

pytestmark = pytest.mark.usefixtures("prefect_harness")

LANGUAGES = ["nn", "nb", None, "NN", "se", "nn", None, "nb"]


def build(url: str) -> list[int]:
    """Eight active learners with the languages above; every other one has history."""
    b = AppDataBuilder()
    ids = []
    for i, language in enumerate(LANGUAGES):
        uid = b.user(language=language)
        ids.append(uid)
        if i % 2:
            b.answers(uid, ["right_of_way", "winter_driving"][i % 4 // 2], 40, correct=0.7,
                      day=date(2026, 11, 23 - i % 3))  # fmt: skip
    b.write(url)
    return ids


def drop_language_column(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE users DROP COLUMN preferred_language"))
    engine.dispose()


def read_users(url: str) -> dict[int, str | None]:
    cutoff = day_cutoff(RUN)
    users = with_preferred_language(
        read_frame(url, "read/users", {"cutoff": cutoff}, USERS_SCHEMA), url, cutoff
    )
    assert users.columns == list(USERS_SCHEMA)
    return dict(users.select("user_id", "preferred_language").iter_rows())


def test_the_optional_column_is_read_where_it_exists(db_url: str) -> None:
    ids = build(db_url)
    assert read_users(db_url) == dict(zip(ids, LANGUAGES, strict=True))
    # an app database without the column: read all the same, everyone NULL (Bokmål)
    drop_language_column(db_url)
    assert read_users(db_url) == dict.fromkeys(ids)


def _night_texts(url: str) -> dict[int, list[tuple[str, str, str]]]:
    rows = query(
        url,
        "SELECT a.user_id, d.content_key, d.title, d.description FROM user_daily_challenges a "
        "JOIN daily_challenges d ON d.id = a.challenge_id WHERE a.challenge_date = :d",
        d=RUN,
    )
    out: dict[int, list[tuple[str, str, str]]] = {}
    for uid, key, title, description in rows:
        out.setdefault(int(uid), []).append((key, title, description))
    return out


def _subject(result: dict[str, Any]) -> str:
    msg = email.message_from_bytes(Path(result["email"]).read_bytes())
    return str(email.header.make_header(email.header.decode_header(msg["Subject"])))


def test_a_nynorsk_learner_gets_nynorsk_through_the_night(
    sqlite_url: str,
    night: Callable[..., dict[str, Any]],
) -> None:
    ids = build(sqlite_url)
    result = night(sqlite_url, run_date=RUN)
    assert result["status"] == "ok" and result["users_served"] == len(ids)
    texts = _night_texts(sqlite_url)
    assert set(texts) == set(ids)
    for uid, language in zip(ids, LANGUAGES, strict=True):
        form = "nn" if language == "nn" else "nb"  # NULL, 'NN', 'se': Bokmål
        assert len(texts[uid]) == 3
        for key, title, description in texts[uid]:
            assert key.split("|")[7] == form, (uid, key)  # the language part
            said = f"{title} {description}"
            if form == "nn":
                assert not BOKMAL_ONLY.search(said), said
            else:
                assert not NYNORSK_ONLY.search(said), said
    # a nynorsk learner reads nynorsk words (each of their three texts has some)
    nn_texts = [f"{t} {d}" for u, lang in zip(ids, LANGUAGES, strict=True) if lang == "nn"
                for _, t, d in texts[u]]  # fmt: skip
    assert len(nn_texts) == 6 and all(NYNORSK_ONLY.search(t) for t in nn_texts), nn_texts
    # the admins' email stays Bokmål
    assert _subject(result).startswith("Daglige utfordringer")


def test_the_night_on_an_app_database_without_the_column(
    sqlite_url: str,
    night: Callable[..., dict[str, Any]],
) -> None:
    ids = build(sqlite_url)
    drop_language_column(sqlite_url)
    result = night(sqlite_url, run_date=RUN)
    assert result["status"] == "ok" and result["users_served"] == len(ids)
    keys = [k for rows in _night_texts(sqlite_url).values() for k, _, _ in rows]
    assert len(keys) == 3 * len(ids) and all(k.split("|")[7] == "nb" for k in keys)
