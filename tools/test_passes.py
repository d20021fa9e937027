"""`make test`'s two passes, SQLite and PostgreSQL, side by side: `python -m tools.test_passes
'make test-sqlite' 'make test-postgres'`.

A pass spends most of its time waiting on HTTP between its own processes, so two passes fill a
two-core machine about twice as well as one: CI takes the longer pass's time, not the sum.
Each line is printed as it comes, prefixed with its pass (`[sqlite]`, `[postgres]`), so the
progress of both shows; the end of each pass's own report (its summary) follows once both
have ended. The exit code is non-zero when either pass fails.
"""

import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def _pass_name(command: str) -> str:
    return command.split()[-1].removeprefix("test-")


def _relay(name: str, stream: IO[str], kept: list[str], lock: threading.Lock) -> None:
    for line in stream:
        kept.append(line)
        with lock:
            sys.stdout.write(f"[{name}] {line}")
            sys.stdout.flush()


def run(commands: list[str]) -> int:
    lock = threading.Lock()
    outputs: dict[str, list[str]] = {}
    processes: list[tuple[str, subprocess.Popen[str]]] = []
    relays = []
    for command in commands:
        name = _pass_name(command)
        process = subprocess.Popen(
            command, shell=True, cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        assert process.stdout is not None
        outputs[name] = []
        relay = threading.Thread(
            target=_relay, args=(name, process.stdout, outputs[name], lock), daemon=True
        )
        relay.start()
        processes.append((name, process))
        relays.append(relay)
    codes = {name: process.wait() for name, process in processes}
    for relay in relays:
        relay.join()
    for name, lines in outputs.items():
        print(f"\n===== the {name} pass (exit code {codes[name]}) =====", flush=True)
        sys.stdout.writelines(lines[-60:])
    failed = [name for name, code in codes.items() if code != 0]
    print(f"\n{'failed: ' + ', '.join(failed) if failed else 'both passes passed'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
