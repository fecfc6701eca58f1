"""Where the dashboard's chat turns are traced: the experiment it watches, or the outbox until that is known.

The chat pane's `ChatSession` gets a `WatchedExperimentSink` as its tracer. The
app points the sink at a destination once it knows one:

    sink = WatchedExperimentSink(settings, server=outbox_server(settings), asked_for="my-app")
    sink.watch(base_url, experiment_id)       # an experiment that exists
    sink.watch_by_name(base_url, "my-app")    # one the first traced turn creates
    sink.hold("Experiment 123 does not exist …")  # none can be chosen: turns wait, and say why

Until then (the server still starting, the experiment not chosen yet, refused
credentials) a turn is still answered and waits in an *unresolved* outbox for
this server and what was asked for; once a destination is known those turns are
moved into its outbox and sent before any newer one, so each is traced exactly
once, in the order it was asked. A turn the server cannot take later (down,
time-out, 5xx, credentials refused) waits in its destination's outbox
(`tracetui.chat.outbox`).

Called from a worker thread (`ChatSession` writes traces off the event loop);
the destination is swapped as one value, so a turn sees the old one or the new
one, never half of each. The outbox owns the waiting count: `waiting()` counts
files (cheap enough for every poll), `deliver_pending()` does I/O (a thread).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path

from tracetui.chat.outbox import Delivery, Outbox, count_waiting, turns
from tracetui.chat.outbox_listing import OutboxFolder, outbox_folders
from tracetui.chat.outbox_tracer import OutboxTracer, Queued, with_outbox
from tracetui.chat.record import TurnRecord
from tracetui.chat.trace_writer import TurnTracer
from tracetui.config import TrackingSettings
from tracetui.tracking.errors import redact_url

NOT_CONNECTED = "The tracking server is not connected yet"  # until the app says more


@dataclass(frozen=True, slots=True)
class Destination:
    base_url: str  # where to send (may differ run to run for a local server)
    experiment: str  # an experiment id, or a name to find or create


@dataclass(frozen=True, slots=True)
class Waiting:
    """Turns in the outbox: for the watched destination, and for any other."""

    here: int
    elsewhere: tuple[OutboxFolder, ...] = ()
    sendable: bool = False  # a delivery now would send something (here, or elsewhere on this server)

    @property
    def elsewhere_count(self) -> int:
        return sum(folder.waiting for folder in self.elsewhere)


class WatchedExperimentSink:
    """A `TurnSink` (record -> trace id) that writes into the experiment the app watches now."""

    def __init__(
        self,
        settings: TrackingSettings,
        *,
        server: str,
        asked_for: str | None = None,
        root: Path | None = None,
    ) -> None:
        self.settings = settings
        self.server = server  # the outboxes' name for the server (a local server: its store)
        self.asked_for = asked_for  # --experiment as given (a name or an id), None: the app chooses
        self.root = root
        self.unresolved = Outbox(server, asked_for, root, unresolved=True)
        self._destination: Destination | None = None
        self._why_held = NOT_CONNECTED
        self._tracers: dict[Destination, OutboxTracer] = {}
        self._lock = threading.Lock()

    # -- choosing the destination -------------------------------------------------------------

    def watch(self, base_url: str, experiment_id: str) -> None:
        """Trace the next turns (and those waiting unresolved) into `experiment_id` at `base_url`."""
        self._destination = Destination(base_url, experiment_id)

    def watch_by_name(self, base_url: str, name: str) -> None:
        """Trace into the experiment called `name`, which the first turn traced creates."""
        self._destination = Destination(base_url, name)

    def hold(self, why: str) -> None:
        """No destination can be chosen now (`why`, a sentence): turns wait unresolved."""
        self._destination = None
        self._why_held = why.rstrip().removesuffix(".")

    @property
    def destination(self) -> Destination | None:
        return self._destination

    # -- writing ------------------------------------------------------------------------------

    def __call__(self, record: TurnRecord) -> str:
        destination = self._destination
        if destination is None:
            self.unresolved.put(record)
            waiting = self.unresolved.pending_count()
            sentence = (
                f"{self._why_held} (not traced yet: {turns(waiting)} waiting, "
                "to be sent once the experiment is open)."
            )
            return Queued(sentence, waiting)
        tracer = self._tracer_for(destination)
        self._adopt_unresolved(tracer.outbox)  # older turns first: they are sent before this one
        return tracer(record)

    def _adopt_unresolved(self, outbox: Outbox) -> None:
        outbox.adopt(self.unresolved)
        if self.asked_for and outbox.experiment != self.asked_for:
            # Turns that waited for the experiment by name, before it existed.
            outbox.adopt(Outbox(self.server, self.asked_for, self.root))

    def _tracer_for(self, destination: Destination) -> OutboxTracer:
        with self._lock:
            tracer = self._tracers.get(destination)
            if tracer is None:
                settings = dataclasses.replace(self.settings, tracking_uri=destination.base_url)
                writer = TurnTracer(settings, destination.experiment)
                tracer = self._tracers[destination] = with_outbox(writer, self.root, server=self.server)
            return tracer

    # -- what waits ---------------------------------------------------------------------------

    def pending_count(self) -> int:
        """Turns waiting to be traced into the watched destination. Cheap: lists folders."""
        return self.waiting(elsewhere=False).here

    def _my_folders(self) -> set[Path]:
        """The outboxes of the watched destination (and of the turns asked before it was known)."""
        destination = self._destination
        mine = {self.unresolved.folder}
        if destination is not None:
            mine.add(Outbox(self.server, destination.experiment, self.root).folder)
            if self.asked_for:
                mine.add(Outbox(self.server, self.asked_for, self.root).folder)
        return mine

    def _on_this_server(self, folder: OutboxFolder) -> bool:
        """Another experiment's outbox on the watched server: it answers, so its turns go too."""
        return (
            folder.server == redact_url(self.server.rstrip("/"))
            and not folder.unresolved
            and bool(folder.experiment)
        )

    def can_send(self) -> bool:
        """Whether a delivery now has anything to send (only lists folders)."""
        return self.waiting().sendable

    def waiting(self, *, elsewhere: bool = True) -> Waiting:
        """What waits for this destination (unresolved turns included) and, if asked, for others."""
        mine = self._my_folders()
        here = sum(count_waiting(folder) for folder in mine)
        if not elsewhere:
            return Waiting(here)
        others = tuple(f for f in outbox_folders(self.root) if f.folder not in mine and f.waiting)
        sendable = self._destination is not None and (here > 0 or any(map(self._on_this_server, others)))
        return Waiting(here, others, sendable)

    @property
    def delivered_ids(self) -> dict[str, str]:
        """Turns that waited in an outbox and have been traced since -> their traces' ids."""
        with self._lock:
            return {turn: trace for t in self._tracers.values() for turn, trace in t.delivered_ids.items()}

    def deliver_pending(self) -> Delivery:
        """Send the turns waiting for the watched destination, then those for other experiments of
        the same server (each into the experiment it was asked for). Blocking: call it from a thread."""
        destination = self._destination
        if destination is None:
            return Delivery(0, self.unresolved.pending_count())
        tracer = self._tracer_for(destination)
        self._adopt_unresolved(tracer.outbox)
        delivery = tracer.deliver_pending()
        if delivery.failure is not None:
            return delivery  # the server does not take turns now: the others would fail alike
        for folder in filter(self._on_this_server, self.waiting().elsewhere):
            other = self._tracer_for(
                Destination(destination.base_url, str(folder.experiment))
            ).deliver_pending()
            delivery = Delivery(
                delivery.delivered + other.delivered,
                delivery.waiting,
                " ".join(filter(None, (delivery.sentence, other.sentence))) or None,
                delivery.failure or other.failure,
                {**delivery.delivered_ids, **other.delivered_ids},
            )
        return delivery

    def close(self) -> None:
        with self._lock:
            for tracer in self._tracers.values():
                tracer.close()
            self._tracers.clear()
