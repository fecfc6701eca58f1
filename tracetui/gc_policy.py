"""The process's garbage-collection policy, in one place.

Two rules, both measured (the numbers are in the docstrings below and in bench/):

1. Freeze the heap at known quiet points (`freeze_heap`), called by the chat pane.
2. No automatic collection while a large response is parsed (`collection_paused`), used by the
   tracking client.

## Freezing

Why: importing litellm leaves ~370,000 long-lived objects (the trace writer's
mlflow/opentelemetry imports more), and a long streamed answer adds many more.
Every full (generation-2) collection walked them all and stalled the event loop
for 100-800 ms in the middle of a stream (measured with gc.callbacks: the worst
frames while streaming were generation-2 runs).

`freeze_heap` collects the young generations (nearly all fresh garbage) and
freezes every survivor, so later collections only walk what was allocated
since. Imported modules and finished answer segments live on anyway, so
freezing them loses nothing; objects frozen and later dropped are still freed
by reference counting, only cyclic garbage waits for `release_heap`.

Where it is called (by the chat pane): at the start of each turn (after the
litellm import), after each finished segment of a streaming answer, and after
each turn (which also covers the trace writer's imports). Measured with
bench/bench_chat_pane.py when answers were Textual Markdown widgets, on a
2-core machine at load ~12, median of 3 runs of the largest event-loop stall:
settling at all three points 0.94 s; only once after the litellm import 2.13 s;
never 5.93 s. A full collection at those points walked the fresh imports
(~200 ms at a turn's start) or, after a segment holding a 600-line code fence,
took 12.5 ms where the young generations took 1.3 ms: so young ones only.
`bench/bench_ui.py --only d --heap-variants` compares the policies in the whole app.

`release_heap` undoes the freeze when the conversation is cleared, so the
collector can reclaim the removed answers.

## Pausing

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
on before the first began. Explicit `gc.collect()` calls (`freeze_heap` above)
work throughout.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_heap() -> None:
    """Collect the young generations, then hide every surviving object from later collections."""
    gc.collect(1)
    gc.freeze()


def release_heap() -> None:
    """Let the collector see every object again (after removing a lot of frozen ones)."""
    gc.unfreeze()


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
