"""Calls timed through the gateway: each against its target, on the median, and their tables."""

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bench._common import admin_client, load_average, progress
from bench._guard import GuardedRun
from tools.stack import Stack

BUDGET_SECONDS = 300.0
"""How long one call's runs may take at most, by default."""


@dataclass
class Call:
    name: str
    target_ms: float
    paths: list[str]
    """Cycled through, so a call is not always the same club or the same search."""
    timings_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    runs_wanted: int = 0

    def path(self, number: int) -> str:
        return self.paths[number % len(self.paths)]

    @property
    def median(self) -> float:
        return statistics.median(self.timings_ms) if self.timings_ms else math.nan

    @property
    def p95(self) -> float:
        if len(self.timings_ms) < 2:
            return self.timings_ms[0] if self.timings_ms else math.nan
        return statistics.quantiles(self.timings_ms, n=20, method="inclusive")[18]

    @property
    def passed(self) -> bool:
        return not self.errors and bool(self.timings_ms) and self.median < self.target_ms


def first_answer(client: httpx.Client, call: Call) -> httpx.Response:
    """The call's answer to its first path; a RuntimeError unless it is a 200, since timing a
    call that fails would measure nothing."""
    response = client.get(call.path(0))
    if response.status_code != 200:
        raise RuntimeError(
            f"{call.name}: {call.path(0)} answered {response.status_code}: {response.text[:500]}"
        )
    return response


def time_calls(
    client: httpx.Client, calls: list[Call], runs: int, warmup: int, budget: float
) -> None:
    for call in calls:
        call.runs_wanted = runs
        for number in range(warmup):
            client.get(call.path(number))
        started = time.monotonic()
        for number in range(runs):
            if time.monotonic() - started > budget:
                progress(f"{call.name}: time budget of {budget:.0f} s spent after {number} runs")
                break
            sent = time.perf_counter()
            try:
                response = client.get(call.path(warmup + number))
            except httpx.HTTPError as exc:
                call.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = (time.perf_counter() - sent) * 1000.0
            if response.status_code != 200:
                call.errors.append(f"HTTP {response.status_code}")
                continue
            call.timings_ms.append(elapsed)
        progress(
            f"{call.name}: {len(call.timings_ms)} runs, median {call.median:.1f} ms, "
            f"p95 {call.p95:.1f} ms"
        )


def time_as_admin(
    guard: GuardedRun,
    stack: Stack,
    calls: list[Call],
    show: Callable[[httpx.Client, Call], None],
    runs: int,
    warmup: int,
    budget: float = BUDGET_SECONDS,
    ready: Callable[[], object] | None = None,
) -> tuple[str, str]:
    """Starts the platform, waits for `ready` if given (e.g. the worker's first work) and,
    with an admin token, shows each call's first answer (`show` raises when it is not one to
    time), then times the calls as `time_calls` does. Returns the load average before and
    after the timing."""
    guard.start(stack)
    if ready is not None:
        ready()
    with admin_client(stack) as client:
        for call in calls:
            show(client, call)
        before = load_average()
        progress(f"timing, {before}")
        time_calls(client, calls, runs, warmup, budget)
        return before, load_average()


def print_table(calls: list[Call], width: int, load_before: str, load_after: str) -> None:
    """The calls' figures, extremes included, each median against its target."""
    print(f"{os.cpu_count()} CPUs; {load_before} before the timing, {load_after} after")
    print(f"{'call':{width}} {'runs':>4} {'median':>10} {'p95':>10} {'min':>10} {'max':>10} target")
    for call in calls:
        timings = call.timings_ms or [math.nan]
        verdict = "PASS" if call.passed else "FAIL"
        errors = f"  errors: {len(call.errors)} ({call.errors[0]})" if call.errors else ""
        print(
            f"{call.name:{width}} {len(call.timings_ms):>4} {call.median:>7.1f} ms"
            f" {call.p95:>7.1f} ms {min(timings):>7.1f} ms {max(timings):>7.1f} ms"
            f" < {call.target_ms:,.0f} ms median: {verdict}{errors}"
        )


def print_verdicts(calls: list[Call]) -> None:
    """The calls' medians and p95 only, each median against its target."""
    print(f"{'call':30} {'runs':>4} {'median':>10} {'p95':>10} target")
    for call in calls:
        verdict = "PASS" if call.passed else "FAIL"
        print(
            f"{call.name:30} {len(call.timings_ms):>4} {call.median:>7.1f} ms {call.p95:>7.1f} ms"
            f" < {call.target_ms:,.0f} ms: {verdict}"
            + (f" ({len(call.errors)} errors: {call.errors[0]})" if call.errors else "")
        )
