"""Valid objects in one line, created through the API like a client would."""

import itertools
import secrets
from datetime import date
from typing import Any

import httpx

LAO_CAI = "15"
LAO_CAI_COMMUNE = "02647"  # Phường Lào Cai
LAO_CAI_OTHER_COMMUNE = "02680"  # Xã Hợp Thành
HA_NOI = "01"
HA_NOI_COMMUNE = "00004"  # Phường Ba Đình


def club_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "code": f"T-{secrets.token_hex(4).upper()}",
        "name": "CLB Liên thế hệ tự giúp nhau thôn Cốc Lếu",
        "province_code": LAO_CAI,
        "commune_code": LAO_CAI_COMMUNE,
        "village": "Cốc Lếu",
        "founding_decision_number": "123/QĐ-UBND",
        "founding_decision_date": "2018-05-20",
        "programme_phase": "1336/QĐ-TTg",
        "status": "active",
        **overrides,
    }


def make_club(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/clubs", json=club_payload(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


SERIALS = itertools.count(1)
"""Each citizen ID the tests make has a serial of its own, so no two ever collide (random
serials did: two members of different clubs drew one ID)."""
ISSUED_IDS: set[str] = set()
"""Every citizen ID made here: after the tests none may be found in plain text in a database
or a log (`tests/personal_data_scan.py`)."""


def national_id(birth_year: int, gender: str, province: str = "010") -> str:
    """A well-formed 12-digit citizen id: province (010, Lào Cai), century/gender, year, serial."""
    century = (birth_year // 100) - 19
    digit = century * 2 + (1 if gender == "female" else 0)
    issued = f"{province}{digit}{birth_year % 100:02d}{next(SERIALS):06d}"
    ISSUED_IDS.add(issued)
    return issued


def member_payload(**overrides: Any) -> dict[str, Any]:
    gender = overrides.get("gender", "female")
    birth = overrides.get("birth_date", "1955-03-10")
    year = int(str(birth)[:4]) if birth else overrides.get("birth_year") or 1955
    return {
        "full_name": "Nguyễn Thị Hoa",
        "gender": gender,
        "birth_date": birth,
        "household_status": "poor",
        "national_id": national_id(year, gender),
        "phone": "0912345678",
        "joined_on": str(date(2019, 1, 15)),
        "consents": consents(),
        **overrides,
    }


def consents(*purposes: str, given_on: str = "2019-01-15") -> list[dict[str, str]]:
    """The consents of a paper form (by default all three: membership, bank matching,
    sharing figures with funders)."""
    chosen = purposes or ("membership", "bank_matching", "funder_figures")
    return [
        {"purpose": purpose, "given_on": given_on, "form_reference": "Phiếu 01/2019"}
        for purpose in chosen
    ]
