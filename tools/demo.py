"""Demo data, loaded through the public API so it obeys every rule a client meets.

Idempotent: what exists is left alone, so `make run` can load it on every start.
"""

import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx

from tools import demo_clubs
from tools.demo_funding import ENTERPRISE, DemoFunding
from tools.demo_loans import DemoMoney

DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS: list[dict[str, Any]] = [
    {
        "username": "officer.laocai",
        "full_name": "Cán bộ Hội NCT tỉnh Lào Cai",
        "role": "officer",
        "provinces": ["15"],
    },
    {
        "username": "partner.apatit",
        "full_name": "Công ty Cổ phần Apatit Việt Nam (nhà tài trợ)",
        "role": "partner",
        "funder": ENTERPRISE,
    },
]
DEMO_CLIENTS: list[dict[str, Any]] = [
    {
        "client_id": "vbsp-demo",
        "name": "Ngân hàng Chính sách xã hội (demo)",
        "role": "bank",
        "bank_code": "VBSP",
    },
]


DEMO_APP = {
    "client_id": "demo-web",
    "name": "Ứng dụng web mẫu (demo web app)",
    "redirect_uris": ["http://localhost:5173/callback", "http://127.0.0.1:5173/callback"],
}
"""A public client for a front end under development (docs/front-ends.md)."""


class Demo:
    def __init__(
        self, gateway_url: str, admin_username: str, admin_password: str, var_dir: Path
    ) -> None:
        self.client = httpx.Client(base_url=gateway_url, timeout=30.0)
        self.credentials_file = var_dir / "demo-clients.json"
        token = self.client.post(
            "/auth/token",
            data={"grant_type": "password", "username": admin_username, "password": admin_password},
        )
        token.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def users(self, funding: DemoFunding) -> list[str]:
        created = []
        for user in DEMO_USERS:
            found = self.client.get("/api/v1/users", params={"q": user["username"]}).json()
            if not any(item["username"] == user["username"] for item in found["items"]):
                body = {k: v for k, v in user.items() if k != "funder"}
                if "funder" in user:
                    body["funder_id"] = funding.funders[user["funder"]]
                self.client.post(
                    "/api/v1/users", json={**body, "password": DEMO_PASSWORD}
                ).raise_for_status()
                created.append(user["username"])
        return created

    def clients(self) -> dict[str, str]:
        """Demo API clients and their secrets (kept in var/, outside version control)."""
        secrets: dict[str, str] = {}
        if self.credentials_file.exists():
            secrets = json.loads(self.credentials_file.read_text())
        for client in DEMO_CLIENTS:
            client_id = client["client_id"]
            exists = self.client.get(f"/api/v1/clients/{client_id}").status_code == 200
            if not exists:
                response = self.client.post("/api/v1/clients", json=client)
            elif client_id not in secrets:
                response = self.client.post(f"/api/v1/clients/{client_id}/secret")
            else:
                continue
            response.raise_for_status()
            secrets[client_id] = response.json()["client_secret"]
        self.credentials_file.write_text(json.dumps(secrets, indent=2))
        return secrets

    def app(self) -> dict[str, Any]:
        """The demo web app, registered once."""
        found = self.client.get(f"/api/v1/app-clients/{DEMO_APP['client_id']}")
        if found.status_code == 200:
            answer: dict[str, Any] = found.json()
            return answer
        created = self.client.post("/api/v1/app-clients", json=DEMO_APP)
        created.raise_for_status()
        made: dict[str, Any] = created.json()
        return made

    def clubs(self, funding: DemoFunding, progress: bool = True) -> list[str]:
        """The Lào Cai 2018 clubs, their old addresses resolved to today's communes, with their
        seed capital allocated from the plan, their funds and member loans."""
        profiles = self.client.get("/api/v1/quota-profiles").json()["items"]
        profile_id = next(p["id"] for p in profiles if p["code"] == demo_clubs.PROFILE)
        created = []
        for index, club in enumerate(demo_clubs.CLUBS, start=1):
            existing = self.client.get("/api/v1/clubs", params={"q": club.code}).json()
            club_id = next((c["id"] for c in existing["items"] if c["code"] == club.code), None)
            if club_id is None:
                club_id = self._create_club(club, profile_id)
                created.append(club.code)
            self._members(club, club_id)
            funding.seed_capital(club_id, club.founded)
            DemoMoney(self.client).club(club_id, club.code, club.founded)
            if progress:
                print(f"    club {index}/{len(demo_clubs.CLUBS)} {club.code}", flush=True)
        return created

    def _create_club(self, club: demo_clubs.DemoClub, profile_id: int) -> int:
        place = self.client.get(
            "/api/v1/locations/resolve", params={"address": club.legacy_address}
        )
        place.raise_for_status()
        resolved = place.json()
        district = club.legacy_address.split(", ")[1]
        response = self.client.post(
            "/api/v1/clubs",
            json={
                "code": club.code,
                "name": f"CLB Liên thế hệ tự giúp nhau {club.village} ({district})",
                "province_code": resolved["province"]["code"],
                "commune_code": resolved["commune"]["code"],
                "village": club.village,
                "founding_decision_number": f"{club.code[-2:]}/QĐ-UBND",
                "founding_decision_date": club.founded.isoformat(),
                "programme_phase": "1533/QĐ-TTg",
                "quota_profile_id": profile_id,
                "status": "active",
                "legacy_address": club.legacy_address,
            },
        )
        response.raise_for_status()
        club_id: int = response.json()["id"]
        return club_id

    def _members(self, club: demo_clubs.DemoClub, club_id: int) -> None:
        listed = self.client.get(f"/api/v1/clubs/{club_id}/members", params={"limit": 1})
        listed.raise_for_status()
        if listed.json()["total"]:
            return
        rows = demo_clubs.members(club)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        response = self.client.post(
            f"/api/v1/clubs/{club_id}/members/import",
            params={"dry_run": "false"},
            files={"file": (f"{club.code}.csv", buffer.getvalue().encode(), "text/csv")},
        )
        response.raise_for_status()

    def bank_records(self, secrets: dict[str, str]) -> dict[str, Any]:
        """The demo bank's records for the demo clubs' members (posted once)."""
        client_id = DEMO_CLIENTS[0]["client_id"]
        token = self.client.post(
            "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secrets[client_id],
            },
        )
        token.raise_for_status()
        members: list[dict[str, Any]] = []
        for club in self.client.get(
            "/api/v1/clubs", params={"province": "15", "limit": 200}
        ).json()["items"]:
            listed = self.client.get(f"/api/v1/clubs/{club['id']}/members", params={"limit": 200})
            members.extend(listed.json()["items"])
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        with httpx.Client(base_url=self.client.base_url, headers=headers, timeout=60.0) as bank:
            return DemoMoney(self.client).bank_records(bank, members)

    def load(self) -> dict[str, Any]:
        clients = self.clients()
        funding = DemoFunding(self.client)
        return {
            "users": self.users(funding),
            "clients": clients,
            "app": self.app(),
            "clubs": self.clubs(funding),
            "plan_work": funding.plan_work(),
            "bank_records": self.bank_records(clients),
        }
