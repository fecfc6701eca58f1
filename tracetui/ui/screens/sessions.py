"""The sessions of an experiment (traces grouped by `mlflow.trace.session`); Enter opens one.

Listing happens in a worker on this screen (`tracking.sessions.stream_sessions`):
the first rows show at once, and the note says while it is still reading. Enter
dismisses with the chosen session id: the app then loads its conversation into the chat pane (see
`tracetui.ui.session_resume`). `e` exports the highlighted session as a
Markdown transcript, `y` copies its id.

Session ids and prompts come from traces: every cell is plain, visible `Text`.
"""

from __future__ import annotations

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
from tracetui.tracking.sessions import SessionSummary, stream_sessions
from tracetui.ui.clipboard import copy_text
from tracetui.visible import one_line

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient

# (key, label, width); the prompt takes what is left.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("last", "last turn", 14),
    ("turns", "turns", 5),
    ("state", "errors", 6),
    ("session", "session", 20),
    ("prompt", "first prompt", 50),
)


def session_cells(summary: SessionSummary, tz: tzinfo | None) -> list[Text]:
    errors = Text(str(summary.error_count) if summary.error_count else "", style="bold red", end="")
    if summary.in_progress_count:
        errors = Text("…", style="yellow", end="")
    return [
        Text(day_time(summary.last_time_ms, tz), end=""),
        Text(str(summary.trace_count), justify="right", end=""),
        errors,
        Text(one_line(summary.session_id, 40), end=""),
        Text(one_line(summary.first_prompt[:400], 80), style="dim", end=""),
    ]


class SessionsScreen(ModalScreen[str | None]):
    """Dismissed with the chosen session id, or None on Escape."""

    BINDINGS = [
        Binding("escape", "cancel", "Close"),
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

    def compose(self) -> ComposeResult:
        with Vertical(id="sessions-box"):
            yield Static(
                Text(
                    "Sessions — Enter continues in the chat · e export Markdown · y copy id · Esc",
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
        if summaries:
            self._note(f"{len(summaries)} sessions, most recent first.")
        else:
            self._note(
                "No sessions in this experiment: chat turns and programs that set the "
                "mlflow.trace.session metadata make them."
            )

    def _show(self, summaries: list[SessionSummary]) -> None:
        """All rows again (a session's counts change as its older turns are read); the cursor
        stays on the session it was on."""
        kept = self.highlighted_session_id
        self.summaries = {summary.session_id: summary for summary in summaries}
        table = self.query_one(DataTable)
        table.clear()
        for summary in summaries:
            table.add_row(*session_cells(summary, self.tz), key=summary.session_id)
        if kept is not None and kept in self.summaries:
            table.move_cursor(row=table.get_row_index(kept), animate=False)

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
            self.dismiss(event.row_key.value)

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
