"""Starts the gateway and the three services as real processes, wired as in production.

Used by `make run`, the test suite and the benchmarks, so all three run the same thing.
"""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from common.serving import SERVER_ENVIRONMENT

ROOT = Path(__file__).resolve().parent.parent
FACTORIES = {
    "gateway": "gateway.app:create_app",
    "clubs": "services.clubs.app:create_app",
    "loans": "services.loans.app:create_app",
    "funding": "services.funding.app:create_app",
}
SERVICES = ("clubs", "loans", "funding")
PR_SET_PDEATHSIG = 1
ENV_PREFIX = {"gateway": "GATEWAY", "clubs": "CLUBS", "loans": "LOANS", "funding": "FUNDING"}


def _die_with_parent() -> None:
    """Linux: the process gets SIGTERM when its launcher dies, even by SIGKILL, so no service
    outlives `make run` or a test session."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Stack:
    """A platform: one database URL and one port per component, and their processes."""

    database_urls: dict[str, str]
    ports: dict[str, int]
    var_dir: Path
    admin_password: str
    extra_env: dict[str, str] = field(default_factory=dict)
    log_level: str = "warning"
    launcher: list[str] = field(default_factory=lambda: [sys.executable, "-m", "uvicorn"])
    """The command that runs uvicorn, before its arguments (a test runs it at another hour)."""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    reached_at: dict[str, str] = field(default_factory=dict)
    """Where the other components reach a component, when not at its own port (a balancer
    in front of its replicas)."""

    def url(self, component: str) -> str:
        return f"http://127.0.0.1:{self.ports[component]}"

    @property
    def gateway_url(self) -> str:
        return self.url("gateway")

    def reached(self, component: str) -> str:
        return self.reached_at.get(component) or self.url(component)

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "ISHC_ADMIN_PASSWORD": self.admin_password,
            **SERVER_ENVIRONMENT,
        }
        for component, prefix in ENV_PREFIX.items():
            env[f"{prefix}_DATABASE_URL"] = self.database_urls[component]
            env[f"{prefix}_LOG_LEVEL"] = self.log_level
        for service in SERVICES:
            env[f"GATEWAY_{ENV_PREFIX[service]}_URL"] = self.reached(service)
            env[f"{ENV_PREFIX[service]}_GATEWAY_URL"] = self.reached("gateway")
        env["CLUBS_LOANS_URL"] = self.reached("loans")
        env["LOANS_CLUBS_URL"] = self.reached("clubs")
        env["FUNDING_CLUBS_URL"] = self.reached("clubs")
        env["FUNDING_LOANS_URL"] = self.reached("loans")
        env.update(self.extra_env)
        return env

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "common.migrate"],
            cwd=ROOT,
            env=self.env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(
        self,
        components: Iterable[str] = ("clubs", "loans", "funding", "gateway"),
        log_dir: Path | None = None,
        quiet: bool = True,
    ) -> None:
        for component in components:
            self.start_one(component, log_dir, quiet)
        for component in components:
            self.wait_healthy(component)

    def start_one(self, component: str, log_dir: Path | None = None, quiet: bool = True) -> None:
        command = [
            *self.launcher,
            "--factory",
            FACTORIES[component],
            "--host",
            "127.0.0.1",
            "--port",
            str(self.ports[component]),
            "--log-level",
            self.log_level,
        ]
        if quiet:
            command.append("--no-access-log")
        output = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            output = (log_dir / f"{component}.log").open("ab")
        self.processes[component] = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env(),
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def wait_healthy(self, component: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        process = self.processes[component]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{component} exited with code {process.returncode}")
            try:
                if httpx.get(self.url(component) + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{component} did not become healthy within {timeout} s")

    def stop_one(self, component: str) -> None:
        process = self.processes.pop(component, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        for component in list(self.processes):
            self.stop_one(component)
