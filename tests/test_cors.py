"""Pages on other origins call the API from a browser: CORS at the gateway, before auth.

The session's platform allows `https://dashboard.example.vn` and local pages
(`http://localhost:<port>`, `http://127.0.0.1:<port>`), as `make run` does for the latter.
What a browser would do is played here with the headers it sends.
"""

import httpx
import pytest

from common.sealing import new_key
from common.settings import InsecureSettingsError
from gateway.settings import GatewaySettings
from tests.support import Api

ALLOWED = ("https://dashboard.example.vn", "http://localhost:5173", "http://127.0.0.1:8080")
UNLISTED = ("https://evil.example.com", "http://localhost.evil.example.com", "null")
CLUBS = "/api/v1/clubs"


def _names(header: str) -> set[str]:
    return {name.strip().lower() for name in header.split(",")}


def _preflight(api: Api, origin: str, method: str = "PATCH") -> httpx.Response:
    return httpx.options(
        api.base_url + CLUBS + "/1",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type, if-match, "
            "idempotency-key, accept-language",
        },
    )


@pytest.mark.parametrize("origin", ALLOWED)
def test_a_preflight_from_an_allowed_origin_is_answered_before_authentication(
    api: Api, origin: str
) -> None:
    response = _preflight(api, origin)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == origin
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", "if-match", "idempotency-key"} <= allowed
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("origin", UNLISTED)
def test_an_unlisted_origin_gets_no_cors_headers_at_all(api: Api, origin: str) -> None:
    preflight = _preflight(api, origin)
    assert not any(name.startswith("access-control-") for name in preflight.headers)
    with api.client(api.admin_token) as admin:
        call = admin.get(CLUBS, headers={"Origin": origin})
    assert call.status_code == 200  # the server answers; the browser withholds it from the page
    assert not any(name.startswith("access-control-") for name in call.headers)


def test_answers_and_refusals_carry_the_headers_a_page_reads(api: Api) -> None:
    origin = ALLOWED[0]
    with api.client(api.admin_token) as admin:
        listed = admin.get(CLUBS, headers={"Origin": origin})
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == origin
    exposed = {
        h.strip().lower() for h in listed.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "location", "x-request-id", "retry-after"} <= exposed
    # A refusal is readable too: the page can show the problem, not a network error.
    refused = httpx.get(api.base_url + CLUBS, headers={"Origin": origin})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == origin


def test_production_refuses_local_origins() -> None:
    settings = GatewaySettings(
        environment="production",
        database_url="postgresql://ishc:secret@db:5432/ishc",
        service_clients="svc-loans:s2,svc-funding:s3",
        keys_encryption_key=new_key(),
        cors_local_origins=True,
    )
    with pytest.raises(InsecureSettingsError, match="cors_local_origins"):
        settings.check_production()
