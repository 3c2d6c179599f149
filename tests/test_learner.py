"""The learner model's pure parts: point-in-time features, estimators, assessment, model
store and the ML selector (tiny literal logs; no database, no Prefect)."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy.stats import binom
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from daglig.catalogue import CATEGORY_KEYS, TYPE_KEYS
from daglig.challenge_settings import ChallengeSettings
from daglig.io.model_store import (
    ModelMetadata,
    ModelUnavailable,
    load_model,
    read_metadata,
    save_model,
)
from daglig.learner.assessment import (
    CONFIDENCE_HALF,
    Assessment,
    assess,
    exam_allocation,
    pass_probability,
)
from daglig.learner.estimators import EloBaseline, LaplaceBaseline, LearnerModel
from daglig.learner.examples import (
    DEFAULT_CURVE,
    EV_CATEGORY_PRECISION,
    EV_HALF_LIFE_DAYS,
    EV_USER_PRECISION,
    EXAMS_SCHEMA,
    FEATURES,
    PracticeCurve,
    examples,
    learner_rows,
    state_at,
)
from daglig.learner.selection import MLSelector
from daglig.selection import ASSIGNMENT_SCHEMA, PREVIOUS_SCHEMA, SelectionInputs
from daglig.user_features import clean_attempts, day_cutoff, extract_features
from tests.builders import AppDataBuilder
from tests.test_selection import frames

pytestmark = pytest.mark.pure  # the fast tier: no database, no Prefect, no process

RUN = date(2026, 11, 24)
CUTOFF = day_cutoff(RUN)
NO_EXAMS = pl.DataFrame(schema=EXAMS_SCHEMA)


def practice_log() -> AppDataBuilder:
    """Three learners with different strengths over six weeks."""
    b = AppDataBuilder()
    strong, weak, mixed = b.user(), b.user(), b.user()
    for week in range(6):
        day = RUN - timedelta(days=1 + 7 * week)
        b.answers(strong, "traffic_signs", 10, correct=0.9, day=day)
        b.answers(weak, "traffic_signs", 10, correct=0.3, day=day)
        b.answers(mixed, "right_of_way", 10, correct=0.2, day=day)
        b.answers(mixed, "winter_driving", 10, correct=0.9, day=day)
    return b


def clean_log(b: AppDataBuilder) -> pl.DataFrame:
    _, questions, attempts = frames(b)
    clean, _ = clean_attempts(attempts.lazy(), questions.lazy())
    return clean.collect()


# ----------------------------------------------------------------- point-in-time features


def test_answers_after_the_cutoff_change_no_feature() -> None:
    b = practice_log()
    users = pl.DataFrame({"user_id": [1, 2, 3]})
    cutoff = day_cutoff(RUN - timedelta(days=14))
    before, _ = state_at(clean_log(b).lazy(), NO_EXAMS.lazy(), users.lazy(), cutoff)
    # the future: many more answers, all wrong, in every category, after the cutoff
    for uid in (1, 2, 3):
        for c in CATEGORY_KEYS:
            b.answers(uid, c, 15, correct=0.0, day=RUN - timedelta(days=3))
            b.answers(uid, c, 5, correct=0.0, day=RUN - timedelta(days=14))  # 17:00 ≥ cutoff
    after, _ = state_at(clean_log(b).lazy(), NO_EXAMS.lazy(), users.lazy(), cutoff)
    was = before.collect().sort("user_id", "category")
    evidence = [f for f in FEATURES if f.startswith("ev_")]
    assert len(evidence) == 5
    practised = was.filter(pl.col("attempts") > 0)
    assert practised.height == 4  # user 1 and 2: signs; user 3: right of way, winter driving
    assert practised.select(evidence).null_count().sum_horizontal().item() == 0
    assert_frame_equal(was, after.collect().sort("user_id", "category"))


def test_state_has_every_category_and_counts_what_happened() -> None:
    state, _ = state_at(
        clean_log(practice_log()).lazy(), NO_EXAMS.lazy(), pl.LazyFrame({"user_id": [3]}), CUTOFF
    )
    s = state.collect()
    assert s.height == len(CATEGORY_KEYS)
    row = s.filter(pl.col("category") == "right_of_way").row(0, named=True)
    assert row["attempts"] == 60 and row["correct"] == 12
    assert row["uc_accuracy"] == pytest.approx(13 / 62)
    last = datetime.combine(RUN - timedelta(days=1), datetime.min.time()).replace(
        hour=17, minute=3
    )  # the builder's last answer of the day: 17:00 plus 9 × 20 s
    assert row["uc_days_since"] == pytest.approx((CUTOFF - last).total_seconds() / 86400)
    gap = s.filter(pl.col("category") == "environment").row(0, named=True)
    assert gap["attempts"] == 0 and gap["uc_days_since"] is None
    assert gap["uc_accuracy"] == 0.5  # Laplace with no evidence


# A population that predicts 0.5 for every difficulty bin, so that p0 = σ(δ_c) by hand.
FLAT_CURVE = pl.LazyFrame(
    {"d_bin": list(range(-1, 10)), "q_expected": [0.5] * 11},
    schema={"d_bin": pl.Int8, "q_expected": pl.Float64},
)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@pytest.mark.parametrize(
    ("signs_accuracy", "n", "right", "practice"),
    [
        (0.5, 10, 8, DEFAULT_CURVE),  # category at the population's mean: δ_c = 0
        (0.5, 10, 2, DEFAULT_CURVE),
        (0.8, 10, 8, DEFAULT_CURVE),  # an easy category: δ_c = (logit 0.8 − logit 0.5) / 2
        (0.8, 4, 4, DEFAULT_CURVE),
        (0.2, 1, 0, DEFAULT_CURVE),
        (0.5, 10, 8, PracticeCurve(0.1, 0.2, 2.0)),  # the curve given, not the defaults
        (0.8, 10, 2, PracticeCurve(0.45, 0.9, 90.0)),
        (0.5, 10, 8, PracticeCurve(0.0, 0.5, 30.0)),  # no practice gain
    ],
)
def test_online_evidence_matches_the_hand_computation(
    signs_accuracy: float, n: int, right: int, practice: PracticeCurve
) -> None:
    b = AppDataBuilder()
    learner, newcomer = b.user(), b.user()
    day = RUN - timedelta(days=3)
    b.answers(learner, "traffic_signs", n, correct=right / n, day=day)
    population = (
        FLAT_CURVE,
        pl.LazyFrame(
            {"category": ["traffic_signs", "road_markings"], "cat_accuracy": [signs_accuracy, 0.5]}
        ),
    )
    state, _ = state_at(
        clean_log(b).lazy(),
        NO_EXAMS.lazy(),
        pl.LazyFrame({"user_id": [learner, newcomer]}),
        CUTOFF,
        population=population,
        practice=practice,
    )
    s = state.collect()
    # By hand: δ_c is the category's logit minus the mean logit over the two categories.
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    delta = (logit(signs_accuracy) - logit(0.5)) / 2
    # the builder's answers: 17:00 (as stored) plus 20 s each; the cutoff is RUN's midnight.
    times = [
        datetime.combine(day, datetime.min.time()).replace(hour=17) + timedelta(seconds=20 * i)
        for i in range(n)
    ]
    ages = [(CUTOFF - t).total_seconds() / 86400 for t in times]
    w = [0.5 ** (a / EV_HALF_LIFE_DAYS) for a in ages]
    p0 = _sigmoid(delta)
    g = sum(wi * ((i < right) - p0) for i, wi in enumerate(w))
    h = sum(wi * p0 * (1 - p0) for wi in w)
    level = g / (EV_USER_PRECISION + h)
    mean_practice = math.lgamma(n + 1) / n  # mean log1p(k), k = 0 … n − 1
    gain, kept = practice.practice_gain, practice.gain_kept
    deviation = (g - h * (level + gain * mean_practice)) / (EV_CATEGORY_PRECISION + h)
    fade = kept + (1 - kept) * math.exp(-ages[-1] / practice.fade_days)
    tonight = delta + level + deviation + gain * math.log1p(n) * fade

    signs = s.filter((pl.col("user_id") == learner) & (pl.col("category") == "traffic_signs"))
    row = signs.row(0, named=True)
    assert row["ev_u_logit"] == pytest.approx(level, abs=1e-9)
    assert row["ev_uc_relative"] == pytest.approx(deviation, abs=2e-3)  # Stirling's log n!
    assert row["ev_uc_logit"] == pytest.approx(tonight, abs=2e-3)
    assert row["ev_uc_sd"] == pytest.approx(1 / math.sqrt(EV_CATEGORY_PRECISION + h))
    assert row["ev_uc_z"] == pytest.approx(row["ev_uc_relative"] / row["ev_uc_sd"])
    # never practised: the prior (category offset + the user's level), the rest unknown
    markings = s.filter((pl.col("user_id") == learner) & (pl.col("category") == "road_markings"))
    gap = markings.row(0, named=True)
    assert gap["ev_uc_logit"] == pytest.approx(-delta + level)
    assert gap["ev_uc_relative"] is None and gap["ev_uc_sd"] is None and gap["ev_uc_z"] is None
    new = s.filter(pl.col("user_id") == newcomer)
    assert new.height == len(CATEGORY_KEYS)
    assert new["ev_u_logit"].null_count() == new.height
    assert new.filter(pl.col("category") == "traffic_signs")["ev_uc_logit"].item() == pytest.approx(
        delta
    )


def test_online_evidence_ranks_the_weak_category_lowest() -> None:
    b = practice_log()  # user 3: right of way 20 %, winter driving 90 %; the only ones there
    state, _ = state_at(
        clean_log(b).lazy(), NO_EXAMS.lazy(), pl.LazyFrame({"user_id": [3]}), CUTOFF
    )
    s = state.collect().sort("ev_uc_logit")
    assert s.height == len(CATEGORY_KEYS)
    assert s["category"][0] == "right_of_way"
    weak = s.row(0, named=True)
    strong = s.filter(pl.col("category") == "winter_driving").row(0, named=True)
    assert weak["ev_uc_logit"] < strong["ev_uc_logit"] - 2
    assert weak["ev_uc_sd"] < 0.35  # 60 answers at p₀ = 0.2: 1 / √(1 + 60 · 0.16) ≈ 0.31


def test_examples_label_only_the_window_with_features_from_before() -> None:
    log = clean_log(practice_log())
    cutoff = day_cutoff(RUN - timedelta(days=8))
    ex = examples(log.lazy(), NO_EXAMS.lazy(), cutoff, horizon_days=7).collect()
    assert ex.height == 40  # the answers of RUN - 8: 10 + 10 + 20
    assert ex["answered_at"].min() >= cutoff
    assert ex["answered_at"].max() < cutoff + timedelta(days=7)
    # features as of the cutoff: the strong user's signs practice before it
    strong = ex.filter(pl.col("user_id") == 1).row(0, named=True)
    assert strong["attempts"] == 40 and strong["label"] in (0, 1)
    assert set(FEATURES) <= set(ex.columns)


# ----------------------------------------------------------------- estimators


def training_frame(n: int = 400, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame({f: rng.random(n) for f in FEATURES}).with_columns(
        user_id=pl.Series(rng.integers(1, 20, n)),
        question_id=pl.Series(rng.integers(1, 30, n)),
        answered_at=pl.Series([datetime(2026, 11, 1) + timedelta(minutes=i) for i in range(n)]),
        attempts=pl.Series(rng.integers(0, 50, n)),
    )
    frame = frame.with_columns(correct=(pl.col("attempts") * pl.col("u_accuracy")).round(0))
    y = (rng.random(n) < frame["u_accuracy"].to_numpy()).astype(int)
    return frame, y


@pytest.mark.parametrize(
    "estimator",
    [LearnerModel(max_iter=20), LaplaceBaseline(), EloBaseline()],
    ids=["learner", "laplace", "elo"],
)
def test_estimators_follow_the_sklearn_api(estimator: object) -> None:
    X, y = training_frame()
    est = clone(estimator)
    assert est.get_params() == estimator.get_params()  # type: ignore[attr-defined]
    assert not [k for k in vars(est) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        est.predict_proba(X)  # type: ignore[attr-defined]
    assert est.fit(X, y) is est  # type: ignore[attr-defined]
    assert [k for k in vars(est) if k.endswith("_")]
    p = est.predict_proba(X)  # type: ignore[attr-defined]
    assert p.shape == (len(y), 2) and np.allclose(p.sum(axis=1), 1)
    assert ((p >= 0) & (p <= 1)).all()
    assert set(np.unique(est.predict(X))) <= {0, 1}  # type: ignore[attr-defined]


def test_learner_model_refuses_missing_features() -> None:
    X, y = training_frame()
    with pytest.raises(ValueError, match="missing feature columns"):
        LearnerModel(max_iter=5).fit(X.drop("q_difficulty"), y)


def test_elo_learns_who_is_strong_and_what_is_hard() -> None:
    rows = []
    t = datetime(2026, 11, 1)
    for i in range(60):
        for user, easy_ok, hard_ok in ((1, True, True), (2, True, False), (3, False, False)):
            rows.append((user, 10, t + timedelta(minutes=i), easy_ok))
            rows.append((user, 20, t + timedelta(minutes=i, seconds=30), hard_ok))
    f = pl.DataFrame(rows, schema=["user_id", "question_id", "answered_at", "y"], orient="row")
    elo = EloBaseline().fit(f, f["y"].to_numpy())
    p = elo.predict_proba(
        pl.DataFrame({"user_id": [1, 2, 3, 99], "question_id": [20, 20, 20, 20]})
    )[:, 1]
    assert p[0] > p[1] > p[2]
    assert 0 < p[3] < 1  # an unseen user rates 0
    b = dict(zip(elo.question_ids_, elo.b_, strict=True))
    assert b[20] > b[10]


def test_laplace_shrinks_towards_the_prior() -> None:
    lap = LaplaceBaseline(alpha=2.0).fit(None, np.array([1, 1, 1, 0]))
    p = lap.predict_proba(pl.DataFrame({"correct": [0, 9, None], "attempts": [0, 10, None]}))
    assert p[:, 1] == pytest.approx([0.75, (9 + 1.5) / 12, 0.75])


# ----------------------------------------------------------------- assessment


@pytest.mark.parametrize("p", [0.5, 0.8, 0.84, 0.9, 0.97])
def test_pass_probability_matches_the_binomial(p: float) -> None:
    got = pass_probability(np.full((1, 45), p))
    assert got[0] == pytest.approx(binom.sf(37, 45, p), rel=1e-9)


def test_pass_probability_edges_and_mixture() -> None:
    assert pass_probability(np.ones((2, 45))).tolist() == pytest.approx([1.0, 1.0])
    assert pass_probability(np.zeros((1, 45)))[0] == 0.0
    # 8 certain misses fail the test whatever the rest
    p = np.ones((1, 45))
    p[0, :8] = 0.0
    assert pass_probability(p)[0] == 0.0
    p[0, 0] = 1.0  # 7 misses pass
    assert pass_probability(p)[0] == 1.0


def test_exam_allocation_spreads_45_questions_like_the_bank() -> None:
    q = pl.DataFrame(
        {
            "category": ["traffic_signs"] * 30 + ["right_of_way"] * 15 + ["unknown_x"] * 50,
            "is_active": [True] * 95,
        }
    )
    alloc = exam_allocation(q)
    assert sum(alloc.values()) == 45
    assert alloc["traffic_signs"] == 30 and alloc["right_of_way"] == 15
    even = exam_allocation(
        pl.DataFrame({"category": list(CATEGORY_KEYS), "is_active": [True] * 12})
    )
    assert sorted(set(even.values())) == [3, 4] and sum(even.values()) == 45


def test_assessment_ranks_weak_areas_and_reports_skill() -> None:
    rows = pl.DataFrame(
        {
            "user_id": [7] * 12,
            "category": list(CATEGORY_KEYS),
            "attempts": [10] * 11 + [0],
        }
    ).with_columns(pl.col("attempts").cast(pl.Int64))
    mastery = np.linspace(0.9, 0.35, 12)  # the last (a gap) is weakest, then the 11th
    a = assess(rows, mastery, {c: (4 if i < 9 else 3) for i, c in enumerate(CATEGORY_KEYS)})
    ranks = dict(zip(a.categories["category"], a.categories["weak_rank"], strict=True))
    assert ranks[CATEGORY_KEYS[-1]] == 1 and ranks[CATEGORY_KEYS[-2]] == 2
    assert a.categories.filter(pl.col("is_gap"))["category"].to_list() == [CATEGORY_KEYS[-1]]
    u = a.users.row(0, named=True)
    assert u["total_practice_questions"] == 110
    assert u["confidence_level"] == pytest.approx(110 / (110 + CONFIDENCE_HALF))
    assert 0.35 < u["overall_skill_level"] < 0.9 and 0 <= u["exam_readiness"] < 0.05


def test_confidence_matches_the_seed_example() -> None:
    assert pytest.approx(0.58, abs=0.01) == 127 / (127 + CONFIDENCE_HALF)


# ----------------------------------------------------------------- model store


def fitted_model() -> LearnerModel:
    X, y = training_frame(300)
    return LearnerModel(max_iter=10).fit(X, y)


DB = "db-00000000000000aa"  # the identity of the database the test models were trained on


def metadata(
    as_of: str = "2026-11-20", identity: str = DB, url: str = "sqlite:///a.db"
) -> ModelMetadata:
    return ModelMetadata(
        version="",
        trained_as_of=as_of,
        training_window={"as_of": as_of},
        features=list(FEATURES),
        metrics={"model": {"log_loss": 0.5, "auc": 0.7, "ece": 0.01}},
        n_train=300,
        n_test=100,
        database_identity=identity,
        database_url=url,
    )


def test_model_store_round_trip(tmp_path: Path) -> None:
    model = fitted_model()
    meta = save_model(tmp_path, model, metadata())
    assert meta.version.startswith("lm-20261120-") and len(meta.sha256) == 64
    assert (tmp_path / DB / meta.version / "model.joblib").is_file()
    loaded = load_model(tmp_path, RUN, max_age_days=14, identity=DB)
    assert loaded.version == meta.version and loaded.metadata == meta
    assert loaded.metadata.database_url == "sqlite:///a.db"
    X, _ = training_frame(50, seed=3)
    assert np.array_equal(loaded.model.predict_proba(X), model.predict_proba(X))
    # saving again points at the newest version; the pointer never dangles
    other = save_model(tmp_path, fitted_model().set_params(max_iter=11), metadata("2026-11-21"))
    assert read_metadata(tmp_path, DB).version == other.version != meta.version


def test_the_practice_curve_round_trips_and_an_older_model_reads_the_defaults(
    tmp_path: Path,
) -> None:
    fitted = PracticeCurve(0.3369, 0.4, 90.0)
    fit = {"fitted": True, "answers": 101_936, "log_loss": 0.4931}
    meta = save_model(
        tmp_path,
        fitted_model(),
        replace(metadata(), practice_curve=fitted.as_dict(), practice_curve_fit=fit),
    )
    loaded = load_model(tmp_path, RUN, max_age_days=14, identity=DB)
    assert loaded.metadata == meta and loaded.metadata.practice == fitted
    assert loaded.metadata.practice_curve_fit == fit
    # a model saved before the curve was fitted: no key in its metadata, the defaults
    path = tmp_path / DB / meta.version / "metadata.json"
    raw = json.loads(path.read_text())
    del raw["practice_curve"], raw["practice_curve_fit"]
    path.write_text(json.dumps(raw))
    older = load_model(tmp_path, RUN, max_age_days=14, identity=DB).metadata
    assert older.practice_curve is None and older.practice == DEFAULT_CURVE
    assert PracticeCurve(0.28, 0.55, 30.0) == DEFAULT_CURVE  # what older models were trained with


def test_a_model_serves_only_the_database_it_was_trained_on(tmp_path: Path) -> None:
    """Each database's models in a folder of its identity, with its own current.json."""
    a = save_model(tmp_path, fitted_model(), metadata(url="sqlite:///a.db"))
    b_id = "db-00000000000000bb"
    reason = (
        f"the learner model in {tmp_path} was trained on another database (sqlite:///a.db); "
        "run `daglig train` for this one"
    )
    for identity in (b_id, None):  # another database, or one with no identity yet
        with pytest.raises(ModelUnavailable) as info:
            load_model(tmp_path, RUN, max_age_days=14, identity=identity)
        assert str(info.value) == reason
    b = save_model(
        tmp_path, fitted_model().set_params(max_iter=12), metadata(identity=b_id, url="pg://b")
    )
    assert load_model(tmp_path, RUN, 14, DB).version == a.version
    assert load_model(tmp_path, RUN, 14, b_id).version == b.version
    # a folder copied under another database's name: its metadata says whose it is
    c_id = "db-00000000000000cc"
    shutil.copytree(tmp_path / b_id, tmp_path / c_id)
    with pytest.raises(ModelUnavailable, match=r"another database \(pg://b"):
        load_model(tmp_path, RUN, 14, c_id)


def test_a_model_saved_before_models_knew_their_database_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "lm-20261120-0000abcd").mkdir()
    (tmp_path / "current.json").write_text('{"version": "lm-20261120-0000abcd"}')
    with pytest.raises(ModelUnavailable, match="another database .a database of unknown"):
        load_model(tmp_path, RUN, max_age_days=14, identity=DB)


def _corrupt(model_dir: Path) -> None:
    model_dir = model_dir / DB
    meta = read_metadata(model_dir.parent, DB)
    path = model_dir / meta.version / "model.joblib"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = b"\0" * 64
    path.write_bytes(bytes(raw))


def _garbage_with_matching_checksum(model_dir: Path) -> None:
    model_dir = model_dir / DB
    meta = read_metadata(model_dir.parent, DB)
    path = model_dir / meta.version / "model.joblib"
    path.write_bytes(b"not a model")
    import hashlib

    raw = json.loads((model_dir / meta.version / "metadata.json").read_text())
    raw["sha256"] = hashlib.sha256(b"not a model").hexdigest()
    (model_dir / meta.version / "metadata.json").write_text(json.dumps(raw))


def _edit_metadata(**changes: object):  # type: ignore[no-untyped-def]
    def edit(model_dir: Path) -> None:
        meta = read_metadata(model_dir, DB)
        p = model_dir / DB / meta.version / "metadata.json"
        p.write_text(json.dumps({**json.loads(p.read_text()), **changes}))

    return edit


@pytest.mark.parametrize(
    ("spoil", "run_date", "reason"),
    [
        (lambda d: None, RUN + timedelta(days=30), "days old"),
        (lambda d: None, date(2026, 11, 1), "leak the future"),
        (_corrupt, RUN, "does not match its checksum"),
        (_garbage_with_matching_checksum, RUN, "failed to load"),
        (_edit_metadata(features=list(FEATURES[:-1])), RUN, "other features"),
        (_edit_metadata(schema_version=99), RUN, "metadata schema"),
        (_edit_metadata(unknown_field=1), RUN, "metadata unreadable"),
        (
            _edit_metadata(
                practice_curve={"practice_gain": -0.1, "gain_kept": 0.5, "fade_days": 30}
            ),
            RUN,
            "unusable practice curve",
        ),
        (_edit_metadata(practice_curve={"practice_gain": 0.3}), RUN, "unusable practice curve"),
        (lambda d: (d / DB / "current.json").unlink(), RUN, "no trained model"),
    ],
    ids=[
        "old",
        "future",
        "corrupt",
        "unloadable",
        "features",
        "schema",
        "metadata",
        "curve",
        "curve-keys",
        "missing",
    ],
)
def test_unusable_models_are_refused_with_the_reason(
    tmp_path: Path,
    spoil,
    run_date: date,
    reason: str,  # type: ignore[no-untyped-def]
) -> None:
    save_model(tmp_path, fitted_model(), metadata())
    spoil(tmp_path)
    with pytest.raises(ModelUnavailable, match=reason):
        load_model(tmp_path, run_date, max_age_days=14, identity=DB)


# ----------------------------------------------------------------- ML selector


def ml_population(n: int = 40) -> AppDataBuilder:
    """Practised learners (ML-eligible) with a known weakest category, plus beginners."""
    b = AppDataBuilder()
    for i in range(n):
        uid = b.user()
        if i % 4 == 0:
            b.answers(uid, CATEGORY_KEYS[i % 12], 10, correct=0.6)  # below ml_min_answers
            continue
        weakest = CATEGORY_KEYS[i % 12]
        for j, c in enumerate(CATEGORY_KEYS):
            day = RUN - timedelta(days=1 + (i + j) % 5)
            b.answers(uid, c, 8, correct=0.1 if c == weakest else 0.6 + 0.3 * (i % 3) / 2, day=day)
    return b


def ml_inputs(
    b: AppDataBuilder,
    settings: ChallengeSettings | None = None,
    previous: pl.DataFrame | None = None,
    run_date: date = RUN,
) -> tuple[SelectionInputs, Assessment]:
    """The selection inputs of ``b``'s learners (features as of RUN) and their assessment
    by the Laplace baseline: any estimator with the API can drive the selector, and this
    one keeps the tests exact."""
    users, questions, attempts = frames(b)
    fs = extract_features(users, questions, attempts, RUN)
    rows = learner_rows(users, questions, attempts, NO_EXAMS, CUTOFF)
    mastery = LaplaceBaseline().fit(None, np.array([0, 1])).predict_proba(rows)[:, 1]
    inputs = SelectionInputs(
        run_date=run_date,
        users=fs.user_features.filter(pl.col("is_active")),
        user_categories=fs.user_category_features,
        previous=previous if previous is not None else pl.DataFrame(schema=PREVIOUS_SCHEMA),
        settings=settings or ChallengeSettings(),
    )
    return inputs, assess(rows, mastery, exam_allocation(questions))


def ml_select(
    b: AppDataBuilder,
    settings: ChallengeSettings | None = None,
    previous: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, Assessment]:
    inputs, assessment = ml_inputs(b, settings, previous)
    out = MLSelector(assessment, "lm-test").select(inputs)
    assert out.schema == pl.Schema(ASSIGNMENT_SCHEMA)
    return out, assessment


def test_the_reason_rule_agrees_with_its_own_weak_areas() -> None:
    # yesterday every learner had category_focus on their weakest category and the next
    # types on the next weak areas: today's categories move down the weak-area order, and
    # the rule must say where the category stands in the reason's weak_areas list (it
    # said "top_weak_area" for any category_focus, also one not in the list)
    b = ml_population()
    first, _ = ml_select(b)
    previous = first.select("user_id", "challenge_type", "category")
    second, _ = ml_select(b, previous=previous)
    ml = second.filter(pl.col("source") == "ml")
    rules = set()
    for cat, reason in ml.select("category", "reason").iter_rows():
        r = json.loads(reason)
        listed = [w["category"] for w in r["weak_areas"]]
        rules.add(r["rule"])
        if r["rule"] == "top_weak_area":
            assert cat == listed[0]
        elif r["rule"] == "next_weak_area":
            assert cat in listed[1:]
        elif r["rule"] == "weak_area_order":
            assert cat is not None and cat not in listed
        else:
            assert r["rule"] == "type_fit" and cat is None
    assert {"next_weak_area", "weak_area_order"} <= rules, rules
    focus = ml.filter(pl.col("challenge_type") == "category_focus")
    assert not any(json.loads(r)["rule"] == "top_weak_area" for r in focus["reason"])


def test_category_focus_targets_the_top_weak_area_and_reason_names_it() -> None:
    b = ml_population()
    out, assessment = ml_select(b)
    ml = out.filter(pl.col("source") == "ml")
    assert ml["user_id"].n_unique() == 30  # 3 of every 4 learners practised enough
    focus = ml.filter(pl.col("challenge_type") == "category_focus")
    assert focus.height == 30 and (focus["slot"] == 1).all()
    for uid, cat, reason in focus.select("user_id", "category", "reason").iter_rows():
        r = json.loads(reason)
        assert cat == CATEGORY_KEYS[(uid - 1) % 12]  # the planted weakest category
        assert r["selector"] == "ml" and r["model_version"] == "lm-test"
        assert r["rule"] == "top_weak_area" and r["weak_areas"][0]["category"] == cat
        assert r["weak_areas"][0]["mastery"] <= r["weak_areas"][1]["mastery"]
        assert {"overall_skill_level", "confidence_level", "exam_readiness"} <= set(r)
    beginners = out.filter(pl.col("source") != "ml")
    assert set(beginners["source"]) == {"fallback"}
    assert set(beginners["user_id"]) == {i for i in range(1, 41) if (i - 1) % 4 == 0}


@pytest.mark.parametrize("per_user", [1, 2, 3, 4, 5])
def test_ml_challenges_per_user_distinct_types(per_user: int) -> None:
    out, _ = ml_select(ml_population(), ChallengeSettings(challenges_per_user=per_user))
    per = out.group_by("user_id").agg(n=pl.len(), t=pl.col("challenge_type").n_unique())
    assert (per["n"] == per_user).all() and (per["t"] == per_user).all()


@pytest.mark.parametrize(
    ("lo", "hi"), [(0.1, 0.95), (0.5, 0.6), (0.42, 0.44), (0.0, 0.2), (0.7, 1.0)]
)
def test_ml_difficulty_bounds_are_honoured(lo: float, hi: float) -> None:
    out, _ = ml_select(ml_population(), ChallengeSettings(min_difficulty=lo, max_difficulty=hi))
    ml = out.filter(pl.col("source") == "ml")
    assert ml.height and ml["difficulty"].min() >= lo - 1e-9 and ml["difficulty"].max() <= hi + 1e-9


@pytest.mark.parametrize(
    "types", [("quiz",), ("streak", "quiz"), ("category_focus", "perfect_score"), TYPE_KEYS]
)
def test_ml_only_enabled_types(types: tuple[str, ...]) -> None:
    out, _ = ml_select(
        ml_population(), ChallengeSettings(enabled_types=types, challenges_per_user=6)
    )
    assert set(out["challenge_type"]) <= set(types)
    assert "category_focus" not in types or "category_focus" in set(out["challenge_type"])


@pytest.mark.parametrize("cats", [("winter_driving",), ("traffic_signs", "right_of_way")])
def test_ml_only_enabled_categories(cats: tuple[str, ...]) -> None:
    out, _ = ml_select(ml_population(), ChallengeSettings(enabled_categories=cats))
    assert set(out["category"].drop_nulls()) <= set(cats)


def test_ml_min_answers_decides_who_goes_down_the_ml_path() -> None:
    out, _ = ml_select(ml_population(), ChallengeSettings(ml_min_answers=1000))
    assert "ml" not in set(out["source"])
    out, _ = ml_select(ml_population(), ChallengeSettings(ml_min_answers=1))
    assert set(out["source"]) == {"ml"}


def test_ml_never_repeats_yesterdays_pairs() -> None:
    b = ml_population()
    first, _ = ml_select(b)
    previous = first.select("user_id", "challenge_type", "category")
    second, _ = ml_select(b, previous=previous)
    clash = second.join(
        previous, on=["user_id", "challenge_type", "category"], how="inner", nulls_equal=True
    )
    assert clash.height == 0
    assert (second.group_by("user_id").len()["len"] == 3).all()
    # the focus moves on to the next weak area rather than repeating
    moved = second.filter(pl.col("challenge_type") == "category_focus").join(
        first.filter(pl.col("challenge_type") == "category_focus"), on="user_id"
    )
    assert (moved["category"] != moved["category_right"]).all()


def test_speed_only_for_advanced_users() -> None:
    b = ml_population(8)  # practised, but fewer than 300 answers each
    advanced = []
    for _ in range(4):  # 12 categories x 30 answers, nearly all right: advanced learners
        uid = b.user()
        advanced.append(uid)
        for j, c in enumerate(CATEGORY_KEYS):
            b.answers(uid, c, 30, correct=0.97, day=RUN - timedelta(days=1 + j % 5))
    out, _ = ml_select(b, ChallengeSettings(challenges_per_user=6))
    speed = out.filter((pl.col("challenge_type") == "speed_challenge") & (pl.col("source") == "ml"))
    # the population yields speed challenges: one for each advanced learner, nobody else
    assert sorted(speed["user_id"]) == advanced
    for reason in speed["reason"]:
        r = json.loads(reason)
        assert r["overall_skill_level"] >= 0.75 and r["total_practice_questions"] >= 300
    others = out.filter(~pl.col("user_id").is_in(advanced) & (pl.col("source") == "ml"))
    assert others.height and "speed_challenge" not in set(others["challenge_type"])


def test_holdout_gets_marked_fallback_challenges_and_is_stable() -> None:
    b = ml_population(200)
    users, questions, attempts = frames(b)
    fs = extract_features(users, questions, attempts, RUN)
    rows = learner_rows(users, questions, attempts, NO_EXAMS, CUTOFF)
    mastery = LaplaceBaseline().fit(None, np.array([0, 1])).predict_proba(rows)[:, 1]
    assessment = assess(rows, mastery, exam_allocation(questions))

    def run(day: date, share: float) -> pl.DataFrame:
        inputs = SelectionInputs(
            run_date=day,
            users=fs.user_features.filter(pl.col("is_active")),
            user_categories=fs.user_category_features,
            previous=pl.DataFrame(schema=PREVIOUS_SCHEMA),
            settings=ChallengeSettings(),
        )
        return MLSelector(assessment, "lm-test", holdout_share=share).select(inputs)

    def held(out: pl.DataFrame) -> set[int]:
        return set(out.filter(pl.col("reason").str.contains('"ml_holdout":true'))["user_id"])

    out = run(RUN, 0.2)
    h = held(out)
    assert 15 <= len(h) <= 45  # ~20 % of the 150 eligible learners
    marked = out.filter(pl.col("user_id").is_in(list(h)))
    assert set(marked["source"]) == {"fallback"}
    for r in marked["reason"]:
        parsed = json.loads(r)  # still valid JSON
        assert parsed["ml_holdout"] is True and parsed["selector"] == "fallback"
    assert all(u % 4 != 1 for u in h)  # only ML-eligible learners are held out
    assert held(run(RUN + timedelta(days=1), 0.2)) == h  # the same users tomorrow
    assert held(run(RUN, 0.0)) == set()
