"""Every problem carries a stable code from one catalogue (`common/problem_codes.py`).

The source is walked: a raise site of a reason that has its own codes names one, and every
code of the catalogue is used somewhere (or is a problem type's own code), so the catalogue
neither misses a reason nor lists one the platform never gives.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from common import clock, problem_codes
from common.problem_codes import CATALOGUE, CONFLICT, PYDANTIC_ERROR_TYPES, TYPES, Code, codes_of
from common.problems import Conflict, Problem, ValidationFailed, field_error
from tests.factories import club_payload, make_club, member_payload
from tests.support import assert_problem
from tools.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("common", "gateway", "services")
NAMED_REASONS = frozenset(
    {
        "Conflict",
        "Forbidden",
        "PreconditionFailed",
        "ServiceUnavailable",
        "BadRequest",
        "UnsupportedMediaType",
        "Unauthorized",
        "TooManyRequests",
    }
)
"""Problem classes whose every raise site names its reason by a specific code."""
JSON_BODY = {"Content-Type": "application/json"}


def _calls() -> Iterator[tuple[str, ast.Call]]:
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", node


def _name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _codes_given() -> set[Code]:
    """The `Code.X` members the platform's code names outside the catalogue."""
    given = set()
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "common" / "problem_codes.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "Code"
                ):
                    given.add(Code[node.attr])
    return given


def test_every_conflict_names_its_reason() -> None:
    unnamed = [
        place
        for place, call in _calls()
        if _name(call) == "Conflict" and not any(k.arg == "code" for k in call.keywords)
    ]
    assert not unnamed, f"Conflict(...) without code=: {unnamed}"


def test_every_specific_refusal_names_its_reason() -> None:
    unnamed = [
        f"{place} {_name(call)}"
        for place, call in _calls()
        if _name(call) in NAMED_REASONS and not any(k.arg == "code" for k in call.keywords)
    ]
    assert not unnamed, f"raised without code=: {unnamed}"


def _problem_classes() -> dict[str, type[Problem]]:
    found: dict[str, type[Problem]] = {}
    pending = [Problem]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending += cls.__subclasses__()
    return found


def test_every_raise_site_gives_a_code_of_its_problem_s_type() -> None:
    """`Unauthorized(..., code=Code.X)` with an X of another type fails only when raised (an
    assertion, a 500): found here, at every literal raise site, instead."""
    classes = _problem_classes()
    wrong = []
    for place, call in _calls():
        cls = classes.get(_name(call) or "")
        if cls is None or cls is Problem:
            continue
        for keyword in call.keywords:
            value = keyword.value
            if (
                keyword.arg == "code"
                and isinstance(value, ast.Attribute)
                and isinstance(value.value, ast.Name)
                and value.value.id == "Code"
            ):
                slug = CATALOGUE[Code[value.attr]].type.slug
                if slug != cls.slug:
                    wrong.append(f"{place} {cls.__name__}(code=Code.{value.attr}) is {slug}")
    assert not wrong, wrong


def test_every_code_of_the_catalogue_is_given_somewhere() -> None:
    used = _codes_given()
    defaults = {problem_codes.default_code(kind) for kind in TYPES.values()}
    unused = set(Code) - used - defaults
    assert not unused, f"codes in the catalogue that nothing gives: {sorted(unused)}"


def test_the_catalogue_describes_every_code_and_type() -> None:
    assert set(CATALOGUE) == set(Code)
    for code, info in CATALOGUE.items():
        assert code.value.isidentifier() and code.value == code.value.lower(), code
        assert info.description.endswith("."), code
        assert info.type.slug in TYPES
    for kind in TYPES.values():
        assert problem_codes.default_code(kind) in CATALOGUE, kind.slug
    # A code that is also one of pydantic's types would mean two things.
    assert set(Code) & PYDANTIC_ERROR_TYPES == {Code.MISSING}


def test_each_problem_class_takes_its_type_from_the_catalogue() -> None:
    def subclasses(cls: type[Problem]) -> Iterator[type[Problem]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for cls in subclasses(Problem):
        kind = TYPES[cls.slug]
        assert (cls.status, cls.title) == (kind.status, kind.title)
        assert CATALOGUE[cls.default_code].type == kind


def test_a_problem_refuses_a_code_of_another_type() -> None:
    with pytest.raises(AssertionError):
        Conflict("x", code=Code.NOT_FOUND)
    with pytest.raises(AssertionError):
        Conflict("x", code="no_such_code")  # type: ignore[arg-type]
    with pytest.raises(AssertionError):
        ValidationFailed("x", errors=[field_error("a", "b").model_copy(update={"code": "typo"})])
    body = Conflict("x", code=Code.FUND_OVERDRAFT).body()
    assert body["code"] == "fund_overdraft" and body["type"] == "/problems/conflict"


# --- through the gateway ----------------------------------------------------------------------


def test_a_conflict_answers_the_code_of_its_reason(admin: httpx.Client) -> None:
    club = make_club(admin)
    again = admin.post("/api/v1/clubs", json=club_payload(code=club["code"]))
    problem = assert_problem(again, 409)
    assert problem["code"] == "already_exists" and problem["type"] == "/problems/conflict"
    fund = admin.post("/api/v1/funds", json={"club_id": club["id"], "kind": "activity"})
    assert fund.status_code in (200, 201), fund.text
    spend = {"amount": 1_000, "occurred_on": clock.today().isoformat(), "reference": "Tết"}
    refused = assert_problem(
        admin.post(f"/api/v1/funds/{fund.json()['id']}/expenses", json=spend), 409
    )
    assert refused["code"] == "fund_overdraft"


def test_a_field_error_of_the_input_s_shape_carries_pydantic_s_type(admin: httpx.Client) -> None:
    payload = club_payload(name="x" * 1_000)
    del payload["province_code"]
    problem = assert_problem(admin.post("/api/v1/clubs", json=payload), 422)
    assert problem["code"] == "validation_error"
    codes = {error["field"]: error["code"] for error in problem["errors"]}
    assert codes["province_code"] == "missing" and codes["name"] == "string_too_long"


def test_a_rule_s_field_error_carries_the_rule_s_code(admin: httpx.Client) -> None:
    unknown = admin.post("/api/v1/funds", json={"club_id": 2**31 - 1, "kind": "activity"})
    assert assert_problem(unknown, 422, "club_id")["errors"][0]["code"] == "unknown_reference"
    typo = assert_problem(admin.get("/api/v1/clubs", params={"provice": "19"}), 422, "provice")
    assert typo["errors"][0]["code"] == "unknown_parameter"
    twice = admin.post("/api/v1/clubs", content=b'{"name": "a", "name": "b"}', headers=JSON_BODY)
    assert assert_problem(twice, 422)["errors"][0]["code"] == "duplicate_key"
    member = member_payload(phone="12345", full_name="R2-D2")
    club = make_club(admin)
    refused = assert_problem(admin.post(f"/api/v1/clubs/{club['id']}/members", json=member), 422)
    codes = {error["field"]: error["code"] for error in refused["errors"]}
    assert codes == {"phone": "invalid_phone", "full_name": "invalid_name"}


def test_the_framework_s_own_refusals_carry_codes(stack: Stack) -> None:
    missing = assert_problem(httpx.get(stack.gateway_url + "/api/v1/clubs"), 401)
    assert missing["code"] == "token_missing" and missing["error"] == "invalid_request"
    not_json = httpx.post(stack.gateway_url + "/auth/token", content=b"{", headers=JSON_BODY)
    assert assert_problem(not_json, 400)["code"] == "malformed_json"
    assert assert_problem(httpx.delete(stack.gateway_url + "/auth/me"), 405)["code"] == (
        "method_not_allowed"
    )


def test_the_conflict_page_lists_its_codes_in_html(stack: Stack) -> None:
    page = httpx.get(stack.gateway_url + "/problems/conflict")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in page.text and "<table>" in page.text
    for code in codes_of(CONFLICT):
        assert f"<code>{code.value}</code>" in page.text
    assert (
        "fund_overdraft" in page.text and "src=" not in page.text and 'href="http' not in page.text
    )
    index = httpx.get(stack.gateway_url + "/problems", headers={"Accept": "text/html"})
    assert index.status_code == 200 and 'href="/problems/conflict"' in index.text


def test_the_conflict_page_answers_json_to_who_prefers_it(stack: Stack) -> None:
    for accept in ("application/json", "text/html;q=0.5, application/json"):
        page = httpx.get(stack.gateway_url + "/problems/conflict", headers={"Accept": accept})
        assert page.status_code == 200 and page.headers["content-type"] == "application/json"
        body = page.json()
        assert (body["type"], body["status"]) == ("/problems/conflict", 409)
        codes = {entry["code"]: entry for entry in body["codes"]}
        assert codes["fund_overdraft"]["description"] and set(codes) == set(codes_of(CONFLICT))
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    html = httpx.get(stack.gateway_url + "/problems/conflict", headers={"Accept": browser})
    assert html.headers["content-type"].startswith("text/html")
    index = httpx.get(stack.gateway_url + "/problems", headers={"Accept": "application/json"})
    assert {kind["type"] for kind in index.json()["types"]} == {
        f"/problems/{slug}" for slug in TYPES
    }


def test_every_problem_type_s_page_resolves_and_an_unknown_one_is_a_404(stack: Stack) -> None:
    for slug in TYPES:
        assert httpx.get(stack.gateway_url + f"/problems/{slug}").status_code == 200, slug
    unknown = assert_problem(httpx.get(stack.gateway_url + "/problems/teapot"), 404)
    assert unknown["code"] == "not_found"


def test_the_api_document_carries_the_catalogue(stack: Stack) -> None:
    document = httpx.get(stack.gateway_url + "/openapi.json").json()
    listed = document["x-problem-codes"]
    assert set(listed) == {code.value for code in Code}
    assert listed["fund_overdraft"] == {
        "type": "/problems/conflict",
        "status": 409,
        "description": CATALOGUE[Code.FUND_OVERDRAFT].description,
    }
    schemas = document["components"]["schemas"]
    for name in ("ProblemDetails", "FieldError"):
        code = schemas[name]["properties"]["code"]
        assert (
            code["type"] == "string" and "enum" not in code and "/problems" in code["description"]
        )
        assert "code" in schemas[name]["required"]
