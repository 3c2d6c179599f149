"""The completion model in the admin's summary email and the weekly training deployment's
flow: a night without a completion model and a night with one, the email read off a real
SMTP server (aiosmtpd); and the lines themselves, from a RunSummary."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from daglig import norsk
from daglig.rendering import make_environment
from daglig.summary import RunSummary, completion_metrics, compose_email
from tests.dq_helpers import body, flow_env, smtp_server

START = dt.date(2026, 11, 10)
DAYS = 6
NIGHT = START + dt.timedelta(days=DAYS)
METRICS = {
    "model": {"log_loss": 0.21649, "auc": 0.8612, "brier": 0.06},
    "type rate": {"log_loss": 0.2694, "auc": 0.7049, "brier": 0.08},
    "learner × type": {"log_loss": 0.25, "auc": 0.78, "brier": 0.07},
}


def parts(s: RunSummary) -> tuple[str, str]:
    msg = compose_email(s, "a@b", ["c@d"], make_environment())
    plain = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return plain, html


def night(**kw: object) -> RunSummary:
    return RunSummary(
        run_date=NIGHT, status="success", database="sqlite://", ml_status="used",
        model_version="lm-20261115", **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_night_with_a_completion_model_names_it_its_metrics_and_its_slots() -> None:
    s = night(
        completion_model_version="cm-20261130",
        completion_metrics=completion_metrics(METRICS),
        completion_slots=12345,
    )
    line = (
        "Fullføringsmodell cm-20261130: log loss 0,216 (typeandel 0,269), "
        "AUC 0,86 (typeandel 0,70), satte målet for 12\u00a0345 ML-tildelinger"
    )
    plain, html = parts(s)
    assert line + "\n" in plain
    assert f">{line}</p>" in html
    # the line sits under the learner model's, before the counts by source
    assert plain.index("Læringsmodell: brukt (lm-20261115)") < plain.index(line)


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        (
            "no trained completion model in /data/models (run `daglig train`)",
            "ingen fullføringsmodell ennå (kjør `daglig train`)",
        ),
        (
            "no trained completion model: too few challenge outcomes to learn from (1,234 of "
            "the 2,000 needed before the held-out nights), as of 2026-11-30",
            "ingen fullføringsmodell ennå: for få utfall å lære av (1\u00a0234 av de "
            "2\u00a0000 som trengs, per 30.11.2026)",
        ),
        (
            "model cm-20261101 failed to load: ValueError: bad pickle",
            "modellen kunne ikke lastes (model cm-20261101 failed to load: ValueError: bad pickle)",
        ),
        (
            "model cm-20261101 is 30 days old (trained as of 2026-11-01); the limit is 14 days",
            "modellen cm-20261101 er 30 dager gammel (trent på data til 01.11.2026); grensen "
            "er 14 dager",
        ),
    ],
)
def test_a_night_without_one_says_the_targets_followed_the_rules_and_why(
    reason: str, why: str
) -> None:
    plain, html = parts(night(completion_reason=reason))
    line = f"Fullføringsmodell: ikke brukt, målene fulgte dagens regler – {why}"
    assert line + "\n" in plain
    assert "log loss" not in plain and "Fullføringsmodell cm-" not in plain
    assert "Fullføringsmodell: ikke brukt, målene fulgte dagens regler" in html


def test_no_completion_line_when_everyone_got_the_rules() -> None:
    s = RunSummary(
        run_date=NIGHT, status="success", database="sqlite://", ml_status="fallback",
        ml_reason="no trained model in /m (run `daglig train`)",
        completion_reason="not reached",
    )  # fmt: skip
    plain, html = parts(s)
    assert "Fullføringsmodell" not in plain and "Fullføringsmodell" not in html


@pytest.mark.usefixtures("prefect_harness")
def test_the_weekly_training_trains_both_and_the_email_then_names_the_completion_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from flows.daily_challenges import generate_daily_challenges
    from flows.train_models import train_models
    from simulator.days import play_days

    spec = yaml.safe_load((Path(__file__).parent.parent / "prefect.yaml").read_text())
    (train,) = [d for d in spec["deployments"] if d["name"] == "train"]
    assert train["entrypoint"] == "flows/train_models.py:train_models"

    url = f"sqlite:///{tmp_path / 'app.db'}"
    flow_env(monkeypatch, url, tmp_path)
    play_days(url, users=1000, seed=4, start=START, days=DAYS, train_every=DAYS)
    with smtp_server() as box:
        flow_env(monkeypatch, url, tmp_path, smtp_host="127.0.0.1", smtp_port=box.port)
        before = generate_daily_challenges(run_date=NIGHT, dry_run=True)
        trained = train_models(as_of=NIGHT)
        after = generate_daily_challenges(run_date=NIGHT, dry_run=True)
        first, second = box.parsed()

    # before: the learner model of play_days' first night, no completion model yet
    assert before["ml_status"] == "used" and before["completion_model_version"] is None
    for text in (body(first), body(first, "html")):
        assert (
            "Fullføringsmodell: ikke brukt, målene fulgte dagens regler – ingen "
            "fullføringsmodell ennå" in text
        )

    learner, completion = trained["learner"], trained["completion"]
    assert learner["version"].startswith("lm-") and learner["trained_as_of"] == "2026-11-16"
    assert completion["version"].startswith("cm-"), completion
    assert learner["version"] != before["model_version"]  # a new one, as of NIGHT
    assert after["model_version"] == learner["version"]
    assert after["completion_model_version"] == completion["version"]
    ml_slots = after["by_source"]["ml"]
    assert after["completion_slots"] == ml_slots > 0

    meta = json.loads(Path(completion["folder"], "metadata.json").read_text())["metrics"]
    model, base = meta["model"], meta["type rate"]
    line = (
        f"Fullføringsmodell {completion['version']}: "
        f"log loss {norsk.decimal(model['log_loss'], 3)} "
        f"(typeandel {norsk.decimal(base['log_loss'], 3)}), "
        f"AUC {norsk.decimal(model['auc'], 2)} (typeandel {norsk.decimal(base['auc'], 2)}), "
        f"satte målet for {norsk.integer(ml_slots)} ML-tildelinger"
    )
    assert line in body(second) and line in body(second, "html")
    assert "fulgte dagens regler" not in body(second)
