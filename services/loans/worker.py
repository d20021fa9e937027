"""The loans service's worker process (`python -m services.loans.worker [--port 8001]`): see
`common.worker`."""

from common.worker import run

if __name__ == "__main__":
    run("services.loans.app:create_app", "LOANS")
