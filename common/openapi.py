"""OpenAPI documents that tell the truth about errors: every error is problem+json."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from common.problems import PROBLEM_MEDIA_TYPE, ProblemDetails

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
_ERRORS_OF_EVERY_CALL = {"400": "Malformed request", "415": "Unsupported content type"}
_ERRORS_OF_SECURED_CALLS = {
    "401": "Missing, invalid or expired token",
    "403": "The caller's role may not do this",
}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}}


def problem_aware_openapi(app: FastAPI) -> dict[str, Any]:
    """Rewrites FastAPI's default 422 and adds the error answers every operation can give."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["ProblemDetails"] = problem_schema
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status.startswith(("4", "5")) and status != "422":
                    content = response.get("content") or {}
                    if not content or "application/json" in content:
                        response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
            responses["422"] = _problem_response("Invalid input, with the field errors")
            for status, description in _ERRORS_OF_EVERY_CALL.items():
                responses.setdefault(status, _problem_response(description))
            if operation.get("security"):
                for status, description in _ERRORS_OF_SECURED_CALLS.items():
                    responses.setdefault(status, _problem_response(description))
    app.openapi_schema = schema
    return schema
