"""Demo data, loaded through the public API so it obeys every rule a client meets.

Idempotent: what exists is left alone, so `make run` can load it on every start.
"""

import json
from pathlib import Path
from typing import Any

import httpx

DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS: list[dict[str, Any]] = [
    {
        "username": "officer.laocai",
        "full_name": "Cán bộ Hội NCT tỉnh Lào Cai",
        "role": "officer",
        "provinces": ["15"],
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


class Demo:
    def __init__(self, gateway_url: str, admin_password: str, var_dir: Path) -> None:
        self.client = httpx.Client(base_url=gateway_url, timeout=30.0)
        self.credentials_file = var_dir / "demo-clients.json"
        token = self.client.post(
            "/auth/token",
            data={"grant_type": "password", "username": "admin", "password": admin_password},
        )
        token.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def users(self) -> list[str]:
        created = []
        for user in DEMO_USERS:
            found = self.client.get("/api/v1/users", params={"q": user["username"]}).json()
            if not any(item["username"] == user["username"] for item in found["items"]):
                self.client.post(
                    "/api/v1/users", json={**user, "password": DEMO_PASSWORD}
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

    def load(self) -> dict[str, Any]:
        return {"users": self.users(), "clients": self.clients()}
