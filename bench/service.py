"""``python -m bench service --users 100000``: the learner service's latency.

Builds a synthetic night for N learners through the real assessment code
(``daglig.learner.assessment.assess`` on random mastery, split into shards as a run
does), keeps it with the nightly step's own function (``save_assessment``: timed, that is
what the night pays), then times ``--lookups`` random single-user lookups through the
Python API (``LearnerService``) and through HTTP (the admin app, in-process via
Starlette's TestClient: routing, token check, JSON) and reports p50/p99/max in ms.
The database is a fresh SQLite file holding only ``pipeline_identity`` (and the users
table is never read: every looked-up user is assessed). Goal: p99 < 20 ms.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from daglig.catalogue import CATEGORY_KEYS
from daglig.learner.assessment import assess

TOKEN = "bench-token-0123456789"


def synthetic_shards(
    folder: Path, user_ids: np.ndarray, shards: int = 1, seed: int = 1
) -> list[tuple[Path, Path]]:
    """A night's per-shard assessment files ``(categories, users)`` for ``user_ids``:
    random attempts and mastery per (user, category), assessed by the real code."""
    rng = np.random.default_rng(seed)
    n, k = len(user_ids), len(CATEGORY_KEYS)
    rows = pl.DataFrame(
        {
            "user_id": np.repeat(user_ids.astype(np.int64), k),
            "category": np.tile(np.array(CATEGORY_KEYS), n),
            "attempts": rng.poisson(8, n * k).astype(np.int64),
        }
    )
    mastery = rng.beta(5, 3, n * k)
    a = assess(rows, mastery, {c: 45 // k + (i < 45 % k) for i, c in enumerate(CATEGORY_KEYS)})
    out = []
    folder.mkdir(parents=True, exist_ok=True)
    shard_of = pl.col("user_id") % shards
    for s in range(shards):
        c, u = folder / f"categories-{s}.parquet", folder / f"users-{s}.parquet"
        a.categories.filter(shard_of == s).write_parquet(c)
        a.users.filter(shard_of == s).write_parquet(u)
        out.append((c, u))
    return out


def _ms(seconds: list[float]) -> dict[str, float]:
    a = np.array(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "max_ms": round(float(a.max()), 3),
    }


def service_bench(users: int, lookups: int = 1000, seed: int = 1) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from daglig.admin.api import create_app
    from daglig.config import Settings
    from daglig.io.assessment_store import save_assessment
    from daglig.io.db import engine_of
    from daglig.io.identity import ensure_identity
    from daglig.io.learner_service import LearnerService

    tmp = Path(tempfile.mkdtemp(prefix="daglig-bench-service-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    with engine_of(url) as engine:
        identity = ensure_identity(engine)
    ids = np.arange(1, users + 1, dtype=np.int64)
    t0 = time.perf_counter()
    shards = synthetic_shards(tmp / "night", ids, shards=max(1, users // 50_000), seed=seed)
    build = time.perf_counter() - t0
    settings = Settings(database_url=url, data_dir=tmp / "data", admin_token=TOKEN)
    t1 = time.perf_counter()
    saved = save_assessment(settings.assessment_dir, identity, date(2026, 11, 24), shards, "bench")
    keep = time.perf_counter() - t1
    picks = np.random.default_rng(seed).choice(ids, lookups)

    service = LearnerService(url, settings.assessment_dir)
    service.get_skill_assessment(int(picks[0]))  # the night's footer is read once
    python_s = []
    for uid in picks:
        t = time.perf_counter()
        service.get_skill_assessment(int(uid))
        python_s.append(time.perf_counter() - t)
    service.close()

    auth = {"Authorization": f"Bearer {TOKEN}"}
    http_s, floor_s = [], []
    with TestClient(create_app(settings)) as client:  # one event loop for every request
        client.get(f"/api/ml/users/{picks[0]}/weak-areas", headers=auth)
        for i, uid in enumerate(picks):
            path = "weak-areas" if i % 2 else "skill-assessment"
            t = time.perf_counter()
            r = client.get(f"/api/ml/users/{uid}/{path}", headers=auth)
            http_s.append(time.perf_counter() - t)
            if r.status_code != 200:
                raise RuntimeError(f"{r.status_code}: {r.text}")
            # the framework's own cost: the token check and a 404 of an unknown path
            t = time.perf_counter()
            client.get("/api/ml/none", headers=auth)
            floor_s.append(time.perf_counter() - t)
    return {
        "scale": f"service-{users}",
        "backend": "sqlite",
        "users": users,
        "lookups": lookups,
        "build_seconds": round(build, 2),
        "keep_assessment_seconds": round(keep, 3),
        "file_mib": round(saved.path.stat().st_size / 2**20, 1),
        "python_api": _ms(python_s),
        "http_testclient": _ms(http_s),
        "http_testclient_unknown_path": _ms(floor_s),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
    }
