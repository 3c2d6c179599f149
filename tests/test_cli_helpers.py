"""The CLI test helper itself runs the installed command."""

from __future__ import annotations

from pathlib import Path

from tests.cli import DAGLIG, cli_env, daglig


def test_the_installed_command_answers_help(tmp_path: Path) -> None:
    assert DAGLIG.is_file(), f"{DAGLIG} is not installed (make venv)"
    r = daglig("--help", env=cli_env(None, tmp_path / "data"))
    assert r.returncode == 0, r
    assert "run" in r.stdout and "simulate" in r.stdout
