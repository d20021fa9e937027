"""The club registry: locations, quota profiles, clubs, their scope and their history."""

import secrets
from datetime import timedelta

import httpx
import pytest

from common import clock
from tests.factories import (
    HA_NOI,
    HA_NOI_COMMUNE,
    LAO_CAI,
    LAO_CAI_COMMUNE,
    LAO_CAI_OTHER_COMMUNE,
    club_payload,
    make_club,
)
from tests.support import assert_problem
from tools.stack import Stack

# Locations


@pytest.mark.parametrize("query", ["lao cai", "LÀO CAI", "Lào Cai", "lào"])
def test_province_search_ignores_case_and_diacritics(admin: httpx.Client, query: str) -> None:
    found = admin.get("/api/v1/locations/provinces", params={"q": query}).json()
    assert [p["code"] for p in found["items"]] == [LAO_CAI]


def test_there_are_34_provinces_and_3321_communes(admin: httpx.Client) -> None:
    provinces = admin.get("/api/v1/locations/provinces", params={"limit": 200}).json()
    assert provinces["total"] == 34
    total = sum(
        admin.get(f"/api/v1/locations/provinces/{p['code']}/communes", params={"limit": 1}).json()[
            "total"
        ]
        for p in provinces["items"]
    )
    assert total == 3321


def test_communes_of_a_province_are_searchable(admin: httpx.Client) -> None:
    found = admin.get(
        f"/api/v1/locations/provinces/{LAO_CAI}/communes", params={"q": "hop thanh"}
    ).json()
    assert [c["code"] for c in found["items"]] == [LAO_CAI_OTHER_COMMUNE]
    assert_problem(admin.get("/api/v1/locations/provinces/99/communes"), 404)


def test_a_pre_2025_address_resolves_to_todays_units(admin: httpx.Client) -> None:
    found = admin.get(
        "/api/v1/locations/resolve",
        params={"address": "Xã Phong Niên, Huyện Bảo Thắng, Tỉnh Lào Cai"},
    ).json()
    assert found["province"]["code"] == LAO_CAI
    assert found["commune"]["code"] == "02926"
    assert found["legacy_district"] == "Huyện Bảo Thắng"
    partial = admin.get(
        "/api/v1/locations/resolve", params={"address": "Huyện Bảo Thắng, Tỉnh Lào Cai"}
    ).json()
    assert partial["commune"] is None and partial["note"]
    assert_problem(
        admin.get("/api/v1/locations/resolve", params={"address": "nowhere at all"}),
        422,
        field="address",
    )


# Quota profiles


def test_the_1336_profile_is_the_default_and_lao_cai_2018_counts_older_from_55(
    admin: httpx.Client,
) -> None:
    profiles = {p["code"]: p for p in admin.get("/api/v1/quota-profiles").json()["items"]}
    default = profiles["decision-1336"]
    assert default["is_default"] and default["older_age"] == 60
    assert (default["min_members"], default["max_members"]) == (50, 70)
    assert (default["women_min_pct"], default["women_max_pct"]) == (60, 70)
    lao_cai = profiles["lao-cai-2018"]
    assert lao_cai["older_age"] == 55 and lao_cai["older_min_pct"] == 70


def _profile(**overrides) -> dict:
    return {
        "code": f"p-{secrets.token_hex(3)}",
        "name": "Test profile",
        "min_members": 20,
        "max_members": 80,
        "women_min_pct": 50,
        "older_age": 58,
        **overrides,
    }


def test_admin_edits_profiles_and_a_profile_in_use_cannot_be_deleted(admin: httpx.Client) -> None:
    created = admin.post("/api/v1/quota-profiles", json=_profile())
    assert created.status_code == 201
    profile = created.json()
    changed = admin.patch(f"/api/v1/quota-profiles/{profile['id']}", json={"women_max_pct": 75})
    assert changed.json()["women_max_pct"] == 75
    make_club(admin, quota_profile_id=profile["id"])
    assert_problem(admin.delete(f"/api/v1/quota-profiles/{profile['id']}"), 409)
    unused = admin.post("/api/v1/quota-profiles", json=_profile()).json()
    assert admin.delete(f"/api/v1/quota-profiles/{unused['id']}").status_code == 204
    assert_problem(admin.get(f"/api/v1/quota-profiles/{unused['id']}"), 404)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"min_members": 80, "max_members": 50}, "min_members"),
        ({"women_min_pct": 80, "women_max_pct": 60}, "women_min_pct"),
        ({"older_min_pct": 120}, "older_min_pct"),
        ({"older_age": 20}, "older_age"),
        ({"code": "Bad Code"}, "code"),
    ],
)
def test_inconsistent_profiles_are_refused(
    admin: httpx.Client, overrides: dict, field: str
) -> None:
    assert_problem(
        admin.post("/api/v1/quota-profiles", json=_profile(**overrides)), 422, field=field
    )


def test_only_admins_edit_profiles(as_role) -> None:
    officer = as_role("officer", provinces=[LAO_CAI])
    assert officer.get("/api/v1/quota-profiles").status_code == 200
    assert_problem(officer.post("/api/v1/quota-profiles", json=_profile()), 403)


# Clubs


def test_officer_registers_a_club_in_the_province(as_role) -> None:
    officer = as_role("officer", provinces=[LAO_CAI])
    response = officer.post(
        "/api/v1/clubs",
        json=club_payload(legacy_address="Xã Phong Niên, Huyện Bảo Thắng, Tỉnh Lào Cai"),
    )
    assert response.status_code == 201
    club = response.json()
    assert club["province_name"] == "Lào Cai" and club["commune_name"] == "Phường Lào Cai"
    assert club["legacy_address"].startswith("Xã Phong Niên")
    assert response.headers["ETag"] == '"v1"'
    assert response.headers["Location"] == f"/api/v1/clubs/{club['id']}"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"commune_code": HA_NOI_COMMUNE}, "commune_code"),
        ({"commune_code": "99999"}, "commune_code"),
        ({"province_code": "99"}, "province_code"),
        (
            {"founding_decision_date": str(clock.today() + timedelta(days=1))},
            "founding_decision_date",
        ),
        ({"status": "dissolved"}, "status"),
        ({"quota_profile_id": 999999}, "quota_profile_id"),
        ({"name": ""}, "name"),
        ({"code": "has space"}, "code"),
        ({"members": 60}, "members"),
    ],
)
def test_bad_club_input_is_refused_with_the_field(
    admin: httpx.Client, overrides: dict, field: str
) -> None:
    assert_problem(admin.post("/api/v1/clubs", json=club_payload(**overrides)), 422, field=field)


def test_club_codes_are_unique(admin: httpx.Client) -> None:
    club = make_club(admin)
    assert_problem(admin.post("/api/v1/clubs", json=club_payload(code=club["code"])), 409)


def test_officer_never_sees_or_changes_another_provinces_clubs(
    admin: httpx.Client, as_role
) -> None:
    ha_noi_club = make_club(admin, province_code=HA_NOI, commune_code=HA_NOI_COMMUNE)
    officer = as_role("officer", provinces=[LAO_CAI])
    assert_problem(officer.get(f"/api/v1/clubs/{ha_noi_club['id']}"), 404)
    assert_problem(officer.patch(f"/api/v1/clubs/{ha_noi_club['id']}", json={"name": "x"}), 404)
    assert_problem(
        officer.post(f"/api/v1/clubs/{ha_noi_club['id']}/status", json={"status": "suspended"}), 404
    )
    listed = officer.get("/api/v1/clubs", params={"limit": 200}).json()["items"]
    assert all(c["province_code"] == LAO_CAI for c in listed)
    # Registering a club outside the area is refused the same way.
    assert_problem(
        officer.post(
            "/api/v1/clubs", json=club_payload(province_code=HA_NOI, commune_code=HA_NOI_COMMUNE)
        ),
        404,
    )


def test_officer_narrowed_to_communes_sees_only_those(admin: httpx.Client, as_role) -> None:
    inside = make_club(admin, commune_code=LAO_CAI_COMMUNE)
    outside = make_club(admin, commune_code=LAO_CAI_OTHER_COMMUNE)
    officer = as_role("officer", provinces=[LAO_CAI], communes=[LAO_CAI_COMMUNE])
    assert officer.get(f"/api/v1/clubs/{inside['id']}").status_code == 200
    assert_problem(officer.get(f"/api/v1/clubs/{outside['id']}"), 404)
    assert_problem(
        officer.patch(
            f"/api/v1/clubs/{inside['id']}", json={"commune_code": LAO_CAI_OTHER_COMMUNE}
        ),
        404,
    )


def test_club_manager_sees_only_the_own_club_and_cannot_change_it(
    admin: httpx.Client, as_role
) -> None:
    own, other = make_club(admin), make_club(admin)
    manager = as_role("club_manager", clubs=[own["id"]])
    assert manager.get(f"/api/v1/clubs/{own['id']}").status_code == 200
    assert_problem(manager.get(f"/api/v1/clubs/{other['id']}"), 404)
    assert [c["id"] for c in manager.get("/api/v1/clubs").json()["items"]] == [own["id"]]
    assert_problem(manager.patch(f"/api/v1/clubs/{own['id']}", json={"name": "x"}), 403)


def test_partner_reads_clubs_but_the_bank_does_not(
    admin: httpx.Client, as_role, stack: Stack, token_for
) -> None:
    club = make_club(admin)
    partner = as_role("partner", funder_id=1)
    assert partner.get(f"/api/v1/clubs/{club['id']}").status_code == 200
    assert_problem(partner.post("/api/v1/clubs", json=club_payload()), 403)
    assert_problem(as_role("bank").get(f"/api/v1/clubs/{club['id']}"), 403)
    direct = httpx.get(
        f"{stack.url('clubs')}/api/v1/clubs/{club['id']}",
        headers={"Authorization": f"Bearer {token_for('bank')}"},
    )
    assert_problem(direct, 403)


def test_status_moves_only_along_the_life_cycle(admin: httpx.Client) -> None:
    club = make_club(admin, status="planned")
    path = f"/api/v1/clubs/{club['id']}/status"
    assert_problem(admin.post(path, json={"status": "suspended"}), 409)
    for status in ("active", "suspended", "active", "dissolved"):
        response = admin.post(path, json={"status": status, "reason": "test"})
        assert response.status_code == 200 and response.json()["status"] == status
    assert_problem(admin.post(path, json={"status": "active"}), 409)
    # A dissolved club keeps its history.
    assert admin.get(f"/api/v1/clubs/{club['id']}").json()["status"] == "dissolved"


def test_a_stale_if_match_gets_412_and_changes_nothing(admin: httpx.Client) -> None:
    club = make_club(admin)
    path = f"/api/v1/clubs/{club['id']}"
    etag = admin.get(path).headers["ETag"]
    first = admin.patch(path, json={"name": "CLB thôn Cốc Lếu mới"}, headers={"If-Match": etag})
    assert first.status_code == 200 and first.headers["ETag"] != etag
    stale = admin.patch(path, json={"village": "Kim Tân"}, headers={"If-Match": etag})
    problem = assert_problem(stale, 412)
    # The version the app's copy conflicts with, so it can show the conflict.
    assert problem["current_etag"] == stale.headers["ETag"] == first.headers["ETag"]
    after = admin.get(path).json()
    assert after["village"] == club["village"] and after["name"] == "CLB thôn Cốc Lếu mới"


def test_club_list_filters_searches_and_sorts(admin: httpx.Client) -> None:
    tag = secrets.token_hex(3)
    make_club(admin, name=f"CLB Bắc Hà {tag}", founding_decision_date="2017-03-01", code=f"A-{tag}")
    make_club(
        admin,
        name=f"CLB Si Ma Cai {tag}",
        founding_decision_date="2018-07-01",
        code=f"B-{tag}",
        status="planned",
    )
    found = admin.get("/api/v1/clubs", params={"q": f"bac ha {tag}"}).json()
    assert [c["code"] for c in found["items"]] == [f"A-{tag}"]
    by_year = admin.get(
        "/api/v1/clubs", params={"q": tag, "founded_from": "2018-01-01", "founded_to": "2018-12-31"}
    ).json()
    assert [c["code"] for c in by_year["items"]] == [f"B-{tag}"]
    planned = admin.get("/api/v1/clubs", params={"q": tag, "status": "planned"}).json()
    assert planned["total"] == 1
    newest_first = admin.get("/api/v1/clubs", params={"q": tag, "sort": "-code"}).json()
    assert [c["code"] for c in newest_first["items"]] == [f"B-{tag}", f"A-{tag}"]
    assert_problem(admin.get("/api/v1/clubs", params={"sort": "password"}), 422, field="sort")
    assert_problem(admin.get("/api/v1/clubs", params={"limit": 1001}), 422, field="limit")


def test_empty_clubs_fail_their_profile_and_are_listed_as_non_compliant(
    admin: httpx.Client,
) -> None:
    club = make_club(admin)
    composition = admin.get(f"/api/v1/clubs/{club['id']}/composition").json()
    assert composition["compliant"] is False
    assert "members 0 < 50" in composition["failures"]
    listed = admin.get("/api/v1/clubs", params={"q": club["code"], "compliant": False}).json()
    assert listed["total"] == 1
    failing = admin.get(
        "/api/v1/clubs/non-compliant", params={"province": LAO_CAI, "limit": 200}
    ).json()
    assert failing["total"] >= 1
    summary = admin.get("/api/v1/clubs/composition", params={"province": LAO_CAI}).json()
    assert summary["clubs"] >= 1 and summary["province_code"] == LAO_CAI
    national = admin.get("/api/v1/clubs/composition").json()
    assert {p["province_code"] for p in national["by_province"]} >= {LAO_CAI}


def test_aggregates_are_for_officers_of_the_province_and_admins(as_role) -> None:
    officer = as_role("officer", provinces=[LAO_CAI])
    assert officer.get("/api/v1/clubs/composition", params={"province": LAO_CAI}).status_code == 200
    assert_problem(officer.get("/api/v1/clubs/composition", params={"province": HA_NOI}), 404)
    assert_problem(officer.get("/api/v1/clubs/non-compliant", params={"province": HA_NOI}), 404)
    assert_problem(as_role("partner", funder_id=1).get("/api/v1/clubs/non-compliant"), 403)
    assert_problem(as_role("club_manager", clubs=[1]).get("/api/v1/clubs/composition"), 403)


def test_every_change_is_audited_for_admins_only(admin: httpx.Client, as_role) -> None:
    club = make_club(admin)
    admin.patch(f"/api/v1/clubs/{club['id']}", json={"village": "Kim Tân"})
    admin.post(
        f"/api/v1/clubs/{club['id']}/status",
        json={"status": "suspended", "reason": "board resigned"},
    )
    entries = admin.get(f"/api/v1/clubs/{club['id']}/audit").json()["items"]
    assert [e["action"] for e in entries] == ["created", "updated", "status_changed"]
    assert entries[1]["before"] == {"village": "Cốc Lếu"}
    assert entries[1]["after"] == {"village": "Kim Tân"}
    assert entries[2]["after"]["reason"] == "board resigned"
    assert all(e["actor"] == "user:admin" for e in entries)
    officer = as_role("officer", provinces=[LAO_CAI])
    assert_problem(officer.get(f"/api/v1/clubs/{club['id']}/audit"), 403)


def test_clubs_are_looked_up_in_batches_by_id_within_scope(admin: httpx.Client, as_role) -> None:
    first, second = make_club(admin), make_club(admin)
    ha_noi = make_club(admin, province_code=HA_NOI, commune_code=HA_NOI_COMMUNE)
    wanted = [first["id"], second["id"], ha_noi["id"]]
    found = admin.get("/api/v1/clubs", params={"ids": wanted, "limit": 200}).json()
    assert sorted(c["id"] for c in found["items"]) == sorted(wanted)
    officer = as_role("officer", provinces=[LAO_CAI])
    seen = officer.get("/api/v1/clubs", params={"ids": wanted}).json()
    assert sorted(c["id"] for c in seen["items"]) == sorted([first["id"], second["id"]])
    assert_problem(admin.get("/api/v1/clubs", params={"ids": [0]}), 422, field="ids.0")


def test_a_club_keeps_where_it_was_before_the_merger_and_is_counted_there(
    admin: httpx.Client,
) -> None:
    # Plans written before 2025 count by former province and district: old Lào Cai is "10",
    # its district Bát Xát "082"; Phường Lào Cai (02647) joined wards of two former districts.
    with_address = make_club(
        admin,
        commune_code="02647",
        legacy_address="Xã Bản Qua, Huyện Bát Xát, Tỉnh Lào Cai",
        founding_decision_date="2018-05-20",
    )
    assert (with_address["former_province_code"], with_address["former_district_code"]) == (
        "10",
        "082",
    )
    split_commune = make_club(admin, commune_code="02647")
    assert split_commune["former_province_code"] == "10"
    assert split_commune["former_district_code"] is None  # two former districts: not told
    one_district = make_club(admin, commune_code="02680")
    assert one_district["former_district_code"] == "080"
    path = f"/api/v1/clubs/{split_commune['id']}"
    moved = admin.patch(
        path,
        json={"legacy_address": "Huyện Bát Xát, Tỉnh Lào Cai"},
        headers={"If-Match": admin.get(path).headers["etag"]},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["former_district_code"] == "082"

    def counted(**area: str) -> int:
        body = {"from": "2018-01-01", "to": "2018-12-31", **area}
        answer = admin.post("/api/v1/clubs/indicators", json=body)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["clubs"]["founded_in_period"])

    assert counted(former_district="082") >= 2
    listed = admin.get("/api/v1/clubs", params={"former_district": "082", "limit": 1000})
    assert {with_address["id"], split_commune["id"]} <= {c["id"] for c in listed.json()["items"]}
    assert all(c["former_district_code"] == "082" for c in listed.json()["items"])
    assert counted(former_district="082") < counted(former_province="10")
    assert counted(commune="02647") >= 2
    assert_problem(
        admin.post(
            "/api/v1/clubs/indicators",
            json={"from": "2018-01-01", "to": "2018-12-31", "former_district": "82"},
        ),
        422,
    )


def test_a_past_date_is_counted_with_the_clubs_status_as_it_was_that_day(
    admin: httpx.Client,
) -> None:
    # An annual review of last year must not lose a club suspended this morning.
    club = make_club(admin, status="active", founding_decision_date="2019-03-01")
    today = clock.today()
    yesterday = today - timedelta(days=1)

    def clubs_on(day: object, start: str = "2019-01-01") -> dict[str, int]:
        body = {"from": start, "to": str(day), "club_ids": [club["id"]]}
        answer = admin.post("/api/v1/clubs/indicators", json=body)
        assert answer.status_code == 200, answer.text
        counts: dict[str, int] = answer.json()["clubs"]
        return counts

    assert clubs_on(yesterday)["active"] == clubs_on(today)["active"] == 1
    path = f"/api/v1/clubs/{club['id']}/status"
    for status in ("suspended", "active", "dissolved"):
        changed = admin.post(path, json={"status": status, "reason": "test"})
        assert changed.status_code == 200, changed.text
    assert clubs_on(yesterday)["active"] == 1
    assert clubs_on(yesterday, start="2020-01-01")["maintained"] == 1
    now = clubs_on(today, start=str(today))
    assert (now["active"], now["maintained"], now["dissolved_in_period"]) == (0, 0, 1)
    assert now["active_at_start"] == 1
    assert clubs_on(yesterday, start=str(yesterday))["dissolved_in_period"] == 0
