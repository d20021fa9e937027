"""Club members: who may see them, the rules of a membership, the board, and importing lists."""

import csv
import io
import subprocess
import sys
from datetime import datetime, timedelta

import httpx
import pytest
from openpyxl import Workbook

from common import clock
from services.clubs.members.tabular import CellError, parse_date
from tests.factories import (
    HA_NOI,
    HA_NOI_COMMUNE,
    LAO_CAI,
    make_club,
    member_payload,
    national_id,
)
from tests.support import assert_problem
from tools.stack import Stack

TODAY = clock.today()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def add_member(client: httpx.Client, club_id: int, **overrides) -> dict:
    response = client.post(f"/api/v1/clubs/{club_id}/members", json=member_payload(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def members_of(client: httpx.Client, club_id: int, **params) -> dict:
    response = client.get(f"/api/v1/clubs/{club_id}/members", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return response.json()


def errors_of(response: httpx.Response, field: str) -> list[str]:
    return [e["reason"] for e in response.json()["errors"] if e["field"] == field]


# Keeping members


def test_the_board_adds_a_member_and_reads_it_back(admin: httpx.Client, as_role) -> None:
    club = make_club(admin)
    board = as_role("club_manager", clubs=[club["id"]])
    created = board.post(
        f"/api/v1/clubs/{club['id']}/members",
        json=member_payload(full_name="  Nguyễn   Thị Hoa ", phone="+84 91 234 5678"),
    )
    assert created.status_code == 201, created.text
    member = created.json()
    assert created.headers["Location"] == f"/api/v1/members/{member['id']}"
    assert member["full_name"] == "Nguyễn Thị Hoa" and member["phone"] == "0912345678"
    assert member["active"] and member["left_on"] is None and member["club_id"] == club["id"]
    assert member["birth_year"] == 1955 and member["joined_on"] == "2019-01-15"
    read = board.get(f"/api/v1/members/{member['id']}")
    assert read.status_code == 200 and read.json() == member and read.headers["ETag"]


def test_a_member_known_only_by_birth_year_joins_today_by_default(admin: httpx.Client) -> None:
    club = make_club(admin)
    payload = member_payload(birth_date=None, birth_year=1950, gender="male")
    del payload["joined_on"]
    created = admin.post(f"/api/v1/clubs/{club['id']}/members", json=payload)
    assert created.status_code == 201, created.text
    assert created.json()["birth_year"] == 1950 and created.json()["birth_date"] is None
    assert created.json()["joined_on"] == TODAY.isoformat()


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("+84 912 345 678", "0912345678"),
        ("84912345678", "0912345678"),
        ("091.234.5678", "0912345678"),
        ("0388 123 456", "0388123456"),
        ("+84 (0) 971 234 567", "0971234567"),
        ("024 3825 1234", "02438251234"),
        ("0214.3840.123", "02143840123"),
    ],
)
def test_phone_numbers_are_stored_normalised(admin: httpx.Client, given: str, stored: str) -> None:
    club = make_club(admin)
    assert add_member(admin, club["id"], phone=given)["phone"] == stored


@pytest.mark.parametrize(
    "phone", ["12345", "0112345678", "0612345678", "091234567", "+1 202 555 0101", "09123456789"]
)
def test_malformed_phone_numbers_are_refused(admin: httpx.Client, phone: str) -> None:
    club = make_club(admin)
    response = admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload(phone=phone))
    assert_problem(response, 422, field="phone")
    assert "Vietnamese phone number" in errors_of(response, "phone")[0]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("01015512345", "12 digits"),
        ("0101551234ab", "12 digits"),
        ("003155123456", "digits 1–3 (003) are not a province code"),
        ("097155123456", "digits 1–3 (097) are not a province code"),
        ("010555123456", "digit 4 (5) must be 0–3"),
    ],
)
def test_malformed_national_ids_are_refused(admin: httpx.Client, value: str, reason: str) -> None:
    club = make_club(admin)
    response = admin.post(
        f"/api/v1/clubs/{club['id']}/members", json=member_payload(national_id=value)
    )
    assert_problem(response, 422, field="national_id")
    assert reason in errors_of(response, "national_id")[0]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"national_id": national_id(1955, "male")}, "is for a male person, but gender is female"),
        ({"national_id": "010156123456"}, "digits 5–6 are not the last two digits of the birth"),
        (
            {"birth_date": "2001-02-03", "national_id": "010101123456"},
            "is for a birth in 1900–1999, but the birth year is not",
        ),
    ],
)
def test_the_national_id_must_agree_with_gender_and_birth_year(
    admin: httpx.Client, overrides: dict, reason: str
) -> None:
    club = make_club(admin)
    response = admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload(**overrides))
    assert_problem(response, 422, field="national_id")
    assert reason in errors_of(response, "national_id")[0]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"birth_date": str(TODAY + timedelta(days=1))}, "birth_date"),
        ({"birth_date": "1955-03-10", "birth_year": 1956}, "birth_year"),
        ({"birth_date": None}, "birth_date"),
        ({"birth_date": None, "birth_year": TODAY.year + 1}, "birth_year"),
        ({"joined_on": str(TODAY + timedelta(days=1))}, "joined_on"),
        ({"joined_on": "1950-01-01"}, "joined_on"),
        ({"gender": "other"}, "gender"),
        ({"household_status": "rich"}, "household_status"),
        ({"board_role": "president"}, "board_role"),
        ({"full_name": "Nguyễn Thị 2"}, "full_name"),
        ({"full_name": ""}, "full_name"),
        ({"club_id": 5}, "club_id"),
    ],
)
def test_bad_member_input_is_refused_with_the_field(
    admin: httpx.Client, overrides: dict, field: str
) -> None:
    club = make_club(admin)
    payload = member_payload(**overrides)
    response = admin.post(f"/api/v1/clubs/{club['id']}/members", json=payload)
    assert_problem(response, 422, field=field)
    assert members_of(admin, club["id"])["total"] == 0


def test_a_person_is_an_active_member_of_one_club_at_a_time(admin: httpx.Client, as_role) -> None:
    first, second = make_club(admin), make_club(admin)
    member = add_member(admin, first["id"])
    again = admin.post(
        f"/api/v1/clubs/{first['id']}/members",
        json=member_payload(national_id=member["national_id"]),
    )
    assert f"this club (member {member['id']})" in assert_problem(again, 409)["detail"]
    other = add_member(admin, first["id"])
    taken = admin.patch(
        f"/api/v1/members/{other['id']}", json={"national_id": member["national_id"]}
    )
    assert f"this club (member {member['id']})" in assert_problem(taken, 409)["detail"]
    officer = as_role("officer", provinces=[LAO_CAI])
    elsewhere = officer.post(
        f"/api/v1/clubs/{second['id']}/members",
        json=member_payload(national_id=member["national_id"]),
    )
    assert f"another club (club {first['id']}" in assert_problem(elsewhere, 409)["detail"]
    # The second club's board may not see the first club: told no more than that it exists.
    board = as_role("club_manager", clubs=[second["id"]])
    hidden = board.post(
        f"/api/v1/clubs/{second['id']}/members",
        json=member_payload(national_id=member["national_id"]),
    )
    body = assert_problem(hidden, 409)
    assert "another club" in body["detail"] and str(first["id"]) not in body["detail"]
    assert "member_id" not in body and "club_id" not in body
    # After leaving, a re-join (here: in another club) is a new membership.
    left = admin.post(f"/api/v1/members/{member['id']}/leave", json={"left_on": str(TODAY)})
    assert left.status_code == 200, left.text
    rejoined = add_member(
        board, second["id"], national_id=member["national_id"], joined_on=str(TODAY)
    )
    assert rejoined["id"] != member["id"]
    assert admin.get(f"/api/v1/members/{member['id']}").json()["left_on"] == str(TODAY)


def test_memberships_of_one_person_do_not_overlap(admin: httpx.Client) -> None:
    club = make_club(admin)
    member = add_member(admin, club["id"], joined_on="2019-01-15")
    admin.post(f"/api/v1/members/{member['id']}/leave", json={"left_on": "2022-06-30"})
    overlapping = admin.post(
        f"/api/v1/clubs/{club['id']}/members",
        json=member_payload(national_id=member["national_id"], joined_on="2021-01-01"),
    )
    assert_problem(overlapping, 422, field="joined_on")
    assert "2022-06-30" in errors_of(overlapping, "joined_on")[0]
    add_member(admin, club["id"], national_id=member["national_id"], joined_on="2022-06-30")


def test_a_club_has_at_most_one_active_chair(admin: httpx.Client) -> None:
    club = make_club(admin)
    chair = add_member(admin, club["id"], board_role="chair")
    second = admin.post(
        f"/api/v1/clubs/{club['id']}/members", json=member_payload(board_role="chair")
    )
    body = assert_problem(second, 409)
    assert body["chair_member_id"] == chair["id"] and f"member {chair['id']}" in body["detail"]
    vice = add_member(admin, club["id"], board_role="vice_chair")
    promoted = admin.patch(f"/api/v1/members/{vice['id']}", json={"board_role": "chair"})
    assert assert_problem(promoted, 409)["chair_member_id"] == chair["id"]
    admin.post(f"/api/v1/members/{chair['id']}/leave", json={"left_on": str(TODAY)})
    promoted = admin.patch(f"/api/v1/members/{vice['id']}", json={"board_role": "chair"})
    assert promoted.status_code == 200 and promoted.json()["board_role"] == "chair"


def test_leaving_keeps_the_record_with_its_end_date(admin: httpx.Client) -> None:
    club = make_club(admin)
    member = add_member(admin, club["id"], joined_on="2020-03-01")
    path = f"/api/v1/members/{member['id']}/leave"
    assert_problem(admin.post(path, json={"left_on": "2020-02-28"}), 422, field="left_on")
    future = str(TODAY + timedelta(days=1))
    assert_problem(admin.post(path, json={"left_on": future}), 422, field="left_on")
    assert_problem(admin.post(path, json={"reason": "moved"}), 422, field="left_on")
    left = admin.post(path, json={"left_on": "2024-05-31", "reason": "moved to Hà Nội"})
    assert left.status_code == 200 and left.json()["left_on"] == "2024-05-31"
    assert not left.json()["active"]
    assert_problem(admin.post(path, json={"left_on": "2024-06-30"}), 409)
    # History stays: not among current members, but in the full list and readable by id.
    assert members_of(admin, club["id"])["total"] == 0
    assert members_of(admin, club["id"], include_left=True)["total"] == 1
    assert members_of(admin, club["id"], active_on="2023-01-01")["total"] == 1
    assert admin.get(f"/api/v1/members/{member['id']}").status_code == 200
    closed = admin.patch(f"/api/v1/members/{member['id']}", json={"phone": "0987654321"})
    assert_problem(closed, 409)


def test_a_dissolved_club_takes_no_new_members(admin: httpx.Client) -> None:
    club = make_club(admin)
    dissolved = admin.post(f"/api/v1/clubs/{club['id']}/status", json={"status": "dissolved"})
    assert dissolved.status_code == 200
    assert_problem(admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload()), 409)
    upload = {"file": ("members.csv", _csv([_row()]), "text/csv")}
    assert_problem(admin.post(f"/api/v1/clubs/{club['id']}/members/import", files=upload), 409)


def test_changes_are_judged_with_the_members_other_fields(admin: httpx.Client) -> None:
    club = make_club(admin)
    member = add_member(admin, club["id"])
    path = f"/api/v1/members/{member['id']}"
    # A woman's citizen ID does not fit a man.
    assert_problem(admin.patch(path, json={"gender": "male"}), 422, field="national_id")
    assert_problem(admin.patch(path, json={"birth_year": 1960}), 422, field="birth_year")
    assert_problem(admin.patch(path, json={"full_name": None}), 422, field="full_name")
    assert_problem(admin.patch(path, json={"left_on": "2024-01-01"}), 422, field="left_on")
    year_only = admin.patch(path, json={"birth_date": None})
    assert year_only.status_code == 200, year_only.text
    assert year_only.json()["birth_date"] is None and year_only.json()["birth_year"] == 1955
    changed = admin.patch(
        path,
        json={"phone": "+84 24 3825 1234", "household_status": "near_poor", "national_id": None},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "02438251234" and changed.json()["national_id"] is None


def test_a_stale_if_match_gets_412_and_changes_nothing(admin: httpx.Client) -> None:
    club = make_club(admin)
    member = add_member(admin, club["id"])
    path = f"/api/v1/members/{member['id']}"
    etag = admin.get(path).headers["ETag"]
    first = admin.patch(path, json={"household_status": "near_poor"}, headers={"If-Match": etag})
    assert first.status_code == 200 and first.headers["ETag"] != etag
    stale = admin.patch(path, json={"full_name": "Trần Thị Mai"}, headers={"If-Match": etag})
    assert_problem(stale, 412)
    stale_leave = admin.post(
        f"{path}/leave", json={"left_on": str(TODAY)}, headers={"If-Match": etag}
    )
    assert_problem(stale_leave, 412)
    after = admin.get(path).json()
    assert after["full_name"] == "Nguyễn Thị Hoa" and after["household_status"] == "near_poor"
    assert after["left_on"] is None


def test_the_member_list_filters_searches_sorts_and_pages(admin: httpx.Client) -> None:
    club = make_club(admin)
    people = [
        ("Nguyễn Thị Hoa", "female", "poor", "chair", "2019-01-15"),
        ("Trần Văn An", "male", "none", None, "2019-01-15"),
        ("Lê Thị Ánh", "female", "near_poor", "accountant", "2021-06-01"),
        ("Nguyễn Văn Bình", "male", "poor", None, "2019-01-15"),
    ]
    ids = {}
    for name, gender, household, role, joined in people:
        ids[name] = add_member(
            admin,
            club["id"],
            full_name=name,
            gender=gender,
            national_id=national_id(1955, gender),
            household_status=household,
            board_role=role,
            joined_on=joined,
        )["id"]
    left = add_member(admin, club["id"], full_name="Phạm Thị Lan", joined_on="2019-01-15")
    admin.post(f"/api/v1/members/{left['id']}/leave", json={"left_on": "2020-12-31"})

    def names(**params) -> list[str]:
        return [m["full_name"] for m in members_of(admin, club["id"], **params)["items"]]

    assert names() == ["Lê Thị Ánh", "Nguyễn Thị Hoa", "Nguyễn Văn Bình", "Trần Văn An"]
    assert names(sort="-name")[0] == "Trần Văn An"
    assert names(sort="given_name") == [
        "Trần Văn An",
        "Lê Thị Ánh",
        "Nguyễn Văn Bình",
        "Nguyễn Thị Hoa",
    ]
    assert names(sort="id")[0] == "Nguyễn Thị Hoa"
    assert names(q="NGUYEN") == ["Nguyễn Thị Hoa", "Nguyễn Văn Bình"]
    assert names(q="ánh") == names(q="anh") == ["Lê Thị Ánh"]
    assert names(board_role="chair") == ["Nguyễn Thị Hoa"]
    assert names(household_status="poor", gender="male") == ["Nguyễn Văn Bình"]
    assert names(active_on="2020-06-01") == [
        "Nguyễn Thị Hoa",
        "Nguyễn Văn Bình",
        "Phạm Thị Lan",
        "Trần Văn An",
    ]
    assert len(names(include_left=True)) == 5
    page = admin.get(
        f"/api/v1/clubs/{club['id']}/members", params={"limit": 2, "offset": 2, "sort": "id"}
    ).json()
    assert page["total"] == 4 and [m["id"] for m in page["items"]] == [
        ids["Lê Thị Ánh"],
        ids["Nguyễn Văn Bình"],
    ]
    both = admin.get(
        f"/api/v1/clubs/{club['id']}/members",
        params={"include_left": True, "active_on": "2020-01-01"},
    )
    assert_problem(both, 422, field="include_left")
    for params, field in [({"sort": "age"}, "sort"), ({"gender": "x"}, "gender")]:
        response = admin.get(f"/api/v1/clubs/{club['id']}/members", params=params)
        assert_problem(response, 422, field=field)


# Who may see and change members


def test_officers_and_boards_of_other_places_get_404(admin: httpx.Client, as_role) -> None:
    club = make_club(admin)
    member = add_member(admin, club["id"])
    ha_noi = make_club(admin, province_code=HA_NOI, commune_code=HA_NOI_COMMUNE)
    strangers = [
        as_role("officer", provinces=[HA_NOI]),
        as_role("club_manager", clubs=[ha_noi["id"]]),
    ]
    for stranger in strangers:
        assert_problem(stranger.get(f"/api/v1/clubs/{club['id']}/members"), 404)
        assert_problem(stranger.get(f"/api/v1/clubs/{club['id']}/board"), 404)
        response = stranger.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload())
        assert_problem(response, 404)
        assert_problem(stranger.get(f"/api/v1/members/{member['id']}"), 404)
        assert_problem(stranger.patch(f"/api/v1/members/{member['id']}", json={}), 404)
        left = stranger.post(
            f"/api/v1/members/{member['id']}/leave", json={"left_on": "2024-01-01"}
        )
        assert_problem(left, 404)
    assert_problem(admin.get("/api/v1/members/2147483647"), 404)
    officer = as_role("officer", provinces=[LAO_CAI])
    assert officer.get(f"/api/v1/members/{member['id']}").status_code == 200
    assert admin.get(f"/api/v1/members/{member['id']}").status_code == 200


@pytest.mark.parametrize(("role", "scope"), [("partner", {"funder_id": 1}), ("bank", {})])
def test_partners_and_the_bank_never_see_members(
    admin: httpx.Client, as_role, token_for, stack: Stack, role: str, scope: dict
) -> None:
    club = make_club(admin)
    member = add_member(admin, club["id"])
    paths = [
        f"/api/v1/clubs/{club['id']}/members",
        f"/api/v1/clubs/{club['id']}/board",
        f"/api/v1/members/{member['id']}",
    ]
    client = as_role(role, **scope)
    direct = httpx.Client(
        base_url=stack.url("clubs"),
        headers={"Authorization": f"Bearer {token_for(role, **scope)}"},
    )
    for path in paths:
        assert_problem(client.get(path), 403)
        assert_problem(direct.get(path), 403)
    for through in (client, direct):
        assert_problem(
            through.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload()), 403
        )
        assert_problem(through.patch(f"/api/v1/members/{member['id']}", json={}), 403)


def test_services_read_members_but_do_not_change_them(admin: httpx.Client, as_role) -> None:
    club = make_club(admin)
    member = add_member(admin, club["id"])
    service = as_role("service")
    assert members_of(service, club["id"])["total"] == 1
    assert service.get(f"/api/v1/members/{member['id']}").status_code == 200
    response = service.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload())
    assert_problem(response, 403)
    patched = service.patch(f"/api/v1/members/{member['id']}", json={"phone": "0987654321"})
    assert_problem(patched, 403)


def test_every_change_to_a_member_is_audited_for_admins_only(admin: httpx.Client, as_role) -> None:
    club = make_club(admin)
    board = as_role("club_manager", clubs=[club["id"]])
    member = add_member(board, club["id"])
    board.patch(f"/api/v1/members/{member['id']}", json={"household_status": "near_poor"})
    board.post(
        f"/api/v1/members/{member['id']}/leave", json={"left_on": str(TODAY), "reason": "moved"}
    )
    entries = admin.get(f"/api/v1/members/{member['id']}/audit").json()["items"]
    assert [e["action"] for e in entries] == ["created", "updated", "left"]
    assert entries[0]["after"]["national_id"] == member["national_id"]
    assert entries[1]["before"] == {"household_status": "poor"}
    assert entries[1]["after"] == {"household_status": "near_poor"}
    assert entries[2]["after"] == {"left_on": str(TODAY), "reason": "moved"}
    assert len({e["actor"] for e in entries}) == 1 and entries[0]["actor"] != "user:admin"
    assert_problem(board.get(f"/api/v1/members/{member['id']}/audit"), 403)
    assert_problem(
        as_role("officer", provinces=[LAO_CAI]).get(f"/api/v1/members/{member['id']}/audit"), 403
    )


# The board


def test_the_board_is_checked_against_the_club_model(admin: httpx.Client, as_role) -> None:
    club = make_club(admin)
    path = f"/api/v1/clubs/{club['id']}/board"
    for role in ("vice_chair", "accountant", "treasurer", "group_leader"):
        add_member(admin, club["id"], board_role=role, home_care_volunteer=True)
    board = admin.get(path).json()
    assert board["size"] == 4 and not board["compliant"]
    assert board["failures"] == [
        "board of 4, not 3, 5 or 7",
        "no chair",
        "home-care volunteers 4 < 5",
        "no income-generation volunteer team",
    ]
    chair = add_member(admin, club["id"], board_role="chair", income_generation_volunteer=True)
    add_member(admin, club["id"], home_care_volunteer=True)
    board = as_role("club_manager", clubs=[club["id"]]).get(path).json()
    assert board["compliant"] and board["failures"] == [] and board["size"] == 5
    assert board["seats"][0] == {
        "member_id": chair["id"],
        "full_name": "Nguyễn Thị Hoa",
        "board_role": "chair",
        "home_care_volunteer": False,
        "income_generation_volunteer": True,
    }
    assert [c["rule"] for c in board["checks"]] == [
        "board_size",
        "one_chair",
        "home_care_volunteers",
        "income_generation_team",
    ]
    assert board["home_care_volunteers"] == 5 and board["income_generation_volunteers"] == 1
    before = admin.get(path, params={"on": "2018-01-01"}).json()
    assert before["size"] == 0 and "no chair" in before["failures"]


# Importing member lists

HEADERS_EN = [
    "full_name",
    "gender",
    "date_of_birth",
    "household_status",
    "national_id",
    "phone",
    "joined_on",
    "board_role",
    "home_care_volunteer",
    "income_generation_volunteer",
    "consent_form",
    "consent_date",
    "consent_bank_matching",
    "consent_funder_figures",
]
CONSENT_VI = "Số phiếu đồng ý,Ngày đồng ý"
CONSENT = CONSENT_VI.split(",")
"""The two consent columns every member list needs, as Vietnamese sheets head them."""


def _row(**overrides) -> dict:
    gender = overrides.get("gender", "female")
    return {
        "full_name": "Vàng Thị Dợ",
        "gender": gender,
        "date_of_birth": "12/03/1956",
        "household_status": "poor",
        "national_id": national_id(1956, gender),
        "phone": "0912 345 678",
        "joined_on": "2019-01-15",
        "board_role": "",
        "home_care_volunteer": "x",
        "income_generation_volunteer": "",
        "consent_form": "01/2019",
        "consent_date": "15/01/2019",
        "consent_bank_matching": "x",
        "consent_funder_figures": "x",
        **overrides,
    }


def _csv(rows: list[dict], headers: list[str] = HEADERS_EN, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=headers, delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _import(
    client: httpx.Client,
    club_id: int,
    content: bytes,
    name: str = "members.csv",
    media_type: str = "text/csv",
    dry_run: bool | None = None,
) -> httpx.Response:
    params = {} if dry_run is None else {"dry_run": dry_run}
    return client.post(
        f"/api/v1/clubs/{club_id}/members/import",
        params=params,
        files={"file": (name, content, media_type)},
    )


def test_a_csv_with_broken_rows_reports_each_row_column_and_reason(admin: httpx.Client) -> None:
    club = make_club(admin)
    good = _row()
    content = _csv(
        [
            good,
            _row(date_of_birth=(TODAY + timedelta(days=3)).strftime("%d/%m/%Y")),
            _row(phone="12345"),
            _row(national_id="003156123456"),
            _row(gender="Khác", household_status="rich"),
            _row(full_name="", joined_on="31/02/2020"),
            _row(national_id=good["national_id"]),
            _row(home_care_volunteer="maybe"),
            _row(),
        ]
    )
    dry = _import(admin, club["id"], content, dry_run=True)
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["rows"] == 9 and report["invalid_rows"] == 7 and report["valid_rows"] == 2
    assert not report["valid"] and report["created"] == 0 and report["duplicates_in_file"] == 1
    found = {(i["row"], i["column"]): i["reason"] for i in report["issues"]}
    assert found[(3, "date_of_birth")] == "is in the future"
    assert "Vietnamese phone number" in found[(4, "phone")]
    assert "(003) are not a province code" in found[(5, "national_id")]
    assert "is not one of Nam, Nữ" in found[(6, "gender")]
    assert "is not one of Hộ nghèo" in found[(6, "household_status")]
    assert found[(7, "full_name")] == "Field required"
    assert found[(7, "joined_on")] == "is not a date of the calendar"
    assert found[(8, "national_id")] == "the same national ID as row 2"
    assert "is not yes or no" in found[(9, "home_care_volunteer")]
    shown = {(i["row"], i["field"]): i["value"] for i in report["issues"]}
    assert shown[(6, "gender")] == "Khác"  # a cell is repeated to help find the mistake…
    assert shown[(4, "phone")] is None and shown[(5, "national_id")] is None  # …not a personal one
    # Committing the same file writes nothing and answers with the full report.
    committed = _import(admin, club["id"], content, dry_run=False)
    body = assert_problem(committed, 422)
    assert body["report"]["issues"] == report["issues"]
    assert any("row 4, column 'phone'" in e["reason"] for e in body["errors"])
    assert members_of(admin, club["id"])["total"] == 0


def test_an_xlsx_with_vietnamese_headers_imports_in_one_go(admin: httpx.Client, as_role) -> None:
    club = make_club(admin)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["DANH SÁCH HỘI VIÊN CÂU LẠC BỘ LIÊN THẾ HỆ TỰ GIÚP NHAU"])
    sheet.append([])
    sheet.append(
        [
            "STT",
            "Họ và tên",
            "Giới tính",
            "Ngày sinh",
            "Hoàn cảnh gia đình",
            "Số CCCD",
            "Số điện thoại",
            "Ngày tham gia",
            "Chức vụ",
            "TNV chăm sóc tại nhà",
            "TNV tạo thu nhập",
            "Số phiếu đồng ý",
            "Ngày đồng ý",
            "Đồng ý đối chiếu với NHCSXH",
        ]
    )
    chair_id = national_id(1958, "female")
    sheet.append(
        [
            1,
            "Giàng Thị Sinh",
            "Nữ",
            datetime(1958, 4, 2),  # noqa: DTZ001 - a spreadsheet cell holds no zone
            "Hộ nghèo",
            chair_id,
            "0987 654 321",
            datetime(2018, 5, 20),  # noqa: DTZ001
            "Chủ nhiệm",
            "x",
            None,
            "01/2018",
            datetime(2018, 5, 20),  # noqa: DTZ001
            "x",
        ]
    )
    # Excel keeps a number without its leading zeros: the ID and phone are put right again.
    man_id = national_id(1949, "male")
    sheet.append(
        [
            2,
            "Sùng Văn Páo",
            "Nam",
            1949,
            "Hộ cận nghèo",
            int(man_id),
            912345678,
            "20/05/2018",
            "Kế toán",
            None,
            "có",
            "02/2018",
            "20/05/2018",
            None,
        ]
    )
    sheet.append(
        [
            3,
            "Lò Thị Mai",
            "nữ",
            "1990-07-15",
            "Hoàn cảnh khó khăn",
            None,
            None,
            "20/05/2018",
            None,
            "x",
            "x",
            "03/2018",
            "20/05/2018",
            "có",
        ]
    )
    sheet.append(
        [
            4,
            "Ma Văn Long",
            "NAM",
            "03/11/1985",
            "Không",
            None,
            "+84 24 3825 1234",
            None,
            "Tổ trưởng",
            None,
            None,
            "04/2018",
            "2018-05-20",
            "không",
        ]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    board = as_role("club_manager", clubs=[club["id"]])
    response = _import(board, club["id"], buffer.getvalue(), "danh_sach.xlsx", XLSX)
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["valid"] and report["created"] == 4 and report["header_row"] == 3
    assert report["format"] == "xlsx" and report["ignored_columns"] == ["STT"]
    assert report["columns"]["Họ và tên"] == "full_name"
    members = {m["full_name"]: m for m in members_of(admin, club["id"])["items"]}
    assert [
        members[n]["id"] for n in ("Giàng Thị Sinh", "Sùng Văn Páo", "Lò Thị Mai", "Ma Văn Long")
    ] == report["member_ids"]
    sinh, pao = members["Giàng Thị Sinh"], members["Sùng Văn Páo"]
    assert sinh["gender"] == "female" and sinh["birth_date"] == "1958-04-02"
    assert sinh["board_role"] == "chair" and sinh["home_care_volunteer"]
    assert sinh["joined_on"] == "2018-05-20" and sinh["national_id"] == chair_id
    assert pao["birth_date"] is None and pao["birth_year"] == 1949
    assert pao["national_id"] == man_id and pao["phone"] == "0912345678"
    assert pao["household_status"] == "near_poor" and pao["income_generation_volunteer"]
    assert members["Ma Văn Long"]["joined_on"] == TODAY.isoformat()
    assert members["Ma Văn Long"]["phone"] == "02438251234"
    audit = admin.get(f"/api/v1/members/{sinh['id']}/audit").json()["items"]
    assert [e["action"] for e in audit] == ["imported"]
    given = admin.get(f"/api/v1/members/{sinh['id']}/consents").json()
    assert [(c["purpose"], c["given_on"], c["form_reference"]) for c in given] == [
        ("membership", "2018-05-20", "01/2018"),
        ("bank_matching", "2018-05-20", "01/2018"),
    ]
    only_membership = admin.get(f"/api/v1/members/{pao['id']}/consents").json()
    assert [c["purpose"] for c in only_membership] == ["membership"]


def test_an_import_refuses_people_already_active_and_a_second_chair(
    admin: httpx.Client, as_role
) -> None:
    club, other = (
        make_club(admin),
        make_club(admin, province_code=HA_NOI, commune_code=HA_NOI_COMMUNE),
    )
    chair = add_member(admin, club["id"], board_role="chair")
    elsewhere = add_member(admin, other["id"], gender="male", national_id=national_id(1955, "male"))
    content = _csv(
        [
            _row(national_id=chair["national_id"], date_of_birth="10/03/1955"),
            _row(national_id=elsewhere["national_id"], gender="male", date_of_birth="1955"),
            _row(board_role="Chủ nhiệm"),
        ]
    )
    board = as_role("club_manager", clubs=[club["id"]])
    report = _import(board, club["id"], content, dry_run=True).json()
    assert report["already_active"] == 2 and report["invalid_rows"] == 3
    found = {(i["row"], i["column"]): i["reason"] for i in report["issues"]}
    assert found[(2, "national_id")] == (
        f"this person is already an active member of this club (member {chair['id']})"
    )
    assert found[(3, "national_id")] == "this person is already an active member of another club"
    assert found[(4, "board_role")] == f"the club already has a chair: member {chair['id']}"


def test_two_chairs_in_one_file_are_refused(admin: httpx.Client) -> None:
    club = make_club(admin)
    content = _csv([_row(board_role="chair"), _row(), _row(board_role="Chủ nhiệm")])
    report = _import(admin, club["id"], content, dry_run=True).json()
    assert report["issues"] == [
        {
            "row": 4,
            "column": "board_role",
            "field": "board_role",
            "value": "Chủ nhiệm",
            "reason": "a second chair: row 2 is the chair",
            "code": "second_chair",
        }
    ]


def test_a_dry_run_writes_nothing_and_a_clean_commit_writes_every_row(
    admin: httpx.Client,
) -> None:
    club = make_club(admin)
    content = _csv(
        [_row(), _row(full_name="Thào Thị Chi"), _row(full_name="Lý Thị Vân")], delimiter=";"
    )
    dry = _import(admin, club["id"], content, dry_run=True)
    assert dry.status_code == 200 and dry.json()["valid"] and dry.json()["member_ids"] == []
    assert members_of(admin, club["id"])["total"] == 0
    committed = _import(admin, club["id"], content)
    assert committed.status_code == 201, committed.text
    assert committed.json()["created"] == 3 and len(committed.json()["member_ids"]) == 3
    assert members_of(admin, club["id"])["total"] == 3


@pytest.mark.parametrize(
    ("headers", "fields"),
    [
        (["Họ và tên", "Năm sinh", *CONSENT], ["gender", "household_status"]),
        (["Họ và tên", "Giới tính", "Hộ", *CONSENT], ["birth_date"]),
        (["Họ và tên", "Họ tên", "Giới tính", "Năm sinh", "Hộ", *CONSENT], ["Họ tên"]),
        # "Họ" (family name) is not "Hộ" (household), though both fold to "ho": both name
        # columns are read past (with a warning) and the name is missing.
        (["Họ", "Tên", "Giới tính", "Năm sinh", "Hộ", *CONSENT], ["full_name"]),
        # No member is kept without the consent to membership: its form number and date.
        (["Họ và tên", "Giới tính", "Năm sinh", "Hộ"], ["consent_form", "consent_date"]),
    ],
)
def test_repeated_or_missing_columns_are_named(
    admin: httpx.Client, headers: list[str], fields: list[str]
) -> None:
    club = make_club(admin)
    content = ",".join(headers).encode() + b"\n" + b",".join([b"x"] * len(headers)) + b"\n"
    body = assert_problem(_import(admin, club["id"], content), 422)
    assert [e["field"] for e in body["errors"]] == fields
    assert all(field in body["detail"] for field in fields)


@pytest.mark.parametrize(
    ("name", "media_type", "content"),
    [
        ("members.pdf", "application/pdf", b"%PDF-1.4 not a member list"),
        (
            "members.xls",
            "application/vnd.ms-excel",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"0" * 64,
        ),
        ("members", "application/octet-stream", b"\x00\x01\x02"),
        ("members.json", "application/json", b'{"full_name": "x"}'),
    ],
)
def test_unsupported_files_get_415(
    admin: httpx.Client, name: str, media_type: str, content: bytes
) -> None:
    club = make_club(admin)
    assert_problem(_import(admin, club["id"], content, name, media_type), 415)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("members.xlsx", b"PK\x03\x04 broken zip"),
        ("members.csv", b""),
        ("members.xlsx", b"plain text"),
    ],
)
def test_unreadable_files_are_refused_with_422(
    admin: httpx.Client, name: str, content: bytes
) -> None:
    club = make_club(admin)
    assert_problem(_import(admin, club["id"], content, name, "text/csv"), 422, field="file")


def test_a_file_with_a_header_and_no_members_is_refused(admin: httpx.Client) -> None:
    club = make_club(admin)
    content = f"Họ và tên,Giới tính,Năm sinh,Hộ,{CONSENT_VI}\n,,,,,\n".encode()
    body = assert_problem(_import(admin, club["id"], content), 422, field="file")
    assert "no member rows" in body["detail"]


def test_an_import_without_a_file_is_refused(admin: httpx.Client) -> None:
    club = make_club(admin)
    response = admin.post(f"/api/v1/clubs/{club['id']}/members/import", data={"x": "1"})
    assert_problem(response, 422, field="file")


def test_a_file_over_5000_rows_is_refused(admin: httpx.Client) -> None:
    club = make_club(admin)
    line = "Vàng Thị Dợ,Nữ,1956,Hộ nghèo,01/2019,15/01/2019\n"
    content = (f"Họ và tên,Giới tính,Năm sinh,Hộ,{CONSENT_VI}\n" + line * 5001).encode()
    body = assert_problem(_import(admin, club["id"], content), 422, field="file")
    assert "5000" in body["detail"]


def test_importing_is_for_those_who_keep_the_club(admin: httpx.Client, as_role) -> None:
    club = make_club(admin)
    content = _csv([_row()])
    assert_problem(_import(as_role("service"), club["id"], content), 403)
    assert_problem(_import(as_role("partner", funder_id=1), club["id"], content), 403)
    other_board = as_role("club_manager", clubs=[make_club(admin)["id"]])
    assert_problem(_import(other_board, club["id"], content), 404)
    assert members_of(admin, club["id"])["total"] == 0


# The command line


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    env = stack.env()  # the clubs service's database and keys
    return subprocess.run(
        [sys.executable, "-m", "services.clubs.members.importer", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _many_rows(count: int) -> list[dict]:
    return [
        _row(
            full_name=f"Hội Viên {chr(65 + i % 26)}",
            national_id=national_id(1956, "female", province="001"),  # Hà Nội
        )
        for i in range(count)
    ]


def test_the_command_line_imports_a_large_file_with_progress(
    admin: httpx.Client, stack: Stack, tmp_path
) -> None:
    club = make_club(admin)
    path = tmp_path / "members.csv"
    path.write_bytes(_csv(_many_rows(1200)))
    dry = _cli(stack, str(path), "--club", str(club["id"]), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "validating: 500/1200 rows (41 %)" in dry.stderr and "dry run" in dry.stdout
    assert members_of(admin, club["id"])["total"] == 0
    done = _cli(stack, str(path), "--club", str(club["id"]))
    assert done.returncode == 0, done.stderr
    assert "writing: 1000/1200 rows (83 %)" in done.stderr
    assert "created 1200 members" in done.stdout
    assert members_of(admin, club["id"])["total"] == 1200
    first = members_of(admin, club["id"], sort="id", limit=1)["items"][0]
    entry = admin.get(f"/api/v1/members/{first['id']}/audit").json()["items"][0]
    assert entry["action"] == "imported" and entry["actor"].startswith("cli:")
    assert entry["request_id"].startswith("cli-")


def test_the_command_line_exits_non_zero_on_bad_rows(
    admin: httpx.Client, stack: Stack, tmp_path
) -> None:
    club = make_club(admin)
    path = tmp_path / "members.csv"
    path.write_bytes(_csv([_row(), _row(phone="12345")]))
    result = _cli(stack, str(path), "--club", str(club["id"]))
    assert result.returncode == 1
    assert "row 3, column 'phone'" in result.stdout
    assert members_of(admin, club["id"])["total"] == 0
    missing = _cli(stack, str(path), "--club", "2147483000")
    assert missing.returncode == 1 and "No club" in missing.stderr
    assert _cli(stack, str(path)).returncode == 2


@pytest.mark.parametrize("cell", [0, 0.25, 0.999])
def test_an_excel_number_under_one_day_in_a_date_column_is_not_a_date(cell: float) -> None:
    # Excel reads such a number as a time of day; the row gets its reason, not a 500.
    with pytest.raises(CellError, match="is not a date"):
        parse_date(cell)
