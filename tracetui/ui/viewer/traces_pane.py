"""The top of the viewer: the filter box, the live trace list and the stats bar under it.

The title says how many traces are listed and of how many (the viewer knows: `show_count`);
a page of older traces, loaded as the person scrolls near the end, is shown like a poll's
rows, below the others and not marked new.

The pane shows what the viewer's poll found (`show`), keeps the names and models of the
rows on screen (read lazily from their spans, once each, as rows come on screen) and the
stats bar in step with the rows. The filter box is its own: `open_filter` shows it, Enter
posts `FilterSubmitted` for the viewer to try on the server, Esc closes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Input

from tracetui.tracking.models import TraceInfo
from tracetui.ui.messages import SummariesFetched
from tracetui.ui.widgets.pane import Pane
from tracetui.ui.widgets.stats_bar import StatsBar
from tracetui.ui.widgets.trace_list import TraceList


class TracesPane(Pane):
    """The filter box, the trace list and the stats bar, titled with the row count."""

    @dataclass
    class FilterSubmitted(Message):
        """The person entered a filter ("" clears it)."""

        filter_string: str

    def __init__(
        self, *, tz: tzinfo | None, clock: Callable[[], datetime], id: str | None = "traces-pane"
    ) -> None:
        super().__init__(id=id)
        self.client: Any = None  # the viewer's TrackingClient, once connected
        self.filter_box = Input(
            placeholder="MLflow filter, e.g. status = 'ERROR' — Enter applies, Esc closes", id="filter"
        )
        self.trace_list = TraceList(id="traces", tz=tz, clock=clock)
        self.stats_bar = StatsBar(id="stats")

    def compose(self) -> ComposeResult:
        yield self.filter_box
        yield self.trace_list
        yield self.stats_bar

    def on_mount(self) -> None:
        self.border_title = "Traces"
        self.filter_box.display = False

    # -- rows --------------------------------------------------------------------------------

    def show(
        self,
        added: Sequence[TraceInfo],
        changed: Sequence[TraceInfo],
        *,
        replace: bool,
        follow: bool,
        older: bool = False,
    ) -> None:
        """Rows from a poll, or (`older`) a page loaded by scrolling; an idle poll redraws nothing."""
        table = self.trace_list
        table.apply(added, changed, replace=replace, follow=follow, older=older)
        if replace or added or changed:
            self.update_stats()
        self._summarize_rows_on_screen()

    def show_count(self, listed: str) -> None:
        """The title: how many traces are listed, and of how many ("500 of 100,002")."""
        title = f"Traces — {listed}"
        if self.border_title != title:  # setting it repaints the whole pane, even when unchanged
            self.border_title = title

    def update_stats(self) -> None:
        """Redraw the sparklines from the rows the list holds."""
        from tracetui.tracking.summaries import model_of

        infos = self.trace_list.infos
        self.stats_bar.show(infos.values(), model_of=model_of(self.trace_list.summaries, infos))

    # -- names and models of the rows on screen (their spans, fetched once each) --------------

    def _summarize_rows_on_screen(self) -> None:
        if self.client is None:
            return
        wanted = self.trace_list.summaries.wanted(self.trace_list.visible_infos())
        if wanted:
            self._fetch_summaries(wanted)

    @work(group="summaries", exit_on_error=False)  # a failure is quiet: asked again later
    async def _fetch_summaries(self, trace_ids: list[str]) -> None:
        from tracetui.tracking.summaries import fetch_summaries

        try:
            found = await fetch_summaries(self.client, trace_ids)
        except Exception:
            self.trace_list.summaries.forget_fetching(trace_ids)  # asked again on a later poll
            raise
        self.post_message(SummariesFetched(found))

    @on(SummariesFetched)
    def _summaries_fetched(self, message: SummariesFetched) -> None:
        message.stop()
        self.trace_list.show_summaries(message.summaries)
        self.update_stats()  # tokens per second grouped by the models just learnt

    @on(TraceList.Scrolled)
    def _list_scrolled(self) -> None:
        self._summarize_rows_on_screen()

    # -- the filter box ----------------------------------------------------------------------

    def open_filter(self, current: str) -> None:
        self.filter_box.display = True
        self.filter_box.value = current
        self.filter_box.focus()

    def close_filter(self) -> None:
        self.filter_box.display = False
        self.trace_list.focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close_filter()
        self.post_message(self.FilterSubmitted(event.value.strip()))

    def on_key(self, event: Any) -> None:
        if event.key == "escape" and self.filter_box.has_focus:
            self.close_filter()
            event.stop()
