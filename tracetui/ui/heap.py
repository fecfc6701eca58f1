"""The process's garbage-collection policy, in one place: freeze the heap at known quiet points.

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

The spans pane also calls it after showing a trace of `LARGE_TRACE_SPANS` or
more: its decoded spans (~100 objects each) live as long as it is shown, and the
first full collection after a 10,001-span trace opened walked them all, 338 ms
in the middle of a search keystroke (bench/bench_search.py, gc.callbacks). The
tree nodes of a trace shown before are cyclic garbage a freeze keeps until
`release_heap`: a few hundred small objects per large trace opened.

`release_heap` undoes the freeze when the conversation is cleared, so the
collector can reclaim the removed answers.
"""

from __future__ import annotations

import gc

LARGE_TRACE_SPANS = 500  # a trace this big is frozen once shown


def freeze_heap() -> None:
    """Collect the young generations, then hide every surviving object from later collections."""
    gc.collect(1)
    gc.freeze()


def release_heap() -> None:
    """Let the collector see every object again (after removing a lot of frozen ones)."""
    gc.unfreeze()
