"""Automatic garbage collection paused while a large response is parsed and decoded.

Why: `json.loads` of a 10,000-span trace (6 MB) makes about a million dicts and
lists. Each allocation counts towards the collector's thresholds, so the parse
set off several full collections, each walking the whole heap, the document so far
included. Parsing it took 0.23-0.28 s with collection on and 0.06-0.09 s with it
off in a process that has imported the app (48,000 objects), and 0.28-0.46 s with
it on in bench/bench_ui.py's process (whose heap also holds the mlflow client); the
decode there 0.10-0.22 s against 0.09 s.
A JSON document is a tree, so reference counting frees all of it; the collector
has no cycles to find there and only costs time.

The collector is process-wide, so while a parse runs in a worker thread the event
loop also runs without automatic collections (for about a tenth of a second);
cyclic garbage made meanwhile is collected once collection is back on. Pauses nest
across threads: collection comes back when the last one ends, and only if it was
on before the first began. Explicit `gc.collect()` calls (tracetui/ui/heap.py)
work throughout.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collection_paused() -> Iterator[None]:
    """No automatic garbage collection inside the block (any thread may hold it)."""
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
