"""The HTTP admin API: the seed's seven endpoints under ``/admin/api/ml-challenges/``.

JSON in and out, described at ``/openapi.json`` (interactive at ``/docs``, ReDoc at
``/redoc``, both from local assets). Timestamps are ISO 8601 with their zone (UTC). Every endpoint
needs ``Authorization: Bearer <DAGLIG_ADMIN_TOKEN>``, compared in constant time; without a
configured token every endpoint answers 503, with a missing or wrong one 401. Inputs are
pydantic models and typed parameters with bounds: bad input is 422, with the reasons but
never the input echoed back; NaN, infinities and control characters are bad input. A
request body above ``MAX_BODY_BYTES`` is refused with 413 before anything else, the token
check included (:class:`BodyLimit`: by ``Content-Length``, and by counting a chunked body
as it arrives). Every error answer is ``{"detail": …}`` and is
described in the OpenAPI schema. The operations are the modules of :mod:`daglig.admin`
(analytics, settings_admin, dry_run, common), shared with ``daglig admin``.

Served by ``daglig admin serve`` (uvicorn).
"""

# no `from __future__ import annotations`: FastAPI reads the annotations of the route
# closures at runtime, and those name objects local to create_app
import hmac
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from daglig.admin import analytics, common, dry_run, settings_admin
from daglig.catalogue import CATEGORY_KEYS, TYPE_KEYS
from daglig.config import Settings
from daglig.io.learner_service import LearnerService, NotAssessed

PREFIX = "/admin/api/ml-challenges"
MIN_TOKEN_LENGTH = 16
EARLIEST = date(2020, 1, 1)
# The largest body any endpoint takes is a settings change of a few hundred bytes.
MAX_BODY_BYTES = 64 * 1024
# A 422 lists at most this many problems, each location part and message cut to this length.
MAX_PROBLEMS, MAX_TEXT = 20, 200

TypeKey = Literal[TYPE_KEYS]  # type: ignore[valid-type]
CategoryKey = Literal[CATEGORY_KEYS]  # type: ignore[valid-type]


class ValidationProblem(BaseModel):
    """One reason a request was refused: where (``loc``), what (``msg``), its kind."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """Every error answer: ``detail`` is one line, or the list of validation problems."""

    detail: str | list[ValidationProblem]


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


# Documented on every endpoint (the token check and the body limit apply to all of them).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem("The body is not decodable (e.g. not UTF-8)."),
    401: _problem("Missing or wrong bearer token (header WWW-Authenticate: Bearer)."),
    413: _problem(f"Request body larger than {MAX_BODY_BYTES} bytes (refused before the token)."),
    422: _problem("Bad input: the reasons, without the input."),
    500: _problem("The operation failed (e.g. the nightly run it started failed)."),
    503: _problem(
        "The API is disabled (DAGLIG_ADMIN_TOKEN is not configured), or what the operation "
        "needs is not there (the nightly deployment on the Prefect server)."
    ),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _problem("No such user.")}
NOT_ASSESSED: dict[int | str, dict[str, Any]] = {
    404: _problem(
        "The last night did not assess this user (unknown, inactive, new since), or no "
        "night has assessed this database's learners yet: show the onboarding challenges."
    )
}
ML_PREFIX = "/api/ml"
STARTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "The nightly deployment was started (flow run id in the body)."}
}
SAFE_TEXT = r"^[^\x00-\x1f\x7f]*$"  # no NUL or other control characters


class SkillAssessment(BaseModel):
    """The seed's skill assessment of one learner, from the last night's assessment."""

    overall_skill_level: float = Field(
        description="Mastery averaged with the exam's category shares: the expected share "
        "right on an exam.",
        examples=[0.65],
    )
    confidence_level: float = Field(
        description="answers / (answers + 90): how much evidence stands behind it.",
        examples=[0.585],
    )
    total_practice_questions: int = Field(examples=[127])
    exam_readiness: float = Field(
        description="P(at least 38 right of 45) on the class B theory test.", examples=[0.41]
    )
    assessed_on: date = Field(description="The night (run date) of the assessment.")
    model_version: str = Field(description="The learner model that made it.")


class SettingsUpdate(BaseModel):
    """Settings to change (any subset of the contract's keys) and who changes them.

    The bounds here are the contract's; the values are then checked by the one validator
    the nightly run reads them with (``daglig.challenge_settings``): each key's value, and
    the combination the change would leave (min_difficulty ≤ max_difficulty, enough types
    and categories for challenges_per_user).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    generation_enabled: StrictBool | None = None
    ml_enabled: StrictBool | None = None
    enabled_types: list[TypeKey] | None = Field(
        default=None, min_length=1, max_length=len(TYPE_KEYS)
    )
    enabled_categories: list[CategoryKey] | None = Field(
        default=None, min_length=1, max_length=len(CATEGORY_KEYS)
    )
    min_difficulty: float | None = Field(default=None, ge=0.0, le=1.0)
    max_difficulty: float | None = Field(default=None, ge=0.0, le=1.0)
    challenges_per_user: int | None = Field(default=None, ge=1, le=6, strict=True)
    ml_min_answers: int | None = Field(default=None, ge=0, le=1_000_000, strict=True)
    ml_title_prefix: StrictBool | None = Field(
        default=None, description='Put "[ML] " before the titles of ML challenges (default true).'
    )
    target_completion: float | None = Field(
        default=None,
        ge=0.5,
        le=0.95,
        description="The predicted completion each ML challenge's target aims at (default 0.75).",
    )
    changed_by: str | None = Field(
        default=None,
        min_length=1,
        max_length=settings_admin.MAX_BY_LENGTH,
        pattern=SAFE_TEXT,
        description="Who makes the change (recorded in challenge_settings_history).",
    )

    @model_validator(mode="after")
    def _some_setting(self) -> "SettingsUpdate":
        if not self.changes():
            raise ValueError("give at least one setting to change")
        return self

    def changes(self) -> dict[str, Any]:
        """The settings given, as {key: value}."""
        return self.model_dump(exclude_none=True, exclude={"changed_by"})


class GenerateRequest(BaseModel):
    """A manual run of the nightly job."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    run_date: date | None = Field(default=None, description="Challenge day; default today.")
    force: StrictBool = Field(default=False, description="Replace assignments nobody started.")
    local: StrictBool = Field(
        default=False, description="Run in the API's process even when a Prefect server is set."
    )
    wait_seconds: float = Field(
        default=0, ge=0, le=600, description="How long to wait for a deployment run."
    )


def _check_day(day: date | None, settings: Settings) -> date:
    today = common.today(settings.timezone)
    day = day or today
    if not EARLIEST <= day <= today + timedelta(days=7):
        raise HTTPException(422, f"date {day} is outside {EARLIEST} .. {today + timedelta(7)}")
    return day


class BodyLimit:
    """ASGI middleware: 413 for a request body above ``max_bytes`` before the app reads
    any of it (FastAPI reads the body before the token check runs): a ``Content-Length``
    above the limit is answered at once; a chunked body is counted as it arrives by
    Starlette's ``RequestBodyLimitMiddleware``. Both answer ``{"detail": …}`` in JSON."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = RequestBodyLimitMiddleware(app, max_body_size=max_bytes)
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                too_large = JSONResponse({"detail": "Content Too Large"}, status_code=413)
                await too_large(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _cut(v: Any) -> Any:
    return v[:MAX_TEXT] if isinstance(v, str) else v


def validation_problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's validation errors without ``input`` and ``ctx`` (they echo the request
    body back, and may hold NaN, which JSON cannot carry), capped in number and length."""
    return [
        {
            "loc": [_cut(part) for part in e.get("loc", ())],
            "msg": _cut(str(e.get("msg", ""))),
            "type": _cut(str(e.get("type", ""))),
        }
        for e in exc.errors()[:MAX_PROBLEMS]
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The admin API for ``settings`` (default: from the environment)."""
    settings = settings or Settings()
    url = settings.database_url
    bearer = HTTPBearer(auto_error=False, description="DAGLIG_ADMIN_TOKEN")

    def require_token(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        expected = settings.admin_token.get_secret_value() if settings.admin_token else ""
        if len(expected) < MIN_TOKEN_LENGTH:
            raise HTTPException(503, "admin API disabled: DAGLIG_ADMIN_TOKEN is not configured")
        given = creds.credentials if creds is not None else ""
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )

    # /docs (Swagger UI) and /redoc from the assets fastapi-offline ships, served under
    # /static-offline-docs: no CDN, they work without internet
    app = FastAPIOffline(
        title="daglig admin API",
        version="1.0",
        description="Admin controls and analytics of the nightly daily-challenges pipeline.",
    )
    # outermost of the app's middleware: a large body is refused before it is read, before
    # the token is checked (FastAPI reads the body before it runs the dependencies)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)

    @app.exception_handler(RequestValidationError)
    def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_problems(exc)}, status_code=422)

    @app.exception_handler(common.AdminInputError)
    def _bad_input(_: Request, exc: common.AdminInputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(common.NotFound)
    def _not_found(_: Request, exc: common.NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(common.Unavailable)
    def _unavailable(_: Request, exc: common.Unavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(common.AdminError)
    def _failed(_: Request, exc: common.AdminError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=500)

    api = APIRouter(prefix=PREFIX, dependencies=[Depends(require_token)], responses=ERRORS)

    @api.get("/overview", summary="System overview")
    def overview(day: Annotated[date | None, Query(alias="date")] = None) -> dict[str, Any]:
        """Settings in force, the day's assignments and completion, the last run."""
        return analytics.overview(url, _check_day(day, settings))

    @api.post("/generate", summary="Manual generation", status_code=200, responses=STARTED)
    def generate(request: GenerateRequest | None = None) -> JSONResponse:
        """Start the nightly deployment through the Prefect API when a server is configured
        (202, with the flow run id), else run the job in this process (200, its summary)."""
        from flows.admin_runs import generate as start_nightly

        request = request or GenerateRequest()
        out = start_nightly(
            _check_day(request.run_date, settings),
            force=request.force,
            local=request.local,
            wait_seconds=request.wait_seconds,
        )
        return JSONResponse(out, status_code=202 if out["mode"] == "deployment" else 200)

    @api.get("/performance", summary="Performance analytics")
    def performance(limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> dict[str, Any]:
        """The latest run attempts and their seconds."""
        return analytics.performance(url, limit)

    @api.get("/settings", summary="Configuration")
    def get_settings(history: Annotated[int, Query(ge=0, le=1000)] = 20) -> dict[str, Any]:
        """Settings in force, stored rows with who set them, recent changes."""
        return settings_admin.settings_view(url, history)

    @api.put("/settings", summary="Change configuration")
    @api.post("/settings", summary="Change configuration (POST, as in the seed)")
    def put_settings(update: SettingsUpdate) -> dict[str, Any]:
        """Change settings; each change is recorded with who and when."""
        return settings_admin.set_settings(url, update.changes(), update.changed_by or "api")

    @api.post("/test-user/{user_id}", summary="Test user generation", responses=NOT_FOUND)
    def test_user(
        user_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
        day: Annotated[date | None, Query(alias="date")] = None,
    ) -> dict[str, Any]:
        """Dry-run the nightly job for one user: challenges, reasons, selector and why."""
        return dry_run.dry_run_user(settings, user_id, _check_day(day, settings))

    @api.get("/recent", summary="Recent challenges")
    def recent(
        days: Annotated[int, Query(ge=1, le=366)] = 7,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> dict[str, Any]:
        """The latest challenges with users holding, started and completed each."""
        since = common.today(settings.timezone) - timedelta(days=days - 1)
        return analytics.recent(url, since, limit)

    @api.get("/stats", summary="System statistics")
    def stats(
        start: Annotated[date | None, Query()] = None,
        end: Annotated[date | None, Query()] = None,
    ) -> dict[str, Any]:
        """Completion by source/type/category, engagement, ML effectiveness, run errors;
        default the last 7 days."""
        last = _check_day(end, settings)
        first = _check_day(start, settings) if start else max(EARLIEST, last - timedelta(6))
        return analytics.stats(url, first, last)

    app.include_router(api)

    learners = LearnerService(url, settings.assessment_dir)

    @app.exception_handler(NotAssessed)
    def _not_assessed(_: Request, exc: NotAssessed) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    ml = APIRouter(
        prefix=ML_PREFIX,
        dependencies=[Depends(require_token)],
        responses={**ERRORS, **NOT_ASSESSED},
        tags=["learner service"],
    )
    UserId = Annotated[int, Path(ge=1, le=2**63 - 1)]

    @ml.get("/users/{user_id}/weak-areas", summary="Weak areas", response_model=list[str])
    def weak_areas(user_id: UserId) -> list[str]:
        """The learner's weakest categories (at most three), weakest first, from the last
        night's assessment: the seed's ``get_weak_areas``."""
        return learners.get_weak_areas(user_id)

    @ml.get(
        "/users/{user_id}/skill-assessment",
        summary="Skill assessment",
        response_model=SkillAssessment,
    )
    def skill_assessment(user_id: UserId) -> dict[str, Any]:
        """Overall skill, confidence, practice questions and exam readiness from the last
        night's assessment: the seed's ``get_skill_assessment``."""
        return learners.get_skill_assessment(user_id)

    app.include_router(ml)
    return app
