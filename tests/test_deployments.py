"""prefect.yaml and the flows' parameter forms: what `prefect deploy --all` will create."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from flows.prefect_env import apply_offline_settings

apply_offline_settings()

REPO = Path(__file__).resolve().parent.parent


def deployments() -> dict[str, dict[str, Any]]:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return {d["name"]: d for d in spec["deployments"]}


def test_nightly_and_backfill_on_the_process_pool() -> None:
    d = deployments()
    assert set(d) == {"nightly", "backfill", "train", "nightly-dask"}
    assert d["nightly-dask"]["entrypoint"] == (
        "flows/daily_challenges_dask.py:generate_daily_challenges_dask"
    )
    assert not any(s.get("active") for s in d["nightly-dask"].get("schedules") or [])
    assert d["train"]["schedules"] == [
        {
            "cron": "0 3 * * 0",
            "timezone": "Europe/Oslo",
            "slug": "sundays-0300-europe-oslo",
            "active": True,
        }
    ]
    # both models, as `daglig train` (tests/test_completion_report.py runs it)
    assert d["train"]["entrypoint"] == "flows/train_models.py:train_models"
    assert d["nightly"]["schedules"] == [
        {
            "cron": "0 0 * * *",
            "timezone": "Europe/Oslo",
            "slug": "every-night-0000-europe-oslo",
            "active": True,
        }
    ]
    assert d["nightly"]["entrypoint"] == "flows/daily_challenges.py:generate_daily_challenges"
    assert d["backfill"]["entrypoint"] == "flows/backfill.py:backfill_daily_challenges"
    assert "schedules" not in d["backfill"]
    assert {x["work_pool"]["name"] for x in d.values()} == {"daglig-process"}


def test_the_schedules_say_their_zone_where_the_ui_shows_them() -> None:
    # the UI renders a cron as "At 12:00 AM every day": the deployment's description and
    # the schedule's slug are where a reader learns it is Norwegian time
    d = deployments()
    assert d["nightly"]["description"].startswith("Every night at 00:00 Europe/Oslo")
    assert "01:30 Europe/Oslo" in d["nightly"]["description"]
    assert d["train"]["description"].startswith("Every Sunday at 03:00 Europe/Oslo")
    for name in ("nightly", "train"):
        for schedule in d[name]["schedules"]:
            assert schedule["slug"].endswith("europe-oslo")


def test_run_date_is_an_optional_date_picker() -> None:
    # `date | None` gave anyOf [date, null]: the UI's "date | None" switch with 'Property
    # is type "None"'. A plain date that is not required is a date picker left empty.
    from prefect.utilities.callables import parameter_schema

    from flows.daily_challenges import generate_daily_challenges

    schema = parameter_schema(generate_daily_challenges).model_dump_for_openapi()
    run_date = schema["properties"]["run_date"]
    assert "anyOf" not in run_date
    assert (run_date["type"], run_date["format"], run_date["default"]) == ("string", "date", None)
    assert "run_date" not in schema.get("required", [])
    assert run_date["description"].startswith("optional")
    # the flow still takes a date, and validates what the form sends
    given = generate_daily_challenges.validate_parameters({"run_date": "2026-11-20"})
    assert given["run_date"] == date(2026, 11, 20)
    assert generate_daily_challenges.validate_parameters({})["run_date"] is None


def test_pull_step_names_no_path_of_this_machine() -> None:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    (step,) = spec["pull"]
    assert step == {
        "prefect.deployments.steps.set_working_directory": {"directory": "{{ $DAGLIG_HOME }}"}
    }
    assert str(REPO) not in (REPO / "prefect.yaml").read_text()


@pytest.mark.parametrize(
    ("flow_path", "dates"),
    [
        ("flows.daily_challenges:generate_daily_challenges", ["run_date"]),
        ("flows.backfill:backfill_daily_challenges", ["start_date", "end_date"]),
        ("flows.train_learner_model:train_learner_model", ["as_of"]),
        ("flows.train_models:train_models", ["as_of"]),
    ],
)
def test_parameter_forms_have_dates_and_descriptions(flow_path: str, dates: list[str]) -> None:
    import importlib

    from prefect.utilities.callables import parameter_schema

    module, name = flow_path.split(":")
    flow = getattr(importlib.import_module(module), name)
    props = parameter_schema(flow).model_dump_for_openapi()["properties"]
    assert all(p.get("description") for p in props.values()), props
    for field in dates:
        variants = props[field].get("anyOf", [props[field]])
        assert any(v.get("type") == "string" and v.get("format") == "date" for v in variants)


def test_backfill_form_bounds_concurrency_and_requires_dates() -> None:
    from prefect.utilities.callables import parameter_schema

    from flows.backfill import backfill_daily_challenges

    schema = parameter_schema(backfill_daily_challenges).model_dump_for_openapi()
    assert schema["required"] == ["start_date", "end_date"]
    mc = schema["properties"]["max_concurrency"]
    assert (mc["minimum"], mc["maximum"], mc["default"]) == (1, 8, 1)


@pytest.mark.parametrize(
    ("scheduled", "expected"),
    [
        ("2026-11-23T23:00:00+00:00", date(2026, 11, 24)),  # 00:00 in Oslo, winter (UTC+1)
        ("2026-06-30T22:00:00+00:00", date(2026, 7, 1)),  # 00:00 in Oslo, summer (UTC+2)
    ],
)
def test_a_scheduled_run_takes_the_scheduled_day_in_oslo(
    monkeypatch: pytest.MonkeyPatch, scheduled: str, expected: date
) -> None:
    import prefect.runtime.deployment as deployment
    import prefect.runtime.flow_run as flow_run
    from prefect.types._datetime import DateTime

    from flows.daily_challenges import resolve_run_date

    # what prefect.runtime tells a run its schedule started (a scheduled deployment run),
    # in Prefect's own DateTime type, whose .date() is a Date subclass sqlite3 cannot bind
    when = DateTime.fromisoformat(scheduled)
    monkeypatch.setattr(flow_run, "id", "7a9a3a4e-8d0c-4c56-9a3c-0f2d3c1e9b11", raising=False)
    monkeypatch.setattr(flow_run, "scheduled_start_time", when, raising=False)
    monkeypatch.setattr(deployment, "id", "1b6f3a4e-8d0c-4c56-9a3c-0f2d3c1e9b11", raising=False)
    day = resolve_run_date(None)
    assert day == expected and type(day) is date
    assert resolve_run_date(date(2026, 1, 2)) == date(2026, 1, 2)  # an explicit date wins
    # a run that is not from a deployment has no schedule: today, never the "scheduled" day
    monkeypatch.setattr(deployment, "id", None, raising=False)
    assert resolve_run_date(None) == datetime.now(ZoneInfo("Europe/Oslo")).date()


def test_the_alerts_watch_the_nightly_deployment_and_email_through_the_block() -> None:
    # automations.yaml as `make deploy` creates it (flows.automations): valid for Prefect,
    # each trigger bound to the one deployment, each notification to the admins' block
    from uuid import uuid4

    from prefect.events.schemas.automations import AutomationCore, Posture

    from flows.automations import SPEC, build_automations

    deployment, block = uuid4(), uuid4()
    spec = yaml.safe_load(SPEC.read_text())
    built = build_automations(spec, deployment, block, "http://prefect.example:4200/")
    autos = {a["name"]: AutomationCore.model_validate(a) for a in built}
    assert set(autos) == {
        "daglig: nightly run failed",
        "daglig: nightly run not completed by 01:30 Europe/Oslo",
    }
    for auto in autos.values():
        related = auto.trigger.match_related  # type: ignore[union-attr]
        assert related.model_dump() == {  # type: ignore[union-attr]
            "prefect.resource.role": "deployment",
            "prefect.resource.id": f"prefect.deployment.{deployment}",
        }
        (action,) = auto.actions
        assert action.type == "send-notification" and action.block_document_id == block  # type: ignore[union-attr]
    switch = autos["daglig: nightly run not completed by 01:30 Europe/Oslo"].trigger
    assert switch.posture == Posture.Proactive  # type: ignore[union-attr]
    assert switch.within.total_seconds() == 90 * 60  # type: ignore[union-attr]
    assert switch.expect == {"prefect.flow-run.Completed"}  # type: ignore[union-attr]
    text = built[1]["actions"][0]
    assert "innen 90 minutter (01:30 Europe/Oslo)" in text["subject"]
    assert "http://prefect.example:4200/runs/flow-run/{{ run_id }}" in text["body"]
    failed = autos["daglig: nightly run failed"].trigger
    assert failed.expect >= {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}  # type: ignore[union-attr]
    short = build_automations(spec, deployment, block, "http://x", within_seconds=12)
    assert (
        short[1]["trigger"]["within"] == 12 and "12 sekunder" in short[1]["actions"][0]["subject"]
    )
    assert short[0]["trigger"]["within"] == 0  # a reactive trigger keeps its window


def test_the_admin_email_block_writes_to_the_outbox_without_smtp(tmp_path: Path) -> None:
    # what the Prefect server does with the block when the alert fires, without SMTP
    import asyncio
    from email import message_from_bytes
    from email.policy import default

    from flows.prefect_blocks import AdminEmail

    block = AdminEmail(to=["a@example.no", "b@example.no"], data_dir=str(tmp_path))
    asyncio.run(block.notify("Kjøringen er ikke fullført.", subject="daglig: ingen kjøring"))
    (eml,) = (tmp_path / "outbox").glob("alert-*.eml")
    msg = message_from_bytes(eml.read_bytes(), policy=default)
    assert msg["To"] == "a@example.no, b@example.no"
    assert msg["Subject"] == "daglig: ingen kjøring"
    assert msg.get_content().strip() == "Kjøringen er ikke fullført."  # type: ignore[attr-defined]
