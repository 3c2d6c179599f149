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
from daglig.challenge_settings import ChallengeSettings
from daglig.io.model_store import (
    COMPLETION,
    LEARNER,
    ModelMetadata,
    ModelUnavailable,
    load_model,
    record_not_trained,
    save_model,
)
from daglig.learner.assessment import assess, exam_allocation
from daglig.learner.completion import (
    ASSIGNMENTS_SCHEMA,
    CATEGORY_FEATURES,
    COMPLETION_FEATURES,
    USER_FEATURES,
    completion_examples,
    completion_features,
    outcome_history,
    population_rates,
    temporal_split,
)
from daglig.learner.completion_model import CompletionModel, fit_completion
from daglig.learner.estimators import LaplaceBaseline
from daglig.learner.examples import EXAMS_SCHEMA, learner_rows
from daglig.learner.selection import MLSelector
from daglig.learner.targets import CompletionInputs, candidate_grid, choose_closest
from daglig.selection import ASSIGNMENT_SCHEMA, PREVIOUS_SCHEMA, SelectionInputs
from daglig.user_features import extract_features
from tests.builders import AppDataBuilder
from tests.test_learner import CUTOFF, RUN, clean_log, ml_population
from tests.test_selection import frames

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
    assignments = b.challenge_frame()
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


def test_an_assignment_is_marked_practised_when_the_learner_answered_that_day() -> None:
    b = history(None)
    assignments = pl.DataFrame(b.past_assignments, schema=ASSIGNMENTS_SCHEMA)
    ex = completion_examples(assignments, clean_log(b), NO_EXAMS, NIGHT + timedelta(days=1))
    by_day = dict(zip(ex["challenge_date"], ex["practised"], strict=True))
    # practice every day up to yesterday; none on NIGHT itself
    assert by_day == {
        NIGHT - timedelta(days=2): True,
        NIGHT - timedelta(days=1): True,
        NIGHT: False,
    }


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


def test_only_practice_days_train_and_score_the_model() -> None:
    examples = synthetic()
    away = pl.Series(np.arange(examples.height) % 3 == 0)  # a third: the app never opened
    examples = examples.with_columns(
        practised=~away, label=pl.when(away).then(0).otherwise(pl.col("label")).cast(pl.Int8)
    )
    result = fit_completion(examples, model=CompletionModel(max_iter=30))
    assert result.n_train == 2400 and result.n_test == 800
    assert result.window["assignments_all_days"] == 4800
    # calibrated to practice days: the days away do not pull the prediction down
    assert result.model is not None
    test = examples.filter(pl.col("challenge_date") >= NIGHT - timedelta(days=2))
    on_practice = test.filter(pl.col("practised"))
    p = result.model.predict_proba(on_practice)[:, 1].mean()
    assert abs(p - on_practice["label"].mean()) < 0.05
    assert p > test["label"].mean() + 0.05


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


def test_a_training_that_fitted_nothing_is_noted_until_a_model_is_saved(tmp_path: Path) -> None:
    """ "None yet: too few outcomes" reads differently from "never trained"; the learner
    model's store is untouched, and the next saved completion model clears the note."""
    with pytest.raises(ModelUnavailable, match=r"in .* \(run `daglig train`\)$"):
        load_model(tmp_path, NIGHT, 14, DB, COMPLETION)
    too_few = (
        "too few challenge outcomes to learn from (812 of the 2,000 needed before the "
        "held-out nights)"
    )
    record_not_trained(tmp_path, DB, COMPLETION, date(2026, 11, 19), too_few)
    with pytest.raises(ModelUnavailable) as refused:
        load_model(tmp_path, NIGHT, 14, DB, COMPLETION)
    assert str(refused.value) == f"no trained completion model: {too_few}, as of 2026-11-19"
    with pytest.raises(ModelUnavailable, match="no trained model in"):
        load_model(tmp_path, NIGHT, 14, DB, LEARNER)
    meta = save_model(tmp_path, fitted(), completion_metadata(), COMPLETION)
    assert load_model(tmp_path, NIGHT, 14, DB, COMPLETION).version == meta.version
    assert not (tmp_path / DB / "cm-not-trained.json").exists()


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


# ----------------------------------------------------------------- targets from the model


def test_the_candidate_closest_to_the_target_completion_wins_and_a_tie_goes_to_the_rule() -> None:
    frame = pl.LazyFrame(
        {
            "user_id": [1, 1, 1, 2, 2, 2],
            "slot": [1, 1, 1, 1, 1, 1],
            "target_value": [5, 10, 15, 5, 10, 15],
            "is_rule": [False, True, False, False, True, False],
            "predicted_completion": [0.9, 0.5, 0.74, 0.7, 0.8, 0.95],
        }
    )
    chosen = choose_closest(frame, 0.75).collect().sort("user_id")
    assert chosen["target_value"].to_list() == [15, 10]  # 0.74 is closest; 0.7 vs 0.8: the rule
    assert chosen["predicted_completion"].to_list() == [0.74, 0.8]


def test_the_grid_reaches_a_quarter_of_the_rule_and_keeps_a_streak_as_the_learner_has_it() -> None:
    """Down to a quarter of the rule's target and 0.3 easier (within the admin's bounds),
    up to 1.5× and 0.2 harder; speed rounds by fives; a streak's target is the learner's."""
    slots = pl.LazyFrame(
        {
            "user_id": [1, 1, 1],
            "slot": [1, 2, 3],
            "challenge_type": ["category_focus", "speed_challenge", "streak"],
            "category": ["vikeplikt", "skilt", None],
            "difficulty": [0.6, 0.6, 0.6],
            "level": ["intermediate"] * 3,
            "typical_daily_volume": [40.0] * 3,
            "current_streak": [3] * 3,
        }
    )
    grid = candidate_grid(slots, 0.1, 0.95).collect()
    by_slot = {s: g.sort("difficulty", "target_value") for (s,), g in grid.group_by("slot")}
    focus = by_slot[1]
    rule = focus.filter("is_rule").row(0, named=True)
    assert (rule["difficulty"], rule["target_value"]) == (0.6, 25)  # 40 × 0.6 × 1.1, by fives
    assert focus["difficulty"].unique().sort().to_list() == pytest.approx(
        [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    )
    at_rule = focus.filter(pl.col("difficulty").is_close(0.6))["target_value"].to_list()
    assert at_rule == [5, 10, 20, 25, 30, 40]  # ×0.25 .. ×1.5, by fives
    assert sorted(set(by_slot[2]["target_value"])) == [5, 10, 15]
    assert set(by_slot[3]["target_value"]) == {4}  # the streak of 3, plus today
    assert grid.filter("is_rule").height == 3  # the rule is always a candidate
    near_floor = candidate_grid(slots.with_columns(difficulty=pl.lit(0.2)), 0.1, 0.95).collect()
    assert near_floor["difficulty"].min() == pytest.approx(0.1)  # snapped into the bounds


def test_one_shards_history_with_the_population_rates_gives_the_whole_historys_features() -> None:
    """Selection reads its shard's outcome history (the run folder's) and the population's
    type rates: the same features as from every learner's history, also for a type none of
    the shard's learners was given (without the rates it would fall back to 0.5)."""
    b = AppDataBuilder()
    mine, other = b.user(), b.user()
    for d in range(1, 4):
        day = NIGHT - timedelta(days=d)
        done = datetime.combine(day, datetime.min.time()) + timedelta(hours=18)
        b.challenge(mine, day, "quiz", completed_at=done)
        b.challenge(other, day, "streak", completed_at=done if d > 1 else None)
    rows = b.challenge_frame().lazy()
    whole = outcome_history(rows, NIGHT, CUTOFF).collect()
    shard = whole.filter(pl.col("user_id") == mine)
    asked = pl.LazyFrame(
        {
            "user_id": [mine, mine],
            "slot": [1, 2],
            "challenge_type": ["quiz", "streak"],
            "category": [None, None],
            "target_value": [3, 3],
            "difficulty": [0.5, 0.5],
        },
        schema_overrides={"category": pl.String},
    )
    state = pl.LazyFrame(
        schema={"user_id": pl.Int64, "category": pl.String}
        | {c: pl.Float64 for c in (*USER_FEATURES, *CATEGORY_FEATURES)}
    )

    def features(history: pl.DataFrame, rates: pl.DataFrame | None) -> pl.DataFrame:
        lazy = None if rates is None else rates.lazy()
        return completion_features(asked, state, history.lazy(), lazy).collect().sort("slot")

    expected = features(whole, None)
    assert_frame_equal(features(shard, population_rates(whole.lazy()).collect()), expected)
    streak_rate = (2 + 1) / (3 + 2)  # the population's, Laplace
    assert expected["t_rate"].to_list() == [pytest.approx(4 / 5), pytest.approx(streak_rate)]
    assert features(shard, None)["t_rate"][1] == 0.5  # what the shard alone would say


class EasierWhenSmaller:
    """A stand-in completion model: smaller and easier challenges are completed more."""

    def predict_proba(self, X: pl.DataFrame) -> np.ndarray:
        p = np.clip(
            1.1 - 0.5 * X["difficulty"].to_numpy() - 0.03 * X["target_value"].to_numpy(), 0.01, 0.99
        )
        return np.column_stack([1 - p, p])


def completion_select(completion: bool, settings: ChallengeSettings | None = None) -> pl.DataFrame:
    b = ml_population()
    users, questions, attempts = frames(b)
    fs = extract_features(users, questions, attempts, RUN)
    rows = learner_rows(users, questions, attempts, NO_EXAMS, CUTOFF)
    mastery = LaplaceBaseline().fit(None, np.array([0, 1])).predict_proba(rows)[:, 1]
    assessment = assess(rows, mastery, exam_allocation(questions))
    history = outcome_history(pl.LazyFrame(schema=ASSIGNMENTS_SCHEMA), RUN, CUTOFF).collect()
    inputs = SelectionInputs(
        run_date=RUN,
        users=fs.user_features.filter(pl.col("is_active")),
        user_categories=fs.user_category_features,
        previous=pl.DataFrame(schema=PREVIOUS_SCHEMA),
        settings=settings or ChallengeSettings(),
    )
    model = CompletionInputs(EasierWhenSmaller(), rows, history, "cm-test") if completion else None
    out = MLSelector(assessment, "lm-test", completion=model).select(inputs)
    assert out.schema == pl.Schema(ASSIGNMENT_SCHEMA)
    return out


def _p(frame: pl.DataFrame) -> np.ndarray:
    return EasierWhenSmaller().predict_proba(frame.cast({"target_value": pl.Float64}))[:, 1]


def test_ml_targets_come_closer_to_the_target_completion_and_the_reason_says_how_close() -> None:
    rule = completion_select(False)
    chosen = completion_select(True)
    key = ["user_id", "slot"]
    ml_rule = rule.filter(pl.col("source") == "ml").sort(key)
    ml = chosen.filter(pl.col("source") == "ml").sort(key)
    assert ml.height == ml_rule.height > 0
    assert ml.select(*key, "challenge_type", "category").equals(
        ml_rule.select(*key, "challenge_type", "category")
    )  # the type and category choice is not this step's
    reasons = [json.loads(r) for r in ml["reason"]]
    predicted = np.array([r["predicted_completion"] for r in reasons])
    assert all(r["completion_model_version"] == "cm-test" for r in reasons)
    assert predicted == pytest.approx(_p(ml), abs=1e-3)
    gap, rule_gap = np.abs(predicted - 0.75), np.abs(_p(ml_rule) - 0.75)
    assert (gap <= rule_gap + 1e-3).all() and (gap < rule_gap - 0.05).any()
    assert not any("predicted_completion" in r for r in ml_rule["reason"])  # no model: no key
    # fallback (and holdout) learners are not this step's either
    assert chosen.filter(pl.col("source") != "ml").equals(rule.filter(pl.col("source") != "ml"))


def test_a_higher_target_completion_gives_easier_challenges_within_the_bounds() -> None:
    low = completion_select(True, ChallengeSettings(target_completion=0.5, max_difficulty=0.8))
    high = completion_select(True, ChallengeSettings(target_completion=0.95, max_difficulty=0.8))
    lo_ml, hi_ml = (f.filter(pl.col("source") == "ml") for f in (low, high))
    assert lo_ml.height > 0 and hi_ml.height == lo_ml.height
    assert hi_ml["difficulty"].mean() < lo_ml["difficulty"].mean()  # type: ignore[operator]
    assert _p(hi_ml).mean() > _p(lo_ml).mean()
    assert lo_ml["difficulty"].max() <= 0.8 and hi_ml["difficulty"].min() >= 0.1  # type: ignore[operator]


# ----------------------------------------------------------------- the night's summary


def test_the_summary_says_whether_ml_targets_came_from_the_completion_model() -> None:
    from daglig.summary import RunSummary, to_markdown

    none = RunSummary(NIGHT, "ok", "sqlite", ml_status="used", model_version="lm-1")
    none.completion_reason = "no trained completion model in /m"
    assert (
        "Learner model `lm-1` used for ML-eligible users. ML targets by the rules: completion "
        "model not used: no trained completion model in /m."
    ) in to_markdown(none)
    used = RunSummary(NIGHT, "ok", "sqlite", ml_status="used", model_version="lm-1")
    used.completion_model_version = "cm-20261124-0000abcd"
    assert "ML targets from completion model `cm-20261124-0000abcd`." in to_markdown(used)
