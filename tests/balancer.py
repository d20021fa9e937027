"""A round-robin TCP balancer for the replica tests: each new connection goes to the next replica.

A Kubernetes Service (and compose's nginx with keep-alive upstreams) balances connections, not
requests: a client that keeps its connection talks to one replica until it closes it. This
does the same, on a port of its own, in a thread of the test process.
"""

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Iterator

from tools.stack import free_port

CHUNK = 64 * 1024


class Balancer:
    """Listens on `port` and passes each connection through to the next of `backends`."""

    def __init__(self, backends: list[int]) -> None:
        self.port = free_port()
        self._next: Iterator[int] = itertools.cycle(backends)
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Balancer":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._pass, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _pass(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        backend = next(self._next)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", backend)
        except OSError:  # the replica is down: the client sees its connection closed
            writer.close()
            return
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
    finally:
        with contextlib.suppress(OSError):
            sink.close()
