"""The bottom of the viewer: the chosen trace as a span tree (or a sequence diagram) and one span's detail.

`open(trace_id)` asks for a trace; a worker fetches it and the pane shows it
once it arrives, unless another was asked for meanwhile (a slow old response
never replaces a newer one). A trace not fully exported yet is fetched again
after a second; a failed fetch (a time-out on a huge trace) backs off. `s` (the
viewer's key) switches between the tree and the sequence diagram of the same trace.

Two ids say everything: `wanted_trace_id` (asked for, maybe still loading) and
`shown_trace_id` (on screen).

Search (Ctrl+F in the tree): what is typed is looked for in every span
(tracetui/tracking/span_search.py), the matches are marked in the tree, the
first is revealed, n / N step through them, and the pane's title counts them
("2 of 41"). The same trace reloaded keeps its search; another trace starts
without one.
"""

from __future__ import annotations

import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Input
from textual.worker import Worker, WorkerState

from tracetui.gc_policy import LARGE_TRACE_SPANS, freeze_heap
from tracetui.tracking.errors import TraceNotReady, failure_sentence
from tracetui.tracking.models import Trace
from tracetui.tracking.span_search import SpanSearchIndex, parse_query
from tracetui.ui.messages import Say, SpanSearchReady
from tracetui.ui.safe_text import safe_content_line
from tracetui.ui.widgets.pane import Pane
from tracetui.ui.widgets.sequence_view import SequenceView
from tracetui.ui.widgets.span_detail import SpanDetail
from tracetui.ui.widgets.span_tree import SpanTree

PENDING_RETRY_S = 1.0  # a trace not fully exported yet is fetched again after this
MAX_RETRY_S = 30.0  # back-off cap for a trace that failed to load
INDEX_IN_THREAD_FROM = 500  # spans; a smaller trace is indexed at once (a few microseconds a span)
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
        self.search_box = Input(
            placeholder="search spans: text, or key=value for an attribute — Enter: tree, Esc: close",
            id="span-search",
        )
        self.search_text = ""  # as typed; "" for no search
        self.search_index: SpanSearchIndex | None = None  # for the trace in the tree
        self.indexing = False  # a thread is indexing the trace in the tree
        self.match_ids: list[str] = []  # span ids found, in tree order
        self.match_at = -1  # which of them the cursor was sent to

    def compose(self) -> ComposeResult:
        with Pane(id="tree-pane"):
            yield self.search_box
            with ContentSwitcher(id="tree-switcher", initial="span-tree"):
                yield self.span_tree
                yield self.sequence_view
        with Pane(id="detail-pane"):
            yield self.span_detail

    def on_mount(self) -> None:
        self.query_one("#detail-pane").border_title = "Span"
        self.search_box.display = False
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
        same_trace = trace_id == self.shown_trace_id
        self.wanted_trace_id = self.shown_trace_id = trace_id
        self._failures = 0
        self.span_tree.show_trace(trace)
        self.sequence_view.show_trace(trace)
        self._stop_reading()
        if len(trace.spans) >= LARGE_TRACE_SPANS:
            freeze_heap()  # its spans live while it is shown: no full collection walks them (gc_policy.py)
        self.search_index, self.match_ids, self.match_at = None, [], -1
        if not same_trace:
            self.search_text = ""
        self.run_search(jump=False)

    def clear(self) -> None:
        self.search_text, self.search_index, self.match_ids, self.match_at = "", None, [], -1
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
        if event.worker.group == "span-search" and event.state == WorkerState.ERROR:
            event.stop()  # indexing failed: say why; the next key tries again
            self.indexing = False
            self.post_message(Say(failure_sentence(event.worker.error), error=True))
            return
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

    # -- search ------------------------------------------------------------------------------

    @on(SpanTree.SearchAsked)
    def _open_search(self, message: SpanTree.SearchAsked) -> None:
        message.stop()
        if self.span_tree.trace is None:
            self.post_message(Say("No trace is shown: open one (Enter in the list) to search its spans."))
            return
        self.search_box.display = True
        self.search_box.value = self.search_text
        self.search_box.focus()
        trace = self.span_tree.trace
        if self.search_index is None and len(trace.spans) >= INDEX_IN_THREAD_FROM:
            self._index_in_thread(trace)  # while the first key is typed, not after it

    @on(Input.Changed, "#span-search")
    def _search_typed(self, event: Input.Changed) -> None:
        event.stop()
        if event.value != self.search_text:
            self.search_text = event.value
            self.run_search(jump=True)

    @on(Input.Submitted, "#span-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close_search()

    def close_search(self) -> None:
        """Hide the box and go back to the tree; the matches stay marked and n / N still step."""
        self.search_box.display = False
        self.span_tree.focus()

    def on_key(self, event: Any) -> None:
        if event.key == "escape" and self.search_box.has_focus:
            event.stop()
            self.close_search()

    def run_search(self, *, jump: bool) -> None:
        """Find what is typed in the trace in the tree, mark it, and (`jump`) reveal the first match."""
        trace = self.span_tree.trace
        query = parse_query(self.search_text)
        if query is None or trace is None:
            self.match_ids, self.match_at = [], -1
            self.span_tree.mark_matches(frozenset())
            self.show_title()
            return
        if self.search_index is None or self.search_index.trace is not trace:
            if len(trace.spans) < INDEX_IN_THREAD_FROM:
                self.search_index = SpanSearchIndex(trace)
            else:
                if not self.indexing:
                    self._index_in_thread(trace)
                self.show_title(searching=True)  # the search runs when the index arrives
                return
        self.match_ids = [span.span_id for span in self.search_index.search(query)]
        self.span_tree.mark_matches(frozenset(self.match_ids))
        self.match_at = -1
        if self.match_ids and jump:
            self.match_at = 0
            self.span_tree.reveal(self.match_ids[0])
        self.show_title()

    def _index_in_thread(self, trace: Trace) -> None:
        self.indexing = True
        self._build_index(trace)

    @work(thread=True, exclusive=True, group="span-search", exit_on_error=False)
    def _build_index(self, trace: Trace) -> None:
        self.post_message(SpanSearchReady(SpanSearchIndex(trace)))

    @on(SpanSearchReady)
    def _index_ready(self, message: SpanSearchReady) -> None:
        self.indexing = False
        if message.index.trace is self.span_tree.trace:  # not a trace shown before this one
            self.search_index = message.index
            if parse_query(self.search_text) is not None:
                self.run_search(jump=True)

    @on(SpanTree.MatchStep)
    def _step_match(self, message: SpanTree.MatchStep) -> None:
        message.stop()
        if not self.match_ids:
            searched = bool(self.search_text.strip())
            sentence = "No matches to step through." if searched else "Ctrl+F searches the spans."
            self.post_message(Say(sentence))
            return
        self.match_at = (self.match_at + message.step) % len(self.match_ids)
        if self.match_at < 0:
            self.match_at += len(self.match_ids)
        self.span_tree.reveal(self.match_ids[self.match_at])
        self.show_title()

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

    def show_title(self, *, searching: bool = False) -> None:
        """Which view the pane shows and, for the tree, the trace's span count and the search's matches."""
        trace = self.sequence_view.trace  # the trace both views show
        if self.sequence_shown:
            title = Content("Sequence")
        elif trace is None:
            title = Content("Spans")
        else:
            title = Content(f"Spans — {len(trace.spans)}")
            if self.search_text.strip():
                title += Content(" · ") + safe_content_line(self.search_text.strip(), 24) + Content(": ")
                title += Content(self.match_count_words(searching))
        self.query_one("#tree-pane").border_title = title

    def match_count_words(self, searching: bool = False) -> str:
        """ "2 of 41" (the match the cursor went to, of all), "41 matches", "no match" or "searching…"."""
        if searching:
            return "searching…"
        if not self.match_ids:
            return "no match"
        if self.match_at < 0:
            return f"{len(self.match_ids)} matches (n: next)"
        return f"{self.match_at + 1} of {len(self.match_ids)} (n/N)"
