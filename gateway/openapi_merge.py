"""One OpenAPI document for the whole platform, merged from the gateway's and the services'.

A service's operations appear under their public paths only if the routing table sends that
prefix to that service, so the document never promises a path the gateway does not route.
"""

import asyncio
import copy
import json
import re
import time
from typing import Any

import httpx

from common import problem_codes
from common.openapi import PROBLEM_REF
from common.problems import PROBLEM_MEDIA_TYPE
from gateway.proxy import API_PREFIX, ROUTES

CACHE_SECONDS = 30.0
FETCH_TIMEOUT_SECONDS = 3.0


def _routed_to(service: str, path: str) -> bool:
    if not path.startswith(API_PREFIX):
        return False
    route = ROUTES.get(path[len(API_PREFIX) :].split("/", 1)[0])
    return route is not None and route.service == service


def _rename_refs(document: Any, renames: dict[str, str]) -> Any:
    text = json.dumps(document)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    return json.loads(text)


TOO_MANY_CALLS = {
    "description": "Over the caller's calls a minute (its role's fair use): wait the "
    "Retry-After seconds",
    "headers": {
        "Retry-After": {
            "description": "Seconds until a call is allowed again",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
    "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}},
}


def _rate_limited(path_item: dict[str, Any]) -> dict[str, Any]:
    """A routed path's operations, each with the 429 the gateway's fair use may answer
    (`gateway/fair_use.py`): the services never see those calls, so their documents omit it."""
    for operation in path_item.values():
        if isinstance(operation, dict) and "responses" in operation:
            operation["responses"].setdefault("429", TOO_MANY_CALLS)
    return path_item


_SCHEMA_REF = re.compile(r'"#/components/schemas/([^"]+)"')


def _referenced_only(merged: dict[str, Any]) -> None:
    """Drops the schemas nothing in the document leads to: those of a service's operations the
    gateway does not route, or answers itself (`ClubsHoldings`: the gateway gathers a member's
    holdings), were left in the merged document."""
    schemas: dict[str, Any] = merged["components"]["schemas"]
    outside = {key: value for key, value in merged.items() if key != "components"}
    outside["components"] = {k: v for k, v in merged["components"].items() if k != "schemas"}
    wanted = set(_SCHEMA_REF.findall(json.dumps(outside)))
    todo = list(wanted)
    while todo:
        for name in _SCHEMA_REF.findall(json.dumps(schemas.get(todo.pop(), {}))):
            if name not in wanted:
                wanted.add(name)
                todo.append(name)
    for name in [name for name in schemas if name not in wanted]:
        del schemas[name]


def merge(
    gateway_doc: dict[str, Any], service_docs: dict[str, dict[str, Any] | None]
) -> dict[str, Any]:
    merged = copy.deepcopy(gateway_doc)
    schemas = merged.setdefault("components", {}).setdefault("schemas", {})
    missing = []
    for service, doc in service_docs.items():
        if doc is None:
            missing.append(service)
            continue
        theirs = doc.get("components", {}).get("schemas", {})
        # Same name, different shape: the service's schema gets the service's name in front.
        renames = {
            name: f"{service.title()}{name}"
            for name, schema in theirs.items()
            if name in schemas and schemas[name] != schema
        }
        doc = _rename_refs(doc, renames)
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(renames.get(name, name), schema)
        for path, item in doc.get("paths", {}).items():
            if _routed_to(service, path):
                merged["paths"][path] = _rate_limited(item)
    merged["paths"] = dict(sorted(merged["paths"].items()))
    _referenced_only(merged)
    merged["servers"] = [{"url": "/", "description": "This gateway"}]
    # Every code a problem (or a field error) can carry: code → type, status, meaning.
    merged["x-problem-codes"] = problem_codes.openapi_extension()
    if missing:
        merged["info"]["description"] += (
            "\n\n**Not shown now (service unreachable):** " + ", ".join(sorted(missing)) + "."
        )
        merged["info"]["x-unavailable-services"] = sorted(missing)
    return merged


class MergedOpenAPI:
    """Fetches the services' documents, merges them, and keeps the result briefly."""

    def __init__(self, upstreams: dict[str, str]) -> None:
        self.upstreams = upstreams
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0
        self._lock = asyncio.Lock()

    async def _fetch(self, client: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
        try:
            response = await client.get(url.rstrip("/") + "/openapi.json")
            response.raise_for_status()
            document: dict[str, Any] = response.json()
            return document
        except (httpx.HTTPError, ValueError):
            return None

    async def document(self, gateway_doc: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:
            fresh = time.monotonic() - self._cached_at < CACHE_SECONDS
            if self._cached is not None and fresh:
                return self._cached
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS) as client:
                names = list(self.upstreams)
                docs = await asyncio.gather(
                    *(self._fetch(client, self.upstreams[n]) for n in names)
                )
            merged = merge(gateway_doc, dict(zip(names, docs, strict=True)))
            complete = all(doc is not None for doc in docs)
            # An incomplete document is served but not kept, so a recovered service shows at once.
            self._cached, self._cached_at = (merged, time.monotonic()) if complete else (None, 0.0)
            return merged
