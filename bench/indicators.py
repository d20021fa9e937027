"""Latency of the programme indicators on the national benchmark data, through the gateway.

    python bench/indicators.py [--runs 10] [--warmup 2] [--reuse]

Uses the national registry (`ishc_bench_clubs`) and loan book (`ishc_bench_loanbook`) of
`bench/portfolio.py`, made there if missing (about 9 minutes; `--reuse` keeps them), and, when
`bench/funding.py` has made it, its money flows (`ishc_bench_flows`, read only here); otherwise
an empty funding database of its own. Then it starts the platform and times, with an admin token:

- the national report     GET /api/v1/reports/indicators               (target < 2 s median)
  today, and on the past dates of `bench/portfolio.py` (`?on=…`)
- one province's report   GET /api/v1/reports/indicators?province=15   (target < 2 s median)
  today and on those dates

It waits, as `bench/portfolio.py` does, until the portfolio's running balances are built.

A report that comes back with a `missing` section (a service did not answer in time) counts as
an error: only complete reports are timed.

Exit code: 0 when every target is met, 1 when one is missed, 2 when the run failed.
"""

import argparse
import sys

import httpx

from bench import portfolio
from bench._calls import Call, first_answer
from bench._common import database_exists, database_urls, progress, recreate_database
from bench._guard import guarded_run
from bench._options import add_seed, add_server, add_timing
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
    return database_urls(server_url, names)


def check(client: httpx.Client, call: Call) -> None:
    """One answer, shown: the headline figures, and refused if a section is missing."""
    body = first_answer(client, call).json()
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timing(parser, runs=10, warmup=2)
    portfolio.add_loan_book_options(parser)
    add_seed(parser)
    parser.add_argument("--reuse", action="store_true", help="keep the registry and loan book")
    add_server(parser)
    args = parser.parse_args(argv)
    progress(f"bench of the programme indicators on {clock.today()}")
    with guarded_run("ishc-bench-indicators-") as guard:
        urls = databases(args.server_url)
        recreate_database(args.server_url, GATEWAY)
        if urls["funding"].endswith(OWN_FUNDING):
            recreate_database(args.server_url, OWN_FUNDING)
        else:
            progress(f"money flows from {FLOWS} (read only)")
        stack = portfolio.prepare(args, urls, guard.var_dir)
        progress(portfolio.book_size(urls["loans"]))
        past = [f"on={day}" for day in portfolio.past_dates(clock.today())]
        province = f"{REPORT}?province={portfolio.PROVINCE}"
        calls = [
            Call("national report, today", TARGET_MS, [REPORT]),
            Call("national report, past dates", TARGET_MS, [f"{REPORT}?{on}" for on in past]),
            Call(f"province {portfolio.PROVINCE} report, today", TARGET_MS, [province]),
            Call(
                f"province {portfolio.PROVINCE}, past dates",
                TARGET_MS,
                [f"{province}&{on}" for on in past],
            ),
        ]
        portfolio.time_with_balances(guard, stack, calls, check, args, urls["loans"])
    return portfolio.verdict(guard, calls)


if __name__ == "__main__":
    sys.exit(main())
