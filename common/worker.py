"""A component's worker process: its background work without its API.

Production runs each component's web replicas with `<PREFIX>_PROCESS=web` and its background
work (outbox relays, event consumers, the webhook sender, retention, scheduled jobs) in worker
processes of their own: `python -m services.loans.worker`. A worker is the component's app with
`<PREFIX>_PROCESS=worker`, so the loops run exactly the code and state they run embedded; it
answers only `/healthz`, `/readyz` and `/metrics`, on its own port, for the probes.
"""

import argparse
import os

import uvicorn

from common.serving import SERVER_KEEPALIVE_SECONDS

WORKER_PORT = 8001


def run(factory: str, prefix: str, argv: list[str] | None = None) -> None:
    """Runs `factory` (`module:create_app`) as the worker of the component whose settings
    are read with `prefix` (`LOANS`…)."""
    parser = argparse.ArgumentParser(
        description=f"The {prefix.lower()} worker: background work, with health and metrics."
    )
    parser.add_argument("--host", default="0.0.0.0", help="where the probes connect")
    parser.add_argument("--port", type=int, default=WORKER_PORT, help="the probes' port")
    args = parser.parse_args(argv)
    os.environ[f"{prefix}_PROCESS"] = "worker"
    uvicorn.run(
        factory,
        factory=True,
        host=args.host,
        port=args.port,
        timeout_keep_alive=SERVER_KEEPALIVE_SECONDS,
        log_level=os.environ.get(f"{prefix}_LOG_LEVEL", "info").lower(),
    )
