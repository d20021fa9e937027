"""A NATS server with JetStream of a test module's own, on a free port (the machine's own
server, if any, is left alone).

`nats-server` must be installed (Debian's package); without it the tests that need it are
skipped, except in CI (`ISHC_REQUIRE_TOOLS`), where it must be there.
"""

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import wait_until
from tools.stack import free_port

NATS_SERVER = "nats-server"


def _server_binary() -> str:
    found = shutil.which(NATS_SERVER) or shutil.which(NATS_SERVER, path="/usr/sbin:/usr/bin")
    if found is None:
        reason = "nats-server is not installed (Debian: apt-get install nats-server)"
        if os.environ.get("ISHC_REQUIRE_TOOLS"):
            pytest.fail(f"{reason}; ISHC_REQUIRE_TOOLS is set: CI must have it")
        pytest.skip(reason)
    return found


def _listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def nats_server(store: Path) -> Iterator[str]:
    """Runs the server, storing in `store`; yields its URL."""
    binary = _server_binary()
    port = free_port()
    with (store / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store / "data")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: _listens(port), "the NATS server", seconds=20)
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
