"""Stream a long Markdown answer into a chain of Markdown widgets, each a few blocks long.

`MarkdownStream` already avoids re-parsing the whole answer per chunk: it
appends and re-parses only the last block. What it cannot avoid is Textual's
layout: every append re-measures every block of the Markdown widget being
appended to, so with one widget per answer a long answer makes each frame
slower (measured: 2,000 words of headings, lists and fences → layout passes of
hundreds of ms, typing lags). Here the answer rolls over to a fresh Markdown
widget once the current one holds `segment_chars` characters: after a blank
line outside a code fence, before a line that cannot continue the block above.
Each finished segment is then frozen into drawn lines, which join the answer's
one widget of frozen lines (answer_markdown.py), so a frame costs what the
streaming segment costs, however long the answer and the conversation get.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.widget import Widget
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownStream

from tracetui.ui.widgets.answer_markdown import AnswerMarkdown

# Small, because the segment still streaming is laid out and drawn anew on every frame,
# while finished ones cost one widget together (bench/bench_chat_pane.py, six runs each,
# median of the largest stall: 65 ms at 600 chars per segment, ~35 ms at 200).
DEFAULT_SEGMENT_CHARS = 200

# A line starting with one of these after a blank line may continue the block before it
# (an indented continuation, the next item of a loose list): no segment starts there.
_MAY_CONTINUE = frozenset(" \t-*+0123456789")


def _is_fence(line: str) -> bool:
    """A line that opens or closes a fenced code block (``` or ~~~, indented at most 3)."""
    stripped = line.lstrip(" ")
    return len(line) - len(stripped) <= 3 and stripped.startswith(("```", "~~~"))


class SegmentedMarkdownStream:
    """Append Markdown fragments; `stop()` ends the stream and re-parses the last segment once."""

    def __init__(
        self,
        container: Widget,
        make_markdown: Callable[[], AnswerMarkdown],
        first: AnswerMarkdown,
        segment_chars: int = DEFAULT_SEGMENT_CHARS,
        after_segment: Callable[[], None] | None = None,
    ) -> None:
        self.container = container
        self.make_markdown = make_markdown
        self.segment_chars = segment_chars
        self.after_segment = after_segment  # called when a finished segment has been frozen
        self.current = first  # the segment being written; finished ones give way to their lines
        self.texts: list[str] = [""]
        self._stream: MarkdownStream | None = Markdown.get_stream(first)
        self._line = ""  # the line being received, to know where blocks and fences end
        self._in_fence = False
        self._split_due = False  # a blank line ended a long enough segment; split before the next block

    @property
    def text(self) -> str:
        return "".join(self.texts)

    async def write(self, fragment: str) -> None:
        for piece in fragment.splitlines(keepends=True):
            assert self._stream is not None, "write() after stop()"
            if self._split_due and not self._line and piece.strip("\r\n"):
                self._split_due = False
                if piece[0] not in _MAY_CONTINUE:
                    await self._next_segment()
            await self._stream.write(piece)
            self.texts[-1] += piece
            self._line += piece
            if not piece.endswith(("\n", "\r")):
                continue
            line, self._line = self._line, ""
            if _is_fence(line):
                self._in_fence = not self._in_fence
            elif not line.strip() and not self._in_fence and len(self.texts[-1]) >= self.segment_chars:
                self._split_due = True

    async def _next_segment(self) -> None:
        """Close the current segment (whole blocks only) and continue in a new Markdown widget."""
        await self._close_current(repair=False)  # split outside a fence: every block is closed
        await self.current.freeze(on_frozen=self.after_segment)
        markdown = self.make_markdown()
        await self.container.mount(markdown)
        self.current = markdown
        self.texts.append("")
        self._stream = Markdown.get_stream(markdown)

    async def _close_current(self, repair: bool = True) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if repair:
            # One full parse of the last segment only: repairs a block left open (an unclosed fence).
            await self.current.update(self.texts[-1])
            self.current.finish(on_frozen=self.after_segment)

    async def stop(self) -> None:
        if self._stream is not None:
            await self._close_current()
