"""The process's garbage-collection policy, in one place: settle the heap at known quiet points.

Why: importing litellm leaves ~370,000 long-lived objects (the trace writer's
mlflow/opentelemetry imports more), and a long streamed answer adds hundreds of
thousands of widget objects. Every full (generation-2) collection walked them all
and stalled the event loop for 100-800 ms in the middle of a stream (measured
with gc.callbacks: the worst frames while streaming were generation-2 runs).

`settle_heap` collects what is garbage now and freezes every survivor, so later
collections only walk what was allocated since. Imported modules and finished
answer segments live on anyway, so freezing them loses nothing.

Where it is called (by the chat pane): after litellm is imported, after each
finished Markdown segment of a streaming answer, and after each turn (which
also covers the trace writer's imports). Measured with bench/bench_chat_pane.py's
one-pane host and its 2,000-word Markdown answer on a 2-core machine at load ~12,
median of 3 runs of the largest event-loop stall: settling at all three points
0.94 s; only once after the litellm import 2.13 s; never 5.93 s. So the
per-segment calls stay. `bench/bench_ui.py --only d --heap-variants` repeats
the comparison in the whole app.

`freeze_heap` is the cheap form for the turn's start and end, which follow the
big imports (litellm before the first answer, mlflow for the first trace): a
full collection there walked all of their objects (~200 ms, the largest stall
left while an answer started). Collecting only the young generations finds
nearly all fresh garbage; what sits in the old one is frozen with the rest.

`release_heap` undoes the freeze when the conversation is cleared, so the
collector can reclaim the removed answers.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect the garbage there is now, then hide every surviving object from later collections."""
    gc.collect()
    gc.freeze()


def freeze_heap() -> None:
    """Collect the young generations only, then freeze: for points right after big imports."""
    gc.collect(1)
    gc.freeze()


def release_heap() -> None:
    """Let the collector see every object again (after removing a lot of frozen ones)."""
    gc.unfreeze()
