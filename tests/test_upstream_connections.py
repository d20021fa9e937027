"""The gateway's connections to the services: a pooled connection the service closes as a request
goes out on it loses no request that may be replayed, and says 503 for one that may not."""

import asyncio
from typing import Any

from starlette.requests import Request

from common.auth import Principal, Role
from common.problems import Problem
from gateway.proxy import Forwarder

BODY = b'{"ok": true}'


class DroppingService:
    """A service that closes its first connection after reading a request, unanswered (as a
    server does that reaps the connection at that moment), and answers 201 on any other."""

    def __init__(self) -> None:
        self.requests = 0
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")), 0,
            )  # fmt: skip
            await reader.readexactly(length)
            self.requests += 1
            if first:
                writer.close()
                return
            writer.write(
                b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(BODY)}\r\n\r\n".encode()
                + BODY
            )
            await writer.drain()


def request(headers: dict[str, str]) -> Request:
    body = b'{"loan_number": "VBSP-1"}'
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/bank-loans",
        "raw_path": b"/api/v1/bank-loans",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


async def post_once(headers: dict[str, str]) -> tuple[int, int]:
    """(status, requests the service read) of one POST forwarded to a dropping service."""
    service = DroppingService()
    server = await asyncio.start_server(service.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    forwarder = Forwarder({"loans": f"http://127.0.0.1:{port}"}, 2.0, 5.0)
    principal = Principal(subject="client:bank", role=Role.BANK, bank_code="VBSP")
    try:
        try:
            response = await forwarder.forward(request(headers), "loans", principal)
            status = response.status_code
        except Problem as exc:  # what the gateway's handlers turn into its answer
            status = exc.status
    finally:
        await forwarder.close()
        server.close()
    return status, service.requests


def test_a_write_with_an_idempotency_key_is_sent_again_on_a_fresh_connection() -> None:
    status, requests = asyncio.run(post_once({"Idempotency-Key": "k-1"}))
    assert (status, requests) == (201, 2)


def test_a_write_without_a_key_is_not_replayed_and_answers_503() -> None:
    status, requests = asyncio.run(post_once({}))
    assert (status, requests) == (503, 1)
