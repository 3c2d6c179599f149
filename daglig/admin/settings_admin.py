"""The admin's ``challenge_settings``: the view (defaults filled in, problems, who changed
what) and changes validated against the contract's keys and bounds, recorded in
``challenge_settings_history``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import polars as pl

from daglig import sql as sqlfiles
from daglig.admin.common import (
    AdminInputError,
    jsonable,
    records,
    table_names,
)
from daglig.challenge_settings import (
    KEYS,
    SettingError,
    parse_challenge_settings,
    validate_update,
)
from daglig.io.db import make_engine, read_frame, sql_statement
from daglig.io.lock import LOCK_NAMESPACE
from models.tables import Base

SETTINGS_LOCK_KEY = 1  # advisory lock (LOCK_NAMESPACE, 1): one settings change at a time
LIST_KEYS = ("enabled_types", "enabled_categories")
MAX_BY_LENGTH = 100


def settings_view(url: str, history: int = 20) -> dict[str, Any]:
    """The settings in force (defaults filled in), problems with stored values, the stored
    rows with who changed each last, and the latest ``history`` changes."""
    tables = table_names(url)
    stored: list[dict[str, Any]] = []
    if "challenge_settings" in tables:
        frame = read_frame(
            url,
            "admin/settings_rows",
            None,
            {
                "key": pl.String,
                "value": pl.String,
                "updated_at": pl.Datetime("us"),
                "updated_by": pl.String,
            },
        )
        stored = records(frame)
    effective = parse_challenge_settings({r["key"]: r["value"] for r in stored})
    changes: list[dict[str, Any]] = []
    if history and "challenge_settings_history" in tables:
        changes = records(
            read_frame(
                url,
                "admin/settings_history",
                {"row_limit": history},
                {
                    "key": pl.String,
                    "old_value": pl.String,
                    "new_value": pl.String,
                    "changed_at": pl.Datetime("us"),
                    "changed_by": pl.String,
                },
            )
        )
    return {
        "settings": effective.as_dict(),
        "problems": list(effective.problems),
        "stored": stored,
        "history": changes,
    }


def parse_cli_value(key: str, raw: str) -> Any:
    """A setting value typed on the command line: JSON (``true``, ``0.3``, ``["quiz"]``);
    for the list keys also comma-separated keys (``quiz,streak``)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        if key in LIST_KEYS:
            return [part.strip() for part in raw.split(",") if part.strip()]
        raise AdminInputError(
            f'{key}: {raw!r} is not a JSON value (e.g. true, 0.3, 3, ["quiz"])'
        ) from None


def validate_changes(changes: Mapping[str, Any], stored: Mapping[str, str]) -> dict[str, str]:
    """The JSON text to store per changed key; raises AdminInputError naming the problem
    (the nightly run's own validator, ``daglig.challenge_settings.validate_update``: an
    unknown key, a malformed or out-of-range value, a combination that makes no sense)."""
    if not changes:
        raise AdminInputError(f"no setting given; known: {', '.join(KEYS)}")
    try:
        return validate_update(stored, changes)
    except SettingError as exc:
        raise AdminInputError(str(exc)) from None


def check_changed_by(changed_by: str | None) -> str | None:
    """Who makes a change, stripped (None when blank); refuses one that is too long or
    holds control characters (NUL cannot even be stored in PostgreSQL text)."""
    who = (changed_by or "").strip() or None
    if who is None:
        return None
    if len(who) > MAX_BY_LENGTH:
        raise AdminInputError(f"changed_by is longer than {MAX_BY_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in who):
        raise AdminInputError("changed_by must not contain control characters (e.g. NUL)")
    return who


def set_settings(
    url: str, changes: Mapping[str, Any], changed_by: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """Validate and store ``changes`` ({key: value}) in one transaction, recording each
    actual change (old → new, who, when) in ``challenge_settings_history``. Keys whose
    stored value is already the new one are reported as unchanged and not recorded."""
    who = check_changed_by(changed_by)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    engine = make_engine(url)
    meta = Base.metadata.tables
    try:
        meta["challenge_settings"].create(engine, checkfirst=True)
        meta["challenge_settings_history"].create(engine, checkfirst=True)
        changed: list[dict[str, Any]] = []
        unchanged: list[str] = []
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    sql_statement("admin/lock_settings_postgresql"),
                    {"namespace": LOCK_NAMESPACE, "lock_key": SETTINGS_LOCK_KEY},
                )
            elif conn.dialect.name == "sqlite":
                conn.exec_driver_sql(sqlfiles.load("admin/lock_settings_sqlite"))
            stored = {k: v for k, v in conn.execute(sql_statement("read/challenge_settings"))}
            encoded = validate_changes(changes, stored)
            for key, new in encoded.items():
                old = stored.get(key)
                if old is not None and json.loads(old) == json.loads(new):
                    unchanged.append(key)
                    continue
                row = {
                    "key": key,
                    "value": new,
                    "old_value": old,
                    "new_value": new,
                    "changed_at": now,
                    "changed_by": who,
                }
                conn.execute(sql_statement("admin/upsert_setting"), row)
                conn.execute(sql_statement("admin/insert_setting_history"), row)
                changed.append({"key": key, "old_value": old, "new_value": new})
    finally:
        engine.dispose()
    view = settings_view(url, history=0)
    return {
        "changed": changed,
        "unchanged": unchanged,
        "changed_by": who,
        "changed_at": jsonable(now),
        "settings": view["settings"],
        "problems": view["problems"],
    }
