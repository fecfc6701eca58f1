"""The live trace list: a DataTable whose rows are keyed by trace id and updated in place.

A poll never rebuilds the table: changed rows get `update_cell`, new rows are
added and the rows re-ordered by start time (DataTable 8 has no insert-at-top;
`sort` only re-maps row positions, it does not re-create cells). Every cell is
a `Text` built from untrusted trace text with controls made visible — never a
`str`, which DataTable would parse as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from tracetui.formatting import clock_time, token_pair, trace_duration
from tracetui.tracking.feedback import current_feedback, thumbs
from tracetui.tracking.models import STATE_ERROR, STATE_IN_PROGRESS, STATE_OK, TraceInfo
from tracetui.tracking.summaries import SummaryCache, TraceSummary, list_name, model_label
from tracetui.visible import one_line

NEW_ROW_MARK_S = 3.0  # how long a new row keeps its "•" mark
COMPARE_MARK = "◆"  # the trace marked (m) to compare the selected one with (d)
# Older traces are asked for while this many rows (beyond a screenful) are still below the
# cursor or the bottom of the view, so the next page is there before the person reaches the end.
LOOKAHEAD_ROWS = 100

# (key, label, width). The preview takes what is left; it is cut to this many characters.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("mark", " ", 1),
    ("time", "time", 8),
    ("name", "name", 18),
    ("model", "model", 12),  # read from the spans of the rows on screen (tracking/summaries.py)
    ("state", "state", 9),
    ("fb", "fb", 2),  # 👍 / 👎: the feedback vote in force (the `+` key)
    ("duration", "duration", 8),
    ("tokens", "tokens in→out", 13),
    ("preview", "request", 60),
)


class TimeCell(Text):
    """The time column's cell; it carries the start time so rows sort by it, newest first."""

    def __init__(self, text: str, request_time_ms: int, trace_id: str) -> None:
        super().__init__(text, no_wrap=True, end="")
        # Ties (same millisecond) broken by id so the order never flips between polls.
        self.sort_key = (request_time_ms, trace_id)


UP_MARK = "👍"
DOWN_MARK = "👎"


def feedback_mark(info: TraceInfo) -> Text:
    """👍 / 👎 for the vote in force on the trace, empty without one (a 2-cell column)."""
    vote = thumbs(current_feedback(info))
    if vote is None:
        return Text("", end="")
    return Text(UP_MARK if vote else DOWN_MARK, end="")


def state_cell(state: str) -> Text:
    """Symbol and word, so the state reads without colour; colour for those who have it."""
    if state == STATE_OK:
        return Text("✓ OK", style="green", end="")
    if state == STATE_ERROR:
        return Text("✗ ERROR", style="bold red", end="")
    if state == STATE_IN_PROGRESS:
        return Text("… running", style="yellow", end="")
    return Text(f"? {one_line(state, 8)}", style="dim", end="")


def row_cells(
    info: TraceInfo, tz: tzinfo | None, now: datetime, summary: TraceSummary | None = None
) -> dict[str, Text]:
    """The cells of one row by column key; `mark` is left empty (new rows set it)."""
    return {
        "mark": Text("", end=""),
        "time": TimeCell(clock_time(info.request_time_ms, tz, now), info.request_time_ms, info.trace_id),
        "name": Text(one_line(list_name(info, summary)[:400], 40), no_wrap=True, end=""),
        "model": Text(one_line(model_label(summary)[:400], 40), no_wrap=True, end=""),
        "state": state_cell(info.state),
        "fb": feedback_mark(info),
        "duration": Text(trace_duration(info.execution_duration_ms), justify="right", end=""),
        "tokens": Text(token_pair(info.token_usage), end=""),
        # Only the head of a long preview is flattened: the cell shows a line of it.
        "preview": Text(one_line(info.request_preview[:400], COLUMNS[-1][2]), style="dim", end=""),
    }


class TraceList(DataTable):
    """Traces of one experiment, newest first. Row key = trace id."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    class Scrolled(Message):
        """Other rows came on screen: their names and models may need fetching (a burst coalesces)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, TraceList.Scrolled)

    class NearEnd(Message):
        """The cursor or the view came near the last row: time to load older traces (a burst coalesces)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, TraceList.NearEnd)

    @dataclass
    class MovedByUser(Message):
        """The person moved the cursor (keys or mouse); follow mode turns off when it leaves the top."""

        trace_id: str | None

    def __init__(
        self,
        *,
        tz: tzinfo | None = None,
        clock: Callable[[], datetime] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.tz = tz
        self.clock = clock or (lambda: datetime.now(tz=self.tz))
        self.infos: dict[str, TraceInfo] = {}
        self.summaries = SummaryCache()
        self.compare_mark: str | None = None  # the trace marked for comparison (kept across filters)

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(Text(label, end=""), width=width, key=key)

    # -- cursor moves by the person: tell the app, so it can turn follow mode off ----------------

    def _moved_by_user(self) -> None:
        self.post_message(self.MovedByUser(self.highlighted_trace_id))
        self.check_near_end()

    def check_near_end(self) -> None:
        """Post NearEnd when fewer than a screenful plus LOOKAHEAD_ROWS rows are left below."""
        if self.row_count == 0:
            return
        screen_rows = max(1, self.size.height)
        lowest_seen = max(self.cursor_row, int(self.scroll_y) + screen_rows)
        if self.row_count - lowest_seen <= screen_rows + LOOKAHEAD_ROWS:
            self.post_message(self.NearEnd())

    def action_cursor_down(self) -> None:
        super().action_cursor_down()
        self._moved_by_user()

    def action_cursor_up(self) -> None:
        super().action_cursor_up()
        self._moved_by_user()

    def action_page_down(self) -> None:
        super().action_page_down()
        self._moved_by_user()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._moved_by_user()

    def action_scroll_top(self) -> None:
        super().action_scroll_top()
        self._moved_by_user()

    def action_scroll_bottom(self) -> None:
        super().action_scroll_bottom()
        self._moved_by_user()

    def on_click(self, event: events.Click) -> None:
        # Runs before DataTable's own click handling moves the cursor: look once it has.
        self.call_later(self._moved_by_user)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self.post_message(self.Scrolled())
            self.check_near_end()

    def on_resize(self) -> None:
        self.post_message(self.Scrolled())  # more rows on screen (or the first time it has a size)

    # -- queries -----------------------------------------------------------------------------

    def visible_infos(self) -> list[TraceInfo]:
        """The trace infos of the rows on screen (and a screenful after, read ahead)."""
        first = int(self.scroll_y)
        rows = self.ordered_rows[first : first + 2 * max(1, self.size.height)]
        return [self.infos[row.key.value] for row in rows if row.key.value in self.infos]

    @property
    def highlighted_trace_id(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # the cursor can sit past the end for a moment while rows change
            return None
        return row_key.value

    @property
    def newest_trace_id(self) -> str | None:
        if self.row_count == 0:
            return None
        return self.ordered_rows[0].key.value

    # -- changes -----------------------------------------------------------------------------

    def apply(
        self,
        added: Sequence[TraceInfo],
        changed: Sequence[TraceInfo],
        *,
        replace: bool = False,
        follow: bool = False,
        older: bool = False,
    ) -> list[str]:
        """Add new rows and update changed ones in place; return the ids of rows really added.

        With `replace` the table is emptied first (a new experiment or filter), and
        nothing is marked new. With `follow` the cursor goes to the newest row,
        otherwise it stays on the trace it was on. `older`: a page loaded by scrolling
        (not marked new; the rows land below, so the cursor stays where it is).
        """
        keep_id = None if replace else self.highlighted_trace_id
        if replace:
            self.clear()
            self.infos.clear()
        now = self.clock()
        for info in changed:
            if info.trace_id in self.infos:
                self._update_row(info, now)
        fresh = [info for info in added if info.trace_id not in self.infos]
        for info in added:
            if info.trace_id in self.infos:  # a repeat: treat it as a change
                self._update_row(info, now)
        for info in fresh:
            self.infos[info.trace_id] = info
            cells = row_cells(info, self.tz, now, self.summaries.get(info.trace_id))
            if info.trace_id == self.compare_mark:
                cells["mark"] = Text(COMPARE_MARK, style="bold", end="")
            elif not (replace or older):
                cells["mark"] = Text("•", style="bold", end="")
            self.add_row(*(cells[key] for key, _, _ in COLUMNS), key=info.trace_id, height=1)
        if fresh:
            self.sort("time", key=lambda cell: cell.sort_key, reverse=True)
            if follow and not older:
                self.move_cursor(row=0, animate=False)
            elif keep_id is not None:
                self.select_trace(keep_id, scroll=False)
            if not (replace or older):
                new_ids = [info.trace_id for info in fresh]
                self.set_timer(NEW_ROW_MARK_S, lambda: self._unmark(new_ids))
        return [info.trace_id for info in fresh]

    def _update_row(self, info: TraceInfo, now: datetime) -> None:
        self.infos[info.trace_id] = info
        for key, cell in row_cells(info, self.tz, now, self.summaries.get(info.trace_id)).items():
            if key == "mark":
                continue
            self.update_cell(info.trace_id, key, cell)

    def show_summaries(self, summaries: dict[str, TraceSummary | None]) -> None:
        """Fetched names and models: keep them, and redraw the name and model cells of those rows."""
        self.summaries.put(summaries)
        for trace_id in summaries:
            info = self.infos.get(trace_id)
            summary = self.summaries.get(trace_id)
            if info is None or summary is None:
                continue
            cells = row_cells(info, self.tz, self.clock(), summary)
            for key in ("name", "model"):
                try:
                    self.update_cell(trace_id, key, cells[key])
                except (RowDoesNotExist, KeyError):
                    pass

    def set_compare_mark(self, trace_id: str | None) -> None:
        """Mark `trace_id`'s row for comparison (None: no mark); the mark moves from any other row."""
        previous, self.compare_mark = self.compare_mark, trace_id
        for row_id, mark in ((previous, ""), (trace_id, COMPARE_MARK)):
            if row_id is None:
                continue
            try:
                self.update_cell(row_id, "mark", Text(mark, style="bold", end=""))
            except (RowDoesNotExist, KeyError):  # not listed now (a filter); shown when it is again
                pass

    def _unmark(self, trace_ids: Iterable[str]) -> None:
        for trace_id in trace_ids:
            if trace_id == self.compare_mark:
                continue
            try:
                self.update_cell(trace_id, "mark", Text("", end=""))
            except (RowDoesNotExist, KeyError):  # gone after a filter or experiment change
                pass

    def select_trace(self, trace_id: str, *, scroll: bool = True) -> bool:
        """Move the cursor to `trace_id`'s row; False when it is not listed."""
        try:
            row_index = self.get_row_index(trace_id)
        except RowDoesNotExist:
            return False
        self.move_cursor(row=row_index, animate=False, scroll=scroll)
        return True
