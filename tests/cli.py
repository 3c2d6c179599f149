"""Run the installed ``daglig`` command the way a person types it: a subprocess, its own
environment, standard output and standard error kept apart, the seconds it took.

``daglig(...)`` is what every CLI test calls. ``cli_env`` builds the environment from a
clean copy of this process's (no ``DAGLIG_*``/``DATABASE_URL`` leaking in from the shell
or another test): the database URL, the data folder, and optionally the test run's Prefect
API (``prefect_api`` fixture), which spares each command the 6-11 s of starting Prefect's
temporary server. Leave it out where the temporary server is what is tested.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The console script of this virtual environment: what `make venv` installed.
DAGLIG = Path(sys.executable).with_name("daglig")
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    """One finished command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def err_lines(self) -> list[str]:
        """The non-blank lines of standard error."""
        return [line for line in self.stderr.splitlines() if line.strip()]

    @property
    def out_lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.strip()]

    def __str__(self) -> str:  # shown by pytest when an assertion about it fails
        return (
            f"daglig {' '.join(self.args)} -> exit {self.returncode} in {self.seconds:.1f} s\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


def cli_env(
    database_url: str | None,
    data_dir: Path,
    prefect_api: str | None = None,
    **extra: str | int | float,
) -> dict[str, str]:
    """A clean environment for ``daglig``: ``extra`` keys are ``DAGLIG_`` settings
    (``smtp_host=...`` → ``DAGLIG_SMTP_HOST``) unless they are already upper case."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DAGLIG_", "PREFECT_API_URL")) and k != "DATABASE_URL"
    }
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env["DAGLIG_DATA_DIR"] = str(data_dir)
    env["PREFECT_LOGGING_LEVEL"] = env.get("PREFECT_LOGGING_LEVEL", "INFO")
    if prefect_api:
        env["PREFECT_API_URL"] = prefect_api
    for k, v in extra.items():
        env[k if k.isupper() else f"DAGLIG_{k.upper()}"] = str(v)
    return env


def daglig(
    *args: str,
    env: Mapping[str, str],
    timeout: float = 300,
    cwd: Path | None = None,
    stdin: str | None = None,
) -> Result:
    """``daglig ARGS…`` as a subprocess; never raises on a non-zero exit."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(DAGLIG), *args],
        env=dict(env),
        cwd=cwd or REPO,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(tuple(args), done.returncode, done.stdout, done.stderr, time.perf_counter() - t0)
