"""bench/table.py: scale names, ratio math and the README table, from literal result dicts
(no database, no files but a temporary README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import table as t
from bench.scale import process_parts, rates, rows_written

pytestmark = pytest.mark.pure  # the fast tier: no database, no Prefect, no process


def result(users: int, flow: float, proc_mib: int, floor: float | None = 2.0) -> dict[str, Any]:
    """A pg-* result as bench/scale.py writes it, trimmed to what the table reads."""
    return {
        "scale": t.scale_name("postgresql", users),
        "users": users,
        "answers": users * 100,
        "ml_status": "used",
        "flow_seconds": flow,
        "process_seconds": flow + 8.0,
        "task_seconds": {
            "check-health": 0.1,
            "extract-features": flow / 2,
            "upsert-challenges": flow / 4,
        },
        "peak_rss_mib": {"process": proc_mib, "tree": proc_mib + 300},
        "machine": {"cpu_count": 2, "load_average_before_run": [1.5, 1.0, 0.5]},
        "io_floor": None
        if floor is None
        else {
            "seconds": {"read": floor / 2, "aggregate": floor / 4, "write": floor / 4},
            "total_seconds": floor,
            "rows_written": users * 3,
        },
    }


REFERENCE = {
    "scale": "reference-20000",
    "backend": "postgresql",
    "users": 20_000,
    "answers": 2_000_000,
    "assignments": 54_000,
    "seconds": 400.0,
    "seconds_per_1k_users": 20.0,
}


@pytest.mark.parametrize(
    ("text", "users"),
    [("10000", 10_000), ("10_000", 10_000), ("10k", 10_000), ("100K", 100_000), ("1m", 10**6)],
)
def test_parse_users(text: str, users: int) -> None:
    assert t.parse_users(text) == users


@pytest.mark.parametrize("text", ["", "k", "ten", "0", "1.5k5", "0.0001k"])
def test_parse_users_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        t.parse_users(text)


@pytest.mark.parametrize(
    ("backend", "users", "name"),
    [
        ("postgresql", 10_000, "pg-10k"),
        ("postgresql", 100_000, "pg-100k"),
        ("postgresql", 1_000_000, "pg-1m"),
        ("postgresql", 12_345, "pg-12345"),
        ("sqlite", 10_000, "sqlite-10k"),
    ],
)
def test_scale_names_round_trip(backend: str, users: int, name: str) -> None:
    assert t.scale_name(backend, users) == name
    assert t.parse_scale_name(name) == (backend, users)


def test_parse_scale_name_rejects() -> None:
    for bad in ("pg", "-10k", "pg-ten"):
        with pytest.raises(ValueError):
            t.parse_scale_name(bad)


def test_marginal_and_ratios() -> None:
    small, large = result(10_000, 5.0, 800), result(100_000, 32.0, 2600)
    # (32 - 5) s over 90k extra users = 0.3 s per 1k users.
    assert t.marginal_seconds(small, large) == pytest.approx(0.3)
    assert t.marginal_per_1k(10_000, 800, 100_000, 2600) == pytest.approx(20.0)
    assert t.ratio(20.0, 0.3) == pytest.approx(66.67, rel=1e-3)
    assert t.ratio(20.0, 0.0) is None and t.ratio(20.0, -0.1) is None
    assert t.ratio(None, 1.0) is None
    assert t.per_1k(5.0, 10_000) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        t.marginal_per_1k(100, 1.0, 100, 2.0)


def test_render_rows_and_derived_figures() -> None:
    rows = [result(100_000, 32.0, 2600, floor=16.0), result(10_000, 5.0, 800)]
    md = t.render(rows, REFERENCE)
    lines = md.splitlines()
    assert lines[0].startswith("| scale | users | answers | ML | flow s | extract-features |")
    assert "check-health" not in lines[0]  # a minor task: counted in "other"
    assert lines[2].startswith("| pg-10k | 10,000 | 1,000,000 | used | 5.00 | 2.50 | 1.25 |")
    # other = 5.00 - 2.50 - 1.25; peak process / tree; 0.5 s and 80 MiB per 1k users.
    assert lines[2].endswith("| 1.25 | 13.00 | 800 / 1,100 | 0.500 | 80.0 | 1.50 |")
    assert lines[3].startswith("| pg-100k | 100,000 |")
    assert "0.300 s per 1k users; 20.0 MiB per 1k users" in md
    assert "20.000 s per 1k users (400.00 s for 20,000 users" in md
    assert "reference ÷ marginal: 66.7× (target ≥ 40×)" in md
    assert "| pg-10k | 2.00 (1.00 / 0.50 / 0.50) | 30,000 | 5.00 | 2.5× |" in md
    assert "| pg-100k | 16.00 (8.00 / 4.00 / 4.00) | 300,000 | 32.00 | 2.0× |" in md
    assert "1M users" not in md


def test_render_without_reference_or_100k() -> None:
    md = t.render([result(10_000, 5.0, 800, floor=None)], None)
    assert "per-user reference at 20k on PostgreSQL: not measured" in md
    assert "marginal cost, 10k → 100k (flow seconds): not measured" in md
    assert "reference ÷ marginal: – " in md
    assert "| pg-10k | not measured | – | 5.00 | – |" in md


def test_render_1m_targets() -> None:
    rows = [result(100_000, 12.0, 900), result(1_000_000, 110.0, 3500)]
    md = t.render(rows, REFERENCE)
    assert "marginal cost, 100k → 1M (flow seconds): 0.109 s per 1k users" in md
    assert "flow 110.00 s (target ≤ 120 s: met), peak 3,800 MiB" in md
    assert "(target ≤ 4 GiB: met)" in md
    slow = t.render([result(1_000_000, 130.0, 4000)], None)
    assert "target ≤ 120 s: missed" in slow and "target ≤ 4 GiB: missed" in slow


def test_render_the_incremental_night_beside_the_full_one() -> None:
    full = result(1_000_000, 300.0, 2800)
    full["features_path"], full["run_date"] = "full", "2026-11-24"
    full["incremental_night"] = {
        "run_date": "2026-11-25",
        "features_path": "incremental",
        "answers_read": 2_200_000,
        "flow_seconds": 90.0,
        "task_seconds": {"extract-features": 30.0, "keep-carried-state": 5.0},
        "peak_rss_mib": {"process": 2000, "tree": 2500},
        "io_floor": {"seconds": {"read": 10.0, "write": 10.0}, "total_seconds": 20.0},
    }
    md = t.render([full], None)
    assert "| pg-1m | full (2026-11-24) | full | 100,000,000 | 300.00 |" in md
    assert "| pg-1m | +1 day (2026-11-25) | incremental | 2,200,000 | 90.00 | 30.00 |" in md
    assert "| 2,000 / 2,500 | 20.00 | 4.5× |" in md
    assert "the incremental night: flow 90.00 s (goal ≤ 120 s: met), peak 2,500 MiB (goal ≤ " in md
    assert "4.5× its I/O floor (goal ≤ 3×: missed); the full night before it: 300.00 s." in md
    assert "+1 day" not in t.render([result(1_000_000, 300.0, 2800)], None)  # not measured


def test_pick_reference() -> None:
    sqlite = dict(REFERENCE, backend="sqlite")
    small = dict(REFERENCE, users=2_000)
    assert t.pick_reference([sqlite, small]) is None
    assert t.pick_reference([sqlite, REFERENCE]) == REFERENCE


def test_splice_keeps_the_rest_of_the_readme() -> None:
    readme = f"# Benchmarks\n\nintro\n\n{t.BEGIN}\nold table\n{t.END}\n\n## Later\n\nkept\n"
    new = t.splice(readme, "| new |\n")
    assert new == f"# Benchmarks\n\nintro\n\n{t.BEGIN}\n| new |\n{t.END}\n\n## Later\n\nkept\n"
    assert t.splice(new, "| new |\n") == new  # idempotent
    appended = t.splice("# Benchmarks\n", "| x |")
    assert appended.endswith(f"## Scale runs, PostgreSQL\n\n{t.BEGIN}\n| x |\n{t.END}\n")


def test_write_table_from_files(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "pg-10k.json").write_text(json.dumps(result(10_000, 5.0, 800)))
    (results / "nightly-10000-sqlite.json").write_text("{}")  # not a scale result: ignored
    (results / "reference-20000-postgresql.json").write_text(json.dumps(REFERENCE))
    readme = tmp_path / "README.md"
    readme.write_text(f"# B\n\n{t.BEGIN}\n{t.END}\n")
    block = t.write_table(results, readme)
    assert "| pg-10k | 10,000 |" in block and "20.000 s per 1k users" in block
    assert readme.read_text() == f"# B\n\n{t.BEGIN}\n{block.rstrip()}\n{t.END}\n"


def test_rows_written_and_rates() -> None:
    run = {
        "written": {
            "challenges_inserted": 2_000,
            "assignments_inserted": 27_000,
            "assignments_replaced": 0,
            "assignments_kept": 0,
        },
        "assignments": 27_000,
        "distinct_challenges": 2_000,
        "users_active": 9_000,
        "task_seconds": {"extract-features": 2.0, "upsert-challenges": 0.5, "render": 0.0},
    }
    assert rows_written(run) == 29_000
    assert rows_written({"assignments": 10, "distinct_challenges": 3}) == 13
    assert rates(1_000_000, run) == {
        "answers_per_second_extract_features": 500_000,
        "rows_per_second_upsert": 58_000,
    }


def test_process_parts_add_up() -> None:
    run = {"total_seconds": 9.9, "call_seconds": 38.4, "import_seconds": 16.5}
    parts = process_parts({**run, "process_seconds": 59.1})
    assert parts == {
        "imports": 16.5,
        "prefect_around_flow": 28.5,
        "flow": 9.9,
        "interpreter_start_exit": 4.2,
    }
    assert sum(parts.values()) == pytest.approx(59.1)
