"""What the strict reading of JSON bodies costs a bank batch, side by side with plain parsing.

    python bench/json_body.py [--records 10000] [--rounds 15]

Builds a batch of `--records` loan records as the bank posts them (Vietnamese names), then,
round by round in one run (these machines are noisy), times `common.json_body.read` on it (the
strict reader every JSON body now passes), `orjson.loads` and the standard library's
`json.loads` (what the framework parses with), and the reader on the same batch with its names
in NFD (the slow path: every text checked and normalised). Prints the median milliseconds.
"""

import argparse
import json
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import json_body
from tests.test_bank_loans import record


def _batch(records: int, form: Literal["NFC", "NFD"]) -> bytes:
    name = unicodedata.normalize(form, "Nguyễn Thị Hoà")
    rows = [record(borrower_name=name) for _ in range(records)]
    return json.dumps({"records": rows}, ensure_ascii=False).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    clean, nfd = _batch(args.records, "NFC"), _batch(args.records, "NFD")
    candidates: dict[str, Callable[[], object]] = {
        "strict reader (NFC, nothing to clean)": lambda: json_body.read(clean),
        "orjson.loads": lambda: orjson.loads(clean),
        "json.loads (the framework's parser)": lambda: json.loads(clean),
        "strict reader (NFD names: all cleaned)": lambda: json_body.read(nfd),
    }
    timings: dict[str, list[float]] = {name: [] for name in candidates}
    print(f"{args.records:,} records, {len(clean) / 1e6:.1f} MB; {args.rounds} rounds", flush=True)
    for round_number in range(1, args.rounds + 1):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            timings[name].append((time.perf_counter() - start) * 1000)
        print(f"  round {round_number}/{args.rounds}", end="\r", flush=True)
    print()
    base = statistics.median(timings["orjson.loads"])
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:42} {median:7.1f} ms  ({median / base:4.2f} x orjson)")


if __name__ == "__main__":
    main()
