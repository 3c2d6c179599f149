"""A learner model knows its database, as a person meets it on the command line: ``daglig
train`` says where the model went; a run against another database (SQLite or PostgreSQL)
does not use it and says why; the trained database and a copy of its file use it;
``daglig demo`` trains once when there is no usable model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from daglig.io.db import make_engine
from daglig.io.identity import read_identity
from tests.cli import Result, cli_env, daglig
from tests.dq_helpers import query

pytestmark = pytest.mark.slow

# fixed dates, so that no test depends on the wall clock (or crosses midnight in Oslo)
LAST_DAY, DAY = "2026-11-23", "2026-11-24"


def identity_of(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return read_identity(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> dict[str, object]:
    """Database A (simulated learners up to yesterday) and ``daglig train`` run on it."""
    root = tmp_path_factory.mktemp("model-identity")
    url = f"sqlite:///{root / 'a.db'}"
    env = cli_env(url, root / "data", prefect_api)
    made = daglig("simulate", "--users", "250", "--seed", "3", "--end-date", LAST_DAY, env=env)
    assert made.returncode == 0, made
    train = daglig("train", "--as-of", DAY, env=env)
    return {"root": root, "url": url, "env": env, "train": train}


def by_source(r: Result) -> dict[str, int]:
    """The run line's "by source: fallback 3, ml 1,200" as {"fallback": 3, "ml": 1200}."""
    line = next(x for x in r.out_lines if "by source: " in x)
    counts = line.split("by source: ", 1)[1]
    if counts == "none":
        return {}
    pairs = (part.rsplit(" ", 1) for part in counts.split(", ") if part)
    return {name: int(n.replace(",", "")) for name, n in pairs}


def test_train_says_where_the_model_went(trained: dict[str, object]) -> None:
    r = trained["train"]
    assert isinstance(r, Result) and r.returncode == 0, r
    root, url = Path(str(trained["root"])), str(trained["url"])
    identity = identity_of(url)
    assert identity is not None and identity.startswith("db-")
    first = r.out_lines[0]
    assert first.startswith("learner model lm-") and f" of {url}, saved in " in first
    folder = Path(first.split(", saved in ", 1)[1])
    assert folder.parent == root / "data" / "models" / identity
    meta = json.loads((folder / "metadata.json").read_text())
    assert (folder / "model.joblib").is_file() and meta["version"] == folder.name
    assert meta["database_identity"] == identity and meta["database_url"] == url
    pointer = json.loads((folder.parent / "current.json").read_text())
    assert pointer == {"version": folder.name}
    assert "| model |" in r.stdout  # the metrics table follows
    curve = meta["practice_curve"]  # then the evidence's fitted practice curve
    assert (
        f"practice curve of the online evidence: gain {curve['practice_gain']:g}, "
        f"kept {curve['gain_kept']:g}, fading over {curve['fade_days']:g} days" in r.out_lines
    )
    # a new install: no challenge has an outcome yet, so no completion model, and it says so
    assert r.out_lines[-1] == (
        "no completion model: too few challenge outcomes to learn from (0 of the 2,000 "
        "needed before the held-out nights); the nights keep the rule targets"
    )
    assert not (folder.parent / "completion.json").exists()


def test_a_run_on_another_database_does_not_use_the_model_and_says_why(
    db_url: str, trained: dict[str, object], tmp_path: Path, prefect_api: str
) -> None:
    """Database B (here: SQLite or PostgreSQL) shares the data folder with A."""
    root, url = Path(str(trained["root"])), str(trained["url"])
    env = cli_env(db_url, root / "data", prefect_api)
    made = daglig("simulate", "--users", "150", "--seed", "8", "--end-date", LAST_DAY, env=env)
    assert made.returncode == 0, made
    r = daglig("run", "--dry-run", "--date", DAY, env=env)
    assert r.returncode == 0, r
    reason = (
        f"note: learner model not used: the learner model in {root / 'data' / 'models'} was "
        f"trained on another database ({url}); run `daglig train` for this one"
    )
    assert reason in r.out_lines, r
    assert "ml" not in by_source(r) and by_source(r).get("fallback", 0) > 0
    assert identity_of(db_url) is None  # a run creates no identity: only training does


def test_the_trained_database_and_a_copy_of_its_file_use_the_model(
    trained: dict[str, object], tmp_path: Path, prefect_api: str
) -> None:
    root, url = Path(str(trained["root"])), str(trained["url"])
    copy = tmp_path / "copy-of-a.db"
    shutil.copy(root / "a.db", copy)
    for target in (url, f"sqlite:///{copy}"):
        r = daglig(
            "run", "--dry-run", "--date", DAY, env=cli_env(target, root / "data", prefect_api)
        )
        assert r.returncode == 0, r
        assert by_source(r).get("ml", 0) > 0, r
        assert not any("learner model not used" in x for x in r.out_lines), r
    assert identity_of(f"sqlite:///{copy}") == identity_of(url)
    assert query(url, "SELECT COUNT(*) FROM pipeline_identity") == [(1,)]


def test_demo_trains_once_when_there_is_no_usable_model(tmp_path: Path, prefect_api: str) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path / "data", prefect_api)
    r = daglig("demo", "--users", "200", env=env)
    assert r.returncode == 0, r
    assert any(x.startswith("training the learner model (no trained model in") for x in r.out_lines)
    trained = next(x for x in r.out_lines if " trained in " in x)
    assert ", saved in " + str(tmp_path / "data" / "models" / "db-") in trained
    assert by_source(r).get("ml", 0) > 0, r
