"""The clubs service's worker process (`python -m services.clubs.worker [--port 8001]`): see
`common.worker`."""

from common.worker import run

if __name__ == "__main__":
    run("services.clubs.app:create_app", "CLUBS")
