"""The completion model's pure parts: point-in-time examples from past assignments, the
temporal split, the fit against its baselines (or none: too few outcomes) and the model
store's checks for the completion kind."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from daglig.catalogue import TYPE_KEYS
from daglig.io.model_store import (
    COMPLETION,
    LEARNER,
    ModelMetadata,
    ModelUnavailable,
    load_model,
    save_model,
)
from daglig.learner.completion import (
    ASSIGNMENTS_SCHEMA,
    COMPLETION_FEATURES,
    completion_examples,
    temporal_split,
)
from daglig.learner.completion_model import CompletionModel, fit_completion
from daglig.learner.examples import EXAMS_SCHEMA
from tests.builders import AppDataBuilder
from tests.test_learner import clean_log

pytestmark = pytest.mark.pure

NIGHT = date(2026, 11, 24)
NO_EXAMS = pl.DataFrame(schema=EXAMS_SCHEMA)


def history(done_yesterday_at: datetime | None) -> AppDataBuilder:
    """A learner who practised for a week, completed a quiz two days before ``NIGHT`` and
    was given one yesterday, completed at ``done_yesterday_at``."""
    b = AppDataBuilder()
    uid = b.user()
    b.daily(uid, "traffic_signs", NIGHT - timedelta(days=1), days=7)
    two_ago = NIGHT - timedelta(days=2)
    b.challenge(
        uid,
        two_ago,
        completed_at=datetime.combine(two_ago, datetime.min.time()) + timedelta(hours=18),
        progress=3,
    )
    b.challenge(uid, NIGHT - timedelta(days=1), completed_at=done_yesterday_at)
    b.challenge(uid, NIGHT, "category_focus", "traffic_signs", target=10)
    return b


def night_rows(b: AppDataBuilder, as_of: date = NIGHT + timedelta(days=1)) -> pl.DataFrame:
    assignments = pl.DataFrame(b.past_assignments, schema=ASSIGNMENTS_SCHEMA)
    ex = completion_examples(assignments, clean_log(b), NO_EXAMS, as_of)
    return ex.filter(pl.col("challenge_date") == NIGHT)


def test_an_outcome_recorded_after_the_cutoff_changes_no_feature() -> None:
    never = night_rows(history(None))
    assert never.height == 1
    # yesterday's quiz completed only after tonight's cutoff (10:00 on NIGHT, Oslo)
    late = night_rows(history(datetime.combine(NIGHT, datetime.min.time()) + timedelta(hours=9)))
    assert_frame_equal(late.select(COMPLETION_FEATURES), never.select(COMPLETION_FEATURES))
    # completed before the cutoff: the learner × type rate knows it
    early = night_rows(history(datetime.combine(NIGHT, datetime.min.time()) - timedelta(hours=4)))
    assert early["ut_rate"][0] == never["ut_rate"][0]  # tonight's type has no past
    assert early["u_rate"][0] > never["u_rate"][0]


def test_features_say_what_was_asked_and_the_learners_past() -> None:
    row = night_rows(history(None)).row(0, named=True)
    assert row["is_category_focus"] == 1.0 and row["is_quiz"] == 0.0
    assert row["slot"] == 1.0 and row["target_value"] == 10.0
    assert row["typical_daily_volume"] == pytest.approx(10.0)  # 10 answers a day
    assert row["target_per_volume"] == pytest.approx(1.0)
    assert row["uc_log_attempts"] == pytest.approx(np.log1p(70))
    assert row["u_rate"] == pytest.approx((1 + 4 * 0.5) / (2 + 4))  # 1 of 2 past quizzes
    assert row["label"] == 0


def test_labels_are_as_known_at_as_of() -> None:
    b = history(None)
    b.past_assignments[-1]["completed_at"] = datetime.combine(
        NIGHT, datetime.min.time()
    ) + timedelta(days=3)
    assert night_rows(b, as_of=NIGHT + timedelta(days=1))["label"][0] == 0
    assert night_rows(b, as_of=NIGHT + timedelta(days=5))["label"][0] == 1


def synthetic(nights: int = 8, per_night: int = 600, seed: int = 0) -> pl.DataFrame:
    """Examples whose completion follows ``u_accuracy`` and the target's size."""
    rng = np.random.default_rng(seed)
    n = nights * per_night
    frame = pl.DataFrame({f: rng.random(n) for f in COMPLETION_FEATURES}).with_columns(
        challenge_type=pl.Series(rng.choice(TYPE_KEYS, n)),
        challenge_date=pl.Series(
            [NIGHT - timedelta(days=nights - i // per_night) for i in range(n)]
        ),
    )
    frame = frame.with_columns(cutoff=pl.col("challenge_date").cast(pl.Datetime("us")))
    p = 0.8 * frame["u_accuracy"].to_numpy() * (1 - 0.5 * frame["target_per_volume"].to_numpy())
    return frame.with_columns(label=pl.Series((rng.random(n) < p).astype(np.int8)))


def test_the_split_holds_out_the_latest_nights() -> None:
    train, test = temporal_split(synthetic(nights=6, per_night=10))
    assert train.height == 40 and test.height == 20
    assert train["challenge_date"].max() < test["challenge_date"].min()
    assert test["challenge_date"].n_unique() == 2


def test_the_model_beats_the_type_rate_and_is_scored_against_both_baselines() -> None:
    result = fit_completion(synthetic(), model=CompletionModel(max_iter=30))
    assert result.model is not None and result.reason == ""
    assert set(result.metrics) == {"model", "type rate", "learner × type"}
    assert result.metrics["model"]["auc"] > result.metrics["type rate"]["auc"]
    assert result.n_train == 3600 and result.n_test == 1200
    assert result.window["eval_nights"] == [
        (NIGHT - timedelta(days=2)).isoformat(),
        (NIGHT - timedelta(days=1)).isoformat(),
    ]


def test_too_few_outcomes_fit_no_model_and_say_so() -> None:
    result = fit_completion(synthetic(nights=4, per_night=100))
    assert result.model is None and result.metrics == {}
    assert result.reason == (
        "too few challenge outcomes to learn from (200 of the 2,000 needed before the "
        "held-out nights)"
    )


# ----------------------------------------------------------------- model store

DB = "db-00000000000000aa"


def completion_metadata(as_of: str = "2026-11-20") -> ModelMetadata:
    return ModelMetadata(
        version="",
        trained_as_of=as_of,
        training_window={"as_of": as_of},
        features=list(COMPLETION_FEATURES),
        metrics={"model": {"log_loss": 0.3, "auc": 0.7, "ece": 0.01}},
        n_train=3600,
        n_test=1200,
        database_identity=DB,
        database_url="sqlite:///a.db",
    )


def fitted() -> CompletionModel:
    ex = synthetic(nights=3, per_night=200)
    return CompletionModel(max_iter=5).fit(ex, ex["label"].to_numpy())


def test_the_completion_model_has_its_own_versions_beside_the_learner_model(tmp_path: Path) -> None:
    meta = save_model(tmp_path, fitted(), completion_metadata(), COMPLETION)
    assert meta.version.startswith("cm-20261120-")
    assert json.loads((tmp_path / DB / "completion.json").read_text()) == {"version": meta.version}
    loaded = load_model(tmp_path, NIGHT, 14, DB, COMPLETION)
    assert loaded.version == meta.version
    with pytest.raises(ModelUnavailable, match="no trained model"):  # no learner model yet
        load_model(tmp_path, NIGHT, 14, DB, LEARNER)


def _features_of_another_kind(model_dir: Path) -> None:
    pointer = json.loads((model_dir / DB / "completion.json").read_text())["version"]
    p = model_dir / DB / pointer / "metadata.json"
    p.write_text(
        json.dumps({**json.loads(p.read_text()), "features": list(COMPLETION_FEATURES[1:])})
    )


@pytest.mark.parametrize(
    ("spoil", "run_date", "identity", "reason"),
    [
        (lambda d: None, NIGHT + timedelta(days=30), DB, "days old"),
        (lambda d: None, date(2026, 11, 1), DB, "leak the future"),
        (
            lambda d: None,
            NIGHT,
            "db-00000000000000bb",
            "the completion model in .* another database",
        ),
        (_features_of_another_kind, NIGHT, DB, "other features"),
        (lambda d: (d / DB / "completion.json").unlink(), NIGHT, DB, "no trained completion model"),
    ],
    ids=["old", "future", "other-database", "features", "missing"],
)
def test_unusable_completion_models_are_refused_with_the_reason(
    tmp_path: Path,
    spoil,  # type: ignore[no-untyped-def]
    run_date: date,
    identity: str,
    reason: str,
) -> None:
    save_model(tmp_path, fitted(), completion_metadata(), COMPLETION)
    spoil(tmp_path)
    with pytest.raises(ModelUnavailable, match=reason):
        load_model(tmp_path, run_date, 14, identity, COMPLETION)
