"""RFC 9457 problem details: one exception hierarchy, rendered in one place.

Routes and rules raise these; `install_problem_handlers` turns them, and every framework error,
into `application/problem+json`, so no input ever yields an unstructured or 500 answer.
"""

import logging
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg.errors import QueryCanceled
from pydantic import BaseModel, Field
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from common import db_errors, problem_codes, problem_texts_vi
from common.allow import methods_at
from common.problem_codes import CATALOGUE, TYPES, Code
from common.vietnamese import ENGLISH, VIETNAMESE, Language, preferred_language

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE_URI = "/problems/"
CODE_DESCRIPTION = (
    "The reason as a stable snake_case code: never renamed or reused once published, and new "
    "codes may appear (so read it as a string, not an enum). `/problems/<type>` on the "
    "gateway, and this document's `x-problem-codes`, list every code with its meaning."
)
FIELD_CODE_DESCRIPTION = (
    "The reason as a stable snake_case code: one of `x-problem-codes` (listed at "
    "`/problems/validation-error`), or pydantic's error type for the input's shape "
    "(`missing`, `string_too_long`, ...). Read it as a string: new codes may appear."
)

log = logging.getLogger("ishc.problems")


class FieldError(BaseModel):
    """One reason why one input field was refused."""

    location: str
    field: str
    reason: str
    code: str = Field(description=FIELD_CODE_DESCRIPTION)


class ProblemDetails(BaseModel):
    """The body of every error answer (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description=CODE_DESCRIPTION)
    instance: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """Base of all domain errors. A subclass names its problem type by `slug`; its status,
    title and default code come from the catalogue (`common/problem_codes.py`). A raise site
    with a specific reason passes its `code`, which must be one of the type's codes."""

    slug: ClassVar[str] = "internal-error"
    status: int = 500
    title: str = "Internal Server Error"
    default_code: ClassVar[Code] = Code.INTERNAL_ERROR

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = TYPES[cls.slug]
        cls.status, cls.title = kind.status, kind.title
        cls.default_code = problem_codes.default_code(kind)

    def __init__(
        self,
        detail: str,
        *,
        code: Code | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        code = self.default_code if code is None else code
        assert code in CATALOGUE, f"{code!r} is not in the catalogue of codes"
        self.code = Code(code)
        assert CATALOGUE[self.code].type.slug == self.slug, f"{self.code} is no {self.slug}"
        assert all(problem_codes.is_field_code(e.code) for e in errors or ()), errors
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str | None = None, language: Language = ENGLISH) -> dict[str, Any]:
        """The problem as JSON, in English or in Vietnamese (title, detail, reasons; the
        codes, fields and extensions are the same in both)."""
        errors = self.errors if language == ENGLISH else errors_in_vietnamese(self.errors)
        data: dict[str, Any] = {
            "type": PROBLEM_BASE_URI + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code.value,
        }
        if language == VIETNAMESE:
            data["title"] = problem_texts_vi.title(self.slug, self.title)
            reasons = [(error.field, error.reason) for error in errors or ()]
            data["detail"] = problem_texts_vi.detail(self.code, self.detail, reasons)
        if instance:
            data["instance"] = instance
        if errors is not None:
            data["errors"] = [error.model_dump() for error in errors]
        data.update(self.extensions)
        return data


def errors_in_vietnamese(errors: list[FieldError] | None) -> list[FieldError] | None:
    """Field errors with their reasons in Vietnamese (fields and codes as they are)."""
    if errors is None:
        return None
    return [
        error.model_copy(update={"reason": problem_texts_vi.reason(error.code, error.reason)})
        for error in errors
    ]


class BadRequest(Problem):
    slug = "bad-request"


def _quotable(text: str) -> str:
    """RFC 6750 §3: an error_description is printable ASCII without `"` or `\\`; the detail
    may quote what the client sent (a client id in any script), which a header cannot carry."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)


class Unauthorized(Problem):
    slug = "unauthorized"

    def __init__(
        self, detail: str, *, code: Code, error: str = "invalid_token", **extensions: Any
    ) -> None:
        description = _quotable(detail)
        challenge = f'Bearer realm="ishc", error="{error}", error_description="{description}"'
        super().__init__(
            detail, code=code, headers={"WWW-Authenticate": challenge}, error=error, **extensions
        )


class Forbidden(Problem):
    slug = "forbidden"


class NotFound(Problem):
    slug = "not-found"


class Conflict(Problem):
    slug = "conflict"


class PreconditionFailed(Problem):
    slug = "precondition-failed"


class PayloadTooLarge(Problem):
    slug = "payload-too-large"


class UnsupportedMediaType(Problem):
    slug = "unsupported-media-type"


class ValidationFailed(Problem):
    slug = "validation-error"


class DatabaseBusy(Problem):
    """Lock contention that outlasted the wait: the database is up, retrying soon succeeds."""

    slug = "database-busy"


class TooManyRequests(Problem):
    slug = "too-many-requests"

    def __init__(
        self, detail: str, *, code: Code, retry_after: int, headers: dict[str, str] | None = None
    ) -> None:
        every = {**(headers or {}), "Retry-After": str(retry_after)}
        super().__init__(detail, code=code, headers=every)


class Gone(Problem):
    slug = "gone"


class ServiceUnavailable(Problem):
    slug = "service-unavailable"


class GatewayTimeout(Problem):
    slug = "gateway-timeout"


class MethodNotAllowed(Problem):
    slug = "method-not-allowed"


def field_error(
    field: str, reason: str, location: str = "body", *, code: Code = Code.INVALID
) -> FieldError:
    return FieldError(location=location, field=field, reason=reason, code=code.value)


def invalid(
    field: str, reason: str, location: str = "body", *, code: Code = Code.INVALID
) -> ValidationFailed:
    """A 422 for one field, for rules that pydantic cannot express (they need the database)."""
    return ValidationFailed(
        f"{field}: {reason}", errors=[field_error(field, reason, location, code=code)]
    )


def rule_error(code: Code, reason: str) -> PydanticCustomError:
    """What a pydantic validator (or a rule it calls) raises: the field error's `code` and
    its `reason` as given (no context is passed, so braces in it are kept as they are)."""
    return PydanticCustomError(code.value, reason)


def problem_language(headers: Mapping[str, str] | None) -> Language:
    """The language a problem answers in: Vietnamese when the request's `Accept-Language`
    prefers it, else English."""
    return preferred_language(headers.get("accept-language") if headers is not None else None)


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    """The problem+json answer, in the language the request prefers (`Content-Language`
    says which)."""
    instance = request.url.path if request is not None else None
    language = problem_language(request.headers if request is not None else None)
    return JSONResponse(
        problem.body(instance, language),
        status_code=problem.status,
        headers={**problem.headers, "Content-Language": language},
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    errors: dict[tuple[str, str, str], FieldError] = {}
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        location = loc[0] if loc else "body"
        field = ".".join(loc[1:]) or location
        reason = error.get("msg", "invalid")
        # pydantic's error type (`missing`, `string_too_long`) or a rule's own code
        code = error.get("type", Code.INVALID.value)
        # A body shared by a route and its dependencies is validated once per declaration;
        # a dict keeps one of each (in order) without comparing every pair.
        errors.setdefault(
            (location, field, reason),
            FieldError(location=location, field=field, reason=reason, code=code),
        )
    return list(errors.values())


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        problem = BadRequest("The request body is not valid JSON.", code=Code.MALFORMED_JSON)
        return problem_response(problem, request)
    errors = _field_errors(exc)
    summary = "; ".join(f"{e.field}: {e.reason}" for e in errors[:5])
    return problem_response(ValidationFailed(f"Invalid input: {summary}", errors=errors), request)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = str(exc.detail) if exc.detail else HTTPStatus(exc.status_code).phrase
    kind, code = _HTTP_PROBLEMS.get(exc.status_code, (Problem, None))
    headers = dict(exc.headers or {})
    if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        allowed = methods_at(request.app, request.url.path)
        if allowed:
            headers["Allow"] = ", ".join(sorted(allowed))
    problem = kind(detail, code=code, headers=headers)
    return problem_response(problem, request)


_HTTP_PROBLEMS: dict[int, tuple[type[Problem], Code | None]] = {
    400: (BadRequest, Code.MALFORMED_BODY),  # a form or multipart body that does not parse
    404: (NotFound, None),  # no such path
    405: (MethodNotAllowed, None),
}
"""The framework's own refusals (the only statuses it raises), as the platform's problems."""
_INTEGRITY_CODES: dict[db_errors.IntegrityKind, Code] = {
    "unique": Code.ALREADY_EXISTS,
    "foreign_key": Code.UNKNOWN_REFERENCE,
    "check": Code.CONSTRAINT_VIOLATED,
    "not_null": Code.MISSING,
}


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
    code = _INTEGRITY_CODES.get(cause.kind)
    if code is None:
        log.error(
            "unclassified integrity error on %s (request %s): %s",
            request.url.path, _request_id(request), cause.describe(),
        )  # fmt: skip
        return _unexpected(request, "a database constraint")
    errors = [field_error(name, cause.reason, code=code) for name in cause.fields] or None
    if code is Code.ALREADY_EXISTS:
        detail = f"{fields}: already taken by another record."
        return problem_response(Conflict(detail, code=code, errors=errors), request)
    # Without fields to name (SQLite names no column of a CHECK), the problem's code says it.
    problem = ValidationFailed(
        f"{fields}: {cause.reason}.", code=Code.VALIDATION_ERROR if errors else code, errors=errors
    )
    return problem_response(problem, request)


async def _on_database_down(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationalError | InterfaceError)
    if isinstance(exc.orig, QueryCanceled):
        log.warning("statement timeout on %s", request.url.path)
        detail = "The figures took longer than this service allows; ask for a smaller area."
        problem = ServiceUnavailable(detail, code=Code.STATEMENT_TIMEOUT)
        return problem_response(problem, request)
    lock = db_errors.lock_contention(exc)
    if lock is not None:
        log.warning("lock contention on %s: %s", request.url.path, lock)
        detail = "The database is busy with other changes to the same records; retry shortly."
        return problem_response(DatabaseBusy(detail, headers={"Retry-After": "1"}), request)
    log.error("database error on %s: %s", request.url.path, db_errors.describe(exc))
    problem = ServiceUnavailable("The database is not reachable.", code=Code.DATABASE_UNREACHABLE)
    return problem_response(problem, request)


async def _on_out_of_range(request: Request, exc: Exception) -> JSONResponse:
    # Input validation should have caught it; the database is the last line, not a 500.
    assert isinstance(exc, DataError)
    log.warning("data error on %s: %s", request.url.path, db_errors.describe(exc))
    return problem_response(
        ValidationFailed("A value is out of the range the database holds.", code=Code.OUT_OF_RANGE),
        request,
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
