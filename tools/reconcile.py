"""Checks the invariants across the services and prints what breaks.

    python -m tools.reconcile [--gateway URL] [--username admin] [--check NAME …]

Logs in at the gateway as an admin (`ISHC_ADMIN_PASSWORD`, or `var/admin-password` as written by
`make run`), starts a reconciliation run per check (`POST /api/v1/reports/reconciliation-runs`,
a job the funding worker carries out) and follows each to its end, so each check is printed as
soon as it is done. Exit status: 0 nothing breaks, 1 something breaks, 2 the reconciliation
could not run completely (login failed, a service did not answer).
"""

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import httpx

CHECKS = ("allocations", "fund_ledgers", "bank_matches", "indicators")
PATH = "/api/v1/reports/reconciliation-runs"
POLL_SECONDS = 0.5
VAR = Path(__file__).resolve().parent.parent / "var"
OK, BROKEN, NOT_RUN = 0, 1, 2


class CannotRun(Exception):
    """The reconciliation could not be asked (login, network, an error answer)."""


def _password() -> str:
    password = os.environ.get("ISHC_ADMIN_PASSWORD")
    if password:
        return password
    try:
        return (VAR / "admin-password").read_text().strip()
    except OSError as exc:
        raise CannotRun("set ISHC_ADMIN_PASSWORD or pass --password") from exc


def login(gateway_url: str, username: str, password: str) -> str:
    try:
        response = httpx.post(
            gateway_url.rstrip("/") + "/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
            timeout=30.0,
        )
    except httpx.HTTPError as exc:
        raise CannotRun(f"the gateway at {gateway_url} is not reachable: {exc}") from exc
    if response.status_code != 200:
        raise CannotRun(f"login as {username} failed: {response.status_code} {response.text}")
    return str(response.json()["access_token"])


def ask(gateway_url: str, token: str, check: str, timeout: float) -> dict[str, Any]:
    """One check's result: a run started, then followed until it is done."""
    deadline = time.monotonic() + timeout
    with httpx.Client(
        base_url=gateway_url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=60.0,
    ) as client:
        try:
            job = _answer(check, client.post(PATH, json={"checks": [check]}), 202)
            address = f"{PATH}/{job['id']}"
            while job["status"] in ("queued", "running"):
                if time.monotonic() > deadline:
                    raise CannotRun(f"{check}: run {job['id']} did not finish in {timeout:.0f} s")
                time.sleep(POLL_SECONDS)
                job = _answer(check, client.get(address), 200)
        except httpx.HTTPError as exc:
            raise CannotRun(f"{check}: the gateway did not answer: {exc!r}") from exc
    if job["status"] != "succeeded":
        reasons = "; ".join(error["detail"] for error in job["errors"]) or "no reason given"
        raise CannotRun(f"{check}: run {job['id']} failed: {reasons}")
    found: dict[str, Any] = job["result"]["checks"][0]
    return found


def _answer(check: str, response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise CannotRun(f"{check}: {response.status_code} {response.text}")
    found: dict[str, Any] = response.json()
    return found


def _objects(objects: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in objects.items())


def show(result: dict[str, Any], out: TextIO) -> None:
    """A check's verdict line, what it examined, then each break and what is missing."""
    if result["breaks_total"]:
        verdict = f"BROKEN ({result['breaks_total']})"
    elif result["missing"]:
        verdict = "INCOMPLETE"
    else:
        verdict = "ok"
    examined = ", ".join(f"{value:,} {name}" for name, value in result["examined"].items())
    print(f"{result['name']}: {verdict} — examined {examined or 'nothing'}", file=out)
    for item in result["breaks"]:
        print(f"    BREAK {item['reason']}  [{_objects(item['objects'])}]", file=out)
    if result["breaks_total"] > len(result["breaks"]):
        print(f"    … and {result['breaks_total'] - len(result['breaks'])} more", file=out)
    for gap in result["missing"]:
        print(f"    MISSING {gap}", file=out)


def fetch(
    gateway_url: str,
    password: str,
    *,
    username: str = "admin",
    checks: tuple[str, ...] = CHECKS,
    timeout: float = 600.0,
    out: TextIO | None = None,
) -> list[dict[str, Any]]:
    """Every check's result (printed as it comes if `out` is given); CannotRun if the
    reconciliation cannot be asked."""
    token = login(gateway_url, username, password)
    results = []
    for check in checks:
        result = ask(gateway_url, token, check, timeout)
        if out is not None:
            show(result, out)
        results.append(result)
    return results


def verdict(results: list[dict[str, Any]], out: TextIO) -> int:
    """Prints the overall verdict and returns the exit status."""
    if any(result["breaks_total"] for result in results):
        print("reconciliation: BROKEN", file=out)
        return BROKEN
    if any(result["missing"] for result in results):
        print("reconciliation: INCOMPLETE (something could not be examined)", file=out)
        return NOT_RUN
    print("reconciliation: ok", file=out)
    return OK


def reconcile(
    gateway_url: str,
    password: str,
    *,
    username: str = "admin",
    checks: tuple[str, ...] = CHECKS,
    timeout: float = 600.0,
    out: TextIO = sys.stdout,
) -> int:
    """Prints every check and returns the exit status (0 ok, 1 breaks, 2 could not run)."""
    try:
        results = fetch(
            gateway_url,
            password,
            username=username,
            checks=checks,
            timeout=timeout,
            out=out,
        )
    except CannotRun as exc:
        print(f"reconciliation could not run: {exc}", file=out)
        return NOT_RUN
    return verdict(results, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--gateway",
        default=os.environ.get("ISHC_GATEWAY_URL", "http://127.0.0.1:8000"),
        help="where to log in and ask (default: $ISHC_GATEWAY_URL or http://127.0.0.1:8000)",
    )
    parser.add_argument("--username", default=os.environ.get("ISHC_ADMIN_USERNAME", "admin"))
    parser.add_argument("--password", help="default: $ISHC_ADMIN_PASSWORD or var/admin-password")
    parser.add_argument(
        "--check", action="append", choices=CHECKS, help="only this check (repeatable)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per check")
    args = parser.parse_args(argv)
    try:
        password = args.password or _password()
    except CannotRun as exc:
        print(f"reconciliation could not run: {exc}")
        return NOT_RUN
    return reconcile(
        args.gateway,
        password,
        username=args.username,
        checks=tuple(args.check or CHECKS),
        timeout=args.timeout,
    )


if __name__ == "__main__":
    sys.exit(main())
