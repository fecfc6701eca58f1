"""Untrusted text (from a trace or a model) as Rich `Text` / Textual `Content`, never parsed as markup.

Every helper passes the text through `make_visible` first, so escapes and
control characters show as visible stand-ins, and builds the renderable from
the plain string: "[bold]x[/]" stays those characters, nothing is a link.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.content import Content

from tracetui.visible import make_visible

# Cut long values for display here; the full value is one key away (see SpanDetail).
DEFAULT_MAX_CHARS = 2_000
DEFAULT_MAX_LINES = 40


def safe(text: str, style: str | Style = "") -> Text:
    """Multi-line untrusted `text` as a Rich Text, newlines kept, controls made visible."""
    return Text(make_visible(text), style=style, no_wrap=False)


def _flat_head(text: str, width: int | None) -> str:
    """One line of visible text; for a known width only the head of a huge value is flattened."""
    if width is not None:
        text = text[: width * 4 + 64]  # plenty for `width` cells even after whitespace runs collapse
    return make_visible(" ".join(text.split()), keep_newlines=False)


def safe_line(text: str, width: int | None = None, style: str | Style = "") -> Text:
    """Untrusted `text` on one line (whitespace runs as one space), cut to `width` cells with "…"."""
    line = Text(_flat_head(text, width), style=style, no_wrap=True, end="")
    if width is not None:
        line.truncate(max(0, width), overflow="ellipsis")
    return line


def safe_content(text: str, style: str = "") -> Content:
    """Multi-line untrusted `text` as Textual Content (for Static/Label), controls made visible."""
    visible = make_visible(text)
    return Content.styled(visible, style) if style else Content(visible)


def safe_content_line(text: str, width: int | None = None, style: str = "") -> Content:
    """One-line untrusted `text` as Textual Content, cut to `width` cells with "…"."""
    line = Content(_flat_head(text, width))
    if width is not None:
        line = line.truncate(max(0, width), ellipsis=True)
    return line.stylize(style) if style else line


def truncate(
    text: str, max_chars: int = DEFAULT_MAX_CHARS, max_lines: int = DEFAULT_MAX_LINES
) -> tuple[str, bool]:
    """`text` cut to at most `max_chars` characters and `max_lines` lines; True when something was cut.

    Cheap on huge values: only the head of the string is looked at.
    """
    head = text[:max_chars]
    newline_at = -1
    for _ in range(max_lines):
        newline_at = head.find("\n", newline_at + 1)
        if newline_at == -1:
            break
    if newline_at != -1:
        head = head[:newline_at]
    return head, len(head) < len(text)
