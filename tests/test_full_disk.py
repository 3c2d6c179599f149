"""Clean after failure (issue 12, item 15), on a real full disk: the data folder is a 2 MB
tmpfs mounted for the test (we run as root; skipped with the reason when mounting is
refused). Every file is written whole under a temporary name and renamed (daglig/io/files.py),
so no partial file is ever left under its final name; a run that failed on a full disk
empties its run folder but for FAILED.txt; the outbox never gets an empty ``.eml``; and
the failure names the task that failed (``read-answer-log``), not its flow step.

Measured before: the partial Parquet part (288 KB) stayed, four 0-byte ``.eml`` files
(one per email attempt), the summary named ``extract-features``, 75 s with the retries."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from daglig.io.files import atomic_path, clear_failed_folder, is_disk_full, write_bytes_atomic
from tests.cli import cli_env, daglig
from tests.dq_helpers import latest_flow_run, query, task_runs

DAY = date(2026, 11, 24)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def free_bytes(disk: Path) -> int:
    import os

    st = os.statvfs(disk)
    return st.f_bavail * st.f_frsize


def fill(disk: Path, leave: int) -> Path:
    """A filler file that leaves about ``leave`` bytes free."""
    filler = disk / "filler"
    with filler.open("wb") as f:
        f.write(b"\0" * max(0, free_bytes(disk) - leave))
    return filler


def files(disk: Path) -> dict[str, int]:
    return {
        str(p.relative_to(disk)): p.stat().st_size
        for p in disk.rglob("*")
        if p.is_file() and p.name != "filler"
    }


def test_a_partial_write_never_exists_under_its_final_name(tiny_disk: Path) -> None:
    import polars as pl

    fill(tiny_disk, 64 * 1024)
    target = tiny_disk / "part-00000.parquet"
    frame = pl.DataFrame({"a": list(range(300_000)), "b": [str(i) for i in range(300_000)]})
    with pytest.raises(Exception) as info, atomic_path(target) as tmp:
        frame.write_parquet(tmp, compression="uncompressed")
    assert is_disk_full(info.value)
    assert files(tiny_disk) == {}  # neither the final name nor the temporary one
    with pytest.raises(OSError) as err:
        write_bytes_atomic(tiny_disk / "outbox" / "mail.eml", b"x" * 200_000)
    assert is_disk_full(err.value)
    assert files(tiny_disk) == {}  # no 0-byte .eml


def test_clear_failed_folder_keeps_only_the_note(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    (folder / "answers" / "shard-0000").mkdir(parents=True)
    (folder / "answers" / "shard-0000" / "part-00000.parquet").write_bytes(b"x" * 1000)
    (folder / "users.parquet").write_bytes(b"y" * 500)
    assert clear_failed_folder(folder, "disk full") == 1500
    assert [p.name for p in folder.iterdir()] == ["FAILED.txt"]
    assert (folder / "FAILED.txt").read_text() == "disk full\n"


def test_a_run_on_a_full_disk_cleans_up_names_its_task_and_the_next_run_works(
    tiny_disk: Path, tmp_path: Path, prefect_api: str
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    env = cli_env(url, tiny_disk, prefect_api)
    made = daglig("simulate", "--users", "300", "--seed", "3", "--end-date", "2026-11-23", env=env)
    assert made.returncode == 0, made
    filler = fill(tiny_disk, 200 * 1024)  # room for some of the answer log, not all of it
    free_before = free_bytes(tiny_disk)

    t0 = datetime.now(UTC)
    r = daglig("run", "--date", DAY.isoformat(), env=env)
    assert r.returncode == 1, r
    left = files(tiny_disk)
    run_files = {k: v for k, v in left.items() if k.startswith("runs/")}
    assert [k.rsplit("/", 1)[1] for k in run_files] == ["FAILED.txt"], left  # nothing else
    assert not [k for k in left if k.endswith(".tmp") or left[k] == 0], left
    emails = [k for k in left if k.endswith(".eml")]
    assert len(emails) == 1, left  # the failure email, whole, once the space was back
    assert "read-answer-log" in (tiny_disk / emails[0]).read_text(errors="replace")
    assert free_bytes(tiny_disk) >= free_before - 64 * 1024  # the space is given back
    ((error,),) = query(url, "SELECT error FROM pipeline_runs")
    assert error.startswith("read-answer-log: ") and "No space left on device" in error
    runs = task_runs(
        latest_flow_run(f"daily-challenges-{DAY.isoformat()}", t0).id,
        {
            "read-answer-log",
            "send-summary-email",
        },
    )
    assert runs["read-answer-log"] == ("FAILED", 1)  # a full disk is not retried

    filler.unlink()  # the operator frees the disk: the next run has what it needs
    again = daglig("run", "--date", DAY.isoformat(), env=env)
    assert again.returncode == 0, again
    assert query(url, "SELECT status FROM pipeline_runs ORDER BY id") == [("failed",), ("ok",)]


def test_an_email_on_a_completely_full_disk_leaves_no_empty_file(
    tiny_disk: Path, tmp_path: Path, prefect_api: str
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    env = cli_env(url, tiny_disk, prefect_api)
    made = daglig("simulate", "--users", "50", "--end-date", "2026-11-23", env=env)
    assert made.returncode == 0, made
    (tiny_disk / "outbox").mkdir()
    (tiny_disk / "runs").mkdir()
    fill(tiny_disk, 0)
    t0 = datetime.now(UTC)
    r = daglig("run", "--date", DAY.isoformat(), env=env)
    assert r.returncode == 1, r
    # the CLI's log file (logs/daglig.log) is opened to record the failure; on a disk with
    # no byte free it stays empty, which is the log's business, not a half-written output
    left = {k: v for k, v in files(tiny_disk).items() if not k.startswith("logs/")}
    assert not [k for k in left if k.endswith((".tmp", ".eml", ".parquet")) or left[k] == 0], left
    runs = task_runs(
        latest_flow_run(f"daily-challenges-{DAY.isoformat()}", t0).id, {"send-summary-email"}
    )
    assert runs["send-summary-email"] == ("FAILED", 1)  # ENOSPC: not retried
    ((status,),) = query(url, "SELECT status FROM pipeline_runs")
    assert status == "failed"  # the database is elsewhere: the run is still recorded
