"""The model store: a folder per model version plus a ``current.json`` pointer.

``<model_dir>/<version>/model.joblib`` holds the fitted estimator and
``<version>/metadata.json`` what it is: version, the date its data ends, training window,
feature list, metrics, example counts, library versions and the model file's SHA-256.
Saving writes a new folder, then swaps the pointer atomically, so a reader sees either
the old model or the new one, never half of one.

Loading refuses — with a reason the run summary prints — a model that is missing, older
than allowed, trained on data after the run date, built for other features or another
metadata schema, whose file does not match its checksum, or that fails to load or to
predict.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from daglig.learner.features import FEATURES

SCHEMA_VERSION = 1
MODEL_FILE = "model.joblib"
META_FILE = "metadata.json"
POINTER = "current.json"


class ModelUnavailable(RuntimeError):
    """No usable learner model; the message is the reason, for the run summary."""


def _sklearn_version() -> str:
    # scikit-learn takes seconds to import: only when a model is saved or loaded
    import sklearn

    return str(sklearn.__version__)


@dataclass(frozen=True)
class ModelMetadata:
    """What a saved model is and how good it was on its held-out window."""

    version: str
    trained_as_of: str  # ISO date: the answers used end at this day's start (Oslo)
    training_window: dict[str, Any]
    features: list[str]
    metrics: dict[str, dict[str, float]]
    n_train: int
    n_test: int
    seconds: dict[str, float] = field(default_factory=dict)
    sha256: str = ""
    sklearn_version: str = field(default_factory=lambda: _sklearn_version())
    polars_version: str = pl.__version__
    schema_version: int = SCHEMA_VERSION

    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.trained_as_of)


@dataclass(frozen=True)
class LoadedModel:
    """A validated model and its metadata."""

    model: Any
    metadata: ModelMetadata

    @property
    def version(self) -> str:
        return self.metadata.version


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def save_model(model_dir: Path, model: Any, metadata: ModelMetadata) -> ModelMetadata:
    """Save ``model`` as a new version and point ``current.json`` at it. The version is
    the data's end date plus the first 8 hex digits of the model file's SHA-256."""
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=model_dir, prefix=".staging-"))
    import joblib

    joblib.dump(model, staging / MODEL_FILE)
    digest = _sha256(staging / MODEL_FILE)
    version = f"lm-{metadata.trained_as_of.replace('-', '')}-{digest[:8]}"
    meta = ModelMetadata(**{**asdict(metadata), "version": version, "sha256": digest})
    (staging / META_FILE).write_text(json.dumps(asdict(meta), indent=2) + "\n")
    final = model_dir / version
    if final.exists():  # the same bytes were saved before: keep that copy
        for p in staging.iterdir():
            p.unlink()
        staging.rmdir()
    else:
        staging.rename(final)
    _write_atomic(model_dir / POINTER, json.dumps({"version": version}) + "\n")
    return meta


def read_metadata(model_dir: Path) -> ModelMetadata:
    """The current model's metadata (``ModelUnavailable`` when there is none or it is
    unreadable)."""
    pointer = model_dir / POINTER
    if not pointer.exists():
        raise ModelUnavailable(f"no trained model in {model_dir} (run `daglig train`)")
    try:
        version = json.loads(pointer.read_text())["version"]
        raw = json.loads((model_dir / version / META_FILE).read_text())
        return ModelMetadata(**raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailable(f"model metadata unreadable: {type(exc).__name__}: {exc}") from exc


def load_model(model_dir: Path, run_date: date, max_age_days: int) -> LoadedModel:
    """The current model, validated for a run on ``run_date``; else ``ModelUnavailable``."""
    meta = read_metadata(model_dir)
    if meta.schema_version != SCHEMA_VERSION:
        raise ModelUnavailable(
            f"model {meta.version} has metadata schema {meta.schema_version}, "
            f"this code reads {SCHEMA_VERSION}"
        )
    if list(meta.features) != list(FEATURES):
        missing = sorted(set(FEATURES) - set(meta.features))
        extra = sorted(set(meta.features) - set(FEATURES))
        raise ModelUnavailable(
            f"model {meta.version} was trained on other features "
            f"(missing {missing or 'none'}, unknown {extra or 'none'}, or another order)"
        )
    age = (run_date - meta.as_of).days
    if age < 0:
        raise ModelUnavailable(
            f"model {meta.version} was trained on answers up to {meta.as_of}, after the run "
            f"date {run_date}: using it would leak the future"
        )
    if age > max_age_days:
        raise ModelUnavailable(
            f"model {meta.version} is {age} days old (trained as of {meta.as_of}); "
            f"the limit is {max_age_days} days"
        )
    path = model_dir / meta.version / MODEL_FILE
    try:
        digest = _sha256(path)
    except OSError as exc:
        raise ModelUnavailable(f"model file unreadable: {type(exc).__name__}: {exc}") from exc
    if digest != meta.sha256:
        raise ModelUnavailable(
            f"model file {path.name} of {meta.version} does not match its checksum "
            "(corrupted or replaced)"
        )
    try:
        import joblib

        model = joblib.load(path)
        probe = pl.DataFrame({f: [0.5] for f in FEATURES})
        p = model.predict_proba(probe)
        if p.shape != (1, 2):
            raise ValueError(f"predict_proba gave shape {p.shape}, expected (1, 2)")
    except Exception as exc:  # any failure to load or predict makes the model unusable
        raise ModelUnavailable(
            f"model {meta.version} failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    return LoadedModel(model=model, metadata=meta)
