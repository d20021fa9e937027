"""A query parameter that no operation declares is refused, never ignored.

`?provice=19` (a typo) or `?updated_since=…` (a parameter from another API) used to answer
every row as if nothing had been asked, and a machine client would never notice. Every
documented operation now answers 422 naming the parameters it does not take. The names a route
takes are read once from its FastAPI dependencies (its own and its dependencies' queries).
"""

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from common.problem_codes import Code
from common.problems import ValidationFailed, field_error

UNKNOWN = "not a parameter of this operation"
_DECLARED = "_ishc_declared_query"
"""Where a route keeps its names once read (routes are not hashable, and live with the app)."""


def declared_query(route: APIRoute) -> frozenset[str]:
    """The query parameters a route reads, by the names clients send."""
    found: frozenset[str] | None = getattr(route, _DECLARED, None)
    if found is None:
        found = frozenset(_queries(route.dependant))
        setattr(route, _DECLARED, found)
    return found


def _queries(dependant: Dependant) -> set[str]:
    names: set[str] = set()
    for field in dependant.query_params:
        annotation = field.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.update(info.alias or name for name, info in annotation.model_fields.items())
        else:
            names.add(field.alias)
    for sub in dependant.dependencies:
        names |= _queries(sub)
    return names


async def refuse_unknown_query(request: Request) -> None:
    """An app-wide dependency: 422 for any query parameter the operation does not declare.
    Undocumented routes (the gateway's pass-through, the documents) are left alone."""
    if not request.scope.get("query_string"):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return
    allowed = declared_query(route)
    unknown = sorted({name for name in request.query_params if name not in allowed})
    if unknown:
        raise ValidationFailed(
            f"{', '.join(unknown)}: {UNKNOWN}",
            errors=[
                field_error(name, UNKNOWN, "query", code=Code.UNKNOWN_PARAMETER) for name in unknown
            ],
        )
