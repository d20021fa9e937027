"""Calling another service directly, with this service's own client-credentials token.

Services never read each other's databases; they ask each other's APIs, batched, with a token
of role `service` obtained from the gateway and reused until shortly before it expires.
"""

import asyncio
import time
from typing import Any

import httpx

from common.middleware import current_request_id
from common.problem_codes import Code
from common.problems import ServiceUnavailable

REFRESH_MARGIN_SECONDS = 60


class ServiceTokens:
    """This service's access token, fetched with client credentials and cached."""

    def __init__(
        self, gateway_url: str, client_id: str, client_secret: str, timeout: float = 5.0
    ) -> None:
        self.token_url = gateway_url.rstrip("/") + "/auth/token"
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() > self._expires_at - REFRESH_MARGIN_SECONDS:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(
                    self.token_url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.client_id,
                        "client_secret": self.client_secret,
                    },
                )
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceUnavailable(
                "This service cannot get a token from the gateway.",
                code=Code.SERVICE_TOKEN_UNAVAILABLE,
            ) from exc
        self._token = body["access_token"]
        self._expires_at = time.monotonic() + int(body["expires_in"])

    def forget(self) -> None:
        self._token = None


class ServiceClient:
    """JSON calls to one other service; every failure becomes a 503 problem, never a hang."""

    def __init__(
        self, name: str, base_url: str, tokens: ServiceTokens, timeout: float = 10.0
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def request(
        self, method: str, path: str, on_behalf_of: str | None = None, **kwargs: Any
    ) -> Any:
        """`on_behalf_of`: the caller's own token, so the other service applies the caller's
        scope instead of this service's. A call made while serving a request carries its
        `X-Request-ID`, so both services' logs show one request id."""
        request_id = current_request_id()
        for attempt in range(2):
            token = on_behalf_of or await self.tokens.token()
            headers = {"Authorization": f"Bearer {token}"}
            if request_id is not None:
                headers["X-Request-ID"] = request_id
            try:
                response = await self._client.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(
                    f"The {self.name} service is not reachable.", code=Code.SERVICE_UNREACHABLE
                ) from exc
            if response.status_code == 401 and attempt == 0 and on_behalf_of is None:
                # The token may have been signed by a retired key: fetch a new one once.
                self.tokens.forget()
                continue
            if response.status_code >= 500 or response.status_code == 401:
                raise ServiceUnavailable(
                    f"The {self.name} service answered {response.status_code}.",
                    code=Code.SERVICE_ERROR,
                )
            return response
        raise ServiceUnavailable(
            f"The {self.name} service refused this service's token.",
            code=Code.SERVICE_TOKEN_UNAVAILABLE,
        )

    async def get_json(self, path: str, on_behalf_of: str | None = None, **kwargs: Any) -> Any:
        response = await self.request("GET", path, on_behalf_of, **kwargs)
        if response.status_code >= 400:
            raise ServiceUnavailable(
                f"The {self.name} service answered {response.status_code} for {path}.",
                code=Code.SERVICE_ERROR,
            )
        return response.json()

    async def close(self) -> None:
        await self._client.aclose()
