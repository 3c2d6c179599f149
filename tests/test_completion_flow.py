"""The completion model through Prefect: trained on a few simulated nights with real
outcomes, then used by the nightly flow (the ML reasons carry predicted_completion), or
not used — the rule targets, and the summary says why."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from daglig import sql as sqlfiles
from daglig.io.db import make_engine

pytestmark = pytest.mark.usefixtures("prefect_harness")

START = dt.date(2026, 11, 10)
DAYS = 6
NIGHT = START + dt.timedelta(days=DAYS)


def ml_reasons(url: str, day: dt.date) -> list[dict[str, object]]:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(
                text(
                    "SELECT a.reason FROM user_daily_challenges a JOIN daily_challenges d "
                    "ON d.id = a.challenge_id WHERE d.source = 'ml' AND a.challenge_date = :d"
                ),
                {"d": day},
            ).all()
    finally:
        engine.dispose()
    return [json.loads(r) for (r,) in rows]


def test_the_completion_model_is_trained_on_outcomes_and_sets_the_ml_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.daily_challenges import generate_daily_challenges
    from flows.train_completion_model import train_completion_model
    from simulator.days import play_days

    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DAGLIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DAGLIG_SMTP_HOST", raising=False)
    play_days(url, users=1000, seed=4, start=START, days=DAYS)  # 2,000+ practice-day outcomes

    # before any completion model: rule targets, and the run says why; a training on the
    # first nights finds too few outcomes, and the night after says that
    early = START + dt.timedelta(days=2)
    assert train_completion_model(as_of=early)["version"] is None
    before = generate_daily_challenges(run_date=NIGHT, dry_run=True)
    assert before["ml_status"] == "used" and before["completion_model_version"] is None
    assert before["completion_reason"].startswith(
        "no trained completion model: too few challenge outcomes to learn from ("
    ), before["completion_reason"]
    assert before["completion_reason"].endswith(f"as of {early}")

    result = train_completion_model(as_of=NIGHT)
    assert result["version"].startswith("cm-"), result
    window_nights = DAYS - 2  # the last two nights are held out
    assert result["n_train"] > 2_000 and result["n_test"] > 0
    assert set(result["metrics"]) == {"model", "type rate", "learner × type"}
    assert (
        len(
            json.loads(Path(result["folder"], "metadata.json").read_text())["training_window"][
                "train_nights"
            ]
        )
        == window_nights
    )

    loads: list[str] = []
    real_load = sqlfiles.load
    monkeypatch.setattr(sqlfiles, "load", lambda name: loads.append(name) or real_load(name))
    after = generate_daily_challenges(run_date=NIGHT)
    # one read of past assignments: the type mix's and the completion model's history (the
    # selection reads the latter from the run folder, per shard); 2 before issue 14's fix
    assert loads.count("read/past_assignments") == 1, loads
    assert after["completion_model_version"] == result["version"]
    reasons = ml_reasons(url, NIGHT)
    assert reasons and all(0.0 <= float(r["predicted_completion"]) <= 1.0 for r in reasons)  # type: ignore[arg-type]
    assert {r["completion_model_version"] for r in reasons} == {result["version"]}
    assert not any(
        "predicted_completion" in r for r in ml_reasons(url, NIGHT - dt.timedelta(days=1))
    )
