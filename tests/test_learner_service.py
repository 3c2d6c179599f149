"""The learner service (the seed's ``get_weak_areas`` / ``get_skill_assessment``): a
night's assessment kept per database identity and looked up one user at a time, through
the Python API and the admin server's ``/api/ml/users/{id}/…`` (real uvicorn, httpx)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest
from pydantic import SecretStr

from bench.service import synthetic_shards
from daglig.config import Settings
from daglig.io.assessment_store import POINTER, save_assessment
from daglig.io.db import engine_of
from daglig.io.identity import ensure_identity
from daglig.io.learner_service import LearnerService, NotAssessed
from daglig.learner.assessment import WEAK_AREAS
from tests.builders import AppDataBuilder

NIGHT = date(2026, 11, 24)
TOKEN = "s3cret-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def app_db(url: str) -> str:
    """Users 1–3 active, user 4 inactive; the database's identity made (as training does)."""
    b = AppDataBuilder()
    for _ in range(3):
        b.user()
    b.user(active=False)
    b.answers(2, "right_of_way", 10)
    b.write(url)
    with engine_of(url) as engine:
        return ensure_identity(engine)


def night(tmp_path: Path, identity: str, user_ids: list[int], day: date = NIGHT) -> Path:
    shards = synthetic_shards(tmp_path / f"run-{day}", np.array(user_ids), shards=2, seed=day.day)
    return save_assessment(tmp_path / "assessments", identity, day, shards, "lm-test").path


@pytest.mark.pure
def test_every_assessed_user_gets_their_own_row(sqlite_url: str, tmp_path: Path) -> None:
    identity = app_db(sqlite_url)
    ids = list(range(1, 4)) + list(range(10, 3000, 7))  # several row groups, gaps between
    night(tmp_path, identity, ids)
    shards = synthetic_shards(tmp_path / "again", np.array(ids), shards=2, seed=NIGHT.day)
    users = pl.concat([pl.read_parquet(u) for _, u in shards]).sort("user_id")
    cats = pl.concat([pl.read_parquet(c) for c, _ in shards])
    service = LearnerService(sqlite_url, tmp_path / "assessments")
    picked = users.filter(pl.col("user_id").is_in([1, 3, 10, 1501, ids[-1]]))
    assert picked.height == 5
    for row in picked.iter_rows(named=True):
        uid = row["user_id"]
        skill = service.get_skill_assessment(uid)
        assert skill["overall_skill_level"] == pytest.approx(row["overall_skill_level"], abs=1e-4)
        assert skill["confidence_level"] == pytest.approx(row["confidence_level"], abs=1e-4)
        assert skill["total_practice_questions"] == row["total_practice_questions"]
        assert skill["exam_readiness"] == pytest.approx(row["exam_readiness"], abs=1e-4)
        assert skill["assessed_on"] == NIGHT.isoformat() and skill["model_version"] == "lm-test"
        weakest = cats.filter(pl.col("user_id") == uid).sort("mastery", "category")
        assert service.get_weak_areas(uid) == weakest["category"].head(WEAK_AREAS).to_list()
    service.close()


@pytest.mark.pure
def test_a_user_not_assessed_is_one_clear_line(sqlite_url: str, tmp_path: Path) -> None:
    identity = app_db(sqlite_url)
    service = LearnerService(sqlite_url, tmp_path / "assessments")
    with pytest.raises(NotAssessed, match="no night has assessed this database's learners yet"):
        service.get_weak_areas(1)
    night(tmp_path, identity, [1, 2])
    with pytest.raises(NotAssessed, match=r"^no user 99$"):
        service.get_skill_assessment(99)
    with pytest.raises(NotAssessed, match="user 4 is inactive: the night of 2026-11-24"):
        service.get_skill_assessment(4)
    with pytest.raises(NotAssessed, match="user 3 was not assessed on the night of 2026-11-24"):
        service.get_weak_areas(3)
    service.close()


@pytest.mark.pure
def test_another_database_never_answers_with_the_first_ones_night(tmp_path: Path) -> None:
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    night(tmp_path, app_db(first), [1, 2, 3])
    app_db(second)  # the same users, another database (its own identity), no night yet
    assert len(LearnerService(first, tmp_path / "assessments").get_weak_areas(2)) == WEAK_AREAS
    with pytest.raises(NotAssessed, match="no night has assessed"):
        LearnerService(second, tmp_path / "assessments").get_weak_areas(2)
    bare = f"sqlite:///{tmp_path / 'c.db'}"
    b = AppDataBuilder()
    b.user()
    b.write(bare)  # nothing ever trained on it: no pipeline_identity table
    with pytest.raises(NotAssessed, match="train the learner model"):
        LearnerService(bare, tmp_path / "assessments").get_weak_areas(2)


@pytest.mark.pure
def test_a_new_night_is_seen_at_once_and_old_nights_go(sqlite_url: str, tmp_path: Path) -> None:
    identity = app_db(sqlite_url)
    service = LearnerService(sqlite_url, tmp_path / "assessments")
    first = night(tmp_path, identity, [1, 2])
    assert service.get_skill_assessment(2)["assessed_on"] == "2026-11-24"
    second = night(tmp_path, identity, [2, 3], date(2026, 11, 25))
    assert service.get_skill_assessment(3)["assessed_on"] == "2026-11-25"
    with pytest.raises(NotAssessed, match="user 1 was not assessed on the night of 2026-11-25"):
        service.get_skill_assessment(1)
    third = night(tmp_path, identity, [1], date(2026, 11, 26))
    kept = sorted(p.name for p in third.parent.iterdir())
    assert kept == sorted([POINTER, second.name, third.name]) and not first.exists()
    service.close()


def test_http_answers_the_seed_shapes_and_404_for_the_unassessed(
    db_url: str, tmp_path: Path
) -> None:
    from tests.test_admin_api import LiveServer

    identity = app_db(db_url)
    night(tmp_path, identity, [1, 2])
    settings = Settings(
        database_url=db_url, data_dir=tmp_path, admin_token=SecretStr(TOKEN)
    )  # data_dir/assessments is where night() kept it
    server = LiveServer(settings)
    with server, httpx.Client(base_url=server.url, timeout=60) as client:
        get = client.get
        weak = get("/api/ml/users/2/weak-areas", headers=AUTH)
        assert weak.status_code == 200, weak.text
        assert isinstance(weak.json(), list) and len(weak.json()) == WEAK_AREAS
        skill = get("/api/ml/users/2/skill-assessment", headers=AUTH)
        assert skill.status_code == 200, skill.text
        assert set(skill.json()) == {
            "overall_skill_level",
            "confidence_level",
            "total_practice_questions",
            "exam_readiness",
            "assessed_on",
            "model_version",
        }
        assert 0 <= skill.json()["overall_skill_level"] <= 1
        missing = get("/api/ml/users/3/skill-assessment", headers=AUTH)
        assert missing.status_code == 404
        why = "user 3 was not assessed on the night of 2026-11-24 (new since, or no answers)"
        assert missing.json() == {"detail": why}
        assert get("/api/ml/users/99/weak-areas", headers=AUTH).json() == {"detail": "no user 99"}
        assert get("/api/ml/users/2/weak-areas").status_code == 401
        assert get("/api/ml/users/0/weak-areas", headers=AUTH).status_code == 422
        paths = get("/openapi.json").json()["paths"]
        for path in ("weak-areas", "skill-assessment"):
            op = paths[f"/api/ml/users/{{user_id}}/{path}"]["get"]
            assert "404" in op["responses"] and "401" in op["responses"]


@pytest.mark.postgres
def test_learner_show_after_a_real_night_on_postgresql(
    postgres_url: str, tmp_path: Path, prefect_api: str
) -> None:
    """As a person types it: simulate, train, run the night, then ``daglig learner show``."""
    import json

    from tests.cli import cli_env, daglig

    env = cli_env(postgres_url, tmp_path / "data", prefect_api)
    sim = ("simulate", "--users", "250", "--seed", "3", "--end-date", "2026-11-23")
    for args in (sim, ("train", "--as-of", "2026-11-24"), ("run", "--date", "2026-11-24")):
        r = daglig(*args, env=env)
        assert r.returncode == 0, r
    with engine_of(postgres_url) as engine, engine.connect() as conn:
        from sqlalchemy import text

        rows = conn.execute(text("SELECT user_id, reason FROM user_daily_challenges")).all()
    ml = sorted(uid for uid, reason in rows if json.loads(reason)["selector"] == "ml")
    assert ml, "nobody was given ML challenges"
    shown = daglig("learner", "show", str(ml[0]), env=env)
    assert shown.returncode == 0, shown
    assert shown.out_lines[0].startswith(f"user {ml[0]}, assessed on the night of 2026-11-24")
    assert shown.out_lines[1].startswith("weak areas: ") and len(shown.out_lines) >= 5
    data = json.loads(daglig("learner", "show", str(ml[0]), "--json", env=env).stdout)
    assert data["user_id"] == ml[0] and len(data["weak_areas"]) == WEAK_AREAS
    missing = daglig("learner", "show", "999999", env=env)
    assert missing.returncode == 2 and missing.err_lines == ["no user 999999"], missing
    down = {**env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}
    refused = daglig("learner", "show", str(ml[0]), env=down)
    assert refused.returncode == 1 and len(refused.err_lines) == 1, refused
    assert "Traceback" not in refused.stderr
