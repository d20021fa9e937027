"""Pausing Python's cyclic garbage collector while a batch, or a large JSON body, is handled.

A batch of 10,000 records keeps some 200,000 container objects alive at once (parsed records,
planned loans, rows for COPY, the answer), so the collector ran every few hundred allocations
and a full collection of the whole heap about once per batch, a large share of the service's
CPU per batch (docs/benchmarks.md). None of these objects form
reference cycles; reference counting frees them when the request ends. The collector runs again
as soon as no batch is being handled.
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection until the last of the overlapping batches ends (the switch is
    process-wide, so concurrent batches share one pause)."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
