"""Every date a request carries is written `YYYY-MM-DD`, and nothing else is taken for one.

pydantic alone reads a number of seconds since 1970 as a date (`from=0` was 1 January 1970,
even in strict mode `"86400"` was 2 January) and a datetime at midnight as its day: the
fuzzer found it. `common.schemas.Day` (and `Years`, which builds on it) refuses them; here every
route of every component is walked, its parameters and bodies down to their nested models,
and any date validated without it fails the test by its place, so a new route cannot forget.
"""

import importlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

from common.problem_codes import Code
from common.schemas import PastDate, ReportDate, WrittenDay
from services.loans.bank import reading, schemas
from tools.stack import FACTORIES

ROOT = Path(__file__).resolve().parent.parent
READ_BY_HAND = {
    "bank loan record": schemas.RECORD,
    "bank loan batch": schemas.BATCH,
    "bank loan batch (quick path)": reading.QUICK_BATCH,
}
"""Bodies a route reads itself (the bank's records, 10,000 at a time), not through FastAPI."""


def _app(component: str) -> FastAPI:
    module, name = FACTORIES[component].split(":")
    app: FastAPI = getattr(importlib.import_module(module), name)()
    return app


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # a router included lazily (FastAPI ≥ 0.160)
            yield from _api_routes(route.original_router.routes)


def _inputs(dependant: Dependant) -> Iterator[Any]:
    yield from (
        *dependant.path_params,
        *dependant.query_params,
        *dependant.header_params,
        *dependant.cookie_params,
        *dependant.body_params,
    )
    for sub in dependant.dependencies:
        yield from _inputs(sub)


def _is_shape_check(node: Any) -> bool:
    return isinstance(node, dict) and node.get("custom_error_type") == Code.DATE_FORMAT.value


def unchecked_dates(schema: Any, where: str = "") -> Iterator[str]:
    """The places in a pydantic core schema where a date is read without `Day`'s check."""
    if isinstance(schema, list):
        for item in schema:
            yield from unchecked_dates(item, where)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "chain" and _is_shape_check(schema["steps"][0]):
        yield from unchecked_dates(schema["steps"][2:], where)
        return
    if schema.get("type") == "date":
        yield where or "the value"
        return
    for key, value in schema.items():
        if key in ("metadata", "serialization", "default"):
            continue
        step = where
        if key in ("fields",) and isinstance(value, dict):
            for name, field in value.items():
                yield from unchecked_dates(field, f"{where}.{name}".lstrip("."))
            continue
        yield from unchecked_dates(value, step)


def _route_inputs() -> Iterator[tuple[str, Any]]:
    for component in FACTORIES:
        for route in _api_routes(_app(component).routes):
            for field in _inputs(route.dependant):
                methods = ",".join(sorted(route.methods or ()))
                yield f"{component} {methods} {route.path} {field.name}", field._type_adapter


def _report() -> None:
    """Prints how many inputs were walked, then each date read without `Day`'s check."""
    inputs = [*_route_inputs(), *READ_BY_HAND.items()]
    print(len(inputs))
    for name, adapter in inputs:
        for place in unchecked_dates(adapter.core_schema):
            print(f"{name}: {place}")


def test_no_route_reads_a_date_without_its_written_form_checked() -> None:
    # In a process of its own: making the apps configures process-wide state (the keys that
    # open personal data, logging) that the session's other tests rely on.
    walked = subprocess.run(
        [sys.executable, "-c", "from tests.test_written_days import _report; _report()"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    count, *found = walked.stdout.splitlines()
    assert int(count) > 300  # every route was walked
    assert not found, "dates read without common.schemas.Day:\n" + "\n".join(found)


def test_the_walk_finds_a_date_without_the_check() -> None:
    class Bare(BaseModel):
        day: date
        days: list[date | None]

    class Checked(BaseModel):
        day: WrittenDay
        since: PastDate | None = None
        period: list[ReportDate]

    assert sorted(unchecked_dates(TypeAdapter(Bare).core_schema)) == ["day", "days"]
    assert list(unchecked_dates(TypeAdapter(Checked).core_schema)) == []


@pytest.mark.parametrize("written", [0, 86400, "0", "86400", "-2.8e-89", "2026-12-07T00:00:00"])
def test_a_number_or_a_datetime_is_no_date(written: object) -> None:
    adapter = TypeAdapter(WrittenDay)
    with pytest.raises(ValidationError) as refused:
        adapter.validate_python(written)
    (error,) = refused.value.errors()
    assert error["type"] == Code.DATE_FORMAT.value
    assert "YYYY-MM-DD" in error["msg"]
    assert adapter.validate_python("2026-12-07") == date(2026, 12, 7)
    assert adapter.validate_json('"2026-12-07"') == date(2026, 12, 7)
