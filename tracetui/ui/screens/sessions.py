"""The sessions of an experiment (traces grouped by `mlflow.trace.session`) with their totals.

Listing happens in a worker on this screen (`tracking.sessions.stream_sessions`): the
first rows show at once, and the note says while it is still reading. Each row: last
and first turn, turns, total duration, tokens in and out, errors and cost (where MLflow
recorded one; tracking/session_totals.py). `o` sorts by the next column, `O` reverses.
Enter dismisses with the session to resume: the app loads its conversation into the chat
pane (see `tracetui.ui.session_resume`); `l` dismisses with the session whose turns the
trace list should show (filtered). `e` exports the highlighted session as a Markdown
transcript, `y` copies its id.

Session ids and prompts come from traces: every cell is plain, visible `Text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tracetui.exports import export_session_markdown
from tracetui.formatting import day_time
from tracetui.formatting import duration_ms as format_duration
from tracetui.tracking.session_totals import SESSION_SORTS, format_cost, sort_sessions
from tracetui.tracking.sessions import SessionSummary, stream_sessions
from tracetui.ui.clipboard import copy_text
from tracetui.visible import one_line

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient

# (key, label, width); the prompt takes what is left. Keys that are SESSION_SORTS names sort.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("last", "last turn", 12),
    ("first", "first turn", 12),
    ("turns", "turns", 5),
    ("duration", "duration", 8),
    ("tokens-in", "tok in", 7),
    ("tokens-out", "tok out", 7),
    ("errors", "errors", 6),
    ("cost", "cost", 9),
    ("session", "session", 20),
    ("prompt", "first prompt", 50),
)
SORTABLE = [key for key, _, _ in COLUMNS if key in SESSION_SORTS]
NO_COST_LABEL = "cost: none"  # the header when no trace of any session records a cost


@dataclass(frozen=True)
class SessionChoice:
    """What the person chose: `resume` the session in the chat, or `list` its turns in the trace list."""

    session_id: str
    action: str  # "resume" or "list"


def session_cells(summary: SessionSummary, tz: tzinfo | None) -> list[Text]:
    errors = Text(str(summary.error_count) if summary.error_count else "", style="bold red", end="")
    if summary.in_progress_count:
        errors = Text("…", style="yellow", end="")

    def number(value: int | str) -> Text:
        return Text(str(value), justify="right", end="")

    return [
        Text(day_time(summary.last_time_ms, tz), end=""),
        Text(day_time(summary.first_time_ms, tz), end=""),
        number(summary.trace_count),
        number(format_duration(summary.duration_ms)),
        number(summary.input_tokens),
        number(summary.output_tokens),
        errors,
        number(format_cost(summary.cost_usd)),
        Text(one_line(summary.session_id, 40), end=""),
        Text(one_line(summary.first_prompt[:400], 80), style="dim", end=""),
    ]


class SessionsScreen(ModalScreen[SessionChoice | None]):
    """Dismissed with the session chosen and what to do with it, or None on Escape."""

    BINDINGS = [
        Binding("escape", "cancel", "Close"),
        Binding("l", "list_turns", "Its turns in the list"),
        Binding("o", "sort_next", "Sort"),
        Binding("O", "sort_reverse", "Reverse", show=False),
        Binding("e", "export", "Export Markdown"),
        Binding("y", "copy_id", "Copy id"),
        Binding("j", "cursor_down", show=False),
        Binding("k", "cursor_up", show=False),
    ]

    DEFAULT_CSS = """
    SessionsScreen { align: center middle; }
    SessionsScreen > #sessions-box {
        width: 90%; height: 80%; padding: 0 1;
        border: thick $primary; background: $surface;
    }
    SessionsScreen #sessions { height: 1fr; }
    SessionsScreen #sessions-note { height: auto; color: $text-muted; }
    """

    def __init__(
        self,
        client: TrackingClient,
        experiment_id: str,
        *,
        tz: tzinfo | None = None,
        export_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.experiment_id = experiment_id
        self.tz = tz
        self.export_dir = export_dir
        self.summaries: dict[str, SessionSummary] = {}
        self.sort_by = "last"
        self.descending = True

    def compose(self) -> ComposeResult:
        with Vertical(id="sessions-box"):
            yield Static(
                Text(
                    "Sessions — Enter continues in the chat · l its turns in the list · o / O sort · "
                    "e export · y copy id · Esc",
                    style="bold",
                )
            )
            yield DataTable(id="sessions", cursor_type="row", zebra_stripes=False)
            yield Static(Text("Reading sessions…", end=""), id="sessions-note")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label, width in COLUMNS:
            table.add_column(Text(label, end=""), width=width, key=key)
        table.focus()
        self.load_sessions()

    @work(exclusive=True, group="sessions", exit_on_error=False)
    async def load_sessions(self) -> None:
        summaries: list[SessionSummary] = []
        try:
            # The first rows at once; the list regrouped as more pages of session traces come.
            async for summaries, complete in stream_sessions(self.client, self.experiment_id):
                self._show(summaries)
                if not complete:
                    self._note(f"{len(summaries)} sessions so far, most recent first; still reading…")
        except Exception as error:  # noqa: BLE001 - a sentence on the screen, not a traceback
            self._note(one_line(str(error), 300) or f"Listing sessions failed ({type(error).__name__}).")
            return
        if not summaries:
            self._note(
                "No sessions in this experiment: chat turns and programs that set the "
                "mlflow.trace.session metadata make them."
            )

    def _show(self, summaries: list[SessionSummary]) -> None:
        """All rows again (a session's counts change as its older turns are read)."""
        self.summaries = {summary.session_id: summary for summary in summaries}
        self.show_rows()

    def show_rows(self) -> None:
        """The sessions in the chosen order; the cost column says once when no trace records a cost."""
        table = self.query_one(DataTable)
        keep = self.highlighted_session_id
        table.clear()
        ordered = sort_sessions(self.summaries.values(), self.sort_by, descending=self.descending)
        for summary in ordered:
            table.add_row(*session_cells(summary, self.tz), key=summary.session_id)
        any_cost = any(summary.cost_usd is not None for summary in ordered)
        for column in table.columns.values():
            if column.key.value == "cost":
                column.label = Text("cost" if any_cost else NO_COST_LABEL, end="")
        if keep is not None and keep in self.summaries:
            table.move_cursor(row=table.get_row_index(keep))
        if ordered:
            words = SESSION_SORTS[self.sort_by][0]
            order = "largest or latest first" if self.descending else "smallest or earliest first"
            self._note(f"{len(ordered)} sessions by {words}, {order}.")

    def action_sort_next(self) -> None:
        self.sort_by = SORTABLE[(SORTABLE.index(self.sort_by) + 1) % len(SORTABLE)]
        self.descending = True
        self.show_rows()

    def action_sort_reverse(self) -> None:
        self.descending = not self.descending
        self.show_rows()

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key in SORTABLE:
            self.descending = not self.descending if key == self.sort_by else True
            self.sort_by = key
            self.show_rows()

    def action_list_turns(self) -> None:
        session_id = self.highlighted_session_id
        if session_id is None:
            self.notify("No session to list.", severity="warning")
            return
        self.dismiss(SessionChoice(session_id, "list"))

    def _note(self, sentence: str) -> None:
        self.query_one("#sessions-note", Static).update(Text(sentence, end=""))

    @property
    def highlighted_session_id(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        except Exception:  # noqa: BLE001 - the cursor can sit past the end while rows change
            return None
        return row_key.value

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value in self.summaries:
            self.dismiss(SessionChoice(event.row_key.value, "resume"))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_copy_id(self) -> None:
        session_id = self.highlighted_session_id
        if session_id is None:
            self.notify("No session to copy.", severity="warning")
            return
        copy_text(self.app, session_id, "the session id")

    def action_export(self) -> None:
        session_id = self.highlighted_session_id
        if session_id is None:
            self.notify("No session to export.", severity="warning")
            return
        self._note("Exporting the transcript…")
        self._export(session_id)

    @work(exclusive=True, group="sessions-export", exit_on_error=False)
    async def _export(self, session_id: str) -> None:
        exported = await export_session_markdown(
            self.client, self.experiment_id, session_id, directory=self.export_dir
        )
        self._note(exported.sentence)
        self.app.notify(exported.sentence, markup=False, severity="information" if exported.ok else "error")
