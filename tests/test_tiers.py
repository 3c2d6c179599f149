"""The fast tier (``make test-fast``: tests marked ``pure``) keeps its promise: a pure test
that asks for the Prefect API or PostgreSQL is refused at collection, one that starts a
process fails, and a flow in one cannot start Prefect's temporary server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli import REPO


def run_pytest(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    sample = tmp_path / "test_sample.py"
    sample.write_text("import subprocess\n\nimport pytest\n\n\n" + body, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "pyproject.toml"]
        + ["--rootdir", ".", "-p", "tests.conftest", str(sample)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_pure_test_asking_for_the_prefect_api_is_refused(tmp_path: Path) -> None:
    r = run_pytest(tmp_path, "@pytest.mark.pure\ndef test_x(prefect_api):\n    pass\n")
    assert r.returncode != 0
    assert "test_x is marked pure but uses prefect_api, prefect_harness" in r.stdout + r.stderr


def test_a_pure_test_asking_for_postgresql_is_refused(tmp_path: Path) -> None:
    r = run_pytest(tmp_path, "@pytest.mark.pure\ndef test_x(db_url):\n    pass\n")
    assert r.returncode != 0
    assert "marked pure but uses" in r.stdout + r.stderr and "db_url[postgresql]" in (
        r.stdout + r.stderr
    )


def test_a_pure_test_starting_a_process_fails(tmp_path: Path) -> None:
    r = run_pytest(
        tmp_path,
        "@pytest.mark.pure\ndef test_x():\n    subprocess.run(['true'])\n\n\n"
        "def test_y():\n    subprocess.run(['true'], check=True)\n",
    )
    assert "a pure test started a process" in r.stdout
    assert "1 failed, 1 passed" in r.stdout  # the unmarked test may start one
