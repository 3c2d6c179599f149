"""A database for the write-path tests: ``users`` learners of the app, the pipeline tables
created, nothing else (the write, lock and app-race tests share it)."""

from __future__ import annotations

from sqlalchemy import Engine

from daglig.io.db import make_engine
from models import create_pipeline_tables
from tests.builders import AppDataBuilder


def app_with_pipeline_tables(url: str, users: int) -> tuple[Engine, list[int]]:
    """``users`` learners written to ``url`` and the pipeline tables; the engine and ids."""
    b = AppDataBuilder()
    ids = [b.user() for _ in range(users)]
    b.write(url)
    engine = make_engine(url)
    create_pipeline_tables(engine)
    return engine, ids
