"""The key help: every key the viewer answers to, one line each."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓  j k  g G", "move in the list or the tree"),
    ("Enter", "open the highlighted trace (tree and span details)"),
    ("Tab  Shift+Tab", "next / previous pane (chat, traces, spans, details)"),
    ("z", "zoom the focused pane; again to restore"),
    ("c", "show / hide the chat (starts hidden under 100 columns)"),
    ("i", "go to the chat prompt"),
    ("Esc", "in the prompt: stop the answer, else leave the prompt"),
    ("Ctrl+T", "in the chat: open the last answer's trace"),
    ("Ctrl+O", "in the chat: pick the model"),
    ("f", "follow mode: always show the newest trace"),
    ("p", "pause: stop polling the server"),
    ("/", "filter, MLflow syntax: status = 'ERROR' (empty clears)"),
    ("v / u", "views: save the filter under a name, or apply one / clear the filter"),
    ("e", "switch experiment"),
    ("r", "poll now"),
    ("Ctrl+F", "in the span tree: search the spans (text, or key=value for an attribute)"),
    ("n  N", "in the span tree: next / previous search match"),
    ("s", "spans as a sequence diagram, or back to the tree (m copies it as Mermaid)"),
    ("m", "mark the trace for comparison (◆ in the list); again to unmark"),
    ("d", "compare the selected trace with the marked one (s swaps sides at 80 columns)"),
    ("+", "feedback on the trace: + / - then Enter (the list's fb column)"),
    ("S", "sessions and their totals: Enter resumes one in the chat, l lists its turns, o / O sort"),
    ("x", "export the trace as JSON"),
    ("y", "copy the trace id"),
    ("w", "the trace's link in the MLflow web UI"),
    ("Ctrl+P", "command palette (themes, all commands)"),
    ("?", "this help"),
    ("q", "quit (in the prompt or filter, letters are typed)"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        text = Text(end="")
        text.append("tracetui keys\n\n", style="bold")
        for key, what in KEYS:
            text.append(f"{key:>16}  ", style="bold")
            text.append(f"{what}\n")
        text.append("\nEsc closes this help.", style="dim")
        with VerticalScroll(id="help-box"):
            yield Static(text)
