"""Which way tonight's features are computed, and why: folded from the state the last
good night carried (``incremental``: only the answers that arrived since are read) or
from the whole answer log (``full``). Pure: the facts come in, a decision goes out.

The carried state is the sufficient statistics of every feature (the tallies of
daglig/answer_tallies.py, the evidence sums of daglig/learner/evidence_state.py and the
population's counts), as of a cutoff. It covers exactly the answers with
``attempt_id <= max_attempt_id`` and ``answered_at < cutoff``: the next night reads the
answers outside that set (``attempt_id > max_attempt_id`` or ``answered_at >= cutoff``,
before tonight's cutoff), which takes in late-arriving rows of any age, and de-duplicates
by attempt id by construction. What the state cannot see — an answer deleted or inserted
below ``max_attempt_id``, a changed question bank, an account's creation time moved — is
checked, and any doubt makes the night a full one (:func:`choose_path`,
:func:`check_counts`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal

import polars as pl

from daglig.catalogue import CATEGORY_KEYS

#: Bump when a carried table changes its meaning: a state of another format is refused.
STATE_FORMAT = 1

Path_ = Literal["full", "incremental"]


def feature_schema(*parts: object) -> str:
    """A fingerprint of what the carried tables mean: the state's format, the categories
    and whatever the caller adds (the tables' schemas, the feature constants). A state
    with another fingerprint is not folded into."""
    raw = json.dumps([STATE_FORMAT, list(CATEGORY_KEYS), *map(str, parts)], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def questions_fingerprint(questions: pl.DataFrame) -> str:
    """What of the question bank the carried answers depend on (which questions exist, their
    category and difficulty): a changed bank changes which answers are usable and how they
    are priced."""
    q = questions.select("question_id", "category", "difficulty").sort("question_id")
    return hashlib.sha256(json.dumps(q.rows(), default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CarriedManifest:
    """What a carried state is: its database, cutoff, shards and the answers it holds."""

    schema: str  # feature_schema() of the code that wrote it
    identity: str  # the database's pipeline identity (daglig/io/identity.py)
    cutoff: datetime  # naive UTC: the answers before it (and up to max_attempt_id) are in
    run_date: date
    shards: int
    max_attempt_id: int
    folded: int  # answers in it (usable and quarantined): attempt_id <= max, answered_at < cutoff
    questions: str  # questions_fingerprint() of the bank it was cleaned with
    last_full: date  # the run date of the last full night this state descends from

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cutoff"] = self.cutoff.isoformat()
        d["run_date"] = self.run_date.isoformat()
        d["last_full"] = self.last_full.isoformat()
        return d

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CarriedManifest:
        return cls(
            schema=str(raw["schema"]),
            identity=str(raw["identity"]),
            cutoff=datetime.fromisoformat(raw["cutoff"]),
            run_date=date.fromisoformat(raw["run_date"]),
            shards=int(raw["shards"]),
            max_attempt_id=int(raw["max_attempt_id"]),
            folded=int(raw["folded"]),
            questions=str(raw["questions"]),
            last_full=date.fromisoformat(raw["last_full"]),
        )


@dataclass(frozen=True, slots=True)
class NightPath:
    """The way tonight goes: ``path`` and, in words, why; ``prior``: the state folded into
    (incremental only)."""

    path: Path_
    reason: str
    code: str = "folded"  # the reason's kind (the admins' email words it: wording_no.PATH_NO)
    prior: CarriedManifest | None = None

    @property
    def incremental(self) -> bool:
        return self.path == "incremental"


def full(code: str, reason: str) -> NightPath:
    return NightPath("full", reason, code)


def choose_path(
    prior: CarriedManifest | None,
    *,
    run_date: date,
    cutoff: datetime,
    identity: str | None,
    schema: str,
    shards: int,
    questions: str,
    force_full: bool = False,
    some_users: bool = False,
    max_age_days: int = 3,
    full_every_days: int = 7,
) -> NightPath:
    """Incremental only when nothing is in doubt; else full, with the first reason that
    applies. ``prior``: the newest carried state with a cutoff at or before tonight's (the
    store picks it); ``shards``: tonight's shard count (the state is kept per shard)."""
    if force_full:
        return full("forced", "asked for (--full)")
    if some_users:
        return full("some_users", "a run for some users only")
    if prior is None:
        return full("no_state", "no carried state yet")
    if identity is None or prior.identity != identity:
        return full("other_database", "the carried state is from another database")
    if prior.schema != schema:
        return full("schema", "the features changed since the state was carried")
    if prior.cutoff > cutoff:
        return full("later_state", f"the carried state is of a later night ({prior.run_date})")
    age = (run_date - prior.run_date).days
    if age > max_age_days:
        return full("old_state", f"the carried state is {age} days old (more than {max_age_days})")
    since_full = (run_date - prior.last_full).days
    if since_full >= full_every_days:
        return full("weekly", f"the weekly full night ({since_full} days since the last one)")
    if prior.shards != shards:
        return full("shards", f"the shard count changed ({prior.shards} → {shards})")
    if prior.questions != questions:
        return full("questions", "the question bank changed since the state was carried")
    return NightPath("incremental", f"folded into the state of {prior.run_date}", "folded", prior)


def check_counts(path: NightPath, below_max: int, below_max_after_cutoff: int) -> NightPath:
    """After counting the database's answers up to the state's ``max_attempt_id``
    (``below_max``) and those of them at or after its cutoff: an incremental night stays
    one only when the rest is exactly the answers the state holds — none deleted, none
    added beneath it since."""
    if not path.incremental or path.prior is None:
        return path
    now = below_max - below_max_after_cutoff
    if now != path.prior.folded:
        return full(
            "answers_changed",
            f"answers were deleted or inserted under the carried state "
            f"({path.prior.folded:,} carried, {now:,} in the database)",
        )
    return path


def changed_accounts(prior_users: pl.DataFrame, users: pl.DataFrame) -> int:
    """Accounts whose creation time differs from when the state was carried (it decides
    which answers are "before the account"); accounts new since are not counted."""
    joined = prior_users.join(users.select("user_id", "created_at"), on="user_id", how="inner")
    return int(joined["created_at"].ne_missing(joined["created_at_right"]).sum())
