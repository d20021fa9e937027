"""Where webhooks may be posted: not into the platform's own network, unless allowed.

A subscriber chooses the URL, so without this check the gateway could be made to post to (and
report the answers of) hosts only it can reach: the services, the database, the cloud's
metadata address. With `GATEWAY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES` off (the default), a URL whose
host is, or resolves to, a loopback, private, link-local or otherwise non-public address is
refused when subscribing and again at every post, on the address the post then connects to (a
name can be pointed elsewhere later; `network.py`). Development and the tests allow them, to
receive on 127.0.0.1.
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
    _check_name((urlsplit(url).hostname or "").lower())


def _check_name(host: str) -> None:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise PrivateAddress(f"{host} is a local name")
    try:
        public = _is_public(host)
    except ValueError:
        return  # a name: resolved before each post
    if not public:
        raise PrivateAddress(f"{host} is not a public address")


def checked_addresses(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses `host` resolves to, to connect to; `PrivateAddress` if any is not public
    (unless allowed), `socket.gaierror` if it does not resolve. Blocking: the webhooks' own
    threads call it (`network.WebhookNetwork`)."""
    if not allow_private:
        _check_name(host.lower().strip("[]"))
    found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    addresses = list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))
    if not allow_private:
        for address in addresses:
            if not _is_public(address):
                raise PrivateAddress(f"{host} resolves to {address}, not public")
    return addresses
