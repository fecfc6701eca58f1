"""Stands where the chat pane goes until the chat issue fills it (same id: "chat")."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ChatPlaceholder(Static, can_focus=True):
    """A focusable, empty chat pane so the layout and pane cycling are already final."""

    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str = "chat") -> None:
        super().__init__(
            Text("Chat with a local model arrives here.\n\nTraces of chat turns show on the right.", end=""),
            id=id,
        )
