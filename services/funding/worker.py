"""The funding service's worker process (`python -m services.funding.worker [--port 8001]`): see
`common.worker`."""

from common.worker import run

if __name__ == "__main__":
    run("services.funding.app:create_app", "FUNDING")
