"""Latency of the programme indicators on the national benchmark data, through the gateway.

    python bench/indicators.py [--runs 10] [--warmup 2] [--reuse]

Uses the national registry (`ishc_bench_clubs`) and loan book (`ishc_bench_loanbook`) of
`bench/portfolio.py`, made there if missing (about 9 minutes; `--reuse` keeps them), and, when
`bench/funding.py` has made it, its money flows (`ishc_bench_flows`, read only here); otherwise
an empty funding database of its own. Then it starts the platform and times, with an admin token:

- the national report     GET /api/v1/reports/indicators               (target < 2 s median)
- one province's report   GET /api/v1/reports/indicators?province=15   (target < 2 s median)

A report that comes back with a `missing` section (a service did not answer in time) counts as
an error: only complete reports are timed.

Exit code: 0 when every target is met, 1 when one is missed, 2 when the run failed.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import httpx
import psycopg

from bench import portfolio
from bench._common import database_exists, database_url, get_token, progress, recreate_database
from bench.clubs import DEFAULT_SERVER, REQUEST_TIMEOUT, Call, load_average, time_calls
from bench.generate_registry import DEFAULT_SEED
from common import clock

REPORT = "/api/v1/reports/indicators"
TARGET_MS = 2000.0
FLOWS = "ishc_bench_flows"
OWN_FUNDING = "ishc_bench_indicators_funding"
GATEWAY = "ishc_bench_indicators_gateway"


def databases(server_url: str) -> dict[str, str]:
    funding = FLOWS if database_exists(server_url, FLOWS) else OWN_FUNDING
    names = {
        "gateway": GATEWAY,
        "clubs": portfolio.DATABASES["clubs"],
        "loans": portfolio.DATABASES["loans"],
        "funding": funding,
    }
    return {component: database_url(server_url, name) for component, name in names.items()}


def check(client: httpx.Client, call: Call) -> None:
    """One answer, shown: the headline figures, and refused if a section is missing."""
    response = client.get(call.path(0))
    if response.status_code != 200:
        raise RuntimeError(f"{call.path(0)}: {response.status_code} {response.text}")
    body = response.json()
    if body["missing"]:
        raise RuntimeError(f"{call.name}: missing {body['missing']}")
    shown = ("clubs.total", "members.total", "money.members_with_loan", "money.par30")
    rows = {f"{row['section']}.{row['name']}": row for row in body["indicators"]}
    progress(
        f"{call.name}: "
        + ", ".join(
            f"{name} {rows[name]['value']:,} ({rows[name]['share_pct']} %)" for name in shown
        )
    )


def run(args: argparse.Namespace) -> list[Call]:
    urls = databases(args.server_url)
    with tempfile.TemporaryDirectory(prefix="ishc-bench-indicators-") as tmp:
        args.var_dir = Path(tmp)
        recreate_database(args.server_url, GATEWAY)
        if urls["funding"].endswith(OWN_FUNDING):
            recreate_database(args.server_url, OWN_FUNDING)
        else:
            progress(f"money flows from {FLOWS} (read only)")
        stack = portfolio.prepare(args, urls)
        progress(portfolio.book_size(urls["loans"]))
        calls = [
            Call("national report", TARGET_MS, [REPORT]),
            Call(
                f"province {portfolio.PROVINCE} report",
                TARGET_MS,
                [f"{REPORT}?province={portfolio.PROVINCE}"],
            ),
        ]
        progress("starting clubs, loans, funding and the gateway")
        stack.start(log_dir=args.var_dir / "logs")
        try:
            headers = {"Authorization": f"Bearer {get_token(stack)}"}
            with httpx.Client(
                base_url=stack.gateway_url, headers=headers, timeout=REQUEST_TIMEOUT
            ) as client:
                for call in calls:
                    check(client, call)
                progress(f"timing, {load_average()}")
                time_calls(client, calls, args.runs, args.warmup, budget=300.0)
        finally:
            stack.stop()
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--club-loans", type=int, default=1_000_000)
    parser.add_argument("--bank-loans", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--reuse", action="store_true", help="keep the registry and loan book")
    parser.add_argument("--server-url", default=DEFAULT_SERVER)
    args = parser.parse_args(argv)
    progress(f"bench of the programme indicators on {clock.today()}")
    try:
        calls = run(args)
    except (RuntimeError, OSError, httpx.HTTPError, psycopg.Error) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr, flush=True)
        return 2
    print()
    print(f"{'call':30} {'runs':>4} {'median':>10} {'p95':>10} target")
    for call in calls:
        verdict = "PASS" if call.passed else "FAIL"
        print(
            f"{call.name:30} {len(call.timings_ms):>4} {call.median:>7.1f} ms {call.p95:>7.1f} ms"
            f" < {call.target_ms:,.0f} ms: {verdict}"
            + (f" ({len(call.errors)} errors: {call.errors[0]})" if call.errors else "")
        )
    return 0 if all(call.passed for call in calls) else 1


if __name__ == "__main__":
    sys.exit(main())
