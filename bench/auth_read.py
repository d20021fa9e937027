"""An authenticated read against the bare framework of the same process, and through the gateway.

Starts its own platform (SQLite in a temporary directory, free ports on 127.0.0.1), gets a
person's token, warms up, then loads three targets in alternating rounds of one run, so that
machine noise hits all of them:

- `healthz`: `GET /healthz` of the clubs service (no token, no database: the framework's floor);
- `direct`: an authenticated static read on the clubs service (`--path`, by default the first
  page of provinces) with a bearer token;
- `gateway`: the same read through the gateway.

It prints requests per second, p50/p99 and the CPU each server process spent per request, the
ratio direct / healthz (target >= 0.50, issue 18) and gateway / direct (target >= 0.95):

    uv run python bench/auth_read.py [--seconds 5] [--rounds 3] [--connections 32]

The load generator is `wrk` when installed (`apt-get install wrk`), else a built-in aiohttp
client that shares the machine and lowers every figure. Exit codes as `bench/gateway.py`: 1
below `--min-ratio` (applied to direct / healthz) or with more than 1 % errors, 2 when the
platform could not be started or measured, 130 on Ctrl-C.
"""

import argparse
import math
import statistics
import sys

from bench._common import load_average, progress
from bench._guard import guarded_run
from bench.gateway import (
    LoadGenerator,
    Result,
    Target,
    announced_generator,
    check_targets,
    checked_load_run,
    describe,
    exit_code,
    few_errors,
    load,
    load_run_parser,
    started_stack,
    warmed_and_measured,
)

TARGETS = ("healthz", "direct", "gateway")
READ_TARGET = 0.50
GATEWAY_TARGET = 0.95


def measure(
    generator: LoadGenerator, targets: list[Target], token: str, args: argparse.Namespace
) -> list[tuple[int, Result]]:
    results: list[tuple[int, Result]] = []
    for number in range(1, args.rounds + 1):
        # Rotate which target goes first, so none always runs on a warmer (or busier) machine.
        shift = (number - 1) % len(targets)
        for target in targets[shift:] + targets[:shift]:
            progress(f"round {number}/{args.rounds}: {target.name} for {args.seconds} s ...")
            result = load(generator, target, token, args.seconds, args)
            results.append((number, result))
            progress(f"round {number}/{args.rounds}: {target.name:7} {describe(result)}")
    return results


def _median_of(results: list[Result], percentile: int) -> float:
    values = [r.latency_ms[percentile] for r in results if percentile in r.latency_ms]
    return statistics.median(values) if values else math.nan


def summarise(results: list[tuple[int, Result]], args: argparse.Namespace) -> tuple[float, bool]:
    """Prints the rounds, the medians side by side and both ratios; returns direct / healthz
    and whether the run is valid."""
    print()
    print(f"{'round':>5}  {'target':7}  {'req/s':>9}  {'p50 ms':>8}  {'p99 ms':>8}  {'errors':>6}")
    for number, result in results:
        p50, p99 = result.latency_ms.get(50, math.nan), result.latency_ms.get(99, math.nan)
        print(
            f"{number:>5}  {result.target:7}  {result.rps:9.1f}  {p50:8.2f}  {p99:8.2f}"
            f"  {result.errors:>6}"
        )
    print()
    medians: dict[str, float] = {}
    for name in TARGETS:
        mine = [r for _, r in results if r.target == name]
        medians[name] = statistics.median(r.rps for r in mine)
        cpu = "  ".join(
            f"{server} {statistics.median(r.cpu_us[server] for r in mine):.0f}"
            for server in mine[0].cpu_us
            if all(server in r.cpu_us for r in mine)
        )
        print(
            f"median {name:7}  {medians[name]:9.1f} req/s  p50 {_median_of(mine, 50):6.2f} ms"
            f"  p99 {_median_of(mine, 99):6.2f} ms  cpu us/req: {cpu}"
        )
    read = medians["direct"] / medians["healthz"] if medians["healthz"] else 0.0
    hop = medians["gateway"] / medians["direct"] if medians["direct"] else 0.0
    per_round_read, per_round_hop = [], []
    for number in range(1, args.rounds + 1):
        rps = {r.target: r.rps for n, r in results if n == number}
        per_round_read.append(f"{rps['direct'] / rps['healthz']:.2f}" if rps["healthz"] else "-")
        per_round_hop.append(f"{rps['gateway'] / rps['direct']:.2f}" if rps["direct"] else "-")
    print()
    print(
        f"authenticated read {medians['direct']:.1f} req/s beside /healthz "
        f"{medians['healthz']:.1f} req/s"
    )
    print(
        f"ratio direct/healthz (of the medians): {read:.2f} (target >= {READ_TARGET:.2f})"
        f"  per round: {' '.join(per_round_read)}"
    )
    print(
        f"ratio gateway/direct (of the medians): {hop:.2f} (target >= {GATEWAY_TARGET:.2f})"
        f"  per round: {' '.join(per_round_hop)}"
    )
    _print_cpu_ratio(results)
    return read, few_errors(results)


def _print_cpu_ratio(results: list[tuple[int, Result]]) -> None:
    """The clubs process's CPU per request, /healthz against the read: what the rates would be
    on a machine with nothing else to do, and steadier than them on a shared one."""
    cpu = {
        name: [r.cpu_us["clubs"] for _, r in results if r.target == name and "clubs" in r.cpu_us]
        for name in ("healthz", "direct")
    }
    if all(cpu.values()):
        healthz, direct = (statistics.median(cpu[name]) for name in ("healthz", "direct"))
        print(
            f"clubs CPU per request: /healthz {healthz:.0f} us, read {direct:.0f} us; "
            f"healthz/read {healthz / direct:.2f}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = load_run_parser(
        "An authenticated read beside /healthz of the same process, and through the gateway.",
        "the three targets",
        "direct/healthz",
    )
    parser.add_argument(
        "--hold",
        action="store_true",
        help="before measuring, print the clubs service's pid and wait for Enter (to attach "
        "a profiler such as py-spy)",
    )
    return checked_load_run(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    generator_name, generator = announced_generator(args, f"; {load_average()}")
    with guarded_run("ishc-bench-") as guard:
        stack, token = started_stack(guard, args, 3)
        clubs, gateway = stack.processes["clubs"].pid, stack.processes["gateway"].pid
        read_targets = [
            Target("direct", stack.url("clubs") + args.path, {"clubs": clubs}),
            Target("gateway", stack.gateway_url + args.path, {"clubs": clubs, "gateway": gateway}),
        ]
        check_targets(read_targets, token)
        targets = [Target("healthz", stack.url("clubs") + "/healthz", {"clubs": clubs})]
        targets += read_targets
        for target in targets:
            progress(f"{target.name}: {target.url}")
        if args.hold:
            progress(f"clubs service pid {clubs}, gateway pid {gateway}; press Enter to measure")
            input()
        results = warmed_and_measured(generator, targets, token, args, rounds=measure)
    if guard.exit_code is not None:
        return guard.exit_code
    ratio, valid = summarise(results, args)
    print(f"load generator: {generator_name}; {args.connections} connections; {load_average()}")
    return exit_code(ratio, valid, args)


if __name__ == "__main__":
    sys.exit(main())
