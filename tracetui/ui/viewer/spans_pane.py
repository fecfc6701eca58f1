"""The bottom of the viewer: the chosen trace as a span tree (or a sequence diagram) and one span's detail.

`open(trace_id)` asks for a trace; a worker fetches it and the pane shows it
once it arrives, unless another was asked for meanwhile (a slow old response
never replaces a newer one). A trace not fully exported yet is fetched again
after a second; a failed fetch (a time-out on a huge trace) backs off. `s` (the
viewer's key) switches between the tree and the sequence diagram of the same trace.

Two ids say everything: `wanted_trace_id` (asked for, maybe still loading) and
`shown_trace_id` (on screen).
"""

from __future__ import annotations

import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import ContentSwitcher
from textual.worker import Worker, WorkerState

from tracetui.tracking.errors import TraceNotReady, failure_sentence
from tracetui.tracking.models import Trace
from tracetui.ui.messages import Say
from tracetui.ui.widgets.pane import Pane
from tracetui.ui.widgets.sequence_view import SequenceView
from tracetui.ui.widgets.span_detail import SpanDetail
from tracetui.ui.widgets.span_tree import SpanTree

PENDING_RETRY_S = 1.0  # a trace not fully exported yet is fetched again after this
MAX_RETRY_S = 30.0  # back-off cap for a trace that failed to load
# A trace the server is slow to build (a 50,000-span one: ~13 s before a byte arrives) shows
# how long it has been read for in the pane's title, ticking each second, instead of an error.
READING_NOTE_AFTER_S = 1.0


class SpansPane(Horizontal):
    """The span tree or sequence diagram of one trace, beside (or above) the detail of one span."""

    def __init__(self, *, id: str | None = "spans-pane") -> None:
        super().__init__(id=id)
        self.client: Any = None  # the viewer's TrackingClient, once connected
        self.wanted_trace_id: str | None = None  # asked for; maybe still loading
        self.shown_trace_id: str | None = None  # on screen
        self.sequence_shown = False
        self._failures = 0
        self._reading_since: float | None = None  # when the trace being fetched was asked for
        self._reading_timer: Timer | None = None
        self.span_tree = SpanTree(id="span-tree")
        self.sequence_view = SequenceView(id="sequence")
        self.span_detail = SpanDetail(id="span-detail")

    def compose(self) -> ComposeResult:
        with Pane(id="tree-pane"):
            with ContentSwitcher(id="tree-switcher", initial="span-tree"):
                yield self.span_tree
                yield self.sequence_view
        with Pane(id="detail-pane"):
            yield self.span_detail

    def on_mount(self) -> None:
        self.query_one("#detail-pane").border_title = "Span"
        self.show_title()

    # -- which trace -------------------------------------------------------------------------

    def open(self, trace_id: str | None, *, reload: bool = False) -> None:
        """Show `trace_id` once fetched; `reload` fetches it again (it finished, or gained spans)."""
        if trace_id is None or self.client is None:
            return
        if not reload and trace_id in (self.wanted_trace_id, self.shown_trace_id):
            return
        self.wanted_trace_id = trace_id
        self._reading_since = time.monotonic()
        if self._reading_timer is None:
            self._reading_timer = self.set_interval(1.0, self._show_reading)
        self._load(trace_id)

    def _show_reading(self) -> None:
        """ "Spans — reading the trace… 4 s" while a fetch is on its way; the usual title after."""
        if self._reading_since is None or self.wanted_trace_id in (None, self.shown_trace_id):
            self._stop_reading()
            return
        waited = time.monotonic() - self._reading_since
        if waited >= READING_NOTE_AFTER_S and not self.sequence_shown:
            self.query_one("#tree-pane").border_title = f"Spans — reading the trace… {waited:.0f} s"

    def _stop_reading(self) -> None:
        if self._reading_timer is not None:
            self._reading_timer.stop()
            self._reading_timer = None
        self._reading_since = None
        self.show_title()

    def show(self, trace: Trace) -> None:
        """Show a fetched trace (unless a newer one was asked for meanwhile)."""
        trace_id = trace.info.trace_id
        if self.wanted_trace_id not in (None, trace_id):
            return  # an older request; a newer one is on its way
        self.wanted_trace_id = self.shown_trace_id = trace_id
        self._failures = 0
        self.span_tree.show_trace(trace)
        self.sequence_view.show_trace(trace)
        self._stop_reading()

    def clear(self) -> None:
        self.span_tree.clear_trace()
        self.sequence_view.clear_trace()
        self.span_detail.clear_span()
        self.shown_trace_id = self.wanted_trace_id = None
        self._stop_reading()

    @work(exclusive=True, group="trace", exit_on_error=False)
    async def _load(self, trace_id: str) -> None:
        try:
            trace = await self.client.get_trace(trace_id)
        except TraceNotReady:
            self._pending(trace_id)
            return
        self.show(trace)

    def _pending(self, trace_id: str) -> None:
        if trace_id != self.wanted_trace_id:
            return
        self.post_message(Say(f"Trace {trace_id} is pending (not fully exported yet), fetching again…"))

        def again() -> None:
            if self.wanted_trace_id == trace_id:
                self._load(trace_id)

        self.set_timer(PENDING_RETRY_S, again)

    @on(Worker.StateChanged)
    def _load_failed(self, event: Worker.StateChanged) -> None:
        """A failed fetch (a time-out on a huge trace, a dropped connection): say why, try again later."""
        if event.worker.group != "trace" or event.state != WorkerState.ERROR:
            return
        event.stop()
        self._stop_reading()
        self.post_message(Say(failure_sentence(event.worker.error), error=True))
        trace_id = self.wanted_trace_id
        if trace_id is None:
            return
        self._failures += 1

        def again() -> None:
            if self.wanted_trace_id == trace_id and self.shown_trace_id != trace_id:
                self._load(trace_id)

        self.set_timer(min(MAX_RETRY_S, 2.0**self._failures), again)

    # -- what the panes show -------------------------------------------------------------------

    @on(SpanTree.SpanHighlighted)
    def _show_span(self, message: SpanTree.SpanHighlighted) -> None:
        self.span_detail.show_span(message.span, message.trace)

    def action_toggle_sequence(self) -> None:
        """Show the trace as a sequence diagram instead of its span tree, or back."""
        self.sequence_shown = not self.sequence_shown
        self.query_one("#tree-switcher", ContentSwitcher).current = (
            "sequence" if self.sequence_shown else "span-tree"
        )
        self.show_title()

    def show_title(self) -> None:
        """Which view the pane shows and, for the tree, the trace's span count."""
        trace = self.sequence_view.trace  # the trace both views show
        if self.sequence_shown:
            title = "Sequence"
        elif trace is None:
            title = "Spans"
        else:
            title = f"Spans — {len(trace.spans)}"
        self.query_one("#tree-pane").border_title = title
