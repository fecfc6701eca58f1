"""The selected trace in MLflow's web UI: open it in a browser where one can open, always show the link.

Over SSH (or with no display) a browser would start on the remote machine, or
worse, a text browser would take over this terminal: Python's `webbrowser`
picks `w3m`/`lynx` when it finds no graphical one. So the browser is only
asked for in a local graphical session (or when $BROWSER names one); the link
is shown either way, `y` copies it (OSC 52 works over SSH), `o` opens it again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tracetui.tracking.web_url import trace_web_url
from tracetui.ui.clipboard import copy_text, is_remote_session
from tracetui.visible import make_visible, one_line


def browser_can_open(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """True when opening a browser here would show it to the person at this terminal."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if env.get("BROWSER"):
        return True  # they said which one
    if is_remote_session(env):
        return False
    if platform == "darwin" or platform.startswith("win"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


class WebLinkScreen(ModalScreen[None]):
    """Shows the trace's MLflow UI link; opens it at once when a browser can open here."""

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("y", "copy", "Copy link"),
        Binding("o", "open", "Open in browser"),
    ]

    DEFAULT_CSS = """
    WebLinkScreen { align: center middle; }
    WebLinkScreen > #web-link-box {
        width: 90%; height: auto; padding: 1 2; border: thick $primary; background: $surface;
    }
    WebLinkScreen #web-link-url { margin: 1 0; }
    WebLinkScreen #web-link-note { color: $text-muted; }
    """

    def __init__(
        self,
        base_url: str,
        experiment_id: str,
        trace_id: str,
        *,
        can_open: bool | None = None,
    ) -> None:
        super().__init__()
        self.trace_id = trace_id
        self.url = trace_web_url(base_url, experiment_id, trace_id)
        self.can_open = browser_can_open() if can_open is None else can_open

    def compose(self) -> ComposeResult:
        with Vertical(id="web-link-box"):
            title = Text("Trace ", style="bold", end="")
            title.append(one_line(self.trace_id, 40))
            title.append(" in MLflow's web UI", style="bold")
            yield Static(title)
            # Shown whole (wrapped), so a terminal's own selection can take it too.
            yield Static(
                Text(make_visible(self.url, keep_newlines=False), style="underline"), id="web-link-url"
            )
            yield Static(Text("", end=""), id="web-link-note")

    def on_mount(self) -> None:
        self.action_open()

    def _note(self, sentence: str) -> None:
        self.query_one("#web-link-note", Static).update(Text(sentence, end=""))

    def action_open(self) -> None:
        if not self.can_open:
            # Never "try anyway": without a display webbrowser runs a text browser in this terminal.
            self._note("No browser can open from here (SSH or no display); y copies the link, Esc closes.")
            return
        # Off the event loop: finding the browser runs `xdg-settings` and friends.
        self.app.run_worker(
            lambda: self.app.open_url(self.url), thread=True, group="web-link", exit_on_error=False
        )
        self._note("Asked your browser to open it · y copies the link · Esc closes.")

    def action_copy(self) -> None:
        copy_text(self.app, self.url, "the trace's MLflow link")

    def action_close(self) -> None:
        self.dismiss(None)
