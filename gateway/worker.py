"""The gateway's worker process (`python -m gateway.worker [--port 8001]`): it follows every
service's events, sends and backfills webhooks and prunes the logs; see `common.worker`."""

from common.worker import run

if __name__ == "__main__":
    run("gateway.app:create_app", "GATEWAY")
