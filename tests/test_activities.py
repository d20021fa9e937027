"""A club's activities in the eight areas, its monthly meetings, and its coverage of the areas."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from common import clock
from services.clubs.domain import ActivityArea
from tests.factories import (
    HA_NOI,
    LAO_CAI,
    LAO_CAI_COMMUNE,
    LAO_CAI_OTHER_COMMUNE,
    make_club,
    member_payload,
)
from tests.support import assert_problem
from tools.stack import Stack

AREAS = [area.value for area in ActivityArea]
"""The eight areas, in the order the coverage report lists them."""
TOMORROW = str(clock.today() + timedelta(days=1))


def activity_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "held_on": "2024-03-05",
        "area": "health_care",
        "title": "Khám sức khỏe định kỳ cho người cao tuổi",
        "participants": 45,
        "beneficiaries": 60,
        "notes": "Trạm y tế xã phối hợp",
        **overrides,
    }


def meeting_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "held_on": "2024-03-15",
        "topics": ["Báo cáo quỹ tăng thu nhập", "Kế hoạch chăm sóc tại nhà"],
        "health_checks": 0,
        "fund_decisions": "Cho 2 thành viên vay 5 triệu đồng mỗi người",
        "notes": "",
        "attending_member_ids": [],
        **overrides,
    }


def activities(club: dict) -> str:
    return f"/api/v1/clubs/{club['id']}/activities"


def meetings(club: dict) -> str:
    return f"/api/v1/clubs/{club['id']}/meetings"


def coverage(club: dict) -> str:
    return f"/api/v1/clubs/{club['id']}/coverage"


def add_activity(client: httpx.Client, club: dict, **overrides: Any) -> dict:
    response = client.post(activities(club), json=activity_payload(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def add_meeting(client: httpx.Client, club: dict, **overrides: Any) -> dict:
    response = client.post(meetings(club), json=meeting_payload(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def add_member(client: httpx.Client, club: dict, **overrides: Any) -> int:
    response = client.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload(**overrides))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def leave(client: httpx.Client, member_id: int, left_on: str) -> None:
    response = client.post(f"/api/v1/members/{member_id}/leave", json={"left_on": left_on})
    assert response.status_code == 200, response.text


def dissolve(client: httpx.Client, club: dict) -> None:
    response = client.post(f"/api/v1/clubs/{club['id']}/status", json={"status": "dissolved"})
    assert response.status_code == 200, response.text


def direct(stack: Stack, token: str) -> httpx.Client:
    """A client that calls the clubs service itself, bypassing the gateway's role check."""
    return httpx.Client(
        base_url=stack.url("clubs"), headers={"Authorization": f"Bearer {token}"}, timeout=30.0
    )


# Activities


def test_board_records_an_activity_and_reads_it_back(admin: httpx.Client, as_role) -> None:
    club = make_club(admin)
    board = as_role("club_manager", clubs=[club["id"]])
    response = board.post(activities(club), json=activity_payload())
    assert response.status_code == 201
    activity = response.json()
    assert response.headers["Location"] == f"{activities(club)}/{activity['id']}"
    assert activity["club_id"] == club["id"]
    assert (activity["held_on"], activity["area"]) == ("2024-03-05", "health_care")
    assert (activity["participants"], activity["beneficiaries"]) == (45, 60)
    assert board.get(f"{activities(club)}/{activity['id']}").json() == activity


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"held_on": TOMORROW}, "held_on"),
        ({"held_on": "1999-12-31"}, "held_on"),
        ({"held_on": "2024-02-30"}, "held_on"),
        ({"area": "dancing"}, "area"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"participants": -1}, "participants"),
        ({"beneficiaries": -1}, "beneficiaries"),
        ({"participants": 10**12}, "participants"),
        ({"notes": "x" * 2001}, "notes"),
        ({"club_id": 1}, "club_id"),
    ],
)
def test_bad_activity_input_is_refused_with_the_field(
    admin: httpx.Client, overrides: dict, field: str
) -> None:
    club = make_club(admin)
    assert_problem(admin.post(activities(club), json=activity_payload(**overrides)), 422, field)
    assert admin.get(activities(club)).json()["total"] == 0


def test_an_activity_before_the_club_was_founded_is_refused(admin: httpx.Client) -> None:
    club = make_club(admin, founding_decision_date="2018-05-20")
    body = assert_problem(
        admin.post(activities(club), json=activity_payload(held_on="2018-05-19")), 422, "held_on"
    )
    assert "2018-05-20" in body["detail"]
    assert add_activity(admin, club, held_on="2018-05-20")["held_on"] == "2018-05-20"


def test_activities_are_listed_newest_first_with_period_area_and_paging(
    admin: httpx.Client,
) -> None:
    club = make_club(admin)
    for held_on, area in [
        ("2024-01-10", "health_care"),
        ("2024-03-10", "health_care"),
        ("2023-12-01", "home_care"),
        ("2024-02-10", "culture_sports"),
    ]:
        add_activity(admin, club, held_on=held_on, area=area)

    def days(**params: Any) -> tuple[list[str], int]:
        page = admin.get(activities(club), params=params).json()
        return [a["held_on"] for a in page["items"]], page["total"]

    assert days() == (["2024-03-10", "2024-02-10", "2024-01-10", "2023-12-01"], 4)
    assert days(**{"from": "2024-01-01"}) == (["2024-03-10", "2024-02-10", "2024-01-10"], 3)
    assert days(**{"from": "2024-01-10", "to": "2024-02-10"}) == (["2024-02-10", "2024-01-10"], 2)
    assert days(area="health_care") == (["2024-03-10", "2024-01-10"], 2)
    assert days(limit=2, offset=2) == (["2024-01-10", "2023-12-01"], 4)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2024-03-01", "to": "2024-02-01"}, "from"),
        ({"from": "2024-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"area": "dancing"}, "area"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_activity_filters_are_refused_with_the_parameter(
    admin: httpx.Client, params: dict, field: str
) -> None:
    club = make_club(admin)
    body = assert_problem(admin.get(activities(club), params=params), 422, field)
    assert body["errors"][0]["location"] == "query"


def test_an_activity_is_corrected_and_a_mistaken_one_removed(admin: httpx.Client) -> None:
    club = make_club(admin)
    activity = add_activity(admin, club)
    path = f"{activities(club)}/{activity['id']}"
    changed = admin.patch(path, json={"participants": 50, "area": "home_care", "notes": ""})
    assert changed.status_code == 200
    assert (changed.json()["participants"], changed.json()["area"]) == (50, "home_care")
    assert changed.json()["title"] == activity["title"]
    assert_problem(admin.patch(path, json={"title": None}), 422, "title")
    assert_problem(admin.patch(path, json={"held_on": "2010-01-01"}), 422, "held_on")
    assert_problem(admin.patch(path, json={"held_on": TOMORROW}), 422, "held_on")
    assert_problem(admin.patch(path, json={"participants": -5}), 422, "participants")
    assert admin.get(path).json()["participants"] == 50
    assert admin.delete(path).status_code == 204
    assert_problem(admin.get(path), 404)
    assert_problem(admin.delete(path), 404)
    assert admin.get(activities(club)).json()["total"] == 0


def test_an_activity_is_found_only_under_its_own_club(admin: httpx.Client) -> None:
    club, other = make_club(admin), make_club(admin)
    activity = add_activity(admin, club)
    path = f"{activities(other)}/{activity['id']}"
    assert_problem(admin.get(path), 404)
    assert_problem(admin.patch(path, json={"participants": 1}), 404)
    assert_problem(admin.delete(path), 404)
    assert_problem(admin.get(f"{activities(club)}/{2**31}"), 422, "activity_id")
    assert_problem(admin.get("/api/v1/clubs/99999999/activities"), 404)


# Meetings


def test_board_records_a_monthly_meeting_with_the_members_who_attended(
    admin: httpx.Client, as_role
) -> None:
    club = make_club(admin)
    board = as_role("club_manager", clubs=[club["id"]])
    first, second, third = (add_member(board, club) for _ in range(3))
    response = board.post(
        meetings(club),
        json=meeting_payload(attending_member_ids=[third, first], health_checks=2),
    )
    assert response.status_code == 201
    meeting = response.json()
    assert response.headers["Location"] == f"{meetings(club)}/{meeting['id']}"
    assert meeting["attendance"] == 2
    assert meeting["attending_member_ids"] == sorted([first, third])
    assert second not in meeting["attending_member_ids"]
    assert meeting["health_checks"] == 2
    assert meeting["topics"] == ["Báo cáo quỹ tăng thu nhập", "Kế hoạch chăm sóc tại nhà"]
    assert meeting["fund_decisions"].startswith("Cho 2 thành viên vay")
    assert board.get(f"{meetings(club)}/{meeting['id']}").json() == meeting
    listed = board.get(meetings(club)).json()
    assert listed["total"] == 1 and listed["items"] == [meeting]


def test_attending_members_must_be_active_members_of_that_club_on_the_day(
    admin: httpx.Client,
) -> None:
    club, other = make_club(admin), make_club(admin)
    present = add_member(admin, club, joined_on="2019-01-15")
    stranger = add_member(admin, other)
    newcomer = add_member(admin, club, joined_on="2024-06-01")
    gone = add_member(admin, club, joined_on="2019-01-15")
    leave(admin, gone, "2024-02-01")
    unknown = 2**31 - 1
    response = admin.post(
        meetings(club),
        json=meeting_payload(
            held_on="2024-03-15", attending_member_ids=[present, stranger, newcomer, gone, unknown]
        ),
    )
    body = assert_problem(response, 422, "attending_member_ids")
    assert body["member_ids"] == sorted([stranger, newcomer, gone, unknown])
    assert str(unknown) in body["errors"][0]["reason"]
    assert admin.get(meetings(club)).json()["total"] == 0
    # Before leaving, the member who left could attend; the day of leaving, no longer.
    assert add_meeting(admin, club, held_on="2024-01-31", attending_member_ids=[present, gone])
    assert_problem(
        admin.post(
            meetings(club), json=meeting_payload(held_on="2024-02-01", attending_member_ids=[gone])
        ),
        422,
        "attending_member_ids",
    )


def test_health_checks_never_exceed_the_members_who_attended(admin: httpx.Client) -> None:
    club = make_club(admin)
    member = add_member(admin, club)
    assert_problem(
        admin.post(meetings(club), json=meeting_payload(health_checks=1)), 422, "health_checks"
    )
    response = admin.post(
        meetings(club), json=meeting_payload(health_checks=2, attending_member_ids=[member])
    )
    assert_problem(response, 422, "health_checks")
    assert add_meeting(admin, club, health_checks=1, attending_member_ids=[member])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"held_on": TOMORROW}, "held_on"),
        ({"held_on": "1999-12-31"}, "held_on"),
        ({"held_on": None}, "held_on"),
        ({"topics": [""]}, "topics.0"),
        ({"topics": "quỹ"}, "topics"),
        ({"topics": ["x" * 201]}, "topics.0"),
        ({"topics": ["chủ đề"] * 51}, "topics"),
        ({"health_checks": -1}, "health_checks"),
        ({"fund_decisions": "x" * 2001}, "fund_decisions"),
        ({"attending_member_ids": [0]}, "attending_member_ids.0"),
        ({"attending_member_ids": [2**31]}, "attending_member_ids.0"),
        ({"attending_member_ids": [5, 7, 5]}, "attending_member_ids"),
        ({"attendance": 12}, "attendance"),
    ],
)
def test_bad_meeting_input_is_refused_with_the_field(
    admin: httpx.Client, overrides: dict, field: str
) -> None:
    club = make_club(admin)
    assert_problem(admin.post(meetings(club), json=meeting_payload(**overrides)), 422, field)
    assert admin.get(meetings(club)).json()["total"] == 0


def test_a_meeting_before_the_club_was_founded_is_refused(admin: httpx.Client) -> None:
    club = make_club(admin, founding_decision_date="2020-06-01")
    response = admin.post(meetings(club), json=meeting_payload(held_on="2020-05-31"))
    assert_problem(response, 422, "held_on")


def test_a_club_meets_at_most_once_a_day(admin: httpx.Client) -> None:
    club, other = make_club(admin), make_club(admin)
    first = add_meeting(admin, club, held_on="2024-03-15")
    body = assert_problem(
        admin.post(meetings(club), json=meeting_payload(held_on="2024-03-15")), 409
    )
    assert body["meeting_id"] == first["id"]
    assert add_meeting(admin, other, held_on="2024-03-15")
    april = add_meeting(admin, club, held_on="2024-04-15")
    path = f"{meetings(club)}/{april['id']}"
    assert_problem(admin.patch(path, json={"held_on": "2024-03-15"}), 409)
    assert admin.patch(path, json={"held_on": "2024-04-15", "notes": "đổi"}).status_code == 200
    assert admin.get(meetings(club)).json()["total"] == 2


def test_a_meeting_is_corrected_and_keeps_every_rule(admin: httpx.Client) -> None:
    club = make_club(admin)
    early = add_member(admin, club, joined_on="2019-01-15")
    late = add_member(admin, club, joined_on="2024-03-01")
    meeting = add_meeting(
        admin, club, held_on="2024-03-15", attending_member_ids=[early], health_checks=1
    )
    path = f"{meetings(club)}/{meeting['id']}"

    changed = admin.patch(
        path,
        json={"attending_member_ids": [early, late], "health_checks": 2, "topics": ["Văn nghệ"]},
    )
    assert changed.status_code == 200
    assert changed.json()["attending_member_ids"] == sorted([early, late])
    assert (changed.json()["attendance"], changed.json()["topics"]) == (2, ["Văn nghệ"])
    # Fewer attendees than health checks, or a day when one of them was not yet a member.
    assert_problem(admin.patch(path, json={"attending_member_ids": [late]}), 422, "health_checks")
    assert_problem(admin.patch(path, json={"held_on": "2024-02-15"}), 422, "attending_member_ids")
    assert_problem(admin.patch(path, json={"topics": None}), 422, "topics")
    assert admin.get(path).json() == changed.json()
    assert (
        admin.patch(path, json={"attending_member_ids": [], "health_checks": 0}).json()[
            "attendance"
        ]
        == 0
    )


def test_meetings_are_listed_newest_first_in_a_period(admin: httpx.Client) -> None:
    club = make_club(admin)
    for held_on in ("2024-01-15", "2024-03-15", "2024-02-15"):
        add_meeting(admin, club, held_on=held_on)
    page = admin.get(meetings(club), params={"from": "2024-02-01", "limit": 1}).json()
    assert page["total"] == 2 and [m["held_on"] for m in page["items"]] == ["2024-03-15"]
    assert_problem(
        admin.get(meetings(club), params={"from": "2024-03-01", "to": "2024-01-01"}), 422, "from"
    )


def test_a_meeting_is_found_only_under_its_own_club(admin: httpx.Client) -> None:
    club, other = make_club(admin), make_club(admin)
    meeting = add_meeting(admin, club)
    assert_problem(admin.get(f"{meetings(other)}/{meeting['id']}"), 404)
    assert_problem(admin.patch(f"{meetings(other)}/{meeting['id']}", json={"notes": "x"}), 404)


def test_a_dissolved_club_records_nothing_new_but_keeps_its_history(
    admin: httpx.Client,
) -> None:
    club = make_club(admin)
    activity = add_activity(admin, club)
    meeting = add_meeting(admin, club)
    dissolve(admin, club)
    assert_problem(admin.post(activities(club), json=activity_payload(held_on="2024-05-01")), 409)
    assert_problem(admin.post(meetings(club), json=meeting_payload(held_on="2024-05-15")), 409)
    assert [a["id"] for a in admin.get(activities(club)).json()["items"]] == [activity["id"]]
    assert [m["id"] for m in admin.get(meetings(club)).json()["items"]] == [meeting["id"]]
    # The history can still be corrected.
    fixed = admin.patch(f"{activities(club)}/{activity['id']}", json={"participants": 44})
    assert fixed.status_code == 200


# Coverage


def test_club_runs_all_eight_areas_when_each_has_an_activity_in_the_period(
    admin: httpx.Client,
) -> None:
    club = make_club(admin)
    for month, area in enumerate(AREAS, start=1):
        add_activity(
            admin,
            club,
            held_on=f"2024-{month:02d}-10",
            area=area,
            participants=10,
            beneficiaries=month,
        )
    add_activity(admin, club, held_on="2024-02-20", area="health_care", participants=5)
    report = admin.get(coverage(club), params={"from": "2024-01-01", "to": "2024-12-31"}).json()
    assert report["runs_all_eight"] is True
    assert report["missing_areas"] == [] and report["areas_covered"] == 8
    assert [a["area"] for a in report["areas"]] == AREAS
    health = next(a for a in report["areas"] if a["area"] == "health_care")
    assert (health["activities"], health["participants"], health["beneficiaries"]) == (2, 15, 62)
    assert (report["from"], report["to"], report["club_id"]) == (
        "2024-01-01",
        "2024-12-31",
        club["id"],
    )


def test_coverage_names_the_missing_areas_and_counts_only_the_period(
    admin: httpx.Client,
) -> None:
    club = make_club(admin)
    for area in AREAS[:-1]:
        add_activity(admin, club, held_on="2024-06-01", area=area)
    add_activity(admin, club, held_on="2023-12-31", area=AREAS[-1])
    report = admin.get(coverage(club), params={"from": "2024-01-01", "to": "2024-12-31"}).json()
    assert report["runs_all_eight"] is False
    assert report["missing_areas"] == ["resource_mobilisation"]
    assert report["areas_covered"] == 7
    missing = next(a for a in report["areas"] if a["area"] == "resource_mobilisation")
    assert (missing["activities"], missing["participants"], missing["beneficiaries"]) == (0, 0, 0)
    whole = admin.get(coverage(club), params={"from": "2023-12-01", "to": "2024-12-31"}).json()
    assert whole["runs_all_eight"] is True


def test_coverage_counts_meetings_and_the_months_with_a_meeting(admin: httpx.Client) -> None:
    club = make_club(admin)
    for held_on in ("2024-01-15", "2024-02-15", "2024-02-28", "2024-04-15", "2024-05-15"):
        add_meeting(admin, club, held_on=held_on)
    report = admin.get(coverage(club), params={"from": "2024-01-01", "to": "2024-04-30"}).json()
    assert report["meetings_held"] == 4
    assert report["months_with_meeting"] == 3
    assert report["months_in_period"] == 4
    empty = make_club(admin)
    assert admin.get(coverage(empty)).json()["meetings_held"] == 0


def test_coverage_defaults_to_the_current_year_to_date(admin: httpx.Client) -> None:
    club = make_club(admin)
    today = clock.today()
    add_activity(admin, club, held_on=str(today), area="culture_sports")
    add_activity(admin, club, held_on=str(date(today.year - 1, 12, 31)), area="home_care")
    report = admin.get(coverage(club)).json()
    assert (report["from"], report["to"]) == (str(date(today.year, 1, 1)), str(today))
    assert report["areas_covered"] == 1
    assert "home_care" in report["missing_areas"]
    last_year = admin.get(coverage(club), params={"to": f"{today.year - 1}-12-31"}).json()
    assert last_year["from"] == f"{today.year - 1}-01-01"
    assert last_year["areas_covered"] == 1 and "culture_sports" in last_year["missing_areas"]


def test_coverage_period_must_run_forwards(admin: httpx.Client) -> None:
    club = make_club(admin)
    response = admin.get(coverage(club), params={"from": "2024-06-01", "to": "2024-05-31"})
    assert_problem(response, 422, "from")
    future_start = admin.get(coverage(club), params={"from": TOMORROW})
    assert_problem(future_start, 422, "from")


# Who may read and write


def test_the_areas_officer_and_the_clubs_board_write_but_others_see_nothing(
    admin: httpx.Client, as_role
) -> None:
    club = make_club(admin, commune_code=LAO_CAI_COMMUNE)
    officer = as_role("officer", provinces=[LAO_CAI])
    board = as_role("club_manager", clubs=[club["id"]])
    assert add_activity(officer, club, area="income_generation")
    assert add_meeting(officer, club, held_on="2024-01-15")
    assert add_activity(board, club, area="home_care")
    assert add_meeting(board, club, held_on="2024-02-15")
    outsiders = [
        as_role("officer", provinces=[HA_NOI]),
        as_role("officer", provinces=[LAO_CAI], communes=[LAO_CAI_OTHER_COMMUNE]),
        as_role("club_manager", clubs=[make_club(admin)["id"]]),
    ]
    meeting_id = admin.get(meetings(club)).json()["items"][0]["id"]
    activity_id = admin.get(activities(club)).json()["items"][0]["id"]
    for outsider in outsiders:
        assert_problem(outsider.get(activities(club)), 404)
        assert_problem(outsider.get(f"{activities(club)}/{activity_id}"), 404)
        assert_problem(outsider.post(activities(club), json=activity_payload()), 404)
        assert_problem(outsider.delete(f"{activities(club)}/{activity_id}"), 404)
        assert_problem(outsider.get(meetings(club)), 404)
        assert_problem(outsider.post(meetings(club), json=meeting_payload()), 404)
        assert_problem(outsider.patch(f"{meetings(club)}/{meeting_id}", json={"notes": "x"}), 404)
        assert_problem(outsider.get(coverage(club)), 404)
    assert admin.get(activities(club)).json()["total"] == 2


def test_partners_read_activities_and_coverage_but_not_meetings(
    admin: httpx.Client, as_role, stack: Stack, token_for: Callable[..., str]
) -> None:
    club = make_club(admin)
    activity = add_activity(admin, club)
    meeting = add_meeting(admin, club)
    through_gateway = as_role("partner", funder_id=1)
    at_service = direct(stack, token_for("partner", funder_id=1))
    for partner in (through_gateway, at_service):
        assert partner.get(activities(club)).json()["total"] == 1
        assert partner.get(f"{activities(club)}/{activity['id']}").status_code == 200
        assert partner.get(coverage(club)).status_code == 200
        assert_problem(partner.get(meetings(club)), 403)
        assert_problem(partner.get(f"{meetings(club)}/{meeting['id']}"), 403)
        assert_problem(partner.post(activities(club), json=activity_payload()), 403)
        assert_problem(
            partner.patch(f"{activities(club)}/{activity['id']}", json={"participants": 1}), 403
        )
        assert_problem(partner.delete(f"{activities(club)}/{activity['id']}"), 403)
        assert_problem(partner.post(meetings(club), json=meeting_payload()), 403)
        assert_problem(partner.get("/api/v1/clubs/99999999/activities"), 404)
    assert admin.get(f"{activities(club)}/{activity['id']}").json() == activity


def test_the_bank_is_refused_at_the_gateway_and_at_the_service(
    admin: httpx.Client, as_role, stack: Stack, token_for: Callable[..., str]
) -> None:
    club = make_club(admin)
    activity = add_activity(admin, club)
    for bank in (as_role("bank"), direct(stack, token_for("bank"))):
        for path in (
            activities(club),
            f"{activities(club)}/{activity['id']}",
            meetings(club),
            coverage(club),
        ):
            assert_problem(bank.get(path), 403)
        assert_problem(bank.post(activities(club), json=activity_payload()), 403)
        assert_problem(bank.post(meetings(club), json=meeting_payload()), 403)


def test_service_tokens_read_activities_coverage_and_meetings_but_never_write(
    admin: httpx.Client, stack: Stack, token_for: Callable[..., str]
) -> None:
    club = make_club(admin)
    add_activity(admin, club)
    add_meeting(admin, club)
    service = direct(stack, token_for("service"))
    assert service.get(activities(club)).json()["total"] == 1
    assert service.get(coverage(club)).status_code == 200
    assert service.get(meetings(club)).json()["total"] == 1
    assert_problem(service.post(activities(club), json=activity_payload()), 403)
    assert_problem(service.post(meetings(club), json=meeting_payload(held_on="2024-04-15")), 403)


def test_meetings_posted_at_once_for_the_same_day_make_exactly_one(
    admin: httpx.Client, api
) -> None:
    club = make_club(admin)
    clients = [api.client(api.admin_token) for _ in range(8)]
    with ThreadPoolExecutor(len(clients)) as pool:
        answers = list(
            pool.map(lambda c: c.post(meetings(club), json=meeting_payload()).status_code, clients)
        )
    assert sorted(answers) == [201] + [409] * 7, answers
    assert admin.get(meetings(club)).json()["total"] == 1


def test_a_member_cannot_leave_before_a_meeting_they_attended(admin: httpx.Client) -> None:
    club = make_club(admin)
    member_id = add_member(admin, club, joined_on="2023-01-10")
    add_meeting(admin, club, held_on="2024-01-31", attending_member_ids=[member_id])
    response = admin.post(f"/api/v1/members/{member_id}/leave", json={"left_on": "2024-01-15"})
    assert_problem(response, 422, field="left_on")
    moved = admin.patch(f"/api/v1/members/{member_id}", json={"joined_on": "2024-02-01"})
    assert_problem(moved, 422, field="joined_on")
    leave(admin, member_id, "2024-02-01")


def test_a_club_cannot_be_refounded_after_its_first_record(admin: httpx.Client) -> None:
    club = make_club(admin, founding_decision_date="2018-05-20")
    add_activity(admin, club, held_on="2019-04-02")
    response = admin.patch(
        f"/api/v1/clubs/{club['id']}", json={"founding_decision_date": "2020-01-01"}
    )
    assert_problem(response, 422, field="founding_decision_date")
    earlier = admin.patch(
        f"/api/v1/clubs/{club['id']}", json={"founding_decision_date": "2018-01-01"}
    )
    assert earlier.status_code == 200
