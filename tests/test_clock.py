"""The one clock: business dates follow Vietnam's calendar whatever the process's time zone."""

import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
import time_machine

from common import clock
from services.clubs.settings import ClubsSettings


@pytest.mark.parametrize(
    ("moment", "business_day"),
    [
        (datetime(2026, 12, 5, 16, 59, 59, tzinfo=UTC), date(2026, 12, 5)),
        (datetime(2026, 12, 5, 17, 0, tzinfo=UTC), date(2026, 12, 6)),
        (datetime(2026, 12, 5, 23, 30, tzinfo=UTC), date(2026, 12, 6)),
        (datetime(2026, 12, 31, 17, 0, tzinfo=UTC), date(2027, 1, 1)),
    ],
)
def test_the_business_day_begins_at_midnight_in_ha_noi(
    moment: datetime, business_day: date, vietnam_calendar: None
) -> None:
    with time_machine.travel(moment, tick=False):
        assert clock.today() == business_day
        assert clock.utcnow() == moment
        assert clock.utcnow().tzinfo is UTC


def test_the_next_business_day_is_waited_for_from_vietnams_midnight(
    vietnam_calendar: None,
) -> None:
    with time_machine.travel(datetime(2026, 12, 5, 16, 0, tzinfo=UTC), tick=False):
        assert clock.seconds_to_next_day() == 3600
    with time_machine.travel(datetime(2026, 12, 5, 17, 0, tzinfo=UTC), tick=False):
        assert clock.seconds_to_next_day() == 24 * 3600


@pytest.mark.parametrize("process_zone", ["UTC", "America/Los_Angeles", "Pacific/Kiritimati"])
def test_the_process_time_zone_does_not_move_the_business_date(process_zone: str) -> None:
    """A fresh process with another TZ reads the same business date at the same moment."""
    code = (
        "import time_machine, datetime as d; from common import clock\n"
        "with time_machine.travel(d.datetime(2026, 12, 5, 23, 30, tzinfo=d.UTC), tick=False):\n"
        "    print(clock.today(), d.date.today())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"TZ": process_zone, "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == "2026-12-06"
    if process_zone != "Pacific/Kiritimati":
        assert out[1] != out[0], "the process's own calendar should differ here"


def test_a_time_zone_that_does_not_exist_refuses_the_start(monkeypatch) -> None:
    before = clock.business_zone().key
    monkeypatch.setenv(clock.TIME_ZONE_SETTING, "Asia/Hanoi-City")
    clock.business_zone.cache_clear()
    try:
        with pytest.raises(clock.InvalidTimeZoneError, match="ISHC_TIME_ZONE"):
            ClubsSettings().check_production()
    finally:
        monkeypatch.undo()
        clock.business_zone.cache_clear()
    assert clock.business_zone().key == before
