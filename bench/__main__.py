"""``python -m bench nightly --users N``: simulate N learners, run the nightly flow, record
per-task seconds, peak RSS and rows/s into ``bench/results/nightly-<N>.json``.

``python -m bench scale --users 10k`` measures one run at a named scale on PostgreSQL, the
run in a fresh process (bench/scale.py), into ``bench/results/pg-10k.json``; ``python -m
bench table`` regenerates the README's scale table from those files (bench/table.py).

The database is ``DATABASE_URL`` when set (it is replaced!), else a SQLite file in a
temporary folder. Prefect's temporary API start-up (6–11 s) is outside the flow's own
seconds and reported apart as ``process_seconds - flow_seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from flows.prefect_env import apply_offline_settings

apply_offline_settings()  # before anything imports prefect

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent / "README.md"


def nightly(users: int, seed: int, run_date: date, with_model: bool = False) -> dict[str, object]:
    from simulator import simulate

    tmp = Path(tempfile.mkdtemp(prefix="daglig-bench-"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    os.environ["DATABASE_URL"] = url
    os.environ["DAGLIG_DATA_DIR"] = str(tmp / "data")
    t0 = time.perf_counter()
    sim = simulate(url, users=users, seed=seed, end_date=run_date - timedelta(days=1))
    sim_seconds = time.perf_counter() - t0
    train_seconds = 0.0
    if with_model:  # in its own process, so the peak RSS below is the nightly run's alone
        import subprocess
        import sys

        t_train = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "daglig.cli", "train", "--as-of", run_date.isoformat()],
            check=True,
        )
        train_seconds = time.perf_counter() - t_train

    from flows.daily_challenges import generate_daily_challenges

    t1 = time.perf_counter()
    result = generate_daily_challenges(run_date=run_date)
    process_seconds = time.perf_counter() - t1
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "scale": f"nightly-{users}" + ("-ml" if with_model else ""),
        "backend": url.split(":", 1)[0],
        "users": users,
        "answers": sim.answers,
        "simulate_seconds": round(sim_seconds, 2),
        "train_seconds": round(train_seconds, 2),
        "ml_status": result.get("ml_status"),
        "by_source": result.get("by_source"),
        "flow_seconds": result["total_seconds"],
        "process_seconds": round(process_seconds, 2),
        "task_seconds": result["task_seconds"],
        "assignments": result["assignments"],
        "distinct_challenges": result["distinct_challenges"],
        "answers_per_second_features": round(
            sim.answers / max(result["task_seconds"].get("extract-features", 1e-9), 1e-9)
        ),
        "peak_rss_mib": round(peak_mib),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
    }


def _add_common(p: argparse.ArgumentParser) -> None:
    from bench.table import parse_users

    p.add_argument("--users", type=parse_users, default=10_000, help="10000, 10k, 1m")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 24))


def main() -> None:
    from bench.table import parse_users

    p = argparse.ArgumentParser(prog="python -m bench")
    # _run (the run's own process, started by scale) is left out of the listing.
    sub = p.add_subparsers(
        dest="what",
        required=True,
        metavar="{nightly,learner,scorer,reference,struggle,service,scale,copy-write,table}",
    )
    for name, text in (
        ("nightly", "simulate into DATABASE_URL or a temporary SQLite file, run in-process"),
        ("learner", "the learner model's accuracy against its baselines"),
        ("scorer", "cheaper scorer variants and what moves in a night (bench/scorer.py)"),
        ("reference", "the seed's per-user design, timed"),
        ("struggle", "how often the struggle signals fire (bench/struggle.py)"),
    ):
        _add_common(sub.add_parser(name, help=text))
    sub.choices["nightly"].add_argument(
        "--with-model",
        action="store_true",
        help="train the learner model first (not timed), so the run uses it",
    )
    sub.choices["scorer"].add_argument(
        "--shuffles", type=int, default=1, help="row orders each variant is fitted on"
    )
    sv = sub.add_parser("service", help="the learner service's lookup latency (bench/service.py)")
    sv.add_argument("--users", type=parse_users, default=100_000, help="10000, 10k, 1m")
    sv.add_argument("--lookups", type=int, default=1000)
    sv.add_argument("--seed", type=int, default=1)
    sc = sub.add_parser("scale", help="one measured run at a scale (bench/scale.py)")
    _add_common(sc)
    sc.add_argument(
        "--database-url",
        default=None,
        help="a server (postgresql://…:5432: database daglig_bench_<N>, dropped and created) "
        "or a database to use as given; default postgresql://postgres@127.0.0.1:5432",
    )
    sc.add_argument(
        "--reuse-database",
        action="store_true",
        help="do not simulate: the database already holds the learners (the run date's "
        "challenges are deleted first, so the run writes the whole day)",
    )
    sc.add_argument(
        "--prepared-database",
        default=None,
        help="reuse this database on the same server when it exists and holds learners "
        "(make bench SCALE=1m: daglig_1m), else simulate as usual",
    )
    sc.add_argument("--no-model", action="store_true", help="skip training: the run falls back")
    sc.add_argument(
        "--no-incremental",
        action="store_true",
        help="time the full night only (default: then add a simulated day and time the next, "
        "incremental night too)",
    )
    cw = sub.add_parser(
        "copy-write", help="a night's write: staging + upsert against COPY (bench/copy_write.py)"
    )
    cw.add_argument("--database-url", required=True, help="a PostgreSQL database with learners")
    cw.add_argument("--night", type=Path, required=True, help="a run folder (or its files)")
    cw.add_argument("--date", type=date.fromisoformat, default=date(2026, 12, 3))
    cw.add_argument("--runs", type=int, default=5, help="runs of each path, alternating")
    cw.add_argument("--history", type=int, default=0, help="nights written before the date")
    sub.add_parser("table", help="regenerate the scale table in bench/README.md")
    run = sub.add_parser("_run")
    run.add_argument("--date", type=date.fromisoformat, required=True)
    run.add_argument("--out", type=Path, required=True)
    a = p.parse_args()

    if a.what == "_run":
        from bench.scale import run_child

        run_child(a.date, a.out)
        return
    if a.what == "table":
        from bench.table import write_table

        print(write_table(RESULTS, README), end="")
        print(f"written {README}")
        return
    RESULTS.mkdir(exist_ok=True)
    if a.what == "scale":
        from bench.scale import DEFAULT_PG, scale
        from bench.table import write_table

        out = scale(
            a.users,
            database_url=a.database_url or DEFAULT_PG,
            reuse_database=a.reuse_database,
            prepared_database=a.prepared_database,
            with_model=not a.no_model,
            run_date=a.date,
            seed=a.seed,
            incremental=not a.no_incremental,
        )
        path = RESULTS / f"{out['scale']}.json"
        text = json.dumps(out, indent=2, default=str)  # default: dates in the simulator's summary
        path.write_text(text + "\n")
        print(text)
        print(f"written {path}")
        print(write_table(RESULTS, README), end="")
        return
    if a.what == "copy-write":
        from bench.copy_write import copy_write_bench

        out = copy_write_bench(a.database_url, a.night, a.date, a.runs, a.history)
        path = RESULTS / f"{out['scale']}.json"
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(json.dumps(out, indent=2))
        print(f"written {path}")
        return
    if a.what == "reference":
        from bench.reference import reference_bench

        out = reference_bench(a.users, a.seed, a.date)
    elif a.what == "service":
        from bench.service import service_bench

        out = service_bench(a.users, a.lookups, a.seed)
    elif a.what == "scorer":
        from bench.scorer import markdown as scorer_markdown
        from bench.scorer import scorer_bench

        out = scorer_bench(a.users, a.seed, a.date, shuffles=a.shuffles)
        print(scorer_markdown(out))
    elif a.what == "struggle":
        from bench.struggle import struggle

        out = struggle(a.users, a.seed, a.date)
    elif a.what == "learner":
        from bench.learner import learner, markdown

        out = learner(a.users, a.seed, a.date)
        print(markdown(out))
    else:
        out = nightly(a.users, a.seed, a.date, a.with_model)
    path = RESULTS / f"{out['scale']}-{out['backend']}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
