"""A trace as a sequence diagram in the terminal: participants in columns, arrows in time order.

The diagram comes from `tracetui.tracking.sequence` (participants Python program,
litellm, Ollama, the model, MLflow; each arrow with its hop latency); this
widget only draws its text lines, scrollable both ways, and copies the Mermaid
form with `m`. The lines hold span names, which are untrusted: they are built
into plain `Text` (never markup) after `make_visible`.

Meant to sit beside the span tree (the app toggles between the two).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.widgets import Static

from tracetui.tracking.models import Trace
from tracetui.tracking.sequence import (
    CALL,
    TIME_WIDTH,
    SequenceDiagram,
    build_sequence,
    to_mermaid,
    to_text_lines,
)
from tracetui.ui.clipboard import copy_text
from tracetui.visible import make_visible

EMPTY_TEXT = "No trace selected: pick one in the list to see its sequence."
HEADER_LINES = 2  # participant names, then the bare lifelines


def diagram_text(diagram: SequenceDiagram) -> Text:
    """The diagram's lines as one Text: names bold, times dim, calls solid, failed hops red."""
    lines = to_text_lines(diagram)
    text = Text(no_wrap=True, end="")
    for number, raw in enumerate(lines):
        line = make_visible(raw, keep_newlines=False)  # already visible; kept cheap and certain
        if number:
            text.append("\n")
        if number < HEADER_LINES:
            text.append(line, style="bold" if number == 0 else "dim")
            continue
        index, is_arrow = divmod(number - HEADER_LINES, 2)
        message = diagram.messages[index] if index < len(diagram.messages) else None
        if message is None:  # the "… more calls not shown" note
            text.append(line, style="italic dim")
        elif is_arrow:
            style = "bold red" if message.error else ("" if message.kind == CALL else "dim")
            text.append(line, style=style)
        else:
            text.append(line[: TIME_WIDTH - 1], style="dim")
            label_style = "red" if message.error else ("italic" if message.derived else "")
            text.append(line[TIME_WIDTH - 1 :], style=label_style)
    return text


class SequenceView(ScrollableContainer, can_focus=True):
    """The selected trace as a sequence diagram. `show_trace(trace)`; `m` copies it as Mermaid."""

    BINDINGS = [Binding("m", "copy_mermaid", "Copy Mermaid")]
    ALLOW_MAXIMIZE = True  # the diagram is wide: `z` gives it the whole screen

    DEFAULT_CSS = """
    SequenceView { height: 1fr; }
    SequenceView > #sequence-lines { width: auto; height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = "sequence", classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.trace: Trace | None = None
        self.diagram: SequenceDiagram | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(EMPTY_TEXT, style="dim", end=""), id="sequence-lines")

    @property
    def mermaid(self) -> str | None:
        """The shown diagram as Mermaid `sequenceDiagram` text (escaped), or None."""
        return to_mermaid(self.diagram) if self.diagram is not None else None

    def show_trace(self, trace: Trace) -> None:
        """Draw `trace`; the scroll goes back to the top left for a different trace."""
        same = self.trace is not None and self.trace.info.trace_id == trace.info.trace_id
        self.trace = trace
        self.diagram = build_sequence(trace)
        self.query_one("#sequence-lines", Static).update(diagram_text(self.diagram))
        if not same:
            self.scroll_home(animate=False)

    def clear_trace(self, sentence: str = EMPTY_TEXT) -> None:
        self.trace = None
        self.diagram = None
        self.query_one("#sequence-lines", Static).update(Text(make_visible(sentence), style="dim", end=""))

    def action_copy_mermaid(self) -> None:
        mermaid = self.mermaid
        if mermaid is None:
            self.notify("No trace shown, so there is no diagram to copy.", severity="warning")
            return
        copy_text(self.app, mermaid, "the Mermaid diagram")
