"""`POST /api/v1/members/lookup`: which citizen IDs (or their blind indexes) are active
members, for matching."""

from collections.abc import Callable

import httpx

from common.sealing import blind_index
from tests.factories import HA_NOI, HA_NOI_COMMUNE, LAO_CAI, make_club, member_payload, national_id
from tests.support import Api, assert_problem
from tools.stack import Stack

LOOKUP = "/api/v1/members/lookup"


def add_member(admin: httpx.Client, club_id: int) -> dict:
    response = admin.post(f"/api/v1/clubs/{club_id}/members", json=member_payload())
    assert response.status_code == 201, response.text
    return response.json()


def test_active_members_are_found_with_their_club_and_place(admin: httpx.Client) -> None:
    lao_cai = make_club(admin)
    ha_noi = make_club(admin, province_code=HA_NOI, commune_code=HA_NOI_COMMUNE)
    first, second = add_member(admin, lao_cai["id"]), add_member(admin, ha_noi["id"])
    stranger = national_id(1950, "male")
    response = admin.post(
        LOOKUP, json={"national_ids": [first["national_id"], second["national_id"], stranger]}
    )
    assert response.status_code == 200, response.text
    found = sorted(response.json(), key=lambda item: item["member_id"])
    assert found == [
        {
            "national_id": first["national_id"],
            "national_id_blind_index": blind_index(first["national_id"]),
            "member_id": first["id"],
            "club_id": lao_cai["id"],
            "province_code": LAO_CAI,
            "commune_code": lao_cai["commune_code"],
        },
        {
            "national_id": second["national_id"],
            "national_id_blind_index": blind_index(second["national_id"]),
            "member_id": second["id"],
            "club_id": ha_noi["id"],
            "province_code": HA_NOI,
            "commune_code": HA_NOI_COMMUNE,
        },
    ]


def test_our_services_ask_by_blind_index_and_get_no_citizen_id_back(
    api: Api, admin: httpx.Client, stack: Stack
) -> None:
    club = make_club(admin)
    member = add_member(admin, club["id"])
    index = blind_index(member["national_id"])
    token = api.token_for("service")
    body = {"national_id_blind_indexes": [index, blind_index(national_id(1950, "male"))]}
    direct = httpx.post(
        stack.url("clubs") + LOOKUP, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert direct.status_code == 200, direct.text
    assert direct.json() == [
        {
            "national_id_blind_index": index,
            "member_id": member["id"],
            "club_id": club["id"],
            "province_code": LAO_CAI,
            "commune_code": club["commune_code"],
        }
    ]
    assert member["national_id"] not in direct.text


def test_members_who_left_or_whose_club_was_dissolved_are_not_found(admin: httpx.Client) -> None:
    club = make_club(admin)
    left = add_member(admin, club["id"])
    leave = admin.post(f"/api/v1/members/{left['id']}/leave", json={"left_on": "2024-06-30"})
    assert leave.status_code == 200, leave.text
    closing = make_club(admin)
    in_dissolved = add_member(admin, closing["id"])
    dissolved = admin.post(f"/api/v1/clubs/{closing['id']}/status", json={"status": "dissolved"})
    assert dissolved.status_code == 200, dissolved.text
    ids = [left["national_id"], in_dissolved["national_id"]]
    response = admin.post(LOOKUP, json={"national_ids": ids})
    assert response.status_code == 200 and response.json() == []


def test_our_services_look_up_directly_but_not_through_the_gateway(
    api: Api, admin: httpx.Client, stack: Stack
) -> None:
    member = add_member(admin, make_club(admin)["id"])
    token = api.token_for("service")
    body = {"national_ids": [member["national_id"]]}
    direct = httpx.post(
        stack.url("clubs") + LOOKUP, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert direct.status_code == 200, direct.text
    assert [item["member_id"] for item in direct.json()] == [member["id"]]
    assert_problem(api.client(token).post(LOOKUP, json=body), 403)


def test_officers_boards_partners_and_banks_may_not_look_up(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    club = make_club(admin)
    body = {"national_ids": [national_id(1955, "female")]}
    for client in (
        as_role("officer", provinces=[LAO_CAI]),
        as_role("club_manager", clubs=[club["id"]]),
        as_role("partner", funder_id=3),
        as_role("bank"),
    ):
        assert_problem(client.post(LOOKUP, json=body), 403)


def test_bad_lookups_are_refused_with_the_field(admin: httpx.Client) -> None:
    assert_problem(admin.post(LOOKUP, json={"national_ids": ["12345"]}), 422, "national_ids.0")
    assert_problem(admin.post(LOOKUP, json={"national_ids": []}), 422, "national_ids")
    too_many = [national_id(1955, "female") for _ in range(10_001)]
    assert_problem(admin.post(LOOKUP, json={"national_ids": too_many}), 422, "national_ids")
    assert_problem(admin.post(LOOKUP, json={"ids": []}), 422)
    assert_problem(admin.post(LOOKUP, json={}), 422)
    both = {"national_ids": [national_id(1955, "female")], "national_id_blind_indexes": ["x" * 22]}
    assert_problem(admin.post(LOOKUP, json=both), 422)
    not_an_index = {"national_id_blind_indexes": ["not an index"]}
    assert_problem(admin.post(LOOKUP, json=not_an_index), 422, "national_id_blind_indexes.0")


def test_ten_thousand_ids_are_answered_in_one_call(admin: httpx.Client) -> None:
    member = add_member(admin, make_club(admin)["id"])
    ids = [national_id(1955, "female") for _ in range(9_999)] + [member["national_id"]]
    response = admin.post(LOOKUP, json={"national_ids": ids})
    assert response.status_code == 200, response.text
    assert member["id"] in {item["member_id"] for item in response.json()}
