"""The merged OpenAPI document is a contract standard tools accept.

`openapi-python-client` generates a client from the gateway's document with no warning and
every operation; then a short scenario runs through the generated client only: a club and a
member registered, capital into its fund, a loan disbursed and repaid, a bank batch posted,
funded clubs read. Redocly's recommended rules find no error in it.
"""

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import typing
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.factories import club_payload, member_payload
from tests.support import Api
from tests.test_bank_loans import record
from tests.test_loans import RULES
from tools.stack import Stack

PACKAGE = "ishc_platform_api_client"
REDOCLY = "@redocly/cli@2.77.0"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def generated(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("generated")
    document = httpx.get(stack.gateway_url + "/openapi.json").json()
    (folder / "openapi.json").write_text(json.dumps(document))
    tools = Path(sys.executable).parent  # the generator formats its output with ruff
    result = subprocess.run(
        [str(tools / "openapi-python-client"), "generate", "--path", "openapi.json",
         "--output-path", "client"],
        cwd=folder, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output and "Skipping" not in output, output
    operations = sum(m in METHODS for item in document["paths"].values() for m in item)
    modules = [p for p in (folder / "client" / PACKAGE / "api").rglob("*.py")
               if p.name != "__init__.py"]  # fmt: skip
    assert len(modules) == operations
    sys.path.insert(0, str(folder / "client"))
    try:
        yield folder / "client"
    finally:
        sys.path.remove(str(folder / "client"))
        for name in [n for n in sys.modules if n.startswith(PACKAGE)]:
            del sys.modules[name]


class Generated:
    """Calls operations of the generated client by module name, bodies given as dicts."""

    def __init__(self, base_url: str, token: str) -> None:
        client_module = importlib.import_module(f"{PACKAGE}.client")
        self.client = client_module.AuthenticatedClient(base_url=base_url, token=token)

    def __call__(self, operation: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        module: ModuleType = importlib.import_module(f"{PACKAGE}.api.{operation}")
        if body is not None:
            body_type = typing.get_type_hints(module.sync_detailed)["body"]
            params["body"] = body_type.from_dict(body)
        response = module.sync_detailed(client=self.client, **params)
        assert response.status_code < 300, (operation, response.status_code, response.content)
        assert response.parsed is not None, operation
        return response.parsed.to_dict()


def test_a_generated_client_runs_the_programme(generated: Path, api: Api) -> None:
    call = Generated(api.base_url, api.admin_token)
    club = call("clubs.create_club_api_v1_clubs_post", club_payload())
    member = call("members.create_member_api_v1_clubs_club_id_members_post", member_payload(),
                  club_id=club["id"])  # fmt: skip
    fund = call("funds.open_fund_api_v1_funds_post",
                {"club_id": club["id"], "kind": "income_generation"})  # fmt: skip
    call("funds.add_capital_api_v1_funds_fund_id_capital_post",
         {"amount": 20_000_000, "occurred_on": "2024-01-01", "origin": "seed"},
         fund_id=fund["id"])  # fmt: skip
    call("loan_rules.set_loan_rules_api_v1_funds_fund_id_loan_rules_put", RULES,
         fund_id=fund["id"])  # fmt: skip
    application = {
        "club_id": club["id"],
        "member_id": member["id"],
        "amount": 5_000_000,
        "applied_on": "2024-01-10",
        "purpose": "Buy two piglets",
        "form": "cash",
    }
    loan = call("loans.apply_for_loan_api_v1_loans_post", application)
    call("loans.approve_loan_api_v1_loans_loan_id_approve_post", loan_id=loan["id"])
    call("loans.disburse_loan_api_v1_loans_loan_id_disburse_post",
         {"disbursed_on": "2024-01-15"}, loan_id=loan["id"])  # fmt: skip
    call("loans.record_repayment_api_v1_loans_loan_id_repayments_post",
         {"amount": 500_000, "paid_on": "2024-02-15", "reference": "meeting"},
         loan_id=loan["id"], idempotency_key=str(uuid.uuid4()))  # fmt: skip
    fund_now = call("funds.get_fund_api_v1_funds_fund_id_get", fund_id=fund["id"])
    assert fund_now["balance"] == 20_000_000 - 5_000_000 + 500_000

    bank = Generated(api.base_url, api.token_for("bank"))
    records = [record(borrower_national_id=member["national_id"]), record()]
    batch = bank("bank_loans.post_batch_api_v1_bank_loans_batches_post", {"records": records},
                 idempotency_key=str(uuid.uuid4()))  # fmt: skip
    assert [r["outcome"] for r in batch["results"]] == ["created", "created"]

    funded = call("funded_clubs.funded_clubs_api_v1_funded_clubs_get")
    assert "items" in funded and "total" in funded


def test_redocly_finds_no_error_in_the_document(generated: Path) -> None:
    """Redocly's CLI comes from the npm registry at its first run: a machine without Node.js
    or without the registry skips this, except in CI (`ISHC_REQUIRE_TOOLS`)."""
    npx = shutil.which("npx")
    if npx is None:
        _without_tool("no Node.js here (npx) to run Redocly's linter")
    result = subprocess.run(
        [npx, "--yes", REDOCLY, "lint", "openapi.json", "--format", "summary"],
        cwd=generated.parent, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = result.stdout + result.stderr
    if result.returncode != 0 and re.search(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT", output):
        _without_tool(f"npx could not fetch {REDOCLY}: {output[-300:]}")
    assert result.returncode == 0 and "error" not in output.lower(), output


def _without_tool(reason: str) -> None:
    if os.environ.get("ISHC_REQUIRE_TOOLS"):
        pytest.fail(f"{reason} (ISHC_REQUIRE_TOOLS is set: CI must have it)")
    pytest.skip(reason)
