"""Throughput of one read endpoint, called directly on its service and through the gateway.

Starts its own platform (SQLite in a temporary directory, free ports on 127.0.0.1), gets an
admin token, warms up, then loads both targets in alternating rounds, so that machine noise
hits both, and prints requests per second, latency percentiles, the ratio gateway / direct and
the CPU time each server process spent per request (from /proc; the gateway's own cost, which
the ratio hides when the service is the slower of the two on a 2-core machine):

    python bench/gateway.py [--seconds 5] [--rounds 3] [--connections 32] [--path PATH]

The load generator is `wrk` when it is installed, else a built-in aiohttp client. The latter
costs far more CPU per request than wrk and shares the machine with the servers, so its figures
can be lower and its ratio less telling; the output says which one was used. The exit code is 0
whatever the ratio unless `--min-ratio` is given; it is 1 below that ratio or when more than
1 % of the responses were errors (the figures would not measure the endpoint), 2 when the
platform could not be started or measured, 130 on Ctrl-C. The platform is always stopped.
"""

import argparse
import asyncio
import importlib.util
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench._common import get_token, make_stack, progress, sqlite_urls
from bench._guard import GuardedRun, guarded_run
from tools.stack import Stack

DEFAULT_PATH = "/api/v1/locations/provinces?limit=5"
PERCENTILES = (50, 90, 99)
MAX_ERROR_SHARE = 0.01
PYTHON_MAX_REQUESTS = 5_000_000
"""A bound on the built-in generator's count, whatever the duration."""


@dataclass
class Result:
    """One load run against one target."""

    target: str
    requests: int
    seconds: float
    errors: int
    latency_ms: dict[int, float] = field(default_factory=dict)
    cpu_us: dict[str, float] = field(default_factory=dict)
    """CPU time each server process spent per request, in microseconds (Linux only)."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Target:
    """Where the load goes, and the server processes that do the work for it."""

    name: str
    url: str
    pids: dict[str, int]


LoadGenerator = Callable[[str, str, int, int, int], Result]
"""(url, token, seconds, connections, threads) -> Result; `target` is filled in by the caller."""


# --- wrk -------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_WRK_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
_WRK_PERCENTILE = re.compile(r"^\s*(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def parse_wrk(output: str) -> Result:
    total = _WRK_TOTAL.search(output)
    if total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    seconds = float(total.group(2)) * _UNITS_MS[total.group(3)] / 1000.0
    errors = 0
    if socket := _WRK_SOCKET.search(output):
        errors += sum(int(n) for n in socket.groups())
    if non_2xx := _WRK_NON_2XX.search(output):
        errors += int(non_2xx.group(1))
    latency = {
        int(p): float(value) * _UNITS_MS[unit]
        for p, value, unit in _WRK_PERCENTILE.findall(output)
        if int(p) in PERCENTILES
    }
    return Result("", int(total.group(1)), seconds, errors, latency)


def run_wrk(url: str, token: str, seconds: int, connections: int, threads: int) -> Result:
    command = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        "--timeout=5s",
        "--latency",
        "--header",
        f"Authorization: Bearer {token}",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


# --- built-in aiohttp generator ----------------------------------------------------------------


async def _python_load(url: str, token: str, seconds: int, connections: int) -> Result:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            nonlocal errors
            while len(latencies) + errors < PYTHON_MAX_REQUESTS:
                sent = time.perf_counter()
                if sent >= deadline:
                    return
                try:
                    async with session.get(url, headers=headers) as response:
                        await response.read()
                        failed = response.status >= 400
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                errors += failed

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    latency: dict[int, float] = {}
    if len(latencies) >= 2:
        cuts = statistics.quantiles(latencies, n=100)
        latency = {p: cuts[p - 1] * 1000.0 for p in PERCENTILES}
    return Result("", len(latencies), elapsed, errors, latency)


def run_python(url: str, token: str, seconds: int, connections: int, _threads: int) -> Result:
    coroutine = _python_load(url, token, seconds, connections)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def choose_generator(name: str) -> tuple[str, LoadGenerator]:
    if name == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("--load-generator wrk: wrk is not installed")
    if name in ("auto", "wrk") and shutil.which("wrk") is not None:
        return "wrk", run_wrk
    return "python (built-in aiohttp client; wrk not used)", run_python


# --- the platform --------------------------------------------------------------------------------


def check_targets(targets: list[Target], token: str) -> None:
    """Both targets must answer 200 with the same body, or the comparison means nothing."""
    bodies = set()
    for target in targets:
        response = httpx.get(target.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(
                f"{target.name} {target.url} answered {response.status_code}: {response.text}"
            )
        bodies.add(response.content)
    if len(bodies) != 1:
        progress("warning: the direct and the gateway answers differ")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process so far, from /proc (None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_setup() -> str:
    import uvicorn

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn {uvicorn.__version__}, 1 process per component, {loop}, {http}"


# --- the run -------------------------------------------------------------------------------------


def describe(result: Result) -> str:
    latency = "  ".join(f"p{p} {result.latency_ms[p]:6.2f} ms" for p in sorted(result.latency_ms))
    cpu = "  ".join(f"{name} {us:.0f}" for name, us in result.cpu_us.items())
    cpu = f"  cpu us/req: {cpu}" if cpu else ""
    errors = f"  errors {result.errors}" if result.errors else ""
    return f"{result.rps:9.1f} req/s  {latency}{cpu}{errors}"


def load(
    generator: LoadGenerator, target: Target, token: str, seconds: int, args: argparse.Namespace
) -> Result:
    """One load run, with the CPU time the servers behind the target spent on it."""
    before = {name: cpu_seconds(pid) for name, pid in target.pids.items()}
    result = generator(target.url, token, seconds, args.connections, args.threads)
    result.target = target.name
    for name, pid in target.pids.items():
        start, end = before[name], cpu_seconds(pid)
        if start is not None and end is not None and result.requests:
            result.cpu_us[name] = (end - start) / result.requests * 1e6
    return result


def measure(
    generator: LoadGenerator, targets: list[Target], token: str, args: argparse.Namespace
) -> list[tuple[int, Result]]:
    results: list[tuple[int, Result]] = []
    for number in range(1, args.rounds + 1):
        # Alternate which target goes first, so neither always runs on a warmer machine.
        for target in targets if number % 2 else reversed(targets):
            progress(f"round {number}/{args.rounds}: {target.name} for {args.seconds} s ...")
            result = load(generator, target, token, args.seconds, args)
            results.append((number, result))
            progress(f"round {number}/{args.rounds}: {target.name:7} {describe(result)}")
    return results


def summarise(results: list[tuple[int, Result]], args: argparse.Namespace) -> tuple[float, bool]:
    """Prints the table, the medians and the ratio; returns the ratio and whether it is valid."""
    print()
    header = f"{'round':>5}  {'target':7}  {'req/s':>9}"
    header += "".join(f"  {f'p{p} ms':>8}" for p in PERCENTILES) + f"  {'errors':>6}"
    print(header)
    for number, result in results:
        row = f"{number:>5}  {result.target:7}  {result.rps:9.1f}"
        row += "".join(f"  {result.latency_ms.get(p, math.nan):8.2f}" for p in PERCENTILES)
        print(row + f"  {result.errors:>6}")
    medians: dict[str, float] = {}
    for name in ("direct", "gateway"):
        mine = [r for _, r in results if r.target == name]
        medians[name] = statistics.median(r.rps for r in mine)
        latency = "  ".join(
            f"p{p} {statistics.median(r.latency_ms[p] for r in mine):.2f} ms"
            for p in PERCENTILES
            if all(p in r.latency_ms for r in mine)
        )
        cpu = "  ".join(
            f"{server} {statistics.median(r.cpu_us[server] for r in mine):.0f}"
            for server in mine[0].cpu_us
            if all(server in r.cpu_us for r in mine)
        )
        cpu = f"  cpu us/req: {cpu}" if cpu else ""
        print(f"median {name:7}  {medians[name]:9.1f} req/s  {latency}{cpu}")
    ratio = medians["gateway"] / medians["direct"] if medians["direct"] else 0.0
    per_round = []
    for number in range(1, args.rounds + 1):
        pair = {r.target: r.rps for n, r in results if n == number}
        per_round.append(f"{pair['gateway'] / pair['direct']:.2f}" if pair["direct"] else "-")
    print(f"ratio gateway/direct (of the medians): {ratio:.2f}  per round: {' '.join(per_round)}")
    return ratio, few_errors(results)


def few_errors(results: list[tuple[int, Result]]) -> bool:
    """Whether the rounds' errors are few enough for their figures to measure the endpoint
    (`MAX_ERROR_SHARE`), saying so when they are not or when there are any."""
    requests = sum(r.requests for _, r in results)
    errors = sum(r.errors for _, r in results)
    if errors:
        print(f"warning: {errors} error responses or socket errors out of {requests} requests")
    if errors > MAX_ERROR_SHARE * max(requests, 1):
        print("the run is invalid: too many errors for the figures to measure the endpoint")
        return False
    return True


def load_run_parser(description: str, rounds_of: str, min_ratio_of: str) -> argparse.ArgumentParser:
    """The options of a load run, shared by the benches that alternate targets in rounds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=int, default=5, help="length of one load run (5)")
    parser.add_argument("--rounds", type=int, default=3, help=f"rounds of {rounds_of} (3)")
    parser.add_argument("--connections", type=int, default=32, help="open connections (32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per target (2)")
    parser.add_argument(
        "--path", default=DEFAULT_PATH, help=f"a GET path served by clubs ({DEFAULT_PATH})"
    )
    parser.add_argument(
        "--load-generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk if installed (auto), or the built-in aiohttp client",
    )
    parser.add_argument(
        "--min-ratio", type=float, default=None, help=f"exit 1 if {min_ratio_of} is below this"
    )
    return parser


def checked_load_run(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    for name in ("seconds", "rounds", "connections", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if not args.path.startswith("/api/v1/"):
        parser.error("--path must start with /api/v1/")
    return args


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = load_run_parser(
        "Requests per second of one read endpoint, direct vs through the gateway.",
        "direct+gateway",
        "gateway/direct",
    )
    return checked_load_run(parser, argv)


def announced_generator(args: argparse.Namespace, machine: str = "") -> tuple[str, LoadGenerator]:
    """The load generator chosen, and the run's settings printed."""
    generator_name, generator = choose_generator(args.load_generator)
    progress(f"load generator: {generator_name}")
    progress(
        f"settings: {args.rounds} rounds x {args.seconds} s per target, "
        f"{args.connections} connections, path {args.path}, {os.cpu_count()} CPUs, "
        f"{server_setup()}{machine}"
    )
    return generator_name, generator


def started_stack(guard: GuardedRun, args: argparse.Namespace, targets: int) -> tuple[Stack, str]:
    """The platform started on SQLite in the run's directory, with an admin's token that lasts
    the whole run (`targets` loaded in turn)."""
    total_seconds = targets * (args.warmup + args.rounds * args.seconds) + 120
    token_minutes = max(15, math.ceil(total_seconds / 60) + 5)
    directory = guard.var_dir
    stack = make_stack(sqlite_urls(directory), directory, token_minutes)
    progress(f"migrating SQLite databases in {directory}")
    stack.migrate()
    guard.start(stack)
    return stack, get_token(stack)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    generator_name, generator = announced_generator(args)
    with guarded_run("ishc-bench-") as guard:
        stack, token = started_stack(guard, args, 2)
        pids = {c: stack.processes[c].pid for c in ("clubs", "gateway")}
        targets = [
            Target("direct", stack.url("clubs") + args.path, {"clubs": pids["clubs"]}),
            Target("gateway", stack.gateway_url + args.path, pids),
        ]
        check_targets(targets, token)
        for target in targets:
            progress(f"{target.name}: {target.url}")
        results = warmed_and_measured(generator, targets, token, args)
    if guard.exit_code is not None:
        return guard.exit_code
    ratio, valid = summarise(results, args)
    print(f"load generator: {generator_name}; {args.connections} connections")
    return exit_code(ratio, valid, args)


Measure = Callable[[LoadGenerator, list[Target], str, argparse.Namespace], list[tuple[int, Result]]]


def warmed_and_measured(
    generator: LoadGenerator,
    targets: list[Target],
    token: str,
    args: argparse.Namespace,
    rounds: Measure = measure,
) -> list[tuple[int, Result]]:
    """Each target warmed up (`--warmup` seconds), then the rounds measured (`rounds`)."""
    if args.warmup:
        for target in targets:
            progress(f"warming up {target.name} for {args.warmup} s")
            load(generator, target, token, args.warmup, args)
    return rounds(generator, targets, token, args)


def exit_code(ratio: float, valid: bool, args: argparse.Namespace) -> int:
    """1 when the rounds were not valid or the ratio is below `--min-ratio`, else 0."""
    if not valid:
        return 1
    if args.min_ratio is not None and ratio < args.min_ratio:
        print(f"ratio {ratio:.2f} is below --min-ratio {args.min_ratio:.2f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
