"""The outbox as a trace writer: write a turn's trace now, or keep the turn to send it later.

`with_outbox(TurnTracer(...))` is a `TurnSink` like the tracer itself: it returns the trace id,
or `Queued` when the turn was kept (the server down, credentials refused, no such experiment);
a turn the server refuses for good is kept too, set aside as refused. The folders themselves
(storing, listing, delivering in order) are tracetui/chat/outbox.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracetui.chat.outbox import Delivery, Outbox, waiting_sentence
from tracetui.chat.record import TurnRecord
from tracetui.chat.trace_writer import AUTH, KEPT, NO_EXPERIMENT, REJECTED, UNREACHABLE, TraceNotLogged
from tracetui.visible import one_line


@dataclass(frozen=True, slots=True)
class Queued:
    """A turn's trace not written yet but kept in the outbox: an outcome, not an error.

    A `TurnSink` returns this instead of a trace id; `sentence` says why it waits and when it
    will be sent, `waiting` counts the turns in the outbox now.
    """

    sentence: str
    waiting: int


# Failures that only a person can mend: kept turns are not retried until a new turn is traced.
NEEDS_A_PERSON = frozenset({AUTH, NO_EXPERIMENT})


class OutboxTracer:
    """A `TurnSink` that writes through `tracer` and keeps in `outbox` what cannot be written yet.

    A turn the server could not take (unreachable, timed out, 5xx, credentials
    refused, no such experiment) is stored, and `Queued` says how many wait;
    one it refused for good is set aside as `.rejected` (`tracetui outbox list`
    shows why, `retry` sends it again). No answered turn is dropped. While older
    turns wait, a new one is queued behind them and all are sent in the order they
    were asked. After a failure only a person can mend (credentials, a missing
    experiment), deliveries wait for the next turn, so a wrong password never
    becomes a retry storm (new credentials mean a new tracer, which tries again).
    """

    def __init__(self, tracer: Any, outbox: Outbox) -> None:
        self.tracer = tracer
        self.outbox = outbox
        self.blocked_by: TraceNotLogged | None = None  # a failure only a person can mend
        self.last_delivery: Delivery | None = None
        self.delivered_ids: set[str] = set()  # turns that waited here and are traced now

    def __call__(self, record: TurnRecord) -> str:
        if self.outbox.pending_count():
            return self._send_behind_waiting(record)
        try:
            trace_id = self.tracer(record)
        except TraceNotLogged as exc:
            if exc.kind not in KEPT:
                sentence = self.outbox.keep_rejected(record, f"the server refused it: {exc}")
                raise TraceNotLogged(sentence, exc.kind) from exc
            self.outbox.put(record)
            self.blocked_by = exc if exc.kind in NEEDS_A_PERSON else None
            waiting = self.outbox.pending_count()
            return Queued(waiting_sentence(exc, waiting), waiting)
        self.blocked_by = None
        return trace_id

    def _send_behind_waiting(self, record: TurnRecord) -> str:
        """Queue `record` behind the waiting turns and send them all, oldest first."""
        self.outbox.put(record)
        self.blocked_by = None  # a new turn is a new attempt, once
        delivery = self.deliver_pending()
        if record.trace_id in delivery.delivered_ids:
            return record.trace_id
        if self.outbox.holds(record.trace_id):
            failure = delivery.failure or TraceNotLogged("The waiting turns could not be sent.", UNREACHABLE)
            return Queued(waiting_sentence(failure, delivery.waiting), delivery.waiting)
        raise TraceNotLogged(delivery.sentence or "The server refused this turn's trace.", REJECTED)

    def pending_count(self) -> int:
        return self.outbox.pending_count()

    def deliver_pending(self) -> Delivery:
        """Send the waiting turns (blocking I/O: call it from a thread). Never raises."""
        if self.blocked_by is not None:
            waiting = self.outbox.pending_count()
            delivery = Delivery(0, waiting, waiting_sentence(self.blocked_by, waiting), self.blocked_by)
        else:
            try:
                delivery = self.outbox.deliver(self.tracer)
            except Exception as exc:  # e.g. the state folder is not writable
                sentence = f"The waiting turns could not be sent: {one_line(str(exc), 200)}."
                delivery = Delivery(0, self.outbox.pending_count(), sentence)
            if delivery.failure is not None and delivery.failure.kind in NEEDS_A_PERSON:
                self.blocked_by = delivery.failure
        self.delivered_ids.update(delivery.delivered_ids)
        self.last_delivery = delivery
        return delivery

    def close(self) -> None:
        close = getattr(self.tracer, "close", None)
        if close is not None:
            close()


def with_outbox(tracer: Any, root: Path | None = None, *, server: str | None = None) -> OutboxTracer:
    """Wrap a `TurnTracer` so its unwritable turns wait on disk for its server and experiment.

    `server` names the server in the outbox's key when it is not the tracer's URL
    (a local server tracetui starts is known by its store: its port changes every run).
    """
    return OutboxTracer(tracer, Outbox(server or tracer.base_url, tracer.experiment, root))
