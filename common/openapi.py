"""OpenAPI documents that tell the truth about errors: every error is problem+json."""

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from common import clock
from common.json_body import TEXT_PATTERN, is_json
from common.problems import PROBLEM_MEDIA_TYPE, ProblemDetails

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
_ERRORS_OF_EVERY_CALL = {
    "400": "Malformed request",
    "415": "Unsupported content type",
    "503": "A service or its database is unavailable, or busy (then with Retry-After)",
    "504": "The service did not answer in time",
}
_ERRORS_OF_SECURED_CALLS = {
    "401": "Missing, invalid or expired token",
    "403": "The caller's role may not do this",
}
_ERRORS_OF_WRITES = {"409": "Conflicts with the stored data or a concurrent change"}
_ERRORS_OF_BODIES = {"413": "The body is larger than the limit"}
_ERRORS_OF_PATHS = {"404": "No such object, or none the caller may see"}
_ERRORS_OF_FILTERS = {
    "404": "The object a filter names does not exist, or the caller may not see it"
}
OBJECT_FILTERS = frozenset({"province", "commune", "programme"})
"""Query parameters that name one object (as do the `…_id` ones): a filter on an unknown one,
or on one out of the caller's scope, answers 404 rather than an empty list."""
AREA_FILTERS = frozenset({"province", "commune"})
"""Fields of a body that filter by area (`POST /api/v1/loans/indicators`), answering 404 as
a query's do; a record's own place is `province_code`, `commune_code`, and its `…_id` fields
and `programme` are what it refers to (refused with 409 or 422)."""
_ERRORS_OF_HEADERS = {"if-match": {"412": "The object changed since the ETag was read"}}
WRITE_METHODS = ("post", "put", "patch", "delete")
IDEMPOTENCY_HEADER = "idempotency-key"
REQUIRED_MARK = "x-ishc-required"
_TEXT_IS_CONSTRAINED = frozenset({"pattern", "enum", "const", "format", "contentMediaType"})
_SUBSCHEMAS = ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems")
_BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}}


def problem_aware_openapi(app: FastAPI) -> dict[str, Any]:
    """Rewrites FastAPI's default 422 and adds the error answers every operation can give."""
    # Rebuilt each day in Vietnam: date ranges that end today say so by their year.
    if app.openapi_schema and getattr(app.state, "openapi_day", None) == clock.today():
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        license_info=app.license_info,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["ProblemDetails"] = problem_schema
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            _mark_required_headers(operation)
            _add_error_answers(operation, method, components)
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
            else:
                operation["security"] = []  # open to anyone, said rather than left out
    _link_created_objects(schema.get("paths", {}), components)
    _name_form_bodies(schema)
    _state_text_rule(schema)
    _write_whole_bounds_as_integers(schema)
    app.openapi_schema, app.state.openapi_day = schema, clock.today()
    return schema


def _state_text_rule(schema: dict[str, Any]) -> None:
    """Every JSON body is read by `common/json_body.py`, which refuses control and invisible
    characters in any text: each free text of a request body states it as its pattern."""
    components = schema.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media_type, body in content.items():
                if is_json(media_type):
                    _mark_texts(body.get("schema", {}), components, seen)


def _mark_texts(node: Any, components: dict[str, Any], seen: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _mark_texts(item, components, seen)
        return
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            _mark_texts(components.get(name), components, seen)
        return
    if node.get("type") == "string" and not _TEXT_IS_CONSTRAINED & node.keys():
        node["pattern"] = TEXT_PATTERN
    for value in node.get("properties", {}).values():
        _mark_texts(value, components, seen)
    for keyword in _SUBSCHEMAS:
        if keyword in node:
            _mark_texts(node[keyword], components, seen)


def _write_whole_bounds_as_integers(node: Any) -> None:
    """FastAPI's document model holds bounds as floats (`maximum: 2147483647.0`); an integer's
    bounds are written as integers, as the models state them."""
    if isinstance(node, list):
        for item in node:
            _write_whole_bounds_as_integers(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _BOUNDS and isinstance(value, float) and value.is_integer():
                node[key] = int(value)
            else:
                _write_whole_bounds_as_integers(value)


def _properties(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The properties of an object schema, or of the component it names."""
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    properties: dict[str, Any] = schema.get("properties", {})
    return properties


def _made_object(name: str, response: dict[str, Any], components: dict[str, Any]) -> str | None:
    """Where the answer of a create gives the path parameter `name`, as a JSON pointer: its
    field of that name, its `id`, or the `id` of the object it wraps (a bank's posting answers
    `{batch_id, outcome, bank_loan: {id, …}}`); None when it does not."""
    body = _properties(
        response.get("content", {}).get("application/json", {}).get("schema", {}), components
    )
    if name in body:
        return f"/{name}"
    if "id" in body:
        return "/id"
    wrapped = [field for field, schema in body.items() if "id" in _properties(schema, components)]
    return f"/{wrapped[0]}/id" if len(wrapped) == 1 else None


def _link_created_objects(paths: dict[str, Any], components: dict[str, Any]) -> None:
    """OpenAPI links from each POST that creates an object (201) to the operations on that
    object, `/things` → `/things/{thing_id}…`: clients and fuzzers (the stateful phase) follow
    them from what they made to what they may do with it. The parameter is the answer's field
    of its own name when it has one (a fund entry recording an allocation answers its own `id`
    and the `allocation_id` that `/funds/allocations/{allocation_id}` takes), else its `id` or
    the `id` of the one object it wraps; no link where the answer does not say."""
    for path, path_item in paths.items():
        created = path_item.get("post", {}).get("responses", {}).get("201")
        if created is None:
            continue
        links: dict[str, Any] = {}
        for other, other_item in paths.items():
            tail = other[len(path) :]
            if not other.startswith(path + "/{") or "}" not in tail:
                continue
            name = tail[2 : tail.index("}")]
            parameters = {p: f"$request.path.{p}" for p in _path_parameters(path)}
            made = _made_object(name, created, components)
            if made is None:
                continue  # the answer does not say which object it made
            parameters[name] = f"$response.body#{made}"
            if set(_path_parameters(other)) != set(parameters):
                continue  # it needs more than the created object tells
            for operation in other_item.values():
                if "operationId" in operation:
                    links[operation["operationId"]] = {
                        "operationId": operation["operationId"],
                        "parameters": parameters,
                    }
        if links:
            created["links"] = links


def _name_form_bodies(schema: dict[str, Any]) -> None:
    """FastAPI names a form body after its operation id, path and all
    (`Body_import_members_api_v1_clubs__club_id__members_import_post`); it is named after its
    route instead (`ImportMembersForm`), as every other component is after its domain."""
    components = schema.get("components", {}).get("schemas", {})
    renames = {}
    for name in list(components):
        if name.startswith("Body_") and "_api_" in name:
            route = name[len("Body_") :].split("_api_", 1)[0]
            renames[name] = "".join(word.title() for word in route.split("_")) + "Form"
    if not renames:
        return
    for old, new in renames.items():
        components[new] = components.pop(old)
        components[new]["title"] = new
    text = json.dumps(schema)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    schema.update(json.loads(text))


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _add_error_answers(operation: dict[str, Any], method: str, components: dict[str, Any]) -> None:
    """The answers an operation can give by what it takes: a body, ids in its path, filters
    naming objects (in its query or its body), headers."""
    errors: dict[str, str] = {}
    parameters = operation.get("parameters", [])
    if method in WRITE_METHODS:
        errors.update(_ERRORS_OF_WRITES)
    if "requestBody" in operation:
        errors.update(_ERRORS_OF_BODIES)
    if any(p.get("in") == "path" for p in parameters):
        errors.update(_ERRORS_OF_PATHS)
    elif any(_names_object(p) for p in parameters) or AREA_FILTERS.intersection(
        _body_fields(operation, components)
    ):
        errors.update(_ERRORS_OF_FILTERS)
    for parameter in parameters:
        name = str(parameter.get("name", "")).lower()
        if parameter.get("in") == "header":
            errors.update(_ERRORS_OF_HEADERS.get(name, {}))
            if name == IDEMPOTENCY_HEADER and parameter.get("required"):
                errors["400"] = "Malformed request, or the Idempotency-Key header is missing"
    responses = operation.setdefault("responses", {})
    for status, description in errors.items():
        responses.setdefault(status, _problem_response(description))


def _names_object(parameter: dict[str, Any]) -> bool:
    name = str(parameter.get("name", ""))
    return parameter.get("in") == "query" and (name.endswith("_id") or name in OBJECT_FILTERS)


def _body_fields(operation: dict[str, Any], components: dict[str, Any]) -> list[str]:
    """The top-level fields of an operation's JSON body."""
    content = operation.get("requestBody", {}).get("content", {})
    return list(_properties(content.get("application/json", {}).get("schema", {}), components))


def _mark_required_headers(operation: dict[str, Any]) -> None:
    """A header a dependency checks itself (to answer 400, not 422) is declared optional to
    FastAPI and marked with REQUIRED_MARK: the document says it is required."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter.get("in") == "header" and schema.pop(REQUIRED_MARK, False):
            parameter["required"] = True
            # FastAPI wrote the optional form, `anyOf: [string, null]`: a required one is a string.
            for option in schema.pop("anyOf", []):
                if option.get("type") == "string":
                    schema.update(option)
