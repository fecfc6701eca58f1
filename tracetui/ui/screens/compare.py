"""Two traces compared: the aligned span trees above, the highlighted pair's inputs and outputs below.

The alignment and the line diff are tracetui/tracking/trace_diff.py's; this
screen only draws them. From `WIDE_FROM` columns both traces show side by side;
narrower (80x24), one side at a time and `s` swaps. Every row and every line
comes from a trace: built as plain `Text` with controls made visible.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tracetui.formatting import duration as format_duration
from tracetui.tracking.models import Trace
from tracetui.tracking.trace_diff import BOTH, LEFT, RIGHT, AlignedSpan, align_traces, io_diff, summarize_diff
from tracetui.ui.safe_text import safe_line
from tracetui.visible import make_visible, one_line

WIDE_FROM = 120  # columns: from here both sides show at once
SIDE_MARKS = {BOTH: " ", LEFT: "-", RIGHT: "+"}  # the row's first cell: in both, only in A, only in B
STATUS_CHANGED_MARK = "!"
MAX_INDENT_DEPTH = 12
IO_MAX_LINES = 400  # per value: the whole value is one `tracetui traces diff` away


def signed_duration(delta_ns: int | None) -> str:
    if delta_ns is None:
        return ""
    if delta_ns == 0:
        return "0"
    return ("+" if delta_ns > 0 else "-") + format_duration(abs(delta_ns))


def token_pair(pair: tuple[int | None, int | None]) -> str:
    tokens_in, tokens_out = pair
    if tokens_in is None and tokens_out is None:
        return ""
    return f"{'?' if tokens_in is None else tokens_in}→{'?' if tokens_out is None else tokens_out}"


def token_delta(row: AlignedSpan) -> str:
    delta = row.tokens_delta()
    if delta == (None, None):
        return ""
    return "→".join("?" if number is None else f"{number:+d}" for number in delta)


def row_cells(row: AlignedSpan, sides: tuple[str, ...]) -> list[Text]:
    """The cells of one aligned row, with the columns of `sides` (both, or the one shown)."""
    changed = row.status_changed
    mark = STATUS_CHANGED_MARK if changed else SIDE_MARKS[row.side]
    style = "bold red" if changed else "green" if row.side == RIGHT else "yellow" if row.side == LEFT else ""
    name = Text(f"{mark} " + "  " * min(row.depth, MAX_INDENT_DEPTH), style=style, end="")
    name.append_text(safe_line(row.name, 50))
    if row.side != BOTH:
        name.append(f" (only in {'A' if row.side == LEFT else 'B'})", style="italic")
    if changed:
        name.append(f" {row.left.status_code}→{row.right.status_code}")  # type: ignore[union-attr]
    cells = [name]
    for side in sides:
        span = row.left if side == LEFT else row.right
        cells.append(Text(format_duration(span.duration_ns) if span else "", justify="right", end=""))
    cells.append(Text(signed_duration(row.duration_delta_ns), justify="right", end=""))
    for side in sides:
        cells.append(Text(token_pair(row.tokens(side)), justify="right", end=""))
    cells.append(Text(token_delta(row), justify="right", end=""))
    return cells


def io_text(row: AlignedSpan, side: str) -> Text:
    """One side's inputs and outputs, line for line with the other side's; differing lines marked."""
    text = Text(end="")
    for title, which in (("Inputs", "inputs"), ("Outputs", "outputs")):
        text.append(f"{title}\n", style="bold")
        left = getattr(row.left, which) if row.left is not None else None
        right = getattr(row.right, which) if row.right is not None else None
        lines = io_diff(left, right)
        if not lines:
            text.append("  (none)\n", style="dim")
        for line in lines[:IO_MAX_LINES]:
            shown = line.left if side == LEFT else line.right
            gutter = "~ " if line.changed and shown is not None else "  "
            body = make_visible(shown or "", keep_newlines=False)
            text.append(gutter, style="bold yellow" if line.changed else "")
            text.append(body + "\n", style="on #5a4a00" if line.changed and shown is not None else "")
        if len(lines) > IO_MAX_LINES:
            text.append(f"  … {len(lines) - IO_MAX_LINES:,} more lines\n", style="dim")
    return text


class CompareScreen(Screen[None]):
    """Trace A (marked) against trace B (selected). Esc closes; `s` swaps the side shown when narrow."""

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("s", "swap", "Swap side"),
        Binding("j", "cursor_down", show=False),
        Binding("k", "cursor_up", show=False),
    ]

    DEFAULT_CSS = """
    CompareScreen #compare-head { height: auto; padding: 0 1; background: $boost; }
    CompareScreen #compare-rows { height: 1fr; }
    CompareScreen #compare-io { height: 1fr; border-top: solid $primary; }
    CompareScreen .io-side { width: 1fr; padding: 0 1; }
    CompareScreen #io-left-box { border-right: solid $primary; }
    CompareScreen.-narrow #io-left-box { border-right: none; }
    """

    wide: reactive[bool] = reactive(True)
    """Both sides at once (from WIDE_FROM columns), else one."""
    side: reactive[str] = reactive(LEFT)
    """The side shown when narrow: LEFT (A) or RIGHT (B)."""

    def __init__(self, left: Trace, right: Trace) -> None:
        super().__init__()
        self.left, self.right = left, right
        self.rows = align_traces(left, right)
        self.summary = summarize_diff(left, right, self.rows)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="compare-head")
            yield DataTable(id="compare-rows", cursor_type="row", zebra_stripes=False)
            with Horizontal(id="compare-io"):
                with VerticalScroll(id="io-left-box", classes="io-side"):
                    yield Static(id="io-left")
                with VerticalScroll(id="io-right-box", classes="io-side"):
                    yield Static(id="io-right")
        yield Footer()

    def on_mount(self) -> None:
        self.wide = self.app.size.width >= WIDE_FROM
        self.redraw()
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        wide = self.size.width >= WIDE_FROM
        if wide != self.wide:
            self.wide = wide
            self.redraw()

    @property
    def sides(self) -> tuple[str, ...]:
        return (LEFT, RIGHT) if self.wide else (self.side,)

    def redraw(self) -> None:
        self.set_class(not self.wide, "-narrow")
        self.query_one("#compare-head", Static).update(self.head())
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        names = {LEFT: "A", RIGHT: "B"}
        table.add_column(Text("span", end=""), key="span")
        for side in self.sides:
            table.add_column(Text(names[side], end=""), key=f"duration-{side}")
        table.add_column(Text("Δ", end=""), key="delta")
        for side in self.sides:
            table.add_column(Text(f"tok {names[side]}", end=""), key=f"tokens-{side}")
        table.add_column(Text("Δ tok", end=""), key="tokens-delta")
        for index, row in enumerate(self.rows):
            table.add_row(*row_cells(row, self.sides), key=str(index))
        if self.rows:
            table.move_cursor(row=min(max(cursor, 0), len(self.rows) - 1))
        self.query_one("#io-left-box").display = self.wide or self.side == LEFT
        self.query_one("#io-right-box").display = self.wide or self.side == RIGHT
        self.show_io()

    def head(self) -> Text:
        text = Text(end="")
        for label, trace, side in (("A", self.left, LEFT), ("B", self.right, RIGHT)):
            if not self.wide and side != self.side:
                continue
            info = trace.info
            duration_ns = (
                None if info.execution_duration_ms is None else info.execution_duration_ms * 1_000_000
            )
            text.append(f"{label} ", style="bold reverse")
            text.append(
                f" {one_line(info.name, 30)}  {one_line(info.state, 12)}  {format_duration(duration_ns)}  "
            )
            text.append(f"{info.trace_id}\n", style="dim")
        summary = self.summary
        text.append(
            f"{summary.rows} spans by path: {summary.only_left} only in A (-), "
            f"{summary.only_right} only in B (+), {summary.status_changes} status changes (!)"
        )
        if not self.wide:
            text.append(f" · showing {'A' if self.side == LEFT else 'B'}, s swaps", style="bold")
        return text

    @on(DataTable.RowHighlighted, "#compare-rows")
    def _row_highlighted(self) -> None:
        self.show_io()

    def show_io(self) -> None:
        table = self.query_one(DataTable)
        if not self.rows:
            return
        row = self.rows[min(max(table.cursor_row, 0), len(self.rows) - 1)]
        self.query_one("#io-left", Static).update(io_text(row, LEFT))
        self.query_one("#io-right", Static).update(io_text(row, RIGHT))

    def action_swap(self) -> None:
        self.side = RIGHT if self.side == LEFT else LEFT
        if self.wide:
            self.notify("Both sides are shown: s swaps them in a narrower terminal.", markup=False)
            return
        self.redraw()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()
