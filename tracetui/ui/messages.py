"""Typed messages between the app's workers, its widgets and its handlers.

Workers do the I/O and post one of these; the app's handlers own the state.
Other panes (the chat pane) post `ShowTrace` to ask the app to open a trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from textual.message import Message

from tracetui.tracking.models import Experiment, Trace, TraceInfo


class ShowTrace(Message):
    """Ask the app to open `trace_id` (select its row when listed, show its tree and root span).

    Any widget may post it; it bubbles to the app. The chat pane posts it when
    a turn's trace id is known, so a person sees what the turn did.
    """

    def __init__(self, trace_id: str) -> None:
        super().__init__()
        self.trace_id = trace_id


class BackendReady(Message):
    """The tracking server answers: `client` talks to it, `backend` describes it."""

    def __init__(self, backend: Any, client: Any) -> None:
        super().__init__()
        self.backend = backend
        self.client = client


class ExperimentOpened(Message):
    """The experiment whose traces the list shows from now on.

    `chosen_by_user`: picked in the switcher. From then on an automatic choice
    (start-up, or its retry after a failure) that finishes late is ignored.
    """

    def __init__(self, experiment: Experiment, *, chosen_by_user: bool = False) -> None:
        super().__init__()
        self.experiment = experiment
        self.chosen_by_user = chosen_by_user


class ExperimentMissing(Message):
    """The experiment asked for (`selector`, a name or an id) does not exist on the server."""

    def __init__(self, selector: str) -> None:
        super().__init__()
        self.selector = selector


class TracesPolled(Message):
    """One poll finished: rows to add and rows that changed, for the live list `source`."""

    def __init__(
        self,
        source: object,
        added: Sequence[TraceInfo],
        changed: Sequence[TraceInfo],
        total: int,
        polled_at: datetime,
        replace: bool = False,
    ) -> None:
        super().__init__()
        self.source = source  # the LiveTraceList this came from; stale sources are ignored
        self.added = tuple(added)
        self.changed = tuple(changed)
        self.total = total
        self.polled_at = polled_at
        self.replace = replace  # a new experiment or filter: the rows replace the table's


class FilterRejected(Message):
    """The server refused a filter; the list keeps what it showed."""

    def __init__(self, filter_string: str, sentence: str) -> None:
        super().__init__()
        self.filter_string = filter_string
        self.sentence = sentence


class TraceLoaded(Message):
    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self.trace = trace


class TracePending(Message):
    """The server has the trace's info but not all its spans yet: fetch again soon."""

    def __init__(self, trace_id: str) -> None:
        super().__init__()
        self.trace_id = trace_id


@dataclass(frozen=True, slots=True)
class ExperimentSummary:
    """One line of the experiment switcher."""

    experiment: Experiment
    trace_count: int | None  # None when counting failed
    count_is_lower_bound: bool = False  # True when counting stopped at a cap ("500+")


class SummariesFetched(Message):
    """Names and models read from the spans of rows on screen (trace id -> summary, None: not yet)."""

    def __init__(self, summaries: dict[str, Any]) -> None:
        super().__init__()
        self.summaries = summaries
