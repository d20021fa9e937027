"""Schemathesis over the merged OpenAPI document, through the gateway with an admin token.

It runs on a platform of its own because fuzzing the admin API changes accounts. Every
operation any service publishes is fuzzed here, so later endpoints are covered automatically.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, _database_urls, _stack
from tests.support import Api
from tools.stack import Stack

MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20")
CLIENTS = int(os.environ.get("SCHEMATHESIS_CLIENTS", "4"))
FIRST_PHASES = os.environ.get("SCHEMATHESIS_FIRST_PHASES", "examples,coverage")
"""The phases run by one client before the concurrent fuzzing (see docs/testing.md)."""
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20261123"))
"""Fixed, so CI fuzzes the same inputs each run; another seed explores others."""
CHECKS = ",".join(
    (
        "not_a_server_error",
        "response_schema_conformance",
        "content_type_conformance",
        # every status and header an answer carries is in the document (429 from the
        # gateway's fair use, 404 for a filter naming an unknown object were not)
        "status_code_conformance",
        "response_headers_conformance",
        # what the document excludes is refused (a date written as a number of seconds, a
        # boolean written 0, a webhook address outside its pattern were taken)
        "negative_data_rejection",
        # what was made can be read, what was deleted cannot
        "ensure_resource_availability",
        "use_after_free",
        # a method a path does not list is a 405 naming those it does (a concrete path's was
        # handed to the templated one beside it), a missing required header a 4xx of the kind
        # clients expect (the Idempotency-Key's was 428)
        "unsupported_method",
        "missing_required_header",
    )
)
"""Not `positive_data_acceptance`: rules across fields and objects (a funder required for an
officer, not for a partner; ids that exist) refuse input the document cannot exclude."""


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("fuzz")
    for urls in _database_urls(tmp, "fuzz"):
        yield from _stack(tmp, urls)


def _command(stack: Stack, token: str, report_dir: Path, phases: str, seed: int) -> list[str]:
    return [
        sys.executable, "-m", "schemathesis.cli", "run", f"{stack.gateway_url}/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS,
        "--max-examples", MAX_EXAMPLES,
        "--workers", "1",
        "--seed", str(seed),
        "--phases", phases,
        "--request-timeout", "20",
        # Fuzzing the token endpoint would lock the admin out (login throttling works);
        # tests/test_tokens.py covers it by hand.
        "--exclude-path", "/auth/token",
        "--no-color",
        "--report", "junit",
        "--report-dir", str(report_dir),
    ]  # fmt: skip


def _schemathesis(stack: Stack, token: str, report_dir: Path, phases: str, clients: int) -> None:
    """Runs `clients` fuzzers at once, each a process of its own with its own seed.

    Processes, not schemathesis's worker threads: on this Python, hypothesis parsing lambdas'
    source (`ast.parse`) in several threads at once now and then fails with "AST constructor
    recursion depth mismatch", a flake of the tools, not of the platform."""
    running = [
        subprocess.Popen(
            _command(stack, token, report_dir / str(n), phases, SEED + n),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(clients)
    ]
    failed = []
    for process in running:
        output, _ = process.communicate(timeout=900)
        if process.returncode != 0:
            failed.append(output[-6000:])
    assert not failed, "\n\n".join(failed)


def test_no_operation_answers_5xx_or_breaks_its_own_schema(
    fuzz_stack: Stack, tmp_path: Path
) -> None:
    # Fuzzing and the stateful links (POST answers feeding the operations on what they
    # created) run as several clients at once, as front ends and integrators do: concurrent
    # writes must never answer 5xx.
    # One token for both runs: fuzzing the users' API may well change the admin's password.
    token = Api(fuzz_stack.gateway_url, ADMIN_PASSWORD).admin_token
    _schemathesis(fuzz_stack, token, tmp_path / "examples", FIRST_PHASES, 1)
    _schemathesis(fuzz_stack, token, tmp_path / "fuzzing", "fuzzing,stateful", CLIENTS)
