"""`make run`: migrate, start the platform on SQLite, load demo data, wait for Ctrl-C."""

import os
import secrets
import signal
import sys
import time
from typing import Any

from gateway.settings import GatewaySettings
from tools.demo import DEMO_PASSWORD, DEMO_USERS, Demo
from tools.stack import ROOT, SERVICES, Stack

VAR = ROOT / "var"


def admin_password() -> str:
    """Generated on the first run and kept in var/, so every later run can print it."""
    path = VAR / "admin-password"
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return os.environ.get("ISHC_ADMIN_PASSWORD") or path.read_text().strip()


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    components = ("gateway", *SERVICES)
    stack = Stack(
        database_urls={c: f"sqlite:///{VAR / f'{c}.db'}" for c in components},
        ports={c: port + i for i, c in enumerate(components)},
        var_dir=VAR,
        admin_password=admin_password(),
        log_level="info",
        # On a developer's machine webhooks may go to a receiver on 127.0.0.1 (see README), and
        # a front end under development calls from http://localhost:<its port>.
        extra_env={
            "GATEWAY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            "GATEWAY_CORS_LOCAL_ORIGINS": "true",
        },
    )
    step("migrating the databases (var/*.db)")
    stack.migrate()
    step(f"starting the services on ports {port + 1}-{port + 3} and the gateway on {port}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        stack.start(SERVICES, log_dir=VAR / "logs", quiet=False)
        stack.start(["gateway"], log_dir=VAR / "logs", quiet=False)
        step("loading demo data")
        admin = GatewaySettings().admin_username  # ISHC_ADMIN_USERNAME, as the gateway reads it
        loaded = Demo(stack.gateway_url, admin, stack.admin_password, VAR).load()
        print_welcome(stack, admin, loaded["clients"], loaded["app"])
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(0.5)
        dead = [name for name, p in stack.processes.items() if p.poll() is not None]
        print(f"stopped: {', '.join(dead)} exited; see var/logs/", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        # A second Ctrl-C or TERM while stopping must not leave services running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


def print_welcome(
    stack: Stack, admin: str, client_secrets: dict[str, str], app: dict[str, Any]
) -> None:
    url = stack.gateway_url
    officer, partner = DEMO_USERS[0]["username"], DEMO_USERS[1]["username"]
    print(
        f"""
ISHC Platform is running (SQLite databases and logs in var/).

  API docs:  {url}/docs
  OpenAPI:   {url}/openapi.json
  Readiness: {url}/readyz

Log in (admin):  username {admin}, password {stack.admin_password}
  curl -s -X POST {url}/auth/token -d grant_type=password -d username={admin} \\
       -d password='{stack.admin_password}'
Demo officer of Lào Cai: {officer} / {DEMO_PASSWORD}
Demo partner (the enterprise that co-funded the seed capital): {partner} / {DEMO_PASSWORD}""",
        flush=True,
    )
    for client_id, secret in client_secrets.items():
        print(f"Demo bank client: {client_id} / {secret}  (grant_type=client_credentials)")
    print(
        f"Demo web app (public client, PKCE): client_id {app['client_id']}, redirect URI "
        f"{app['redirect_uris'][0]}\n  login page: {url}/oauth/authorize  "
        "(docs/front-ends.md walks through it)"
    )
    print("\nPress Ctrl-C to stop.", flush=True)


if __name__ == "__main__":
    main()
