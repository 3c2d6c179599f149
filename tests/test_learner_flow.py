"""The learner model through Prefect: the training flow on simulated learners, and the
nightly flow using the saved model — or falling back, with the reason, when it cannot."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from daglig.io.db import make_engine
from daglig.io.identity import read_identity
from daglig.io.model_store import ModelMetadata, read_metadata
from tests.builders import environ
from tests.dq_helpers import copy_world

pytestmark = pytest.mark.usefixtures("prefect_harness")

RUN = date(2026, 11, 24)
USERS = 800


@pytest.fixture(scope="session")
def trained_world(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    """800 simulated learners up to yesterday and a learner model trained on them by the
    training flow (once per test run; tests work on copies)."""
    from flows.train_learner_model import train_learner_model
    from simulator import simulate

    root = tmp_path_factory.mktemp("learner-world")
    url = f"sqlite:///{root / 'app.db'}"
    simulate(url, users=USERS, seed=5, end_date=RUN - timedelta(days=1))
    with environ(DATABASE_URL=url, DAGLIG_DATA_DIR=str(root / "data")):
        result = train_learner_model(as_of=RUN)
    (root / "train-result.json").write_text(json.dumps(result))
    return root


@pytest.fixture
def world(
    trained_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """A private copy of the trained world: database, model store, env pointing at them."""
    url = copy_world(trained_world, tmp_path, monkeypatch)
    yield {"url": url, "models": tmp_path / "data" / "models"}


def current(models: Path, url: str) -> tuple[Path, ModelMetadata]:
    """The folder of the current model of the database at ``url``, and its metadata."""
    engine = make_engine(url)
    try:
        identity = read_identity(engine)
    finally:
        engine.dispose()
    assert identity is not None
    meta = read_metadata(models, identity)
    return models / identity / meta.version, meta


def run(**kwargs: Any) -> dict[str, Any]:
    from flows.daily_challenges import generate_daily_challenges

    return generate_daily_challenges(run_date=kwargs.pop("run_date", RUN), **kwargs)


def reasons(url: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(text("SELECT reason FROM user_daily_challenges")).all()
    finally:
        engine.dispose()
    return [json.loads(r) for (r,) in rows]


def test_training_flow_saves_a_validated_model_that_beats_the_baselines(
    trained_world: Path,
) -> None:
    result = json.loads((trained_world / "train-result.json").read_text())
    url = f"sqlite:///{trained_world / 'app.db'}"
    folder, meta = current(trained_world / "data" / "models", url)
    assert meta.version == result["version"] and meta.trained_as_of == RUN.isoformat()
    assert result["folder"] == str(folder) and (folder / "model.joblib").is_file()
    assert meta.database_url == result["database_url"] == url
    window = meta.training_window
    # evaluation strictly after every training window
    assert max(window["train_cutoffs"]) < window["eval_cutoff"] < window["eval_end"]
    model = meta.metrics["model"]
    for name in ("AVG", "Laplace", "Elo"):
        assert model["log_loss"] < meta.metrics[name]["log_loss"], name
        assert model["auc"] > meta.metrics[name]["auc"], name
    assert model["ece"] < 0.05 and meta.n_train > 10_000 and meta.n_test > 1_000
    # the evidence's practice curve, fitted on the training windows, saved with the model
    assert meta.practice_curve == result["practice_curve"]
    assert meta.practice_curve_fit is not None and meta.practice_curve_fit["fitted"]
    assert meta.practice_curve_fit["answers"] > 2_000


def test_the_night_reads_the_evidence_through_the_model_s_practice_curve(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import daglig.learner.evidence_state as evidence_state
    import daglig.learner.examples as examples

    seen = []
    scoring_rows_from = evidence_state.scoring_rows_from  # the night's rows, from its state

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["practice"])
        return scoring_rows_from(*args, **kwargs)

    monkeypatch.setattr(evidence_state, "scoring_rows_from", recording)
    meta = current(world["models"], world["url"])[1]
    assert meta.practice_curve is not None and meta.practice != examples.DEFAULT_CURVE
    result = run()
    assert result["status"] == "ok" and result["ml_status"] == "used"
    assert seen and set(seen) == {meta.practice}


def test_training_flow_leaves_the_metrics_report_artifact(trained_world: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["learner-model"]))
        )
    assert arts, "no learner-model artifact"
    md = str(arts[0].data)
    assert "| model |" in md and "| Elo |" in md and "Beats every baseline" in md


def test_nightly_run_uses_the_model_for_practised_learners(world: dict[str, Any]) -> None:
    result = run()
    assert result["status"] == "ok" and result["ml_status"] == "used"
    meta = current(world["models"], world["url"])[1]
    assert result["model_version"] == meta.version
    # the world is a copy of the trained database (same identity): its model serves it
    assert meta.database_url != world["url"]
    assert {"ml", "fallback", "onboarding"} <= set(result["by_source"])
    assert "load-model" in result["task_seconds"] and "assess-learners" in result["task_seconds"]
    rs = reasons(world["url"])
    ml = [r for r in rs if r["selector"] == "ml"]
    assert ml and all(r["model_version"] == result["model_version"] for r in ml)
    assert all(r["total_practice_questions"] >= 30 for r in ml)
    focus = [r for r in ml if r["rule"] == "top_weak_area"]
    assert focus and all(r["weak_areas"][0]["mastery"] == r["category_mastery"] for r in focus)
    fallback = [r for r in rs if r["selector"] == "fallback" and r["rule"] != "onboarding"]
    held = [r for r in fallback if r.get("ml_holdout")]
    assert fallback and all(r["answers"] < 30 for r in fallback if not r.get("ml_holdout"))
    # the default 5 % holdout: ML-eligible learners given fallback challenges, marked
    assert held and all(r["answers"] >= 30 for r in held)


def test_a_run_on_another_database_falls_back_and_says_why(
    world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model store holds a model of another database only: not used, and the run's
    result and summary say whose it is and what to do."""
    from daglig.summary import RunSummary, to_markdown
    from simulator import simulate

    trained_on = current(world["models"], world["url"])[1].database_url
    other = f"sqlite:///{tmp_path / 'other.db'}"
    simulate(other, users=200, seed=9, end_date=RUN - timedelta(days=1))
    monkeypatch.setenv("DATABASE_URL", other)
    result = run(dry_run=True, notify=False)
    reason = (
        f"the learner model in {world['models']} was trained on another database "
        f"({trained_on}); run `daglig train` for this one"
    )
    assert result["status"] == "dry_run" and result["ml_status"] == "fallback"
    assert result["ml_reason"] == reason
    assert "ml" not in result["by_source"] and result["users_served"] == result["users_active"]
    fields = {k: v for k, v in result.items() if k in RunSummary.__dataclass_fields__}
    fields["run_date"] = RUN
    from daglig import markdown

    shown = f"Learner model not used (fallback): {markdown.text(reason)}."
    assert shown in to_markdown(RunSummary(**fields))


def _spoil_checksum(models: Path, url: str) -> None:
    path = current(models, url)[0] / "model.joblib"
    path.write_bytes(path.read_bytes()[:-100] + b"\0" * 100)


@pytest.mark.parametrize(
    ("spoil", "kwargs", "reason"),
    [
        (_spoil_checksum, {}, "does not match its checksum"),
        (lambda m, u: shutil.rmtree(m), {}, "no trained model"),
        (lambda m, u: None, {"run_date": RUN + timedelta(days=20)}, "days old"),
    ],
    ids=["corrupt", "missing", "too-old"],
)
def test_unusable_model_sends_everyone_down_the_fallback_path(
    world: dict[str, Any],
    spoil,
    kwargs: dict[str, Any],
    reason: str,  # type: ignore[no-untyped-def]
) -> None:
    spoil(world["models"], world["url"])
    result = run(**kwargs)
    assert result["status"] == "ok" and result["ml_status"] == "fallback"
    assert reason in result["ml_reason"]
    assert "ml" not in result["by_source"] and result["users_served"] == result["users_active"]
    assert {r["selector"] for r in reasons(world["url"])} == {"fallback"}


def test_no_ml_option_and_setting_force_fallback(world: dict[str, Any]) -> None:
    result = run(no_ml=True, dry_run=True)
    assert result["ml_status"] == "off" and "no_ml" in result["ml_reason"]
    assert "ml" not in result["by_source"] and "load-model" not in result["task_seconds"]
    engine = make_engine(world["url"])
    from models import create_pipeline_tables

    create_pipeline_tables(engine)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO challenge_settings (key, value, updated_at, updated_by) "
                "VALUES ('ml_enabled', 'false', CURRENT_TIMESTAMP, 'test')"
            )
        )
    engine.dispose()
    result = run(dry_run=True)
    assert result["ml_status"] == "off" and "ml_enabled is false" in result["ml_reason"]
    assert "ml" not in result["by_source"]


def test_an_error_inside_ml_selection_falls_back_and_says_so(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from daglig.learner.selection import MLSelector

    def broken(self: MLSelector, inputs: object, followed: object = None) -> None:
        raise ZeroDivisionError("injected fault in ML selection")

    monkeypatch.setattr(MLSelector, "_select_ml", broken)
    result = run()
    assert result["status"] == "ok" and result["ml_status"] == "fallback"
    assert "ML selection failed: ZeroDivisionError: injected fault" in result["ml_reason"]
    assert result["selector"] == "fallback" and "ml" not in result["by_source"]
    md_line = "Learner model not used (fallback): ML selection failed"
    from daglig.summary import RunSummary, to_markdown

    fields = {k: v for k, v in result.items() if k in RunSummary.__dataclass_fields__}
    fields["run_date"] = RUN
    assert md_line in to_markdown(RunSummary(**fields))


DAY_ROWS = """
SELECT a.user_id, a.challenge_date, a.slot, a.reason, a.progress,
       d.content_key, d.challenge_type, d.category, d.title, d.description,
       d.target_value, d.difficulty, d.xp_reward, d.bonus_xp, d.source
FROM user_daily_challenges a JOIN daily_challenges d ON d.id = a.challenge_id
ORDER BY a.user_id, a.slot
"""


def day_rows(url: str) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(text(DAY_ROWS)).all()]
    finally:
        engine.dispose()


def test_the_shard_count_changes_no_row(world: dict[str, Any], tmp_path: Path) -> None:
    """One shard or five: the same challenges, texts, reasons and mastery, row for row
    (the population statistics are summed over the shards before they are used)."""
    other = tmp_path / "other.db"
    shutil.copy(tmp_path / "app.db", other)
    one = run(shards=1, notify=False)
    os.environ["DATABASE_URL"] = f"sqlite:///{other}"  # the fixture's monkeypatch restores it
    five = run(shards=5, notify=False)
    assert (one["shards"], five["shards"]) == (1, 5)
    assert one["ml_status"] == five["ml_status"] == "used"
    rows = day_rows(world["url"])
    assert len(rows) == one["assignments"] > 0
    assert day_rows(f"sqlite:///{other}") == rows
    for key in ("by_source", "by_type", "by_category", "quarantined", "answers_used"):
        assert one[key] == five[key], key


def test_an_incremental_night_with_the_model_equals_a_full_one(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """A night, one more simulated day (its late arrivals too), then the next night folded
    into the first night's carried state and, on a copy of the database, the same night
    recomputed in full: the same challenges, texts, reasons and mastery, row for row."""
    from simulator.add_day import add_day

    first = run(notify=False)
    assert (first["ml_status"], first["features_path"]) == ("used", "full")
    added = add_day(world["url"], seed=2, day=RUN)
    other = tmp_path / "other.db"
    shutil.copy(tmp_path / "app.db", other)
    nxt = RUN + timedelta(days=1)
    second = run(run_date=nxt, notify=False)
    assert (second["ml_status"], second["features_path"]) == ("used", "incremental")
    assert second["answers_read"] == added.answers
    os.environ["DATABASE_URL"] = f"sqlite:///{other}"  # the fixture's monkeypatch restores it
    full = run(run_date=nxt, notify=False, full=True)
    assert (full["ml_status"], full["features_reason_code"]) == ("used", "forced")
    rows = day_rows(world["url"])
    assert len(rows) == first["assignments"] + second["assignments"]
    assert day_rows(f"sqlite:///{other}") == rows
    for key in ("by_source", "by_type", "by_category", "users_served"):
        assert second[key] == full[key], key


def test_training_reads_a_stable_sample_of_a_big_app(world: dict[str, Any]) -> None:
    """With more learners than DAGLIG_TRAIN_MAX_USERS, training streams the answer log and
    keeps one hash shard of the learners: memory follows the sample, not the app."""
    import polars as pl

    from daglig.config import Settings
    from daglig.learner.training import plan_training
    from daglig.shards import shard_of
    from tasks.ml import read_training_data

    plan = plan_training(RUN)
    whole = pl.read_parquet(read_training_data.fn(Settings(), plan).log)
    data = read_training_data.fn(Settings(train_max_users=200), plan)
    log = pl.read_parquet(data.log)
    learners = log["user_id"].unique()
    assert whole["user_id"].n_unique() > 600  # 800 simulated, some without answers
    assert 120 < learners.len() <= 260  # about a quarter: one shard of ceil(800 / 200)
    assert (shard_of(learners, 4) == 0).all()
    kept = whole.filter(shard_of(whole["user_id"], 4) == 0)
    assert log.equals(kept)  # the same rows, cleaned the same way
    assert data.answers == log.height


def learner_service(world: dict[str, Any]) -> Any:
    from daglig.io.learner_service import LearnerService

    return LearnerService(world["url"], world["models"].parent / "assessments")


def ml_user(url: str) -> tuple[int, dict[str, Any]]:
    """A user given ML challenges tonight, and the reason of their first one."""
    with make_engine(url).connect() as c:
        rows = c.execute(text("SELECT user_id, reason FROM user_daily_challenges")).all()
    ml = sorted(
        ((uid, json.loads(r)) for uid, r in rows if json.loads(r)["selector"] == "ml"),
        key=lambda pair: pair[0],
    )
    assert ml, "no ML-selected user tonight"
    return ml[0]


def test_the_night_keeps_its_assessment_for_the_learner_service(world: dict[str, Any]) -> None:
    from daglig.io.learner_service import NotAssessed

    service = learner_service(world)
    assert run(dry_run=True)["status"] == "dry_run"  # a dry run keeps nothing
    with pytest.raises(NotAssessed, match="no night has assessed"):
        service.get_weak_areas(1)
    result = run()
    assert result["status"] == "ok" and "keep-assessment" in result["task_seconds"]
    uid, reason = ml_user(world["url"])
    skill = service.get_skill_assessment(uid)
    assert skill["assessed_on"] == RUN.isoformat()
    assert skill["model_version"] == result["model_version"] == reason["model_version"]
    assert skill["total_practice_questions"] == reason["total_practice_questions"]
    assert skill["overall_skill_level"] == pytest.approx(reason["overall_skill_level"], abs=1e-3)
    weak = service.get_weak_areas(uid)
    assert len(weak) == 3 and weak[0] == reason["weak_areas"][0]["category"]
    service.close()


def test_a_failed_night_or_a_run_for_some_users_keeps_the_last_one(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.daily_challenges as fd
    from daglig.io.learner_service import NotAssessed
    from tasks.steps import step_task

    @step_task("upsert-challenges")
    def failing(*args: object, **kwargs: object) -> None:
        raise OSError("injected: the write failed")

    with monkeypatch.context() as m:
        m.setattr(fd, "upsert_challenges", failing)
        assert run(return_state=True).is_failed()
    service = learner_service(world)
    with pytest.raises(NotAssessed, match="no night has assessed"):
        service.get_weak_areas(1)
    result = run(user_ids=[ml_user_candidate(world["url"])])
    assert result["status"] == "ok" and result["ml_status"] == "used"
    assert "a run for some users: the learner service keeps the last night's" in result["notes"]
    with pytest.raises(NotAssessed, match="no night has assessed"):
        service.get_weak_areas(1)


def ml_user_candidate(url: str) -> int:
    """An active user with many answers (ML-eligible)."""
    with make_engine(url).connect() as c:
        row = c.execute(
            text(
                "SELECT a.user_id FROM question_attempts a JOIN users u ON u.id = a.user_id"
                " WHERE u.is_active GROUP BY a.user_id ORDER BY count(*) DESC, a.user_id LIMIT 1"
            )
        ).one()
    return int(row[0])


def test_learner_show_after_a_real_night(world: dict[str, Any], tmp_path: Path) -> None:
    from tests.cli import cli_env, daglig

    env = cli_env(world["url"], world["models"].parent)
    before = daglig("learner", "show", "1", env=env)
    assert before.returncode == 2 and before.err_lines == [
        "no night has assessed this database's learners yet "
        "(the nightly run with the learner model keeps its assessment)"
    ], before
    assert run()["status"] == "ok"
    uid, reason = ml_user(world["url"])
    shown = daglig("learner", "show", str(uid), env=env)
    assert shown.returncode == 0, shown
    assert shown.out_lines[0].startswith(f"user {uid}, assessed on the night of {RUN}")
    assert shown.out_lines[1].startswith(f"weak areas: {reason['weak_areas'][0]['category']}, ")
    assert f"({reason['total_practice_questions']:,} practice questions)" in shown.out_lines[2]
    as_json = json.loads(daglig("learner", "show", str(uid), "--json", env=env).stdout)
    assert as_json["user_id"] == uid and as_json["assessed_on"] == RUN.isoformat()
    unknown = daglig("learner", "show", "99999999", env=env)
    assert unknown.returncode == 2 and unknown.err_lines == ["no user 99999999"], unknown
    bad = daglig("learner", "show", "1", env={**env, "DATABASE_URL": "sqlite:///nowhere/x.db"})
    assert bad.returncode == 2 and len(bad.err_lines) == 1, bad
    assert bad.err_lines[0].startswith("no SQLite database at nowhere/x.db"), bad
