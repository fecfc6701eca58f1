"""Typed messages between the panes, their workers and the app: small dataclasses, no dead fields.

Workers do the I/O and post one of these; handlers own the state. The viewer's
own results (`BackendReady`, `ExperimentChosen` …) stay inside it; what goes up
to the app is what another pane needs: where chat turns are traced
(`TracingDestination`), that the server answers (`Polled`, coalesced), a
sentence for the status line (`Say`). The chat posts `ShowTrace` to open a
turn's trace in the viewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from textual.message import Message

from tracetui.tracking.models import Experiment, TraceInfo


@dataclass
class ShowTrace(Message):
    """Open `trace_id` in the viewer: select its row (now or once listed), show its tree."""

    trace_id: str


@dataclass
class Say(Message):
    """One sentence for the status line: a failure, a rejected filter, "pending, fetching again".

    `refresh`: only update the sentence if the line still shows this sender's sentence with the
    same `key` (a count kept true as traces arrive must not cover a newer sentence).
    """

    sentence: str
    error: bool = False
    key: str | None = None
    refresh: bool = False


@dataclass
class TracingDestination(Message):
    """Where the chat's turns are traced from now on, as the viewer learns it.

    An experiment id on `base_url`; with `create`, a name the first turn traced creates;
    with neither (`base_url` None), no destination yet, and `why` says why.
    """

    base_url: str | None
    experiment: str | None
    create: bool = False
    why: str = ""


@dataclass
class Polled(Message):
    """The viewer's list was polled: the server answers (a moment to send turns waiting in the outbox)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Polled)  # a burst of polls needs one delivery


@dataclass
class BackendReady(Message):
    """The tracking server to talk to is known (a local one has started): `backend` describes it."""

    backend: Any


@dataclass
class ExperimentChosen(Message):
    """The experiment whose traces the list shows from now on.

    `chosen_by_user`: picked in the switcher. From then on an automatic choice
    (start-up, or its retry after a failure) that finishes late is ignored.
    """

    experiment: Experiment
    chosen_by_user: bool = False


@dataclass
class ExperimentMissing(Message):
    """The experiment asked for (`selector`, a name or an id) does not exist on the server."""

    selector: str


@dataclass
class TracesPolled(Message):
    """One poll finished: rows to add and rows that changed, for the live list `source`."""

    source: object  # the LiveTraceList this came from; stale sources are ignored
    added: Sequence[TraceInfo]
    changed: Sequence[TraceInfo]
    polled_at: datetime
    replace: bool = False  # a new experiment or filter: the rows replace the table's


@dataclass
class OlderTracesLoaded(Message):
    """A page of older traces, loaded as the person scrolled towards the end of the list `source`."""

    source: object  # the LiveTraceList this came from; stale sources are ignored
    added: Sequence[TraceInfo]


@dataclass
class TraceTotal(Message):
    """The server's count of the traces in the list `source`'s experiment (None: it cannot count)."""

    source: object
    total: int | None


@dataclass
class FilterRejected(Message):
    """The server refused a filter (the sentence says why); the list keeps what it showed."""

    sentence: str


@dataclass
class SummariesFetched(Message):
    """Names and models read from the spans of rows on screen (trace id -> summary, None: not yet)."""

    summaries: dict[str, Any] = field(default_factory=dict)


@dataclass
class SpanSearchReady(Message):
    """A trace's search index, built off the event loop (10,001 spans take ~0.1 s to index)."""

    index: Any  # tracetui.tracking.span_search.SpanSearchIndex
