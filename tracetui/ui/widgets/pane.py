"""A titled, bordered pane that `z` can zoom to the whole screen (Textual's maximize)."""

from __future__ import annotations

from textual.containers import Vertical


class Pane(Vertical):
    ALLOW_MAXIMIZE = True
