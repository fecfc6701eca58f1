"""Stream a long Markdown answer into a chain of Markdown widgets, each a few blocks long.

`MarkdownStream` already avoids re-parsing the whole answer per chunk: it
appends and re-parses only the last block. What it cannot avoid is Textual's
layout: every append re-measures every block of the Markdown widget being
appended to, so with one widget per answer a long answer makes each frame
slower (measured: 2,000 words of headings, lists and fences → layout passes of
hundreds of ms, typing lags). Here the answer rolls over to a fresh Markdown
widget at a blank line outside a code fence once the current one holds
`segment_chars` characters; finished segments keep their cached layout, so a
frame costs what the last segment costs, however long the answer gets.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.widget import Widget
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownStream

DEFAULT_SEGMENT_CHARS = 1_500


def _is_fence(line: str) -> bool:
    """A line that opens or closes a fenced code block (``` or ~~~, indented at most 3)."""
    stripped = line.lstrip(" ")
    return len(line) - len(stripped) <= 3 and stripped.startswith(("```", "~~~"))


class SegmentedMarkdownStream:
    """Append Markdown fragments; `stop()` ends the stream and re-parses each segment once."""

    def __init__(
        self,
        container: Widget,
        make_markdown: Callable[[], Markdown],
        first: Markdown,
        segment_chars: int = DEFAULT_SEGMENT_CHARS,
        after_segment: Callable[[], None] | None = None,
    ) -> None:
        self.container = container
        self.make_markdown = make_markdown
        self.segment_chars = segment_chars
        self.after_segment = after_segment  # called when a segment is finished for good
        self.segments: list[Markdown] = [first]
        self.texts: list[str] = [""]
        self._stream: MarkdownStream | None = Markdown.get_stream(first)
        self._line = ""  # the line being received, to know where blocks and fences end
        self._in_fence = False

    @property
    def text(self) -> str:
        return "".join(self.texts)

    async def write(self, fragment: str) -> None:
        for piece in fragment.splitlines(keepends=True):
            assert self._stream is not None, "write() after stop()"
            await self._stream.write(piece)
            self.texts[-1] += piece
            self._line += piece
            if not piece.endswith(("\n", "\r")):
                continue
            line, self._line = self._line, ""
            if _is_fence(line):
                self._in_fence = not self._in_fence
            elif not line.strip() and not self._in_fence and len(self.texts[-1]) >= self.segment_chars:
                await self._next_segment()

    async def _next_segment(self) -> None:
        """Close the current segment (whole blocks only) and continue in a new Markdown widget."""
        await self._close_current()
        if self.after_segment is not None:
            self.after_segment()
        markdown = self.make_markdown()
        await self.container.mount(markdown)
        self.segments.append(markdown)
        self.texts.append("")
        self._stream = Markdown.get_stream(markdown)

    async def _close_current(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        # One full parse of this segment only: repairs a block left open (an unclosed fence).
        await self.segments[-1].update(self.texts[-1])

    async def stop(self) -> None:
        if self._stream is not None:
            await self._close_current()
