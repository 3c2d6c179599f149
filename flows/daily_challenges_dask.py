"""The nightly flow with its shard tasks on Dask: the entrypoint of the ``nightly-dask``
deployment (prefect.yaml).

The same flow as ``flows/daily_challenges.py``, under its own name, with prefect-dask's
``DaskTaskRunner``: the cluster whose scheduler is at ``$DAGLIG_DASK_ADDRESS``
(``tcp://host:8786``) when the run's process imports this module, else a temporary local
cluster of 2 worker processes per run. The workers need this repository installed and the
same ``DAGLIG_DATA_DIR`` (the run folder the shard tasks read and write) and
``DATABASE_URL``; README, "Running on a Dask cluster".
"""

from __future__ import annotations

from flows.daily_challenges import generate_daily_challenges
from flows.runners import dask_runner_from_env

generate_daily_challenges_dask = generate_daily_challenges.with_options(
    name="daily-challenges-dask",
    task_runner=dask_runner_from_env(),
)

__all__ = ["generate_daily_challenges_dask"]
