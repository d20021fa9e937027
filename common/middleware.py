"""Pure ASGI middleware shared by the gateway and the services.

Written against raw ASGI rather than `BaseHTTPMiddleware` because they sit on every request of
the hot path and the latter costs a task and a stream per request.
"""

import json
import re
import uuid
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextvars import ContextVar

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common import json_body
from common.allow import DocumentedPaths, documented_paths
from common.problem_codes import Code
from common.problems import (
    PROBLEM_MEDIA_TYPE,
    BadRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    Problem,
    UnsupportedMediaType,
)
from common.vietnamese import preferred_language

REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID_PATTERN = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
BODY_METHODS = {"POST", "PUT", "PATCH"}
DEFAULT_MEDIA_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)


_current_request_id: ContextVar[str | None] = ContextVar("ishc_request_id", default=None)


def current_request_id() -> str | None:
    """The `X-Request-ID` of the request being served (None outside one, e.g. in a background
    worker): passed on with every call to another service and written in every log line."""
    return _current_request_id.get()


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def send_problem(
    scope: Scope, send: Send, problem: Problem, extra_headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    accept_language = header(scope, b"accept-language")
    language = preferred_language(accept_language.decode("latin-1") if accept_language else None)
    body = json.dumps(problem.body(language=language)).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"content-language", language.encode()),
        *extra_headers,
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class HttpMiddleware(ABC):
    """A middleware of HTTP requests: other scopes (lifespan, websockets) pass straight to the
    app, and `handle` sees only HTTP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    @abstractmethod
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serves one HTTP request, passing it on to `self.app` or answering it."""


class RequestIdMiddleware(HttpMiddleware):
    """Keeps a well-formed `X-Request-ID` or makes one, and returns it on the response; while
    the request is served, `current_request_id()` answers it."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = header(scope, REQUEST_ID_HEADER)
        request_id = (
            given if given and _REQUEST_ID_PATTERN.match(given) else uuid.uuid4().hex.encode()
        )
        if given != request_id:
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k != REQUEST_ID_HEADER]
            scope["headers"].append((REQUEST_ID_HEADER, request_id))
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != REQUEST_ID_HEADER]
                message["headers"] = [*headers, (REQUEST_ID_HEADER, request_id)]
            await send(message)

        token = _current_request_id.set(request_id.decode())
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current_request_id.reset(token)


class BodyLimitMiddleware(HttpMiddleware):
    """Refuses bodies over the limit with 413, by declared length or while they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await send_problem(scope, send, self._too_large())
            return
        if declared is not None:
            # The server enforces the declared length, so the check above is enough.
            await self.app(scope, receive, send)
            return
        # A streamed (chunked) body is read up to the limit before the app sees it: frameworks
        # turn errors raised while they read a body into a generic 400.
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                await send_problem(scope, send, self._too_large())
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replaying_receive() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replaying_receive, send)

    def _too_large(self) -> PayloadTooLarge:
        # Made only when needed: a problem built for every request cost more than the check.
        return PayloadTooLarge(f"The request body exceeds the limit of {self.max_bytes} bytes.")


class ContentTypeMiddleware:
    """Refuses a body whose media type the platform does not read, with 415."""

    def __init__(self, app: ASGIApp, media_types: Iterable[str] = DEFAULT_MEDIA_TYPES) -> None:
        self.app = app
        self.media_types = tuple(media_types)

    def _accepted(self, content_type: bytes | None) -> bool:
        media_type = json_body.media_type_of(content_type)
        return media_type in self.media_types or json_body.is_json(media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in BODY_METHODS:
            length = header(scope, b"content-length")
            has_body = (length is None and header(scope, b"transfer-encoding") is not None) or (
                length is not None and length not in (b"0", b"")
            )
            content_type = header(scope, b"content-type")
            if has_body and not self._accepted(content_type):
                shown = content_type.decode("latin-1") if content_type else "none"
                await send_problem(
                    scope,
                    send,
                    UnsupportedMediaType(
                        f"Content-Type {shown} is not accepted; this API reads JSON, forms, "
                        "multipart uploads, CSV and XLSX.",
                        code=Code.UNSUPPORTED_MEDIA_TYPE,
                    ),
                )
                return
        await self.app(scope, receive, send)


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body (None if the client went away first)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def with_body(
    scope: Scope, receive: Receive, body: bytes, drop: bytes | None = None
) -> tuple[Scope, Receive]:
    """The request as the app should see it with `body` in place of the one read: its length
    (and without the header `drop`)."""
    headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-length", drop)]
    headers.append((b"content-length", str(len(body)).encode()))
    passed = False

    async def passing_receive() -> Message:
        nonlocal passed
        if passed:
            return await receive()
        passed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return {**scope, "headers": headers}, passing_receive


class HeadAsGetMiddleware:
    """HEAD is answered as GET would be, without the body (RFC 9110 §9.3.2): routes declare GET
    only, and HEAD got 405 (found by trying the API as a monitor or a link checker does). The
    headers, `Content-Length` included, are GET's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


class ConcretePathsFirstMiddleware(HttpMiddleware):
    """A path the document lists on its own answers 405 for a method it does not list, as
    OpenAPI matches a concrete path before a templated one: the router handed it to the
    templated path beside it (`GET /api/v1/bank-loans/search` answered 422 "loan_id: not an
    integer" from `/api/v1/bank-loans/{loan_id}`, and the 405s of that path named GET in
    `Allow`)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["app"]
        paths: DocumentedPaths | None = getattr(app.state, "documented_paths", None)
        if paths is None:  # built once, off the event loop
            paths = await run_in_threadpool(documented_paths, app)
        if paths.refuses(scope["method"], scope["path"]):
            allowed = ", ".join(sorted(paths.methods_at(scope["path"])))
            problem = MethodNotAllowed("Method Not Allowed", headers={"Allow": allowed})
            await send_problem(scope, send, problem)
            return
        await self.app(scope, receive, send)


class StrictJsonMiddleware:
    """Every JSON body is read once strictly (`common.json_body`) before any route sees it:
    refused values answer 422 (400 for what is not JSON), and the route reads the body as
    passed on (without a BOM, in NFC)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in BODY_METHODS
            or not json_body.is_json(json_body.media_type_of(header(scope, b"content-type")))
        ):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            await self.app(scope, receive, send)  # the client went away
            return
        if not body:
            await self.app(*with_body(scope, receive, body), send)
            return
        # The canonical form serves the `Idempotency-Key` check only.
        with_canonical = header(scope, b"idempotency-key") is not None
        try:
            read = await run_in_threadpool(json_body.read, body, with_canonical=with_canonical)
        except Problem as problem:
            await send_problem(scope, send, problem)
            return
        scope, receive = with_body(scope, receive, read.body)
        scope[json_body.CANONICAL_IN_SCOPE] = read.canonical
        await self.app(scope, receive, send)


GZIP_ENCODINGS = frozenset({b"gzip", b"x-gzip"})


class GzipRequestMiddleware:
    """Reads request bodies sent with `Content-Encoding: gzip` (a bank's 3.6 MB batch is 73 KB
    gzipped): the app sees the plain body, its length, and no encoding. The plain body is held
    to the same limit as any body, so a small bomb cannot unpack into gigabytes. Other
    encodings are refused with 415; a body that is not gzip answers 400."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        encoding = header(scope, b"content-encoding") if scope["type"] == "http" else None
        if encoding is None or encoding.strip().lower() == b"identity":
            await self.app(scope, receive, send)
            return
        if encoding.strip().lower() not in GZIP_ENCODINGS:
            shown = encoding.decode("latin-1")
            refusal = UnsupportedMediaType(
                f"Content-Encoding {shown} is not accepted; gzip is.",
                code=Code.UNSUPPORTED_CONTENT_ENCODING,
            )
            await send_problem(scope, send, refusal)
            return
        compressed = await read_body(receive)
        if compressed is None:
            await self.app(scope, receive, send)  # the client went away
            return
        try:
            body = await run_in_threadpool(_gunzip, compressed, self.max_bytes)
        except Problem as problem:
            await send_problem(scope, send, problem)
            return
        await self.app(*with_body(scope, receive, body, drop=b"content-encoding"), send)


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = unpacker.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise BadRequest("The request body is not valid gzip.", code=Code.MALFORMED_GZIP) from exc
    if len(body) > max_bytes or unpacker.unconsumed_tail:
        raise PayloadTooLarge(
            f"The request body unpacks to more than {max_bytes} bytes.",
            code=Code.UNPACKED_BODY_TOO_LARGE,
        )
    if not unpacker.eof:
        raise BadRequest(
            "The request body is not valid gzip: it ends too early.", code=Code.MALFORMED_GZIP
        )
    return body
