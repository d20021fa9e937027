"""No figure a partner can ask for tells it another funder's money.

Two funders pay into one plan line and one club of a province no other test writes to (Cần Thơ),
with amounts no other figure has: then every sum over the province is a sum of their two moneys.
Partner A calls every GET route of the published API document that a partner may call, at the
national and the provincial level, with and without periods, dates and file formats, and no
answer may hold one of B's amounts, nor a total of A's and B's (from which A would subtract
its own), in any spelling.
"""

import io
import re
import time
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from common import clock
from gateway.proxy import API_PREFIX, ROUTES
from tests.factories import make_club
from tests.test_funding import line_of, make_funder, make_plan, wait_for_status

pytestmark = pytest.mark.usefixtures("stack")
CAN_THO = "92"
A = {"committed": 33_333_333, "received": 31_111_111, "allocated": 11_111_111}
B = {"committed": 55_555_555, "received": 47_777_777, "shared": 12_222_222, "own": 6_666_666}
PATH_PARAMETER = re.compile(r"\{([a-z_]+)\}")


def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _flow(admin: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    return _ok(admin.post(path, json=body))


@pytest.fixture(scope="module")
def two_funders(admin: httpx.Client, as_role: Callable[..., httpx.Client]) -> dict[str, Any]:
    communes = _ok(
        admin.get(f"/api/v1/locations/provinces/{CAN_THO}/communes", params={"limit": 2})
    )
    codes = [item["code"] for item in communes["items"]]
    shared = make_club(admin, province_code=CAN_THO, commune_code=codes[0])
    theirs_only = make_club(admin, province_code=CAN_THO, commune_code=codes[-1])
    plan = make_plan(admin, province_code=CAN_THO)
    line = line_of(plan, "seed_capital")
    ours, theirs = make_funder(admin, "ngo"), make_funder(admin, "elderly_care_fund")
    flows: dict[str, Any] = {"plan": plan, "club": shared, "ours": ours, "theirs": theirs}
    for funder, amounts, key in ((ours, A, "our"), (theirs, B, "their")):
        base = {"funder_id": funder["id"], "plan_line_id": line["id"]}
        flows[f"{key}_commitment"] = _flow(
            admin, "/api/v1/commitments",
            {**base, "amount": amounts["committed"], "committed_on": "2024-02-01"},
        )  # fmt: skip
        flows[f"{key}_receipt"] = _flow(
            admin, "/api/v1/receipts",
            {**base, "amount": amounts["received"], "received_on": "2024-03-01"},
        )  # fmt: skip
    allocations = [
        (ours, shared, A["allocated"]),
        (theirs, shared, B["shared"]),
        (theirs, theirs_only, B["own"]),
    ]
    for funder, club, amount in allocations:
        allocation = _flow(
            admin,
            "/api/v1/allocations",
            {"funder_id": funder["id"], "plan_line_id": line["id"], "club_id": club["id"],
             "amount": amount, "allocated_on": "2024-04-01", "reference": "seed capital"},
        )  # fmt: skip
        wait_for_status(admin, allocation["id"], "recorded")
        if funder is ours:
            flows["our_allocation"] = allocation
    flows["partner"] = as_role("partner", funder_id=ours["id"])
    return flows


def forbidden_amounts() -> set[int]:
    """B's amounts, B's totals, and every total of A's and B's money of one kind."""
    theirs = set(B.values()) | {B["shared"] + B["own"]}
    allocated = {A["allocated"] + B["shared"], A["allocated"] + B["shared"] + B["own"]}
    return theirs | allocated | {A["committed"] + B["committed"], A["received"] + B["received"]}


def spellings(amount: int) -> list[str]:
    grouped = f"{amount:,}"
    return [str(amount), grouped, grouped.replace(",", "."), grouped.replace(",", " ")]


def text_of(response: httpx.Response) -> str:
    if response.content[:2] == b"PK":  # a spreadsheet: its sheets and shared strings
        with zipfile.ZipFile(io.BytesIO(response.content)) as book:
            return " ".join(book.read(name).decode() for name in book.namelist())
    return response.text


def money_reads(document: dict[str, Any]) -> list[str]:
    """Every GET path of the published document served by the funding service (the registry's
    and the loans service's answers carry no funder's money, or are closed to partners)."""
    return sorted(
        path
        for path, item in document["paths"].items()
        if "get" in item
        and path.startswith(API_PREFIX)
        and ROUTES.get(path[len(API_PREFIX) :].split("/")[0], None) is not None
        and ROUTES[path[len(API_PREFIX) :].split("/")[0]].service == "funding"
    )


def get(client: httpx.Client, path: str, params: dict[str, str]) -> httpx.Response:
    """A GET that waits out the partner's rate limit (300 a minute) when it meets it."""
    while (response := client.get(path, params=params)).status_code == 429:
        time.sleep(float(response.headers.get("Retry-After", "1")))
    return response


def test_no_answer_a_partner_can_get_holds_another_funder_s_money(
    two_funders: dict[str, Any], admin: httpx.Client
) -> None:
    partner: httpx.Client = two_funders["partner"]
    document = _ok(admin.get("/openapi.json"))
    values = {
        "club_id": two_funders["club"]["id"],
        "plan_id": two_funders["plan"]["id"],
        "funder_id": two_funders["ours"]["id"],
        "commitment_id": two_funders["our_commitment"]["id"],
        "receipt_id": two_funders["our_receipt"]["id"],
        "allocation_id": two_funders["our_allocation"]["id"],
        "code": two_funders["plan"]["programme_code"],
        "province_code": CAN_THO,
    }
    today = clock.today().isoformat()
    variants: list[dict[str, str]] = [
        {},
        {"province": CAN_THO},
        {"from": "2024-01-01", "to": today},
        {"province": CAN_THO, "from": "2024-01-01", "to": "2024-12-31"},
        {"on": today},
        {"province": CAN_THO, "on": "2024-06-30"},
        {"funder_id": str(two_funders["ours"]["id"])},
        {"plan_id": str(two_funders["plan"]["id"])},
        {"club_id": str(two_funders["club"]["id"])},
        {"format": "csv"},
        {"format": "xlsx"},
        {"province": CAN_THO, "format": "csv"},
        {"province": CAN_THO, "format": "xlsx"},
    ]
    banned = {spelled: amount for amount in forbidden_amounts() for spelled in spellings(amount)}
    answered: set[str] = set()
    leaks: list[str] = []
    for template in money_reads(document):
        names = PATH_PARAMETER.findall(template)
        path = template
        for name in names:
            path = path.replace(f"{{{name}}}", str(values.get(name, 1)))
        if get(partner, path, {}).status_code in (403, 404):
            continue  # not the partner's to read: every variant would say so
        for params in variants:
            response = get(partner, path, params)
            if response.status_code != 200:
                continue
            answered.add(template)
            body = text_of(response)
            leaks += [
                f"{path}?{params}: {banned[spelled]:,}"
                for spelled in banned
                if re.search(rf"(?<![\d.,]){re.escape(spelled)}(?![\d]|[.,]\d)", body)
            ]
    assert not leaks, leaks
    must_answer = {
        "/api/v1/allocations",
        "/api/v1/commitments",
        "/api/v1/receipts",
        "/api/v1/funded-clubs",
        "/api/v1/funded-clubs/{club_id}",
        "/api/v1/reports/indicators",
        "/api/v1/plans/{plan_id}/execution",
    }
    assert must_answer <= answered, sorted(must_answer - answered)
