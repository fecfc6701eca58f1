"""Where the chat's turns are traced: the experiment the dashboard is watching, on its backend.

The chat pane's `ChatSession` gets a `WatchedExperimentSink` as its tracer. The
app points the sink at a target each time it opens an experiment (the resolved
server URL — possibly a local server it started — and the experiment id), so a
turn's trace lands in the list the person is looking at, with the same
credentials and TLS settings the list is read with. Before the backend answers,
a turn is still answered and says why it was not traced.

The sink is called from a worker thread (`ChatSession` writes traces off the
event loop); the target is swapped as one tuple, so a turn sees either the old
target or the new one, never half of each.

A turn the server cannot take (down, time-out, 5xx, credentials refused)
waits in the outbox of its target (`tracetui.chat.outbox`): `pending_count()`
is cheap enough for every poll, `deliver_pending()` does I/O (a thread worker).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from tracetui.chat.record import TurnRecord
from tracetui.config import TrackingSettings


class WatchedExperimentSink:
    """A `TurnSink` (record -> trace id) that writes into the experiment the app watches now."""

    def __init__(self, settings: TrackingSettings) -> None:
        self.settings = settings
        self._target: tuple[str, str] | None = None  # (server base URL, experiment id)
        self._tracers: dict[tuple[str, str], Any] = {}  # one TurnTracer (and connection) per target
        self._lock = threading.Lock()

    def watch(self, base_url: str, experiment_id: str) -> None:
        """Trace the next turns into `experiment_id` on the server at `base_url`."""
        self._target = (base_url, experiment_id)

    @property
    def target(self) -> tuple[str, str] | None:
        return self._target

    def __call__(self, record: TurnRecord) -> str:
        from tracetui.chat.trace_writer import TraceNotLogged  # httpx + mlflow protos: lazy

        target = self._target
        if target is None:
            raise TraceNotLogged("The tracking server is not connected yet, so this turn was not traced.")
        return self._tracer_for(target)(record)

    def _tracer_for(self, target: tuple[str, str]) -> Any:
        from tracetui.chat.outbox import with_outbox
        from tracetui.chat.trace_writer import TurnTracer

        with self._lock:
            tracer = self._tracers.get(target)
            if tracer is None:
                base_url, experiment_id = target
                settings = dataclasses.replace(self.settings, tracking_uri=base_url)
                tracer = self._tracers[target] = with_outbox(TurnTracer(settings, experiment_id))
            return tracer

    def pending_count(self) -> int:
        """Turns waiting on disk to be traced into the watched experiment. Cheap: lists one folder."""
        from tracetui.chat.outbox import Outbox

        target = self._target
        return 0 if target is None else Outbox(*target).pending_count()

    def deliver_pending(self) -> Any:
        """Send the waiting turns of the watched experiment: a `Delivery`. Blocking: call from a thread."""
        target = self._target
        if target is None:
            from tracetui.chat.outbox import Delivery

            return Delivery(0, 0)
        return self._tracer_for(target).deliver_pending()

    def close(self) -> None:
        with self._lock:
            for tracer in self._tracers.values():
                tracer.close()
            self._tracers.clear()
