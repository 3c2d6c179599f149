"""Exam readiness told to the learner (issue 17 item 4).

Fast: no Prefect, no database. For a learner with at least 50 answers whom the learner
model assessed, one ML assignment a day (the lowest slot) carries the chance of passing
the theory test today as a 20-point band and the category that would raise it most; its
content key gets one more part, and its description one more sentence in the learner's
written form. Everything that carries nothing keeps its key and text (the golden files of
tests/test_rendering.py and tests/test_rendering_nn.py do not move).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import polars as pl
import pytest

from daglig.catalogue import CATEGORIES, CATEGORY_KEYS
from daglig.challenges import distinct_challenges, with_content_key, with_language
from daglig.learner.selection import (
    READINESS_MIN_ANSWERS,
    MLSelector,
    readiness_band,
    readiness_focus,
)
from daglig.rendering import NBSP, RenderError, render_challenge, render_challenges
from daglig.selection import ASSIGNMENT_SCHEMA
from tests.builders import AppDataBuilder
from tests.test_learner import RUN, ml_inputs, ml_population, ml_select
from tests.test_rendering import row
from tests.test_rendering_nn import BOKMAL_ONLY, NYNORSK_ONLY, in_form

pytestmark = pytest.mark.pure

# ------------------------------------------------------------------------- the band


@pytest.mark.parametrize(
    ("p", "band"),
    [
        (0.0, "0-20"),
        (0.05, "0-20"),
        (0.199, "0-20"),
        (0.2, "20-40"),
        (0.399, "20-40"),
        (0.4, "40-60"),
        (0.5, "40-60"),
        (0.6, "60-80"),
        (0.7999, "60-80"),
        (0.8, "80-100"),
        (0.95, "80-100"),
        (1.0, "80-100"),
        (None, None),
    ],
)
def test_band_edges(p: float | None, band: str | None) -> None:
    frame = pl.DataFrame({"p": [p]}, schema={"p": pl.Float64})
    assert frame.select(readiness_band(pl.col("p"))).item() == band


@pytest.mark.parametrize(
    ("band", "text"),
    [
        ("0-20", "under 20 %"),
        ("20-40", "20–40 %"),
        ("40-60", "40–60 %"),
        ("60-80", "60–80 %"),
        ("80-100", "over 80 %"),
    ],
)
def test_band_reads_as_a_range_in_both_forms(band: str, text: str) -> None:
    text = text.replace(" %", f"{NBSP}%")
    for language in ("nb", "nn"):
        r = {**_carrying(language), "readiness_band": band}
        description = render_challenge(r)[1]
        assert f"anslår vi til {text};" in description, description


# ------------------------------------------------------------------------ the focus


def test_focus_is_the_category_with_most_expected_wrong_answers() -> None:
    # expected wrong = exam questions × (1 − mastery):
    #   traffic_signs 8 × 0.30 = 2.40; traffic_rules 6 × 0.50 = 3.00;
    #   right_of_way 3 × 0.10 = 0.30 (the weakest, but few questions); environment 0 × 0.9
    # user 2: a tie (4 × 0.5 = 2 × 1.0 = 2.0) goes to the category key, alphabetically
    cats = pl.DataFrame(
        {
            "user_id": [1, 1, 1, 1, 2, 2],
            "category": [
                "traffic_signs",
                "traffic_rules",
                "right_of_way",
                "environment",
                "traffic_signs",
                "right_of_way",
            ],
            "mastery": [0.70, 0.50, 0.10, 0.10, 0.50, 0.00],
            "exam_questions": [8, 6, 3, 0, 4, 2],
        }
    )
    out = readiness_focus(cats.lazy()).collect().sort("user_id")
    assert out.rows() == [(1, "traffic_rules"), (2, "right_of_way")]


def test_focus_agrees_with_argmax_on_a_real_assessment() -> None:
    _, assessment = ml_select(ml_population())
    cats = assessment.categories
    wrong = cats.with_columns(w=pl.col("exam_questions") * (1 - pl.col("mastery")))
    expected = {
        uid: max(
            ((w, c) for c, w in zip(g["category"], g["w"], strict=True)),
            key=lambda t: (t[0], [-ord(ch) for ch in t[1]]),
        )[1]
        for (uid,), g in wrong.filter(pl.col("exam_questions") > 0).group_by("user_id")
    }
    got = dict(readiness_focus(cats.lazy()).collect().iter_rows())
    assert got == expected
    assert cats["exam_questions"].sum() == 45 * assessment.users.height


# --------------------------------------------------------------- who carries it


def population() -> AppDataBuilder:
    """ml_population's learners (96 answers each on the ML path, 10 on the fallback) and a
    few ML learners with 40 answers (>= ml_min_answers 30, < 50)."""
    b = ml_population()
    for i in range(4):
        uid = b.user()
        for j, c in enumerate(CATEGORY_KEYS[:4]):
            b.answers(uid, c, 10, correct=0.6, day=RUN - timedelta(days=1 + (i + j) % 3))
    return b


def readiness(reason: str) -> tuple[str, str] | None:
    r = json.loads(reason)
    if "readiness_band" not in r:
        return None
    return r["readiness_band"], r["readiness_focus"]


def test_exactly_one_assignment_per_eligible_learner_carries_readiness() -> None:
    out, assessment = ml_select(population())
    users = assessment.users
    practised = users.filter(pl.col("total_practice_questions") >= READINESS_MIN_ANSWERS)
    few = users.filter(pl.col("total_practice_questions") < READINESS_MIN_ANSWERS)
    assert practised.height > 0 and few.height > 0
    marked = out.with_columns(
        r=pl.col("reason").map_elements(lambda s: json.dumps(readiness(s)), return_dtype=pl.String)
    ).filter(pl.col("r") != "null")
    ml_users = set(out.filter(pl.col("source") == "ml")["user_id"])
    eligible = set(practised["user_id"]) & ml_users
    assert set(marked["user_id"]) == eligible
    assert marked["user_id"].is_unique().all()
    assert not set(marked["user_id"]) & set(few["user_id"])
    # the lowest slot, an ML one; band and focus are the assessment's
    lowest = out.filter(pl.col("source") == "ml").group_by("user_id").agg(pl.col("slot").min())
    assert (
        marked.join(lowest, on="user_id").filter(pl.col("slot") != pl.col("slot_right")).is_empty()
    )
    assert (marked["source"] == "ml").all()
    focus = dict(readiness_focus(assessment.categories.lazy()).collect().iter_rows())
    band = dict(users.select("user_id", readiness_band(pl.col("exam_readiness"))).iter_rows())
    for uid, r in marked.select("user_id", "r").iter_rows():
        assert tuple(json.loads(r)) == (band[uid], focus[uid])


def test_no_readiness_on_the_fallback_path() -> None:
    b = population()
    out, _ = ml_select(b)
    fallback = out.filter(pl.col("source") != "ml")
    assert fallback.height > 0
    assert not fallback["reason"].str.contains("readiness_band").any()
    # the holdout: practised learners, fallback challenges, no readiness
    inputs, assessment = ml_inputs(b)
    selector = MLSelector(assessment, "lm-test", holdout_share=1.0)
    held = selector.select(inputs)
    assert held.schema == pl.Schema(ASSIGNMENT_SCHEMA)
    assert (held["source"] != "ml").all()
    assert not held["reason"].str.contains("readiness_band").any()
    # the ML path but an assessment without exam allocation: nothing to carry
    stripped = replace(selector.assessment, categories=selector.assessment.categories.drop(
        "exam_questions"))  # fmt: skip
    plain = MLSelector(stripped, "lm-test").select(inputs)
    assert not plain["reason"].str.contains("readiness_band").any()


# ---------------------------------------------------------------- keys and texts


def test_only_the_carrying_key_gets_the_readiness_part() -> None:
    base = {
        "user_id": 1,
        "slot": 1,
        "challenge_type": "category_focus",
        "category": "dangerous_situations",
        "target_value": 10,
        "question_count": None,
        "seconds_limit": None,
        "difficulty": 0.7,
        "source": "ml",
        "reason": '{"selector":"ml"}',
    }
    carrying = {
        **base,
        "user_id": 2,
        "reason": '{"selector":"ml","readiness_band":"40-60","readiness_focus":"traffic_rules"}',
    }
    frame = pl.DataFrame([base, carrying], schema=ASSIGNMENT_SCHEMA)
    keyed = with_content_key(frame)
    assert keyed["content_key"].to_list() == [
        "category_focus|dangerous_situations|t10|n-|s-|d0.70|ml|nb",  # as before
        "category_focus|dangerous_situations|t10|n-|s-|d0.70|ml|nb|r40-60:traffic_rules",
    ]
    assert keyed["readiness_band"].to_list() == [None, "40-60"]
    # without a reason column (older frames) nothing carries
    assert with_content_key(frame.drop("reason"))["content_key"][1] == keyed["content_key"][0]


def _carrying(language: str) -> dict[str, object]:
    r = in_form(row("category_focus", "ml", "dangerous_situations", 8, key="cf:ready"), language)
    return {**r, "readiness_band": "40-60", "readiness_focus": "traffic_rules"}


def test_the_readiness_sentence_in_both_forms() -> None:
    nb_title, nb_text = render_challenge(_carrying("nb"))
    nn_title, nn_text = render_challenge(_carrying("nn"))
    assert nb_text.endswith(
        f"Sjansen for å bestå teoriprøven i dag anslår vi til 40–60{NBSP}%; "
        "størst nytte har du av å øve på trafikkregler."
    ), nb_text
    assert nn_text.endswith(
        f"Sjansen for å bestå teoriprøva i dag anslår vi til 40–60{NBSP}%; "
        "størst nytte har du av å øve på trafikkreglar."
    ), nn_text
    assert not BOKMAL_ONLY.search(f"{nn_title} {nn_text}"), nn_text
    assert not NYNORSK_ONLY.search(f"{nb_title} {nb_text}"), nb_text
    # without readiness: the same challenge's text as before, one sentence shorter
    plain = render_challenge({**_carrying("nb"), "readiness_band": None})[1]
    assert nb_text.startswith(plain) and nb_text != plain


@pytest.mark.parametrize("language", ["nb", "nn"])
@pytest.mark.parametrize("focus", list(CATEGORIES))
def test_every_focus_reads_in_its_written_form(language: str, focus: str) -> None:
    for kind, cat in (("quiz", None), ("streak", None), ("category_focus", "winter_driving")):
        r = in_form(row(kind, "ml", cat, key=f"{kind}:{focus}"), language)
        title, text = render_challenge({**r, "readiness_band": "20-40", "readiness_focus": focus})
        name = CATEGORIES[focus].name(language)
        assert text.endswith(f"øve på {name[:1].lower()}{name[1:]}."), text
        other = NYNORSK_ONLY if language == "nb" else BOKMAL_ONLY
        assert not other.search(f"{title} {text}"), text
        assert "None" not in text and "  " not in text


def test_bad_readiness_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="unknown readiness_band"):
        render_challenge({**_carrying("nb"), "readiness_band": "42"})
    with pytest.raises(RenderError, match="needs a known readiness_focus"):
        render_challenge({**_carrying("nb"), "readiness_focus": "nowhere"})


def test_from_selection_to_text_in_both_forms() -> None:
    b = population()
    for uid in range(1, 12, 2):  # some learners write nynorsk
        b.users[uid - 1]["preferred_language"] = "nn"
    out, _ = ml_select(b)
    users = pl.DataFrame(
        {
            "user_id": [u["id"] for u in b.users],
            "preferred_language": [u["preferred_language"] for u in b.users],
        },
        schema={"user_id": pl.Int64, "preferred_language": pl.String},
    )
    keyed = with_content_key(with_language(out, users))
    rendered = render_challenges(distinct_challenges(keyed))
    carrying = rendered.filter(pl.col("readiness_band").is_not_null())
    assert carrying.height > 0
    assert set(carrying["language"]) == {"nb", "nn"}
    for key, lang, text in carrying.select("content_key", "language", "description").iter_rows():
        assert f"|{lang}|r" in key
        assert ("teoriprøven i dag" if lang == "nb" else "teoriprøva i dag") in text
    plain = rendered.filter(pl.col("readiness_band").is_null())
    assert not plain["description"].str.contains("Sjansen").any()
    assert not plain["content_key"].str.contains(r"\|r\d").any()
    per_user = keyed.filter(pl.col("readiness_band").is_not_null()).group_by("user_id").len()
    assert (per_user["len"] == 1).all()
