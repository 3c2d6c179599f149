"""The one settings object, read from the environment at the edge and passed down.

Environment variables carry the prefix ``DAGLIG_`` (``DAGLIG_SMTP_HOST``…), except
``DATABASE_URL``, which is the conventional name. Secrets are ``SecretStr`` and never logged.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data"

#: The database URL schemes the pipeline runs on, and the drivers it has installed
#: (``postgresql+psycopg2://`` is taken as psycopg 3, see ``daglig.io.db.make_engine``).
URL_SCHEMES: dict[str, tuple[str, ...]] = {
    "sqlite": ("", "pysqlite"),
    "postgresql": ("", "psycopg", "psycopg2"),
}
URL_EXAMPLES = "sqlite:///data/daglig.db or postgresql://user@host:5432/dbname"


def check_database_url(url: str) -> str:
    """``url`` if the pipeline can use it, ``postgres://`` spelled ``postgresql://`` (as
    libpq, Heroku and many tools write it); else ValueError with one line saying what is
    wrong and what was probably meant."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = url.strip()
    if not text:
        raise ValueError(f"empty (unset it for the default, or give a URL: {URL_EXAMPLES})")
    scheme, sep, rest = text.partition("://")
    if not sep:
        guess = _closest(text.split(":", 1)[0].split("/", 1)[0].split("+", 1)[0])
        hint = f" (did you mean {guess}://…?)" if guess else ""
        shown = re.sub(r":[^:@/]*@", ":***@", text)  # never echo a password
        raise ValueError(f'"{shown}" is not a URL: no "://"{hint}; e.g. {URL_EXAMPLES}')
    backend, _, driver = scheme.partition("+")
    if backend.lower() == "postgres":  # libpq's spelling; SQLAlchemy wants postgresql
        backend, text = "postgresql", f"postgresql{'+' + driver if driver else ''}://{rest}"
    if backend not in URL_SCHEMES:
        guess = _closest(backend)
        hint = f" (did you mean {guess}://?)" if guess else f"; use {URL_EXAMPLES}"
        raise ValueError(f'unknown scheme "{backend}"{hint}')
    if driver not in URL_SCHEMES[backend]:
        known = ", ".join(f"{backend}+{d}" for d in URL_SCHEMES[backend] if d)
        raise ValueError(f'unknown driver "{driver}" for {backend} (installed: {known})')
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise ValueError(f"cannot parse the URL; e.g. {URL_EXAMPLES}") from None
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ValueError(
            "names no SQLite file (an in-memory database would vanish with the process); "
            "e.g. sqlite:///data/daglig.db (three slashes and a relative path, four for an "
            "absolute one)"
        )
    if backend == "postgresql" and not parsed.database:
        raise ValueError("names no database: add it after the host, e.g. …@host:5432/dbname")
    return text


def _closest(word: str) -> str | None:
    candidates = [*URL_SCHEMES, "postgres"]
    match = difflib.get_close_matches(word.lower(), candidates, n=1, cutoff=0.6)
    if not match:
        return None
    return "postgresql" if match[0] == "postgres" else match[0]


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How long any session of ours may wait: on PostgreSQL ``lock_timeout``,
    ``statement_timeout`` and ``idle_in_transaction_session_timeout`` (and
    ``application_name``, so the app's DBAs can see us); on SQLite the busy timeout is
    ``lock_timeout_seconds``. The defaults are :class:`Settings`' defaults; see
    docs/failure-handling.md for how they were chosen."""

    lock_timeout_seconds: float = 120.0
    statement_timeout_seconds: float = 1800.0
    idle_in_transaction_timeout_seconds: float = 300.0
    lock_report_seconds: float = 5.0
    application_name: str = "daglig"


_LIMITS = SessionLimits()


def holdout_share(description: str) -> Any:
    """A holdout's share setting: 5 % by default, at most half (a holdout compares)."""
    return Field(default=0.05, ge=0.0, le=0.5, description=description)


class Settings(BaseSettings):
    """Where the pipeline reads and writes, and how it reports."""

    model_config = SettingsConfigDict(env_prefix="DAGLIG_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'daglig.db'}",
        validation_alias=AliasChoices("DATABASE_URL", "DAGLIG_DATABASE_URL"),
        description="Any SQLAlchemy URL; the default is a SQLite file under data/.",
        repr=False,  # it may carry a password: keep it out of reprs in logs and tracebacks
    )
    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Runs, outbox and models.")
    timezone: str = Field(default="Europe/Oslo", description="The zone of a challenge day.")

    smtp_host: str | None = Field(default=None, description="SMTP server; unset: write .eml files.")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="SMTP: each socket operation's timeout."
    )
    smtp_deadline_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="SMTP: the whole send (connect, EHLO, STARTTLS, login, message) must "
        "finish within this many seconds, or it is abandoned and reported (not retried).",
    )
    email_from: str = "daglig@localhost"
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["admin@localhost"]
    )
    prefect_ui_url: str | None = Field(default=None, description="Base URL of the Prefect UI.")
    admin_token: SecretStr | None = Field(
        default=None, description="Bearer token of the admin HTTP API; unset: the API refuses."
    )
    ml_holdout_share: float = holdout_share(
        "Share of ML-eligible users kept on fallback challenges, to compare."
    )
    struggle_holdout_share: float = holdout_share(
        "Share of struggling learners whose day is not adapted, to compare."
    )
    path_holdout_share: float = holdout_share(
        "Share of ML learners kept off the week's path to the exam "
        "(today's day-by-day choice), to compare."
    )
    model_max_age_days: int = Field(
        default=14,
        ge=0,
        le=365,
        description="The nightly run refuses (falls back from) a learner model older than this.",
    )
    dq_max_excluded_share: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Data-quality gate: the run stops when more than this share of the last "
        "day's answers had to be excluded (quarantined).",
    )
    dq_min_answers: int = Field(
        default=100,
        ge=0,
        le=10_000_000,
        description="The excluded-share gate is enforced only from this many last-day answers.",
    )
    retention_days: int = Field(
        default=90,
        ge=1,
        description="Cleanup deletes never-started challenges older than this many days.",
    )
    train_max_users: int = Field(
        default=100_000,
        ge=1,
        description="Training reads the answer log of at most this many learners (a stable "
        "hash sample), so its memory does not grow with the app.",
    )
    shard_users: int = Field(
        default=50_000,
        ge=1,
        description="Users per shard: a run splits its users by a stable hash into "
        "ceil(users / shard_users) shards, each its own task in every per-user step.",
    )
    shard_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Shard tasks at once on the default runner (threads): two, for two "
        "cores and memory bounded by two shards. A Dask runner decides its own parallelism.",
    )
    dask_address: str | None = Field(
        default=None,
        description="Scheduler of an existing Dask cluster (tcp://host:8786) for "
        "``daglig run`` and the nightly-dask deployment; unset: a local cluster per run.",
    )

    state_max_age_days: int = Field(
        default=3,
        ge=0,
        le=60,
        description="A night folds the answers since the last good night into the state that "
        "night carried (incremental); a state older than this many days is not folded into: "
        "the night recomputes every feature from the whole answer log.",
    )
    full_every_days: int = Field(
        default=7,
        ge=1,
        le=60,
        description="Recompute every feature from the whole answer log at least this often "
        "(days since the last full night), whatever the carried state says.",
    )

    db_lock_timeout_seconds: float = Field(
        default=_LIMITS.lock_timeout_seconds,
        gt=0,
        le=3600,
        description="The longest any lock wait of ours may take (PostgreSQL lock_timeout, "
        "SQLite busy timeout); above the 1M-learner day's write (~56 s), so a second run of "
        "the same day outwaits a healthy first one, and fails naming a frozen holder.",
    )
    db_statement_timeout_seconds: float = Field(
        default=_LIMITS.statement_timeout_seconds,
        gt=0,
        le=86_400,
        description="PostgreSQL statement_timeout of our sessions (one statement, e.g. the "
        "answer log's streamed read).",
    )
    db_idle_in_transaction_timeout_seconds: float = Field(
        default=_LIMITS.idle_in_transaction_timeout_seconds,
        gt=0,
        le=86_400,
        description="PostgreSQL idle_in_transaction_session_timeout: a stalled session of "
        "ours gives its locks back after this long.",
    )
    db_lock_report_seconds: float = Field(
        default=_LIMITS.lock_report_seconds,
        gt=0,
        le=600,
        description="While the day's write waits for a lock, log who holds it this often.",
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, v: str) -> str:
        return check_database_url(v)

    @field_validator("admin_emails", mode="before")
    @classmethod
    def _split_emails(cls, v: object) -> object:
        if isinstance(v, str):
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @property
    def runs_dir(self) -> Path:
        """A run folder per run date holds the Parquet files tasks hand each other."""
        return self.data_dir / "runs"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def model_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def state_dir(self) -> Path:
        """The carried state, per database: what a good night leaves for the next one to
        fold into (daglig/io/state_store.py)."""
        return self.data_dir / "state"

    @property
    def assessment_dir(self) -> Path:
        """The last nights' learner assessments, per database (daglig/io/assessment_store.py)."""
        return self.data_dir / "assessments"

    def session_limits(self) -> SessionLimits:
        """The bounds of every database session the pipeline opens."""
        return SessionLimits(
            lock_timeout_seconds=self.db_lock_timeout_seconds,
            statement_timeout_seconds=self.db_statement_timeout_seconds,
            idle_in_transaction_timeout_seconds=self.db_idle_in_transaction_timeout_seconds,
            lock_report_seconds=self.db_lock_report_seconds,
        )

    def safe_database_url(self) -> str:
        """The database URL with any password masked, for logs and messages."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)


def env_name(field: str) -> str:
    """The environment variable of a settings field (``DATABASE_URL``, ``DAGLIG_SMTP_PORT``);
    pydantic names a field with an alias by the alias (already upper case)."""
    if field.isupper():
        return field
    return "DATABASE_URL" if field == "database_url" else f"DAGLIG_{field.upper()}"


def settings_error_line(exc: ValidationError) -> str:
    """A settings validation error as one line naming each variable and what is wrong:
    ``DATABASE_URL: unknown scheme "postgress" (did you mean postgresql://?)``."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "SETTINGS"
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        parts.append(f"{env_name(field)}: {msg}")
    return "; ".join(parts)
