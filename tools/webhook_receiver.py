"""An example webhook receiver: checks each post's signature and timestamp, drops repeats.

    python -m tools.webhook_receiver --port 9000 --secret whsec_...

Subscribe it with `POST /api/v1/webhooks {"url": "http://<host>:9000/", "event_types": [...]}`
and start it with the secret that answer shows. It prints every authentic event once, answers
401 to a post whose signature or timestamp is wrong, and 200 to a repeat (the platform retries
until it gets a 2xx, so an event can arrive more than once).

It uses nothing but Python's standard library, so a partner can copy this one file.
"""

import argparse
import contextlib
import hashlib
import hmac
import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 300
"""Posts signed longer ago than this (or in the future) are refused: a replayed post is old."""


def authentic(secret: str, timestamp: str, signature: str, body: bytes, now: float) -> bool:
    """`Webhook-Signature` is `v1=` + hex HMAC-SHA256 of `<Webhook-Timestamp>.<raw body>`."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    signed = timestamp.encode() + b"." + body
    expected = "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class WebhookReceiver(ThreadingHTTPServer):
    """Calls `handle(event)` once per authentic event; a handler that raises gets a 500 answer,
    so the platform sends the event again later."""

    daemon_threads = True

    def __init__(
        self, port: int, secret: str, handle: Callable[[dict[str, Any]], None], host: str = ""
    ) -> None:
        self.secret = secret
        self.handle = handle
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        super().__init__((host, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def log_message(self, format: str, *args: object) -> None:
        return

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        timestamp = self.headers.get("Webhook-Timestamp", "")
        signature = self.headers.get("Webhook-Signature", "")
        if not authentic(self.server.secret, timestamp, signature, body, time.time()):
            self._answer(401)
            return
        event = json.loads(body)
        with self.server.lock:
            if event["id"] in self.server.seen:
                self._answer(200)  # a repeat: already handled
                return
            try:
                self.server.handle(event)
            except Exception:
                self._answer(500)
                return
            self.server.seen.add(event["id"])
        self._answer(200)


def _print(event: dict[str, Any]) -> None:
    print(json.dumps(event, ensure_ascii=False), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.webhook_receiver")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--secret", required=True, help="the subscription's secret")
    args = parser.parse_args(argv)
    server = WebhookReceiver(args.port, args.secret, _print, args.host)
    print(f"receiving webhooks on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
