"""An app's side of the authorization code flow with PKCE, as a test drives it over HTTP."""

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

REDIRECT = "http://localhost:5173/callback"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), as RFC 7636 §4.1–4.2 make them."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def register_app(admin: httpx.Client, *redirect_uris: str) -> str:
    client_id = f"app-{secrets.token_hex(4)}"
    body = {"client_id": client_id, "name": "Sổ tay CLB", "redirect_uris": list(redirect_uris)}
    response = admin.post("/api/v1/app-clients", json=body)
    assert response.status_code == 201, response.text
    return client_id


def query_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


@dataclass
class AppLogin:
    """One person's browser (its cookies) and one app."""

    base_url: str
    client_id: str
    redirect_uri: str = REDIRECT
    browser: httpx.Client = field(init=False)
    verifier: str = ""
    state: str = ""

    def __post_init__(self) -> None:
        self.browser = httpx.Client(base_url=self.base_url, follow_redirects=False, timeout=30)

    def authorize(self, **extra: str) -> httpx.Response:
        self.verifier, challenge = pkce()
        self.state = secrets.token_urlsafe(8)
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": self.state,
            **extra,
        }
        return self.browser.get("/oauth/authorize", params=params)

    def submit(self, page: httpx.Response, username: str, password: str) -> httpx.Response:
        fields: dict[str, Any] = {n: unescape(v) for n, v in HIDDEN.findall(page.text)}
        fields.update(username=username, password=password, action="login")
        return self.browser.post("/oauth/authorize", data=fields)

    def log_in(self, username: str, password: str) -> str:
        """The code the app receives after the person logs in on the page."""
        page = self.authorize()
        # A browser the page knows already goes straight back to the app.
        back = self.submit(page, username, password) if page.status_code == 200 else page
        assert back.status_code == 303, back.text
        location = back.headers["location"]
        assert location.startswith(self.redirect_uri + "?")
        answer = query_of(location)
        assert answer["state"] == self.state
        return answer["code"]

    def exchange(self, code: str, verifier: str | None = None) -> httpx.Response:
        return httpx.post(
            f"{self.base_url}/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "client_id": self.client_id,
                "code_verifier": verifier or self.verifier,
            },
        )

    def refresh(self, token: str) -> httpx.Response:
        return httpx.post(
            f"{self.base_url}/auth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": token,
                "client_id": self.client_id,
            },
        )

    def tokens(self, username: str, password: str) -> dict[str, Any]:
        response = self.exchange(self.log_in(username, password))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body
