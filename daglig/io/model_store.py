"""The model store: per database, a folder per model version plus a ``current.json`` pointer.

A model knows the database it was trained on: ``<model_dir>/<identity>/`` holds the models
of the database whose ``pipeline_identity`` is ``<identity>`` (``daglig/io/identity.py``),
``<identity>/<version>/model.joblib`` the fitted estimator and ``<version>/metadata.json``
what it is: version, the database's identity and URL (without credentials), the date its
data ends, training window, feature list, metrics, example counts, library versions, the
model file's SHA-256 and (the learner model) the practice curve its evidence features were
read through. Saving writes a new folder, then swaps the pointer atomically,
so a reader sees either the old model or the new one, never half of one.

Loading refuses — with a reason the run summary prints — a model of another database (or
none for this one), one older than allowed, trained on data after the run date, built for
other features or another metadata schema, with a practice curve out of bounds, whose file
does not match its checksum, or that fails to load or to predict. A model saved before the
curve was fitted has none in its metadata and is read with the defaults it was trained
with. A training that fitted nothing (too few examples) leaves ``<kind>-not-trained.json``
beside the pointer with its reason, so "none yet, and why" reads differently from "never
trained"; the next saved model of that kind removes it.
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

from daglig.learner.completion import COMPLETION_FEATURES
from daglig.learner.examples import DEFAULT_CURVE, FEATURES, PracticeCurve

SCHEMA_VERSION = 2  # 2: database_identity and database_url; the store keyed by identity
MODEL_FILE = "model.joblib"
META_FILE = "metadata.json"
POINTER = "current.json"


class ModelUnavailable(RuntimeError):
    """No usable model; the message is the reason, for the run summary."""


@dataclass(frozen=True, slots=True)
class ModelKind:
    """One kind of model in the store: its name in reasons, its versions' prefix, its
    pointer file beside the others of its database, and the features it must have."""

    name: str
    prefix: str
    pointer: str
    features: tuple[str, ...]


LEARNER = ModelKind("learner model", "lm", POINTER, FEATURES)
COMPLETION = ModelKind("completion model", "cm", "completion.json", COMPLETION_FEATURES)


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
    database_identity: str = ""  # pipeline_identity of the database trained on
    database_url: str = ""  # that database's URL, without user name and password
    # The learner model's practice curve (PracticeCurve.as_dict), fitted at training; its
    # evidence features must be read through it. None: saved before the curve was
    # fitted, trained with the defaults (or a model of another kind).
    practice_curve: dict[str, float] | None = None
    practice_curve_fit: dict[str, Any] | None = None  # how the fit went (CurveFit.as_dict)

    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.trained_as_of)

    @property
    def practice(self) -> PracticeCurve:
        """The practice curve to read the evidence through when scoring with this model:
        its own, else (a model saved before the curve was fitted) the defaults."""
        if self.practice_curve is None:
            return DEFAULT_CURVE
        return PracticeCurve.from_dict(self.practice_curve)


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


def model_folder(model_dir: Path, identity: str) -> Path:
    """Where the models of the database with this identity live."""
    if not identity or "/" in identity or identity.startswith("."):
        raise ValueError(f"not a database identity: {identity!r}")
    return model_dir / identity


def save_model(
    model_dir: Path, model: Any, metadata: ModelMetadata, kind: ModelKind = LEARNER
) -> ModelMetadata:
    """Save ``model`` as a new version of its database's models (``metadata``'s
    ``database_identity``) and point that database's ``current.json`` at it. The version
    is the data's end date plus the first 8 hex digits of the model file's SHA-256."""
    folder = model_folder(model_dir, metadata.database_identity)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".staging-"))
    import joblib

    joblib.dump(model, staging / MODEL_FILE)
    digest = _sha256(staging / MODEL_FILE)
    version = f"{kind.prefix}-{metadata.trained_as_of.replace('-', '')}-{digest[:8]}"
    meta = ModelMetadata(**{**asdict(metadata), "version": version, "sha256": digest})
    (staging / META_FILE).write_text(json.dumps(asdict(meta), indent=2) + "\n")
    final = folder / version
    if final.exists():  # the same bytes were saved before: keep that copy
        for p in staging.iterdir():
            p.unlink()
        staging.rmdir()
    else:
        staging.rename(final)
    _write_atomic(folder / kind.pointer, json.dumps({"version": version}) + "\n")
    _not_trained_note(folder, kind).unlink(missing_ok=True)
    return meta


def _not_trained_note(folder: Path, kind: ModelKind) -> Path:
    return folder / f"{kind.prefix}-not-trained.json"


def record_not_trained(
    model_dir: Path, identity: str, kind: ModelKind, as_of: date, reason: str
) -> Path:
    """Note in this database's models that a training as of ``as_of`` fitted no model of
    ``kind`` and why; read back by :func:`read_metadata` while no model of it exists."""
    folder = model_folder(model_dir, identity)
    folder.mkdir(parents=True, exist_ok=True)
    note = _not_trained_note(folder, kind)
    _write_atomic(note, json.dumps({"as_of": as_of.isoformat(), "reason": reason}) + "\n")
    return note


def _why_not_trained(model_dir: Path, identity: str | None, kind: ModelKind) -> str | None:
    if identity is None:
        return None
    try:
        raw = json.loads(_not_trained_note(model_folder(model_dir, identity), kind).read_text())
        return f"{raw['reason']}, as of {date.fromisoformat(raw['as_of'])}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _other_databases(model_dir: Path, identity: str | None, kind: ModelKind = LEARNER) -> list[str]:
    """The databases other models in ``model_dir`` were trained on (URL, else identity),
    newest first; a model of the layout before identities counts as one of an unknown
    database."""
    pointers = [p for p in model_dir.glob(f"*/{kind.pointer}") if p.parent.name != identity]
    found: list[tuple[float, str]] = []
    for p in pointers:
        try:
            version = json.loads(p.read_text())["version"]
            raw = json.loads((p.parent / version / META_FILE).read_text())
            name = raw.get("database_url") or p.parent.name
        except (OSError, ValueError, KeyError, TypeError):
            name = p.parent.name
        found.append((p.stat().st_mtime, name))
    if (
        kind is LEARNER and (model_dir / POINTER).exists()
    ):  # saved before models knew their database
        found.append(((model_dir / POINTER).stat().st_mtime, "a database of unknown identity"))
    return [name for _, name in sorted(found, reverse=True)]


def _not_this_database(
    model_dir: Path, others: list[str], kind: ModelKind = LEARNER
) -> ModelUnavailable:
    more = f" and {len(others) - 1} more" if len(others) > 1 else ""
    return ModelUnavailable(
        f"the {kind.name} in {model_dir} was trained on another database "
        f"({others[0]}{more}); run `daglig train` for this one"
    )


def read_metadata(
    model_dir: Path, identity: str | None, kind: ModelKind = LEARNER
) -> ModelMetadata:
    """The current model's metadata for the database with ``identity`` (None: the database
    has no identity yet, so nothing was trained on it); ``ModelUnavailable`` when there is
    none, only models of other databases, or it is unreadable."""
    pointer = model_folder(model_dir, identity) / kind.pointer if identity else None
    if pointer is None or not pointer.exists():
        others = _other_databases(model_dir, identity, kind)
        if others:
            raise _not_this_database(model_dir, others, kind)
        what = "model" if kind is LEARNER else kind.name
        why = _why_not_trained(model_dir, identity, kind)
        if why:
            raise ModelUnavailable(f"no trained {what}: {why}")
        raise ModelUnavailable(f"no trained {what} in {model_dir} (run `daglig train`)")
    try:
        version = json.loads(pointer.read_text())["version"]
        raw = json.loads((pointer.parent / version / META_FILE).read_text())
        meta = ModelMetadata(**raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailable(f"model metadata unreadable: {type(exc).__name__}: {exc}") from exc
    if meta.schema_version == SCHEMA_VERSION and meta.database_identity != identity:
        # a folder copied or renamed by hand: the metadata says whose it is
        raise _not_this_database(model_dir, [meta.database_url or meta.database_identity], kind)
    return meta


def load_model(
    model_dir: Path,
    run_date: date,
    max_age_days: int,
    identity: str | None,
    kind: ModelKind = LEARNER,
) -> LoadedModel:
    """The current model of ``kind`` of the database with ``identity``, validated for a
    run on ``run_date``; else ``ModelUnavailable``."""
    meta = read_metadata(model_dir, identity, kind)
    if meta.schema_version != SCHEMA_VERSION:
        raise ModelUnavailable(
            f"model {meta.version} has metadata schema {meta.schema_version}, "
            f"this code reads {SCHEMA_VERSION}"
        )
    if list(meta.features) != list(kind.features):
        missing = sorted(set(kind.features) - set(meta.features))
        extra = sorted(set(meta.features) - set(kind.features))
        raise ModelUnavailable(
            f"model {meta.version} was trained on other features "
            f"(missing {missing or 'none'}, unknown {extra or 'none'}, or another order)"
        )
    try:
        meta.practice  # noqa: B018 (validated: a model read through a bad curve is unusable)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelUnavailable(
            f"model {meta.version} has an unusable practice curve {meta.practice_curve!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
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
    path = model_folder(model_dir, meta.database_identity) / meta.version / MODEL_FILE
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
        probe = pl.DataFrame({f: [0.5] for f in kind.features})
        p = model.predict_proba(probe)
        if p.shape != (1, 2):
            raise ValueError(f"predict_proba gave shape {p.shape}, expected (1, 2)")
    except Exception as exc:  # any failure to load or predict makes the model unusable
        raise ModelUnavailable(
            f"model {meta.version} failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    return LoadedModel(model=model, metadata=meta)
