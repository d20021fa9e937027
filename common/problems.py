"""RFC 9457 problem details: one exception hierarchy, rendered in one place.

Routes and rules raise these; `install_problem_handlers` turns them, and every framework error,
into `application/problem+json`, so no input ever yields an unstructured or 500 answer.
"""

import logging
import traceback
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg.errors import QueryCanceled
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from common import db_errors

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE_URI = "/problems/"

log = logging.getLogger("ishc.problems")


class FieldError(BaseModel):
    """One reason why one input field was refused."""

    location: str
    field: str
    reason: str


class ProblemDetails(BaseModel):
    """The body of every error answer (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """Base of all domain errors; subclasses fix the status, the title and the type slug."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal Server Error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": PROBLEM_BASE_URI + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            data["instance"] = instance
        if self.errors is not None:
            data["errors"] = [error.model_dump() for error in self.errors]
        data.update(self.extensions)
        return data


class BadRequest(Problem):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(Problem):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str, *, error: str = "invalid_token", **extensions: Any) -> None:
        challenge = f'Bearer realm="ishc", error="{error}", error_description="{detail}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge}, error=error, **extensions)


class Forbidden(Problem):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(Problem):
    status, title, slug = 404, "Not Found", "not-found"


class Conflict(Problem):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(Problem):
    status, title, slug = 412, "Precondition Failed", "precondition-failed"


class PreconditionRequired(Problem):
    status, title, slug = 428, "Precondition Required", "precondition-required"


class PayloadTooLarge(Problem):
    status, title, slug = 413, "Content Too Large", "payload-too-large"


class UnsupportedMediaType(Problem):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


class ValidationFailed(Problem):
    status, title, slug = 422, "Unprocessable Content", "validation-error"


class DatabaseBusy(Problem):
    """Lock contention that outlasted the wait: the database is up, retrying soon succeeds."""

    status, title, slug = 503, "Database Busy", "database-busy"


class TooManyRequests(Problem):
    status, title, slug = 429, "Too Many Requests", "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(Problem):
    status, title, slug = 503, "Service Unavailable", "service-unavailable"


class GatewayTimeout(Problem):
    status, title, slug = 504, "Gateway Timeout", "gateway-timeout"


def field_error(field: str, reason: str, location: str = "body") -> FieldError:
    return FieldError(location=location, field=field, reason=reason)


def invalid(field: str, reason: str, location: str = "body") -> ValidationFailed:
    """A 422 for one field, for rules that pydantic cannot express (they need the database)."""
    return ValidationFailed(f"{field}: {reason}", errors=[field_error(field, reason, location)])


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    errors: dict[tuple[str, str, str], FieldError] = {}
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        location = loc[0] if loc else "body"
        field = ".".join(loc[1:]) or location
        reason = error.get("msg", "invalid")
        # A body shared by a route and its dependencies is validated once per declaration;
        # a dict keeps one of each (in order) without comparing every pair.
        errors.setdefault(
            (location, field, reason), FieldError(location=location, field=field, reason=reason)
        )
    return list(errors.values())


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        return problem_response(BadRequest("The request body is not valid JSON."), request)
    errors = _field_errors(exc)
    summary = "; ".join(f"{e.field}: {e.reason}" for e in errors[:5])
    return problem_response(ValidationFailed(f"Invalid input: {summary}", errors=errors), request)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    problem = Problem(
        str(exc.detail) if exc.detail else status.phrase, headers=dict(exc.headers or {})
    )
    problem.status, problem.title = status.value, status.phrase
    problem.slug = status.phrase.lower().replace(" ", "-").replace("'", "")
    return problem_response(problem, request)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


def _unexpected(request: Request, what: str) -> JSONResponse:
    """A 500 that a maintainer can find: the log line and the answer carry the request id."""
    request_id = _request_id(request)
    return problem_response(
        Problem(f"An unexpected error occurred ({what}); request id {request_id}."), request
    )


async def _on_integrity(request: Request, exc: Exception) -> JSONResponse:
    # A constraint caught what the rules could not see in advance (a race, most often). The
    # cause decides the answer; the log names the constraint, never the values (personal data).
    assert isinstance(exc, IntegrityError)
    cause = db_errors.integrity_cause(exc)
    log.info("integrity error on %s: %s", request.url.path, cause.describe())
    fields = ", ".join(cause.fields) or "the record"
    errors = [field_error(name, cause.reason) for name in cause.fields] or None
    if cause.kind == "unique":
        detail = f"{fields}: already taken by another record."
        return problem_response(Conflict(detail, errors=errors), request)
    if cause.kind in ("foreign_key", "check", "not_null"):
        problem = ValidationFailed(f"{fields}: {cause.reason}.", errors=errors)
        return problem_response(problem, request)
    log.error(
        "unclassified integrity error on %s (request %s): %s",
        request.url.path, _request_id(request), cause.describe(),
    )  # fmt: skip
    return _unexpected(request, "a database constraint")


async def _on_database_down(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationalError | InterfaceError)
    if isinstance(exc.orig, QueryCanceled):
        log.warning("statement timeout on %s", request.url.path)
        detail = "The figures took longer than this service allows; ask for a smaller area."
        return problem_response(ServiceUnavailable(detail), request)
    lock = db_errors.lock_contention(exc)
    if lock is not None:
        log.warning("lock contention on %s: %s", request.url.path, lock)
        detail = "The database is busy with other changes to the same records; retry shortly."
        return problem_response(DatabaseBusy(detail, headers={"Retry-After": "1"}), request)
    log.error("database error on %s: %s", request.url.path, db_errors.describe(exc))
    return problem_response(ServiceUnavailable("The database is not reachable."), request)


async def _on_out_of_range(request: Request, exc: Exception) -> JSONResponse:
    # Input validation should have caught it; the database is the last line, not a 500.
    assert isinstance(exc, DataError)
    log.warning("data error on %s: %s", request.url.path, db_errors.describe(exc))
    return problem_response(
        ValidationFailed("A value is out of the range the database holds."), request
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Errors raised after the route returned (the commit in a dependency's teardown) skip the
    # specific handlers and arrive here, so they are sorted again.
    if isinstance(exc, Problem):
        return await _on_problem(request, exc)
    if isinstance(exc, IntegrityError):
        return await _on_integrity(request, exc)
    if isinstance(exc, OperationalError | InterfaceError):
        return await _on_database_down(request, exc)
    if isinstance(exc, DataError):
        return await _on_out_of_range(request, exc)
    if isinstance(exc, DBAPIError):
        log.error("database error on %s (request %s): %s",
                  request.url.path, _request_id(request), db_errors.describe(exc))  # fmt: skip
        return _unexpected(request, "a database error")
    # The frames, not the message: a message may quote a value (personal data).
    log.error(
        "unexpected error on %s (request %s): %s\n%s",
        request.url.path, _request_id(request), type(exc).__name__,
        "".join(traceback.format_tb(exc.__traceback__)),
    )  # fmt: skip
    return _unexpected(request, type(exc).__name__)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(OperationalError, _on_database_down)
    app.add_exception_handler(InterfaceError, _on_database_down)
    app.add_exception_handler(DataError, _on_out_of_range)
    app.add_exception_handler(Exception, _on_unexpected)
