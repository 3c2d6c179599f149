"""Data-quality gates: Great Expectations 1.x suites over a run's inputs and outputs.

Two gates, both pure (frames in, a :class:`GateReport` out, no Prefect, no database):

* the **input gate** looks at what the extract step read, before anything downstream uses
  it: the users, the question bank, and the last day's answers, each answer marked with the
  reason it was excluded (quarantined) if it was. Row-level problems in the whole answer
  log are quarantined by :func:`daglig.user_features.clean_attempts`; this gate stops the run
  when too many of the last day's answers had to be excluded (a broken upstream, not a few
  dirty rows), or when a table breaks a contract invariant (missing or duplicate ids).
* the **output gate** looks at the day's challenges and assignments before they are
  written: non-blank Norwegian text, XP and difficulty within bounds and within the
  admin's bounds, one assignment per (user, slot), only active users, every eligible user
  covered.

A *blocking* check that fails raises :class:`DataQualityError` naming the check and its
figures; a non-blocking one is reported as a warning. GX takes pandas, not polars: frames
are converted at the edge (Arrow-backed, so it is cheap), and facts that need a join are
computed in polars first and handed to GX as a column (``known_challenge``,
``n_assignments``). The GX context and each suite are built once per process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

import polars as pl

from daglig.catalogue import CATEGORIES, CATEGORY_KEYS, CHALLENGE_TYPES, SOURCES, TYPE_KEYS, xp_for
from daglig.challenge_settings import ChallengeSettings
from daglig.selection import CATEGORYLESS_TYPES

#: quarantine reasons that keep the answer (only a value was bad): not "excluded"
KEPT_REASONS: frozenset[str] = frozenset({"bad_time_spent_seconds"})

#: the largest XP and bonus any challenge can carry (difficulty 1.0, heaviest category)
XP_MAX, BONUS_MAX = (
    max(
        xp_for(t.base_xp, 1.0, c.weight)[i]
        for t in CHALLENGE_TYPES.values()
        for c in CATEGORIES.values()
    )
    for i in (0, 1)
)
#: float slack for bounds on stored difficulties (they are rounded to hundredths)
EPS = 1e-9


class DataQualityError(RuntimeError):
    """A blocking data-quality check failed: the run stops before anything is written.

    The message is one line naming the gate, the check and its figures."""

    def __init__(self, message: str, gate: str = "", failures: Sequence[CheckResult] = ()):
        super().__init__(message)
        self.gate = gate
        self.failures = tuple(failures)

    def __reduce__(self) -> tuple[Any, ...]:  # pickles whole (Prefect may persist states)
        return (type(self), (str(self), self.gate, self.failures))

    @classmethod
    def from_failures(cls, gate: str, failures: Sequence[CheckResult]) -> DataQualityError:
        first, rest = failures[0], failures[1:]
        more = f" (+{len(rest)} more: {'; '.join(f.check for f in rest)})" if rest else ""
        return cls(f"{gate} gate failed: {first.line()}{more}", gate, failures)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one expectation on one table."""

    table: str
    check: str
    blocking: bool
    success: bool
    element_count: int
    unexpected_count: int
    examples: tuple[str, ...] = ()
    threshold: str = ""

    def line(self) -> str:
        """``check: 12 of 400 rows (3.0 %) failed, e.g. [..]`` — one line, for people."""
        share = (
            f" ({100 * self.unexpected_count / self.element_count:.1f} %)"
            if self.element_count
            else ""
        )
        eg = f", e.g. {list(self.examples)}" if self.examples else ""
        limit = f"; limit {self.threshold}" if self.threshold else ""
        return (
            f"{self.check}: {self.unexpected_count} of {self.element_count} rows{share} "
            f"failed{eg}{limit}"
        )


@dataclass(frozen=True, slots=True)
class GateReport:
    """Every check of one gate, and how long the gate took."""

    gate: str
    checks: tuple[CheckResult, ...]
    seconds: float
    figures: dict[str, int] = field(default_factory=dict)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.blocking and not c.success)

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.blocking and not c.success)

    def raise_for_failures(self) -> None:
        if self.failures:
            raise DataQualityError.from_failures(self.gate, self.failures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": len(self.checks),
            "passed": sum(c.success for c in self.checks),
            "failed": [c.line() for c in self.failures],
            "warnings": [c.line() for c in self.warnings],
            "seconds": round(self.seconds, 3),
            **self.figures,
        }


# --------------------------------------------------------------------------- GX plumbing

#: (check name, blocking, expectation factory); factories run once per suite
Spec = tuple[str, bool, Callable[[], Any]]


def warm_up() -> None:
    """Import Great Expectations (seconds of pure Python): the flow calls this in a thread
    while the answer log is read, so the input gate does not wait for it. Import only —
    the context itself is not thread-safe and is built by the gate."""
    import great_expectations  # noqa: F401
    import great_expectations.expectations  # noqa: F401


@cache
def _context() -> Any:
    """The process's one ephemeral GX context with a pandas data source."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX logs each metric computation and draws tqdm bars: neither belongs in run logs.
    for name in ("great_expectations", "great_expectations.core", "tqdm"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    ctx.data_sources.add_pandas("daglig")
    return ctx


_DEFINITIONS: dict[tuple[str, tuple[Any, ...]], Any] = {}


def _definition(table: str, key: tuple[Any, ...], specs: Callable[[], list[Spec]]) -> Any:
    """The validation definition of ``table`` for parameters ``key`` (built once)."""
    found = _DEFINITIONS.get((table, key))
    if found is not None:
        return found
    import great_expectations as gx

    ctx = _context()
    name = f"{table}-{len(_DEFINITIONS)}"
    asset = ctx.data_sources.get("daglig").add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("whole")
    suite = ctx.suites.add(gx.ExpectationSuite(name=name))
    for check, blocking, make in specs():
        expectation = make()
        expectation.meta = {"check": check, "blocking": blocking}
        suite.add_expectation(expectation)
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    _DEFINITIONS[(table, key)] = vd
    return vd


def _run(
    table: str,
    key: tuple[Any, ...],
    specs: Callable[[], list[Spec]],
    frame: pl.DataFrame,
    thresholds: dict[str, str] | None = None,
) -> list[CheckResult]:
    """Validate ``frame`` against the suite and turn GX's result into CheckResults."""
    vd = _definition(table, key, specs)
    pdf = frame.to_pandas(use_pyarrow_extension_array=True)
    result = vd.run(batch_parameters={"dataframe": pdf}, result_format="SUMMARY")
    out = []
    for r in result.results:
        meta = r.expectation_config.meta or {}
        res = r.result or {}
        if r.exception_info and r.exception_info.get("raised_exception"):
            # GX could not evaluate the check (a missing column, a wrong type): a failure.
            msg = str(r.exception_info.get("exception_message", "")).splitlines()[:1]
            out.append(
                CheckResult(
                    table, meta["check"], True, False, frame.height, frame.height, tuple(msg)
                )
            )
            continue
        examples = tuple(str(v) for v in (res.get("partial_unexpected_list") or [])[:3])
        out.append(
            CheckResult(
                table=table,
                check=meta["check"],
                blocking=bool(meta["blocking"]),
                success=bool(r.success),
                element_count=int(res.get("element_count") or frame.height),
                unexpected_count=int(res.get("unexpected_count") or 0),
                examples=examples,
                threshold=(thresholds or {}).get(meta["check"], ""),
            )
        )
    return out


def _gx() -> Any:
    import great_expectations.expectations as gxe

    return gxe


# --------------------------------------------------------------------------- input gate


def last_day_answers(
    attempts: pl.DataFrame, quarantine: pl.DataFrame, run_date: date, tz: str = "Europe/Oslo"
) -> pl.DataFrame:
    """The answers of the day before ``run_date`` (local ``tz``), each with the reason it
    was excluded from the features (``exclusion_reason``, null when used)."""
    excluded = (
        quarantine.filter(~pl.col("reason").is_in(list(KEPT_REASONS)))
        .select("attempt_id", exclusion_reason=pl.col("reason"))
        .unique("attempt_id", keep="first", maintain_order=True)
    )
    local = pl.col("answered_at").dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.date()
    return attempts.filter(local == run_date - timedelta(days=1)).join(
        excluded, on="attempt_id", how="left", maintain_order="left"
    )


def _user_specs() -> list[Spec]:
    g = _gx()
    return [
        ("users.user_id not null", True, lambda: g.ExpectColumnValuesToNotBeNull(column="user_id")),
        ("users.user_id unique", True, lambda: g.ExpectColumnValuesToBeUnique(column="user_id")),
        (
            "users.is_active not null",
            True,
            lambda: g.ExpectColumnValuesToNotBeNull(column="is_active"),
        ),
    ]


def _question_specs() -> list[Spec]:
    g = _gx()
    return [
        (
            "questions.question_id not null",
            True,
            lambda: g.ExpectColumnValuesToNotBeNull(column="question_id"),
        ),
        (
            "questions.question_id unique",
            True,
            lambda: g.ExpectColumnValuesToBeUnique(column="question_id"),
        ),
        # answers on these are quarantined as unknown_category: report, do not stop
        (
            "questions.category is a known key",
            False,
            lambda: g.ExpectColumnValuesToBeInSet(column="category", value_set=list(CATEGORY_KEYS)),
        ),
        # NULL means unknown (the contract allows it); out of range is treated as unknown
        (
            "questions.difficulty within 0 .. 1",
            False,
            lambda: g.ExpectColumnValuesToBeBetween(column="difficulty", min_value=0, max_value=1),
        ),
    ]


def _answer_specs(max_excluded_share: float, blocking: bool) -> Callable[[], list[Spec]]:
    def specs() -> list[Spec]:
        g = _gx()
        not_null = [
            (
                f"last day's answers.{c} not null",
                True,
                lambda c=c: g.ExpectColumnValuesToNotBeNull(column=c),
            )
            for c in ("attempt_id", "user_id", "answered_at", "is_correct")
        ]
        return [
            *not_null,
            (
                "last day's answers.attempt_id unique",
                True,
                lambda: g.ExpectColumnValuesToBeUnique(column="attempt_id"),
            ),
            (
                "last day's answers excluded",
                blocking,
                lambda: g.ExpectColumnValuesToBeNull(
                    column="exclusion_reason", mostly=1.0 - max_excluded_share
                ),
            ),
        ]

    return specs


def check_input_gate(
    users: pl.DataFrame,
    questions: pl.DataFrame,
    last_day: pl.DataFrame,
    *,
    max_excluded_share: float,
    min_answers: int,
) -> GateReport:
    """The input gate over the users, the question bank and the last day's answers (see
    :func:`last_day_answers`). The excluded-share check blocks only when the last day has
    at least ``min_answers`` answers: a handful of answers says nothing about the feed."""
    t0 = time.perf_counter()
    blocking = last_day.height >= min_answers
    excluded = int(last_day["exclusion_reason"].is_not_null().sum()) if last_day.height else 0
    checks = [
        *_run("users", (), _user_specs, users.select("user_id", "is_active")),
        *_run(
            "questions",
            (),
            _question_specs,
            questions.select("question_id", "category", "difficulty"),
        ),
        *_run(
            "last_day_answers",
            (max_excluded_share, blocking),
            _answer_specs(max_excluded_share, blocking),
            last_day.select(
                "attempt_id", "user_id", "answered_at", "is_correct", "exclusion_reason"
            ),
            {
                "last day's answers excluded": f"{100 * max_excluded_share:g} %"
                + ("" if blocking else f" (not enforced below {min_answers} answers)")
            },
        ),
    ]
    return GateReport(
        "input",
        tuple(checks),
        time.perf_counter() - t0,
        {"last_day_answers": last_day.height, "last_day_excluded": excluded},
    )


# -------------------------------------------------------------------------- output gate


def eligible_users(
    users: pl.DataFrame, previous: pl.DataFrame, settings: ChallengeSettings
) -> pl.DataFrame:
    """Active users (``user_id``) for whom the admin's settings leave at least one challenge
    after the no-repeat rule: a category-less type given yesterday is out, and a category
    type is out once yesterday used every enabled category for it."""
    active = users.filter(pl.col("is_active")).select("user_id")
    cats = list(settings.enabled_categories)
    free = [t for t in settings.enabled_types if t in CATEGORYLESS_TYPES]
    bound = [t for t in settings.enabled_types if t not in CATEGORYLESS_TYPES] if cats else []
    if not free and not bound:
        return active.clear()
    blocked_free = (
        previous.filter(pl.col("challenge_type").is_in(free))
        .select("user_id", "challenge_type")
        .unique()
    )
    blocked_bound = (
        previous.filter(pl.col("challenge_type").is_in(bound) & pl.col("category").is_in(cats))
        .group_by("user_id", "challenge_type")
        .agg(n=pl.col("category").n_unique())
        .filter(pl.col("n") >= len(cats))
        .select("user_id", "challenge_type")
    )
    exhausted = (
        pl.concat([blocked_free, blocked_bound])
        .group_by("user_id")
        .len()
        .filter(pl.col("len") >= len(free) + len(bound))
    )
    return active.join(exhausted, on="user_id", how="anti", maintain_order="left")


def _challenge_specs(s: ChallengeSettings) -> Callable[[], list[Spec]]:
    def specs() -> list[Spec]:
        g = _gx()
        return [
            (
                "challenges.content_key unique",
                True,
                lambda: g.ExpectColumnValuesToBeUnique(column="content_key"),
            ),
            *[
                (
                    f"challenges.{c} not blank",
                    True,
                    lambda c=c: g.ExpectColumnValuesToNotBeNull(column=c),
                )
                for c in ("title", "description", "content_key", "difficulty", "xp_reward")
            ],
            *[
                (
                    f"challenges.{c} has text",
                    True,
                    lambda c=c: g.ExpectColumnValuesToMatchRegex(column=c, regex=r"\S"),
                )
                for c in ("title", "description")
            ],
            (
                "challenges.challenge_type enabled",
                True,
                lambda: g.ExpectColumnValuesToBeInSet(
                    column="challenge_type",
                    value_set=[t for t in TYPE_KEYS if t in s.enabled_types],
                ),
            ),
            (
                "challenges.category enabled",
                True,
                lambda: g.ExpectColumnValuesToBeInSet(
                    column="category", value_set=list(s.enabled_categories)
                ),
            ),
            (
                "challenges.source known",
                True,
                lambda: g.ExpectColumnValuesToBeInSet(column="source", value_set=list(SOURCES)),
            ),
            (
                "challenges.difficulty within 0 .. 1",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(
                    column="difficulty", min_value=0, max_value=1
                ),
            ),
            (
                "challenges.difficulty within the admin's bounds",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(
                    column="difficulty",
                    min_value=s.min_difficulty - EPS,
                    max_value=s.max_difficulty + EPS,
                ),
            ),
            (
                "challenges.xp_reward within bounds",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(
                    column="xp_reward", min_value=0, max_value=XP_MAX
                ),
            ),
            (
                "challenges.bonus_xp within bounds",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(
                    column="bonus_xp", min_value=0, max_value=BONUS_MAX
                ),
            ),
            (
                "challenges.target_value positive",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(column="target_value", min_value=1),
            ),
        ]

    return specs


def _assignment_specs(challenges_per_user: int) -> Callable[[], list[Spec]]:
    def specs() -> list[Spec]:
        g = _gx()
        return [
            (
                "assignments one per (user, date, slot)",
                True,
                lambda: g.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "slot"]),
            ),
            (
                "assignments.slot within 1 .. challenges_per_user",
                True,
                lambda: g.ExpectColumnValuesToBeBetween(
                    column="slot", min_value=1, max_value=challenges_per_user
                ),
            ),
            (
                "assignments refer to a challenge of the day",
                True,
                lambda: g.ExpectColumnValuesToBeInSet(column="known_challenge", value_set=[True]),
            ),
            (
                "assignments go to active users only",
                True,
                lambda: g.ExpectColumnValuesToBeInSet(column="active_user", value_set=[True]),
            ),
        ]

    return specs


def _coverage_specs() -> list[Spec]:
    g = _gx()
    return [
        (
            "every eligible user covered",
            True,
            lambda: g.ExpectColumnValuesToBeBetween(column="n_assignments", min_value=1),
        )
    ]


def check_output_gate(
    challenges: pl.DataFrame,
    assignments: pl.DataFrame,
    users: pl.DataFrame,
    previous: pl.DataFrame,
    settings: ChallengeSettings,
) -> GateReport:
    """The output gate over one day's rows before they are written.

    ``challenges``: the distinct challenges (``daglig.challenges.CHALLENGE_COLUMNS``);
    ``assignments``: user_id, slot, content_key; ``users``: user_id, is_active (the users
    the run considered); ``previous``: yesterday's user_id, challenge_type, category.
    """
    t0 = time.perf_counter()
    s = settings
    active = users.filter(pl.col("is_active")).select("user_id")
    marked = assignments.select("user_id", "slot", "content_key").with_columns(
        known_challenge=pl.col("content_key").is_in(challenges["content_key"].implode()),
        active_user=pl.col("user_id").is_in(active["user_id"].implode()),
    )
    eligible = eligible_users(users, previous, s)
    per_user = assignments.group_by("user_id").agg(n_assignments=pl.len())
    coverage = eligible.join(per_user, on="user_id", how="left", maintain_order="left").select(
        "user_id", pl.col("n_assignments").fill_null(0).cast(pl.Int64)
    )
    key = (s.enabled_types, s.enabled_categories, s.min_difficulty, s.max_difficulty)
    checks = [
        *_run("challenges", key, _challenge_specs(s), challenges),
        *_run(
            "assignments",
            (s.challenges_per_user,),
            _assignment_specs(s.challenges_per_user),
            marked.drop("content_key"),
        ),
        *_run("coverage", (), _coverage_specs, coverage),
    ]
    return GateReport(
        "output",
        tuple(checks),
        time.perf_counter() - t0,
        {
            "eligible_users": eligible.height,
            "users_covered": int((coverage["n_assignments"] > 0).sum()),
        },
    )
