"""Fair use: how many API calls a client may make a minute, by its role.

A token bucket per token holder (user or client): `GATEWAY_RATE_LIMITS` gives each role its
calls per minute (`0`: no limit), refilled continuously, so a short burst up to the minute's
allowance passes and a runaway loop is slowed, not the others. Every proxied answer carries
the IETF `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers; a call over
the limit gets 429 with `Retry-After`.

The buckets are kept by each gateway replica (local rate limiting: nothing a request needs is
shared), so with N replicas behind the load balancer a client may make up to N times the
limit; set the limit per replica.
"""

import math
import time
from dataclasses import dataclass

from common.auth import Principal
from common.problem_codes import Code
from common.problems import TooManyRequests

WINDOW_SECONDS = 60.0
MAX_HOLDERS = 100_000
"""Buckets kept at most; the oldest go first (a holder seen again starts with a full one)."""


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass(frozen=True)
class Allowance:
    """What the answer says about the caller's allowance (the RateLimit headers)."""

    limit: int
    remaining: int
    reset_seconds: int

    def as_text(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(name.lower().encode(), value.encode()) for name, value in self.as_text().items()]


class FairUse:
    def __init__(self, limits: dict[str, int]) -> None:
        self.limits = limits
        self._buckets: dict[str, _Bucket] = {}

    def take(self, principal: Principal) -> Allowance | None:
        """One call of `principal`: its allowance after it, None for a role without a limit;
        429 when its bucket is empty."""
        limit = self.limits.get(principal.role.value, 0)
        if limit <= 0:
            return None
        now = time.monotonic()
        rate = limit / WINDOW_SECONDS
        bucket = self._buckets.pop(principal.subject, None) or _Bucket(float(limit), now)
        bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        self._buckets[principal.subject] = bucket  # the newest last: the oldest go first
        if len(self._buckets) > MAX_HOLDERS:
            del self._buckets[next(iter(self._buckets))]
        if bucket.tokens < 1:
            wait = math.ceil((1 - bucket.tokens) / rate)
            raise TooManyRequests(
                f"More than {limit} calls a minute for the role {principal.role.value}; "
                f"try again in {wait} s.",
                code=Code.RATE_LIMITED,
                retry_after=wait,
                headers=Allowance(limit, 0, wait).as_text(),
            )
        bucket.tokens -= 1
        reset = math.ceil((limit - bucket.tokens) / rate)
        return Allowance(limit, int(bucket.tokens), reset)


def parse_limits(text: str) -> dict[str, int]:
    """`role:calls,role:calls` (calls a minute)."""
    limits = {}
    for item in text.split(","):
        role, _, calls = item.strip().partition(":")
        if role:
            limits[role.strip()] = int(calls)
    return limits
