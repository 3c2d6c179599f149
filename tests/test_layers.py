"""The layer rule (docs/architecture.md), read from the source: every module of ``daglig``
belongs to one layer, and the pure core imports nothing of the I/O layer, the edge,
Prefect or a database driver, reads no environment and writes no files.

Layers, inner to outer: core (pure) → io (database, files, model store, SMTP) → edge
(settings, the CLI, the terminal, the admin service) → tasks and flows (Prefect).
A layer may import the layers inside it, never one outside.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.pure

REPO = Path(__file__).resolve().parent.parent

#: The pure core. Keep it explicit: a new module is placed by a person, not by a pattern.
CORE = frozenset(
    {
        "daglig",
        "daglig.backfill",
        "daglig.backfill_email",
        "daglig.catalogue",
        "daglig.challenge_settings",
        "daglig.challenges",
        "daglig.day_counts",
        "daglig.error_text",
        "daglig.chart",
        "daglig.cleanup",
        "daglig.user_features",
        "daglig.answer_tallies",
        "daglig.night_path",
        "daglig.hashing",
        "daglig.learner",
        "daglig.learner.assessment",
        "daglig.learner.completion",
        "daglig.learner.completion_model",
        "daglig.learner.curve",
        "daglig.learner.estimators",
        "daglig.learner.evidence_state",
        "daglig.learner.exam_path",
        "daglig.learner.examples",
        "daglig.learner.outcomes",
        "daglig.learner.selection",
        "daglig.learner.struggle",
        "daglig.learner.targets",
        "daglig.learner.training",
        "daglig.markdown",
        "daglig.norsk",
        "daglig.morning",
        "daglig.quality",
        "daglig.quality.gx",
        "daglig.quality.input_gate",
        "daglig.quality.output_gate",
        "daglig.quality.report",
        "daglig.rendering",
        "daglig.report_tables",
        "daglig.selection",
        "daglig.shards",
        "daglig.sql",
        "daglig.stats",
        "daglig.summary",
        "daglig.wording_no",
    }
)
#: The I/O layer: the package ``daglig.io`` and the SMTP sender (it stays at its path).
IO_EXTRA = frozenset({"daglig.notify"})
#: The edge: settings read from the environment, the error line, interrupts, the CLI and
#: the terminal, the admin service and API.
EDGE = frozenset(
    {
        "daglig.config",
        "daglig.errors",
        "daglig.interrupt",
        "daglig.terminal",
        "daglig.cli",
        "daglig.admin",
        "daglig.admin.api",
        "daglig.admin.cli",
        "daglig.admin.analytics",
        "daglig.admin.common",
        "daglig.admin.dry_run",
        "daglig.admin.settings_admin",
    }
)

#: Top-level packages the core never imports.
NOT_IN_CORE = frozenset(
    {"sqlalchemy", "prefect", "psycopg", "psycopg2", "smtplib", "tasks", "flows", "models"}
)
#: Calls that write or delete files, or read the environment.
WRITES = frozenset(
    {
        "write_parquet",
        "write_csv",
        "write_text",
        "write_bytes",
        "sink_parquet",
        "mkdir",
        "unlink",
        "rmtree",
        "getenv",
        "putenv",
        "setdefault_env",
    }
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def daglig_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((REPO / "daglig").rglob("*.py"))}


def layer(name: str) -> str:
    if name in CORE:
        return "core"
    if name == "daglig.io" or name.startswith("daglig.io.") or name in IO_EXTRA:
        return "io"
    if name in EDGE:
        return "edge"
    if name.split(".")[0] in {"tasks", "flows"}:
        return "prefect"
    return "outside"


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def forbidden_in_core(path: Path) -> list[str]:
    """What ``path`` does that the core may not: the imports and calls, each with its line."""
    bad: list[str] = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            top = name.split(".")[0]
            known = {n for n in daglig_modules() if name == n or name.startswith(n + ".")}
            outer = sorted(layer(n) for n in known if layer(n) != "core")
            if top in NOT_IN_CORE or top.startswith("adbc") or outer:
                bad.append(f"{path.name}:{node.lineno} imports {name}")
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            bad.append(f"{path.name}:{node.lineno} reads os.environ")
        if isinstance(node, ast.Call):
            f = node.func
            called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if called in WRITES:
                bad.append(f"{path.name}:{node.lineno} calls {called}()")
            if called == "open" and any(
                isinstance(a, ast.Constant)
                and isinstance(a.value, str)
                and set(a.value) & set("wax")
                for a in [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "mode")]
            ):
                bad.append(f"{path.name}:{node.lineno} opens a file for writing")
    return bad


def test_every_module_of_daglig_has_a_layer() -> None:
    unplaced = [n for n in daglig_modules() if layer(n) == "outside"]
    assert unplaced == [], "place these in tests/test_layers.py (and docs/architecture.md)"


@pytest.mark.parametrize("name", sorted(CORE))
def test_the_core_imports_no_io_no_prefect_reads_no_environment_writes_no_file(
    name: str,
) -> None:
    modules = daglig_modules()
    assert name in modules, f"{name} is listed as core but does not exist"
    assert forbidden_in_core(modules[name]) == []


@pytest.mark.parametrize("name", sorted(n for n in daglig_modules() if layer(n) == "io"))
def test_the_io_layer_imports_neither_the_edge_nor_prefect(name: str) -> None:
    path = daglig_modules()[name]
    outer = {
        i
        for i in imports(path)
        if i.split(".")[0] in {"prefect", "tasks", "flows"}
        or (layer(i) == "edge" and i != "daglig.config" and not i.startswith("daglig.config."))
    }
    assert outer == set()


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """The rule is not vacuous: a module doing each forbidden thing is caught."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\n"
        "from sqlalchemy import text\n"
        "from daglig.io.db import make_engine\n"
        "def f(frame, p):\n"
        "    from prefect import task\n"
        "    os.environ['X'] = '1'\n"
        "    frame.write_parquet(p)\n"
        "    open(p, 'w')\n",
        encoding="utf-8",
    )
    found = forbidden_in_core(sample)
    assert sorted(line.split(" ", 1)[1] for line in found) == sorted(
        [
            "imports sqlalchemy",
            "imports sqlalchemy.text",
            "imports daglig.io.db",
            "imports daglig.io.db.make_engine",
            "imports prefect",
            "imports prefect.task",
            "reads os.environ",
            "calls write_parquet()",
            "opens a file for writing",
        ]
    )
