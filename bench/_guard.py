"""The block a benchmark runs its platform in: what a failure exits with, and the platform stopped.

Every benchmark that starts the platform answers the same way when the run does not complete:
130 on Ctrl-C or SIGTERM, 2 when it failed (with the last lines of each component's log, where
the cause usually is), and never leaves a server running.
"""

import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from bench._common import progress
from tools.stack import Stack

INTERRUPTED = 130
FAILED = 2
LOG_TAIL_LINES = 20


@dataclass
class GuardedRun:
    """One run's temporary directory and platform, and how the run ended."""

    var_dir: Path
    stack: Stack | None = None
    """The platform once it is started: stopped when the block ends, whatever happens."""
    exit_code: int | None = None
    """Set when the block did not complete: `INTERRUPTED` or `FAILED`."""

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "logs"

    def start(self, stack: Stack) -> None:
        """Starts the platform, its logs in `log_dir`."""
        self.stack = stack
        progress("starting clubs, loans, funding and the gateway")
        stack.start(log_dir=self.log_dir)


@contextmanager
def guarded_run(prefix: str) -> Iterator[GuardedRun]:
    """A temporary directory (named from `prefix`) for the platform's files and logs, in which
    a Ctrl-C, a SIGTERM or a failure of the run (an HTTP, process, OS or PostgreSQL error, or a
    RuntimeError the bench raises) ends the block with `exit_code` set instead of a traceback;
    the caller returns it. The platform in `stack` is stopped on the way out, a second Ctrl-C
    notwithstanding."""
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        run = GuardedRun(Path(tmp))
        try:
            yield run
        except KeyboardInterrupt:
            print("\ninterrupted: stopping the platform", file=sys.stderr, flush=True)
            run.exit_code = INTERRUPTED
        except (RuntimeError, OSError, subprocess.SubprocessError, httpx.HTTPError) as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr, flush=True)
            _print_log_tails(run.log_dir)
            run.exit_code = FAILED
        except psycopg.Error as exc:
            print(f"benchmark failed in PostgreSQL: {exc}", file=sys.stderr, flush=True)
            run.exit_code = FAILED
        finally:
            if run.stack is not None:
                _stop(run.stack)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _print_log_tails(log_dir: Path) -> None:
    for log in sorted(log_dir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        if tail:
            print(f"--- {log.name} (last lines)\n" + "\n".join(tail), file=sys.stderr)


def _stop(stack: Stack) -> None:
    # A second Ctrl-C must not leave servers running.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stack.stop()
    finally:
        signal.signal(signal.SIGINT, previous)
