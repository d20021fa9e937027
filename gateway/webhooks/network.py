"""The connections webhooks are posted on: names resolved in threads of their own, each address
checked, and the connection made to the address checked.

A subscriber's host may take seconds to resolve (a name server that drops a burst of queries
answers after the resolver's 5-second retry). Resolved by the event loop, those lookups held
its resolver: under uvloop, libuv's four threads, which also open the gateway's connections to
the services, so a batch of deliveries to such hosts made proxied requests fail with 504 (in
`make run`, where one process serves and sends). Here they wait in `RESOLVER_THREADS` threads
of the webhooks' own, and nothing else waits on them.

The address a post connects to is the one that was checked (`addresses.checked_addresses`): a
second lookup by the HTTP client could answer another address (DNS rebinding) and lead a post
into the platform's own network after the check passed.
"""

import asyncio
import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import httpcore
import httpx

from gateway.webhooks.addresses import checked_addresses

RESOLVER_THREADS = 4
"""Lookups of subscribers' hosts at once; more wait for a thread, and only deliveries wait."""
KEEPALIVE_SECONDS = 5.0


class WebhookNetwork(httpcore.AsyncNetworkBackend):
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._connect = httpcore.AnyIOBackend()
        self._resolver = ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="webhook-dns")

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        resolving = loop.run_in_executor(
            self._resolver, checked_addresses, host, port, self.allow_private
        )
        try:
            addresses = await asyncio.wait_for(resolving, timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"{host} did not resolve in {timeout} s") from None
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        refused: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._connect.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # the next address, as a browser would
                refused = exc
        assert refused is not None  # `checked_addresses` answers at least one
        raise refused

    async def sleep(self, seconds: float) -> None:
        await self._connect.sleep(seconds)


class WebhookTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a `WebhookNetwork` (TLS still checks the subscriber's host name)."""

    def __init__(self, network: WebhookNetwork, max_connections: int) -> None:
        super().__init__()
        # httpx's own pool, on the network of the webhooks
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=KEEPALIVE_SECONDS,
            network_backend=network,
        )
