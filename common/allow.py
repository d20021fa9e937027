"""The methods of each path as the app's document lists them: what a 405 names in `Allow` (RFC
9110 §15.5.6), and which requests a concrete path refuses although a templated one would take
them (OpenAPI matches a concrete path before a templated one)."""

import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

_PARAMETER = re.compile(r"(\{[^}/]+\})")
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class _Path:
    pattern: re.Pattern[str]
    methods: frozenset[str]
    parameters: int


def _path(template: str, item: dict[str, Any]) -> _Path:
    parts = _PARAMETER.split(template)  # the parameters kept, as `{name}`
    pattern = re.compile(
        "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    )
    methods = {method.upper() for method in item if method in _HTTP_METHODS}
    if "GET" in methods:
        methods.add("HEAD")
    return _Path(pattern, frozenset(methods), template.count("{"))


class DocumentedPaths:
    """The document's paths and their methods."""

    def __init__(self, document: dict[str, dict[str, Any]]) -> None:
        templates = {template: _path(template, item) for template, item in document.items()}
        self._paths = list(templates.values())
        # A path another with more parameters also matches (`/api/v1/bank-loans/search`,
        # `/api/v1/bank-loans/{loan_id}`): the router hands the methods it lacks to the other.
        shadowed = {
            template: path
            for template, path in templates.items()
            if any(
                other.parameters > path.parameters and other.pattern.fullmatch(template)
                for other in self._paths
            )
        }
        self._exact = {t: p.methods for t, p in shadowed.items() if not p.parameters}
        self._templated = [p for p in shadowed.values() if p.parameters]

    def methods_at(self, path: str) -> set[str]:
        """The methods of the most concrete paths that match `path` (HEAD wherever GET is). The
        framework named only those of the first route whose path matched (`PUT
        /api/v1/funders`: `Allow: POST`, although GET is there too)."""
        matching = [p for p in self._paths if p.pattern.fullmatch(path)]
        if not matching:
            return set()
        fewest = min(p.parameters for p in matching)
        return {method for p in matching if p.parameters == fewest for method in p.methods}

    def refuses(self, method: str, path: str) -> bool:
        """A method that `path`'s own entry lacks, where a templated entry would take it."""
        methods = self._exact.get(path)
        if methods is None:
            methods = next((p.methods for p in self._templated if p.pattern.fullmatch(path)), None)
        return methods is not None and method not in methods


def documented_paths(app: FastAPI) -> DocumentedPaths:
    """The app's paths, read from its document once (building it takes a fraction of a
    second: the first request pays, in a worker thread when it comes through middleware)."""
    found: DocumentedPaths | None = getattr(app.state, "documented_paths", None)
    if found is None:
        found = app.state.documented_paths = DocumentedPaths(app.openapi().get("paths", {}))
    return found


def methods_at(app: FastAPI, path: str) -> set[str]:
    """What a 405 at `path` names in `Allow`."""
    return documented_paths(app).methods_at(path)
