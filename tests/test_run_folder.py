"""RunFolder (daglig/io/run_folder.py): the one place that names a run's files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from daglig.io.run_folder import RunFile, RunFolder

pytestmark = pytest.mark.pure  # the fast tier: no database, no Prefect, no process


def test_names_the_files_of_a_run_and_of_its_shards(tmp_path: Path) -> None:
    run = RunFolder.at(tmp_path / "runs", date(2026, 12, 1), "abc")
    assert run.root == tmp_path / "runs" / "2026-12-01" / "abc"
    assert run.user_features == run.root / "user_features.parquet"
    assert run.challenges == run.root / "challenges.parquet"
    assert run.answers == run.root / "answers"
    assert run.shard(3).file(RunFile.ASSIGNMENTS) == run.root / "shard-0003" / "assignments.parquet"


def test_lists_every_shards_file_in_shard_order(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    for k in (10, 2, 0):
        run.shard(k).root.mkdir()
        run.shard(k).file(RunFile.ASSIGNMENTS_KEYED).write_bytes(b"")
    run.shard(5).root.mkdir()  # a shard without the file is not listed
    assert run.keyed_assignments() == [
        tmp_path / f"shard-{k:04d}" / "assignments_keyed.parquet" for k in (0, 2, 10)
    ]


def test_every_file_a_task_saves_is_named_by_the_run_folder() -> None:
    """Tasks hand files on only under a :class:`RunFile` name: no string literal in a
    ``save(...)`` call anywhere in tasks/."""
    import re
    from pathlib import Path

    calls = [
        (f.name, m.group(0))
        for f in sorted((Path(__file__).parent.parent / "tasks").glob("*.py"))
        for m in re.finditer(r"(?<!def )\bsave\((?:[^()]|\([^()]*\))*\)", f.read_text())
    ]
    assert len(calls) >= 20, calls  # the steps' files are found at all
    assert [c for c in calls if "RunFile." not in c[1]] == []
    assert {f.value for f in RunFile} >= {"users", "user_features", "challenges", "answer_log"}
