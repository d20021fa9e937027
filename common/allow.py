"""What a 405 names in `Allow`: every method the app serves at the path (RFC 9110 §15.5.6)."""

import re

from fastapi import FastAPI

_PARAMETER = re.compile(r"(\{[^}/]+\})")
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def methods_at(app: FastAPI, path: str) -> set[str]:
    """The methods the app's document lists for `path` (HEAD wherever GET is): what a 405's
    `Allow` must name. The framework named only those of the first route whose path matched
    (`PUT /api/v1/funders`: `Allow: POST`, although GET is there too)."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "allow_table", None)
    if table is None:
        table = []
        for template, item in app.openapi().get("paths", {}).items():
            parts = _PARAMETER.split(template)  # the parameters kept, as `{name}`
            pattern = re.compile(
                "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
            )
            methods = {method.upper() for method in item if method in _HTTP_METHODS}
            if "GET" in methods:
                methods.add("HEAD")
            table.append((pattern, methods))
        app.state.allow_table = table
    return {method for pattern, methods in table if pattern.fullmatch(path) for method in methods}
