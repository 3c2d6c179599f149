"""The week's path to the exam in the database (issue 17 item 3): ``learner_exam_paths``
written in the day's write transaction (either write path), idempotent on a rerun, and the
plans in force read back by the read step (sql/read/exam_paths.sql), on SQLite and
PostgreSQL alike."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from sqlalchemy import text

from daglig.learner.exam_path import PATH_DAYS, PLAN_SCHEMA
from tasks.read_log import exam_paths_in_force, inspect_database
from tests.test_write_path import DAY, setup, shards

CATS = ["traffic_signs", "right_of_way", "traffic_signs", "environment", "right_of_way",
        "traffic_signs", "environment"]  # fmt: skip


def plan(users: list[int], start: date, mastery: float = 0.4) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "user_id": u,
                "plan_start": start,
                "day_no": d + 1,
                "category": CATS[d],
                "planned_mastery": mastery + u / 100,
            }
            for u in users
            for d in range(PATH_DAYS)
        ],
        schema=PLAN_SCHEMA,
    )


def rows(url: str, engine: object) -> pl.DataFrame:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        found = conn.execute(
            text(
                "SELECT user_id, plan_start, day_no, category, planned_mastery "
                "FROM learner_exam_paths ORDER BY user_id, plan_start, day_no"
            )
        ).all()
    return pl.DataFrame(
        [tuple(r) for r in found], schema=list(PLAN_SCHEMA), orient="row"
    ).with_columns(pl.col("plan_start").cast(pl.String).str.to_date())


def read(url: str, run_date: date) -> pl.DataFrame:
    shape = inspect_database(url, None)
    assert shape.exam_paths_table
    return exam_paths_in_force(url, run_date, None, shape).sort("user_id", "plan_start", "day_no")


def test_plans_are_written_with_the_day_and_read_back_while_in_force(db_url: str) -> None:
    engine, users = setup(db_url)
    try:
        tonight = plan(users[:3], DAY)
        first = write_plans(engine, users, [tonight.head(10), tonight.tail(11)])
        assert first == 21
        assert rows(db_url, engine).equals(tonight)
        # a rerun of the night (the upsert path on both databases): the same rows
        assert write_plans(engine, users, [tonight]) == 21
        assert rows(db_url, engine).equals(tonight)
        # a rerun planning a learner anew from the same start: that plan's rows replaced
        other = plan(users[:1], DAY, mastery=0.7).head(4)
        write_plans(engine, users, [other])
        after = rows(db_url, engine)
        assert after.filter(pl.col("user_id") == users[0]).equals(other)
        assert after.filter(pl.col("user_id") != users[0]).equals(
            tonight.filter(pl.col("user_id") != users[0])
        )
        # in force: plan_start < run_date <= plan_start + 6
        assert read(db_url, DAY).is_empty()  # tonight's own plans: a rerun plans anew
        for k in (1, PATH_DAYS - 1):
            assert read(db_url, DAY + timedelta(days=k)).equals(after)
        assert read(db_url, DAY + timedelta(days=PATH_DAYS)).is_empty()
        assert read(db_url, DAY - timedelta(days=1)).is_empty()
    finally:
        engine.dispose()


def test_a_write_without_plans_leaves_the_table_alone(db_url: str) -> None:
    engine, users = setup(db_url)
    try:
        earlier = plan(users[:2], DAY - timedelta(days=2))
        write_plans(engine, users, [earlier], day=DAY - timedelta(days=2))
        assert write_plans(engine, users, []) == 0
        assert rows(db_url, engine).equals(earlier)
    finally:
        engine.dispose()


def test_a_database_from_before_the_table_gets_it_with_the_first_plans(db_url: str) -> None:
    engine, users = setup(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE learner_exam_paths"))
        assert not inspect_database(db_url, None).exam_paths_table
        tonight = plan(users[:2], DAY)
        assert write_plans(engine, users, [tonight]) == 14
        assert rows(db_url, engine).equals(tonight)
    finally:
        engine.dispose()


def write_plans(
    engine: object, users: list[int], plans: list[pl.DataFrame], day: date = DAY
) -> int:
    from daglig.io.store import write_day
    from tests.test_write_path import AT, SLOTS, challenges

    counts = write_day(
        engine,  # type: ignore[arg-type]
        day,
        challenges(),
        iter(shards(users)),
        force=False,
        challenges_per_user=SLOTS,
        written_at=AT,
        exam_paths=iter(plans),
    )
    return counts.exam_paths_written


@pytest.mark.pure
def test_no_table_no_plans() -> None:
    # a database from before the table (a dry run creates no table): nothing in force
    from tasks.read_log import DatabaseShape

    shape = DatabaseShape(identity=None, language_column=False, pipeline_tables=True)
    assert exam_paths_in_force("sqlite:///nowhere.db", DAY, None, shape).schema == pl.Schema(
        PLAN_SCHEMA
    )
