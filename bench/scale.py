"""``python -m bench scale --users N``: one nightly run at a named scale, measured apart.

Steps, each timed on its own:

1. the database: on PostgreSQL ``daglig_bench_<N>`` is dropped and created on the server
   at ``--database-url`` (default :data:`DEFAULT_PG`) unless the URL names a database;
   ``--reuse-database`` takes a database that already holds the simulated learners;
2. simulate N learners (``simulator.simulate``; skipped when reusing);
   then ``VACUUM (ANALYZE)`` (see :func:`vacuum`);
3. train the learner model in its own process (``daglig.cli train``), unless ``--no-model``;
4. the run, in a fresh ``python -m bench _run`` process, so that its imports, Prefect's
   temporary API server and its memory are the run's own. Its wall seconds, the flow's
   seconds per task and its peak memory are recorded; the parent samples the summed RSS
   of the run's whole process tree from /proc every 0.2 s;
5. the I/O floor (``bench/io_floor.py``) on the same database, writing as many rows as the
   run wrote.

The result goes to ``bench/results/<scale>.json`` and the README's table is regenerated.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.table import scale_name

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
REPO = Path(__file__).resolve().parent.parent
SAMPLE_SECONDS = 0.2
PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20
# The run's result keys worth keeping (the full summary also has per-category counts,
# the quality reports and yesterday's morning report, which say nothing about speed).
RESULT_KEYS = (
    "status",
    "total_seconds",
    "task_seconds",
    "users_total",
    "users_active",
    "users_served",
    "assignments",
    "distinct_challenges",
    "written",
    "answers_used",
    "answers_after_cutoff",
    "answers_read",
    "features_path",
    "features_reason",
    "quarantined",
    "by_source",
    "ml_status",
    "ml_reason",
    "model_version",
    "shards",
    "notes",
)


# --- the database ------------------------------------------------------------------


def database_for(base_or_url: str, users: int) -> tuple[str, bool]:
    """The URL to run on and whether the bench owns it (may drop and create it).

    A PostgreSQL URL without a database name means "this server": the bench's own
    ``daglig_bench_<N>``. Any URL naming a database is used as given, never dropped.
    """
    from sqlalchemy.engine import make_url

    u = make_url(base_or_url)
    if u.get_backend_name() == "postgresql" and not u.database:
        url = u.set(database=f"daglig_bench_{users}").render_as_string(hide_password=False)
        return url, True
    return base_or_url, False


def _admin_engine(url: str) -> Any:
    """An AUTOCOMMIT engine on the server's ``postgres`` database (CREATE/DROP DATABASE
    cannot run inside a transaction)."""
    from sqlalchemy.engine import make_url

    from daglig.io.db import make_engine

    admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    return make_engine(admin).execution_options(isolation_level="AUTOCOMMIT")


def database_exists(url: str) -> bool:
    """Whether the PostgreSQL database ``url`` names exists on its server."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    engine = _admin_engine(url)
    try:
        with engine.connect() as c:
            found = c.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"),
                {"n": make_url(url).database},
            ).first()
        return found is not None
    finally:
        engine.dispose()


def recreate_database(url: str) -> None:
    """Drop (closing its connections) and create the PostgreSQL database ``url`` names."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    if not name or not name.startswith("daglig_bench_"):
        raise ValueError(f"refusing to drop {name!r}: only daglig_bench_* databases")
    engine = _admin_engine(url)
    try:
        with engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def choose_database(
    database_url: str, users: int, reuse: bool, prepared: str | None
) -> tuple[str, bool, bool]:
    """(URL, owned by the bench, reused) for a run at ``users`` learners.

    ``prepared`` (e.g. ``daglig_1m``, simulated once by someone else) is taken on the same
    server when it exists and holds exactly ``users`` learners; else the bench simulates as
    usual. A reused database must hold exactly ``users`` learners, so that the result's
    name and per-user figures are right."""
    url, owned = database_for(database_url, users)
    from daglig.io.db import backend

    if prepared and not reuse:
        from sqlalchemy.engine import make_url

        u = make_url(url)
        if backend(url) == "postgresql":
            candidate = u.set(database=prepared).render_as_string(hide_password=False)
            found = count_rows(candidate, "users") if database_exists(candidate) else 0
            if found == users:
                return candidate, False, True
            print(f"{prepared}: {found:,} users, not {users:,}: simulating instead", flush=True)
    if reuse:
        if backend(url) == "postgresql" and not database_exists(url):
            raise SystemExit(f"--reuse-database: {url} does not exist")
        found = count_rows(url, "users")
        if found != users:
            raise SystemExit(f"--reuse-database: {url} holds {found:,} users, not {users:,}")
    return url, owned, reuse


def count_rows(url: str, table: str) -> int:
    """``SELECT count(*)`` of one table (0 when it does not exist)."""
    from sqlalchemy import inspect, text

    from daglig.io.db import make_engine

    engine = make_engine(url)
    try:
        if not inspect(engine).has_table(table):
            return 0
        with engine.connect() as c:
            return int(c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


CLEAR_DAY: tuple[tuple[str, str], ...] = (
    ("user_daily_challenges", "DELETE FROM user_daily_challenges WHERE challenge_date = :d"),
    ("daily_challenges", "DELETE FROM daily_challenges WHERE challenge_date = :d"),
)


def clear_run_date(url: str, run_date: date) -> dict[str, int]:
    """Delete the run date's assignments and challenges, so that a run on a reused
    database writes the whole day again instead of finding it complete."""
    from sqlalchemy import inspect, text

    from daglig.io.db import make_engine

    engine = make_engine(url)
    deleted: dict[str, int] = {}
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.begin() as c:
            if {"user_daily_challenges", "daily_challenges"} <= tables:
                # Each deleted challenge makes PostgreSQL look for assignments still pointing
                # at it; without an index on challenge_id that is a scan of the table per
                # row (thousands of challenges × millions of assignments: many minutes).
                c.execute(
                    text("CREATE INDEX bench_udc_challenge ON user_daily_challenges (challenge_id)")
                )
            for table, statement in CLEAR_DAY:  # children first
                if table in tables:
                    n = c.execute(text(statement), {"d": run_date}).rowcount
                    deleted[table] = int(n or 0)
            if {"user_daily_challenges", "daily_challenges"} <= tables:
                c.execute(text("DROP INDEX bench_udc_challenge"))
    finally:
        engine.dispose()
    return deleted


def vacuum(url: str) -> float:
    """``VACUUM (ANALYZE)`` the whole PostgreSQL database; returns its seconds.

    Why: rows just bulk-loaded have no hint bits and no visibility map, so whichever query
    reads them first pays for setting them, and the run (first) would pay for the I/O floor
    (after it). A production database has been vacuumed by autovacuum long before a night's
    run. It also clears the dead rows :func:`clear_run_date` leaves."""
    from sqlalchemy import text

    from daglig.io.db import make_engine

    # VACUUM cannot run inside a transaction block.
    engine = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    t0 = time.perf_counter()
    try:
        with engine.connect() as c:
            c.execute(text("VACUUM (ANALYZE)"))
    finally:
        engine.dispose()
    return time.perf_counter() - t0


def server_version(url: str) -> str | None:
    """PostgreSQL's ``server_version`` (None on other backends)."""
    from sqlalchemy import text

    from daglig.io.db import backend, make_engine

    if backend(url) != "postgresql":
        return None
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return str(c.execute(text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()


# --- memory of a process tree --------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, str, float]]:
    """Every process now: pid → (parent pid, command name, RSS MiB), from /proc."""
    table: dict[int, tuple[int, str, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry.name}/statm") as f:
                rss_pages = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):  # the process ended while we looked
            continue
        # comm is in parentheses and may hold spaces; the fields after it are plain.
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        table[int(entry.name)] = (ppid, comm, rss_pages * PAGE_MIB)
    return table


def tree_rss(root: int) -> tuple[float, list[tuple[int, str, float]]]:
    """Summed RSS (MiB) of ``root`` and all its descendants, and the processes summed."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: list[tuple[int, str, float]] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append((pid, table[pid][1], table[pid][2]))
        todo.extend(children.get(pid, ()))
    return sum(r for _, _, r in found), found


def _cmdline(pid: int, width: int = 120) -> str:
    """The start of a process's command line ('' once it has ended)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:width]


@dataclass
class TreeSampler:
    """Samples a process tree's summed RSS every :data:`SAMPLE_SECONDS` in a thread."""

    root: int
    peak_mib: float = 0.0
    peak_at_seconds: float = 0.0
    peak_processes: list[tuple[int, str, float]] = field(default_factory=list)
    max_processes: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeSampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.is_set():
            total, procs = tree_rss(self.root)
            self.samples += 1
            self.max_processes = max(self.max_processes, len(procs))
            if total > self.peak_mib:
                # comm is only "python"; the command line says which process it is.
                self.peak_mib = total
                self.peak_processes = [(p, _cmdline(p) or n, r) for p, n, r in procs]
                self.peak_at_seconds = time.perf_counter() - t0
            self._stop.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def as_dict(self) -> dict[str, Any]:
        return {
            "peak_mib": round(self.peak_mib),
            "peak_at_seconds": round(self.peak_at_seconds, 1),
            "processes_at_peak": [
                {"pid": p, "command": n, "rss_mib": round(r)}
                for p, n, r in sorted(self.peak_processes, key=lambda x: -x[2])
            ],
            "max_processes": self.max_processes,
            "samples": self.samples,
            "sample_seconds": SAMPLE_SECONDS,
            "note": (
                "sum of VmRSS over the run process and all its descendants (Prefect's "
                "temporary API server, any Dask workers, subprocesses), sampled from /proc; "
                "pages shared between processes count once per process, and a peak "
                "shorter than the sampling interval can be missed"
            ),
        }


# --- the steps ---------------------------------------------------------------------


def _env(url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = url
    env["DAGLIG_DATA_DIR"] = str(data_dir)
    env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    return env


def _run_logged(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def _check(proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"{what} failed (exit {proc.returncode}); log {log}:\n{tail}")


def train_model(url: str, data_dir: Path, run_date: date, log: Path) -> float:
    """Train the learner model in its own process; returns its wall seconds."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "daglig.cli", "train", "--as-of", run_date.isoformat()]
    proc = _run_logged(cmd, _env(url, data_dir), log)
    proc.wait()
    _check(proc, "training", log)
    return time.perf_counter() - t0


def run_in_fresh_process(url: str, data_dir: Path, run_date: date, log: Path) -> dict[str, Any]:
    """The nightly run in a new ``python -m bench _run`` process: its own result (see
    :func:`run_child`) plus its wall seconds and its process tree's peak RSS."""
    out = data_dir / f"run-{run_date.isoformat()}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "bench", "_run", "--date", run_date.isoformat(), "--out", str(out)]
    t0 = time.perf_counter()
    proc = _run_logged(cmd, _env(url, data_dir), log)
    sampler = TreeSampler(proc.pid).start()
    proc.wait()
    wall = time.perf_counter() - t0
    sampler.stop()
    _check(proc, "the run", log)
    child: dict[str, Any] = json.loads(out.read_text())
    child["process_seconds"] = round(wall, 2)
    child["tree"] = sampler.as_dict()
    return child


def second_night(url: str, data_dir: Path, run_date: date, seed: int, log: Path) -> dict[str, Any]:
    """One more simulated day (``daglig simulate --add-day``'s code, for ``run_date``: the
    day the first night's challenges were for), then the next night in a fresh process,
    which folds that day into the first night's carried state; with its I/O floor: read
    the answers the state does not hold, write as many rows as the night wrote."""
    from daglig.io import state_store
    from daglig.io.identity import read_identity
    from simulator.add_day import add_day

    added = add_day(url, seed=seed + 1, day=run_date)
    print(
        f"added {added.answers:,} answers ({added.late_answers:,} late) in "
        f"{added.total_seconds:.1f} s",
        flush=True,
    )
    if backend_of(url) == "postgresql":
        vacuum(url)  # as before the first night: neither pays for fresh rows' hint bits
    night = run_date + timedelta(days=1)
    load_before = load_average()
    run = run_in_fresh_process(url, data_dir, night, log)
    print(
        f"incremental night ({run.get('features_path')}: {run.get('features_reason')}): "
        f"flow {run['total_seconds']} s",
        flush=True,
    )
    floor = None
    if backend_of(url) == "postgresql":
        from bench.io_floor import incremental_floor
        from daglig.io.db import make_engine

        engine = make_engine(url)
        try:
            identity = read_identity(engine)
        finally:
            engine.dispose()
        found = state_store.newest(data_dir / "state", identity, "9999")
        assert found is not None, "the second night kept no state"
        # the first night's state, as the second night read it (it has since kept its own)
        prior = sorted(p for p in found[0].parent.iterdir() if p.is_dir())[0]
        manifest = state_store.read_manifest(prior)
        assert manifest is not None
        floor = incremental_floor(url, night, manifest, rows_written(run))
        print(f"incremental I/O floor: {floor['total_seconds']} s", flush=True)
    flow = float(run["total_seconds"])
    return {
        "run_date": night.isoformat(),
        "added_day": {k: v for k, v in asdict(added).items() if k != "day"},
        "status": run.get("status"),
        "features_path": run.get("features_path"),
        "features_reason": run.get("features_reason"),
        "answers_read": run.get("answers_read"),
        "ml_status": run.get("ml_status"),
        "flow_seconds": flow,
        "task_seconds": run.get("task_seconds"),
        "process_seconds": run["process_seconds"],
        "rows_written": rows_written(run),
        "peak_rss_mib": {"process": run["ru_maxrss_mib"], "tree": run["tree"]["peak_mib"]},
        "io_floor": floor,
        "run_over_io_floor": (
            None
            if not floor or not floor["total_seconds"]
            else round(flow / floor["total_seconds"], 2)
        ),
        "load_average_before_run": load_before,
    }


def backend_of(url: str) -> str:
    from daglig.io.db import backend

    return backend(url)


def run_child(run_date: date, out: Path) -> None:
    """Inside the fresh process: import and run the flow, write what it measured to ``out``.

    ``ru_maxrss`` is this process's own peak (not the Prefect server's)."""
    t0 = time.perf_counter()
    from flows.daily_challenges import generate_daily_challenges

    import_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = generate_daily_challenges(run_date=run_date)
    call_seconds = time.perf_counter() - t1
    kept = {k: result[k] for k in RESULT_KEYS if k in result}
    kept.update(
        import_seconds=round(import_seconds, 2),
        call_seconds=round(call_seconds, 2),
        ru_maxrss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    )
    out.write_text(json.dumps(kept, indent=2, default=str) + "\n")


def process_parts(run: dict[str, Any]) -> dict[str, float]:
    """The run process's wall seconds split: importing the flow, Prefect around the flow
    (the temporary API server's start and stop, recording the run), the flow itself, and
    the rest (interpreter start and exit)."""
    flow, call = float(run["total_seconds"]), float(run["call_seconds"])
    imports, wall = float(run["import_seconds"]), float(run["process_seconds"])
    return {
        "imports": round(imports, 2),
        "prefect_around_flow": round(call - flow, 2),
        "flow": round(flow, 2),
        "interpreter_start_exit": round(wall - imports - call, 2),
    }


def rows_written(result: dict[str, Any]) -> int:
    """Rows the run wrote: challenges and assignments inserted or replaced (from
    ``written``), else assignments + distinct challenges."""
    w = result.get("written") or {}
    if w:
        return int(
            w.get("challenges_inserted", 0)
            + w.get("assignments_inserted", 0)
            + w.get("assignments_replaced", 0)
        )
    return int(result.get("assignments", 0)) + int(result.get("distinct_challenges", 0))


def rates(answers: int, result: dict[str, Any]) -> dict[str, int]:
    """Rows per second for the tasks where a row count means something."""
    ts: dict[str, float] = result.get("task_seconds") or {}
    pairs = {
        "answers_per_second_extract_features": ("extract-features", answers),
        "users_per_second_assess_learners": ("assess-learners", result.get("users_active")),
        "assignments_per_second_select": ("select-challenges", result.get("assignments")),
        "rows_per_second_upsert": ("upsert-challenges", rows_written(result)),
    }
    return {
        name: round(rows / ts[task])
        for name, (task, rows) in pairs.items()
        if rows and ts.get(task, 0) > 0
    }


def machine() -> dict[str, Any]:
    """This machine: CPUs, RAM, OS, Python."""
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "ram_gib": round(mem_kib / 2**20, 1),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (as ``uptime`` shows them)."""
    return [round(x, 2) for x in os.getloadavg()]


def scale(
    users: int,
    *,
    database_url: str = DEFAULT_PG,
    reuse_database: bool = False,
    prepared_database: str | None = None,
    with_model: bool = True,
    run_date: date = date(2026, 11, 24),
    seed: int = 1,
    incremental: bool = True,
) -> dict[str, Any]:
    """Run the whole measurement at ``users`` learners; returns the result dict.
    ``incremental``: then add one simulated day and time the next night, which folds it
    into the state the first night left (issue 16)."""
    from daglig.io.db import backend

    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    load_start = load_average()
    url, owned, reuse_database = choose_database(
        database_url, users, reuse_database, prepared_database
    )
    be = backend(url)
    name = scale_name(be, users)
    work = Path(tempfile.mkdtemp(prefix=f"daglig-bench-{name}-"))
    data_dir, log = work / "data", work / "bench.log"
    data_dir.mkdir()
    print(f"{name}: database {url}, work folder {work}", flush=True)

    simulate_seconds: float | None = None
    simulation: dict[str, Any] | None = None
    answers: int | None = None
    cleared: dict[str, int] = {}
    if reuse_database:
        cleared = clear_run_date(url, run_date)
    else:
        if owned:
            recreate_database(url)
        from simulator import simulate

        t0 = time.perf_counter()
        sim = simulate(url, users=users, seed=seed, end_date=run_date - timedelta(days=1))
        simulate_seconds = time.perf_counter() - t0
        answers = sim.answers
        simulation = {k: v for k, v in asdict(sim).items() if k != "by_archetype"}
        print(
            f"simulated {sim.users:,} users, {sim.answers:,} answers in {simulate_seconds:.1f} s",
            flush=True,
        )
    vacuum_seconds = vacuum(url) if be == "postgresql" else None
    train_seconds = None
    if with_model:
        train_seconds = train_model(url, data_dir, run_date, log)
        print(f"trained the learner model in {train_seconds:.1f} s", flush=True)

    load_before_run = load_average()
    run = run_in_fresh_process(url, data_dir, run_date, log)
    load_after_run = load_average()
    print(f"run: flow {run['total_seconds']} s, process {run['process_seconds']} s", flush=True)
    if answers is None:  # reused: count after the run, outside its time
        answers = count_rows(url, "question_attempts")

    floor: dict[str, Any] | None = None
    if be == "postgresql":
        from bench.io_floor import io_floor

        floor = io_floor(url, run_date, rows_written(run))
        print(f"I/O floor: {floor['total_seconds']} s", flush=True)

    second = second_night(url, data_dir, run_date, seed, log) if incremental else None

    flow_seconds = float(run["total_seconds"])
    process_mib, tree = run["ru_maxrss_mib"], run["tree"]
    from sqlalchemy.engine import make_url

    return {
        "scale": name,
        "backend": be,
        "database": make_url(url).render_as_string(hide_password=True),
        "database_reused": reuse_database,
        "cleared_before_run": cleared,
        "users": users,
        "active_users": run.get("users_active"),
        "answers": answers,
        "answers_read": run.get("answers_used"),
        "run_date": run_date.isoformat(),
        "seed": seed,
        "simulate_seconds": None if simulate_seconds is None else round(simulate_seconds, 2),
        "simulation": simulation,
        "vacuum_seconds": None if vacuum_seconds is None else round(vacuum_seconds, 2),
        "train_seconds": None if train_seconds is None else round(train_seconds, 2),
        "status": run.get("status"),
        "ml_status": run.get("ml_status"),
        "ml_reason": run.get("ml_reason"),
        "model_version": run.get("model_version"),
        "by_source": run.get("by_source"),
        "shards": run.get("shards"),
        "flow_seconds": flow_seconds,
        "task_seconds": run.get("task_seconds"),
        "process_seconds": run["process_seconds"],
        "process_seconds_parts": process_parts(run),
        "process_seconds_note": (
            "wall seconds of the fresh run process: interpreter start and exit, imports, "
            "the flow call (Prefect's temporary API server start and stop, the flow)"
        ),
        "assignments": run.get("assignments"),
        "distinct_challenges": run.get("distinct_challenges"),
        "written": run.get("written"),
        "rows_written": rows_written(run),
        "rows_per_second": rates(int(run.get("answers_used") or answers or 0), run),
        "peak_rss_mib": {"process": process_mib, "tree": tree["peak_mib"]},
        "peak_rss_note": (
            "process: the run process's own ru_maxrss; tree: the peak of the summed RSS of "
            "its whole process tree, including Prefect's temporary API server and any Dask "
            "workers (see tree.note)"
        ),
        "tree": tree,
        "seconds_per_1k_users": round(flow_seconds / users * 1_000, 4),
        "mib_per_1k_users": round(process_mib / users * 1_000, 2),
        "io_floor": floor,
        "run_over_io_floor": (
            None
            if not floor or not floor["total_seconds"]
            else round(flow_seconds / floor["total_seconds"], 2)
        ),
        "notes": run.get("notes"),
        "features_path": run.get("features_path"),
        "features_reason": run.get("features_reason"),
        "incremental_night": second,
        "machine": {
            **machine(),
            "postgresql": server_version(url),
            "load_average_start": load_start,
            "load_average_before_run": load_before_run,
            "load_average_after_run": load_after_run,
            "load_average_end": load_average(),
        },
        "started_at": started_at,
        "work_folder": str(work),
    }
