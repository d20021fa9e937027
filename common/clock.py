"""The programme's one clock: moments are UTC, business dates are Vietnam's calendar.

Servers and containers run in UTC (or anywhere), seven hours or more behind Hà Nội: a meeting
held at 06:30 on a Vietnamese morning is still "yesterday" by the server's own date. So every
rule and default that says "today", "in the future", "as of now" or "overdue" asks `today()`,
which reads the calendar of one setting, `ISHC_TIME_ZONE` (default `Asia/Ho_Chi_Minh`), never
the process's time zone. Nothing else calls `date.today()` (ruff's DTZ rules keep it so).
"""

import os
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TIME_ZONE_SETTING = "ISHC_TIME_ZONE"
DEFAULT_TIME_ZONE = "Asia/Ho_Chi_Minh"


class InvalidTimeZoneError(ValueError):
    """`ISHC_TIME_ZONE` names no time zone."""


@cache
def business_zone() -> ZoneInfo:
    """The zone whose calendar business dates follow (read once per process)."""
    name = os.environ.get(TIME_ZONE_SETTING, "").strip() or DEFAULT_TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidTimeZoneError(f"{TIME_ZONE_SETTING}={name!r} is not a time zone") from exc


def utcnow() -> datetime:
    """This moment, aware, in UTC: what timestamps store and send."""
    return datetime.now(UTC)


def today() -> date:
    """The programme's business date at this moment."""
    return business_date(utcnow())


def business_date(moment: datetime) -> date:
    """The business date of an aware moment."""
    return moment.astimezone(business_zone()).date()


def start_of(day: date) -> datetime:
    """The moment (UTC) the business day `day` begins."""
    return datetime.combine(day, time(), business_zone()).astimezone(UTC)


def seconds_to_next_day() -> float:
    """How long until the next business day begins (scheduled work wakes then)."""
    now = utcnow()
    return (start_of(business_date(now) + timedelta(days=1)) - now).total_seconds()
