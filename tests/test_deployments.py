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
        {"cron": "0 3 * * 0", "timezone": "Europe/Oslo", "active": True}
    ]
    assert d["train"]["entrypoint"] == "flows/train_learner_model.py:train_learner_model"
    assert d["nightly"]["schedules"] == [
        {"cron": "0 0 * * *", "timezone": "Europe/Oslo", "active": True}
    ]
    assert d["nightly"]["entrypoint"] == "flows/daily_challenges.py:generate_daily_challenges"
    assert d["backfill"]["entrypoint"] == "flows/backfill.py:backfill_daily_challenges"
    assert "schedules" not in d["backfill"]
    assert {x["work_pool"]["name"] for x in d.values()} == {"daglig-process"}


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
