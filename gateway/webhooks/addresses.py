"""Where webhooks may be posted: not into the platform's own network, unless allowed.

A subscriber chooses the URL, so without this check the gateway could be made to post to (and
report the answers of) hosts only it can reach: the services, the database, the cloud's
metadata address. With `GATEWAY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES` off (the default), a URL whose
host is, or resolves to, a loopback, private, link-local or otherwise non-public address is
refused when subscribing and again before every post (a name can be pointed elsewhere later).
Development and the tests allow them, to receive on 127.0.0.1.
"""

import ipaddress
import socket
from urllib.parse import urlsplit


class PrivateAddress(ValueError):
    """The URL leads into a network the gateway must not post to."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def check_host(url: str) -> None:
    """Refuses a URL whose host is a non-public IP literal or a local name (no DNS lookup)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise PrivateAddress(f"{host} is a local name")
    try:
        public = _is_public(host)
    except ValueError:
        return  # a name: resolved before each post
    if not public:
        raise PrivateAddress(f"{host} is not a public address")


def check_resolved(url: str) -> None:
    """Refuses a URL whose host resolves to any non-public address (blocking: call in a
    worker thread)."""
    check_host(url)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise PrivateAddress(f"{parts.hostname} does not resolve: {exc}") from exc
    for *_, sockaddr in found:
        if not _is_public(str(sockaddr[0])):
            raise PrivateAddress(f"{parts.hostname} resolves to {sockaddr[0]}, not public")
