"""Composition of clubs with real members: counts, shares, verdicts and their reasons."""

import csv
import io
from datetime import date

import httpx

from tests.factories import make_club, national_id
from tests.support import assert_problem


def _letters(index: int) -> str:
    return chr(65 + index // 26) + chr(97 + index % 26)


def _rows(women: int, men: int, older: int, poor: int, joined_on: str = "2020-01-01") -> list:
    """Members with exactly `older` born 1950 (the rest 1990) and `poor` poor households."""
    rows = []
    for index in range(women + men):
        gender = "female" if index < women else "male"
        year = 1950 if index < older else 1990
        rows.append(
            {
                "full_name": f"Thành viên {_letters(index)}",
                "gender": gender,
                "date_of_birth": f"{year}-06-01",
                "household_status": "poor" if index < poor else "none",
                "national_id": national_id(year, gender),
                "joined_on": joined_on,
                "consent_form": f"{index + 1}/2020",
                "consent_date": joined_on,
            }
        )
    return rows


def _import(admin: httpx.Client, club: dict, rows: list) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    response = admin.post(
        f"/api/v1/clubs/{club['id']}/members/import",
        params={"dry_run": "false"},
        files={"file": ("members.csv", buffer.getvalue().encode(), "text/csv")},
    )
    assert response.status_code == 201, response.text


def test_a_club_with_too_few_women_fails_with_a_readable_reason(admin: httpx.Client) -> None:
    club = make_club(admin)
    _import(admin, club, _rows(women=33, men=27, older=39, poor=40))
    composition = admin.get(f"/api/v1/clubs/{club['id']}/composition").json()
    assert composition["counts"] == {
        "members": 60,
        "women": 33,
        "older": 39,
        "younger": 21,
        "priority": 40,
        "home_care_volunteers": 0,
    }
    assert composition["shares"]["women_pct"] == 55.0
    assert composition["compliant"] is False
    assert composition["failures"] == ["women 55 % < 60 %"]
    listed = admin.get("/api/v1/clubs", params={"q": club["code"], "compliant": False}).json()
    assert listed["total"] == 1


def test_a_club_meeting_every_rule_is_compliant(admin: httpx.Client) -> None:
    club = make_club(admin)
    _import(admin, club, _rows(women=39, men=21, older=39, poor=40))
    composition = admin.get(f"/api/v1/clubs/{club['id']}/composition").json()
    assert composition["compliant"] is True, composition["failures"]
    assert all(rule["passed"] for rule in composition["rules"])
    listed = admin.get("/api/v1/clubs", params={"q": club["code"], "compliant": True}).json()
    assert listed["total"] == 1
    failing = admin.get("/api/v1/clubs/non-compliant", params={"limit": 200}).json()["items"]
    assert club["id"] not in [c["club_id"] for c in failing]


def test_older_follows_the_clubs_profile(admin: httpx.Client) -> None:
    profiles = {p["code"]: p["id"] for p in admin.get("/api/v1/quota-profiles").json()["items"]}
    national = make_club(admin)
    lao_cai = make_club(admin, quota_profile_id=profiles["lao-cai-2018"])
    # Born in 1968: 57 years old in 2025, older from 55 but not from 60.
    rows = [
        {
            "full_name": f"Người {_letters(i)}",
            "gender": "female",
            "date_of_birth": "1968-01-01",
            "household_status": "poor",
            "national_id": national_id(1968, "female"),
            "joined_on": "2020-01-01",
            "consent_form": f"{i + 1}/2020",
            "consent_date": "2020-01-01",
        }
        for i in range(2)
    ]
    for club in (national, lao_cai):
        _import(admin, club, [{**row, "national_id": national_id(1968, "female")} for row in rows])
    on = {"on": "2025-06-01"}
    assert (
        admin.get(f"/api/v1/clubs/{national['id']}/composition", params=on).json()["counts"][
            "older"
        ]
        == 0
    )
    assert (
        admin.get(f"/api/v1/clubs/{lao_cai['id']}/composition", params=on).json()["counts"]["older"]
        == 2
    )


def test_composition_is_judged_on_the_date_asked(admin: httpx.Client) -> None:
    club = make_club(admin)
    _import(admin, club, _rows(women=39, men=21, older=39, poor=40, joined_on="2021-03-01"))
    before = admin.get(
        f"/api/v1/clubs/{club['id']}/composition", params={"on": "2021-02-28"}
    ).json()
    assert before["counts"]["members"] == 0 and "members 0 < 50" in before["failures"]
    after = admin.get(
        f"/api/v1/clubs/{club['id']}/composition", params={"on": str(date(2021, 3, 1))}
    ).json()
    assert after["counts"]["members"] == 60
    assert_problem(
        admin.get(f"/api/v1/clubs/{club['id']}/composition", params={"on": "not-a-date"}),
        422,
        field="on",
    )


def test_province_aggregate_sums_the_clubs(admin: httpx.Client, as_role) -> None:
    officer = as_role("officer", provinces=["15"])
    before = officer.get("/api/v1/clubs/composition", params={"province": "15"}).json()
    club = make_club(admin)
    _import(admin, club, _rows(women=39, men=21, older=39, poor=40))
    after = officer.get("/api/v1/clubs/composition", params={"province": "15"}).json()
    assert after["clubs"] == before["clubs"] + 1
    assert after["clubs_compliant"] == before["clubs_compliant"] + 1
    assert after["counts"]["members"] == before["counts"]["members"] + 60
    assert after["counts"]["women"] == before["counts"]["women"] + 39
