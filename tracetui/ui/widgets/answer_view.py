"""A model's answer as one widget: streamed Markdown, drawn by Rich, finished parts drawn once.

Why one widget: Textual places every widget of the screen on each layout pass,
and Textual's Markdown makes a widget per block, so a streaming answer mounted
widgets on most frames and each such frame cost 28-39 ms. Here appending text
only marks the widget for a new layout; the frame that follows draws the segment
still streaming (answer_segments.py cuts the answer into segments of whole
blocks) and reuses the lines of the finished ones. A width or theme change draws
them all again, once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.theme import Theme
from textual.color import Color
from textual.geometry import Size
from textual.selection import Selection
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from tracetui.chat.answer_segments import DEFAULT_SEGMENT_CHARS, SegmentSplitter, long_fence
from tracetui.ui.widgets.answer_render import draw_markdown, join_drawn, markdown_theme


class AnswerView(Widget):
    """Markdown text that grows with `append` and ends with `finish`; `source` is all of it."""

    DEFAULT_CSS = "AnswerView { height: auto; }"

    # Drawing per frame, at most (and at least one segment): 2,000 words of Markdown streamed
    # as fast as a socket takes them finish ~3 segments a frame, ~5 ms of drawing here.
    draw_budget_s = 0.004
    # While text streams, frames that show it are spaced by what they take: after a frame
    # that took t, the next waits `frame_spacing` t. A model read at 50 tokens/s (~250
    # characters/s) gets a frame every ~20 ms. Text faster than `flood_chars_per_s` is
    # faster than anyone reads: frames then wait `flood_frame_spacing` t (at most
    # `_MAX_WAIT_S`), and the time goes to reading the stream instead (issue 4 a: the final
    # render within 1.1x of litellm alone). The last text is shown at once.
    frame_spacing = 2.0
    flood_frame_spacing = 25.0
    flood_chars_per_s = 3000.0
    _MAX_WAIT_S = 0.25

    def __init__(
        self,
        markdown: str = "",
        *,
        segment_chars: int = DEFAULT_SEGMENT_CHARS,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._splitter = SegmentSplitter(segment_chars)
        self.segments: list[str] = []  # finished segments: whole blocks, drawn once
        self.finished = False
        # Lines of the finished segments, drawn for `_drawn_for` (width, theme, base style).
        self._drawn: list[list[Strip]] = []
        self._drawn_for: tuple[int, str, Style] | None = None
        self._live: list[Strip] | None = None  # the streaming segment's, None: draw anew
        self._lines: list[Strip] | None = None  # everything joined, None: join anew
        # The widget's colours, read once per layout: `rich_style` walks every ancestor, and
        # read for each line it took a fifth of a streaming frame.
        self._style: Style | None = None
        self._theme = Theme()  # Rich's markdown styles in the app's theme, made with `_drawn_for`
        self._layout_asked = False
        # Pieces of long code fences as drawn for `_drawn_for`: (opening line, index) -> (code, lines).
        self._fence_pieces: dict[tuple[str, int], tuple[str, list[Strip]]] = {}
        self._stale = False  # text came since `_lines` were joined
        self._next_layout_at = 0.0  # while streaming, no layout asked for before this (perf_counter)
        self._paced: Timer | None = None
        self._chars = 0  # characters appended so far, and at the last frame that showed text
        self._chars_shown, self._shown_at = 0, time.perf_counter()
        if markdown:
            self.append(markdown)
            self.finish()

    @property
    def source(self) -> str:
        return "".join(self.segments) + self._splitter.pending

    def append(self, text: str) -> int:
        """Add streamed text; returns how many segments it finished (drawn once, next frame)."""
        done = self._splitter.feed(text)
        self._chars += len(text)
        self.segments.extend(done)
        self._changed()
        return len(done)

    def finish(self) -> None:
        """No more text: the rest becomes the last finished segment (an unclosed fence closes)."""
        last = self._splitter.close()
        if last:
            self.segments.append(last)
        self.finished = True
        self._next_layout_at = 0.0
        self._changed()

    def _changed(self) -> None:
        self._live = None
        self._stale = True
        # Once per frame: a fast stream appends hundreds of times between two, and each
        # refresh walks the ancestors. The layout that follows reads `lines_at`, which re-arms it.
        if self._layout_asked:
            return
        wait = self._next_layout_at - time.perf_counter()
        if wait > 0 and not self.finished:
            if self._paced is None:
                self._paced = self.set_timer(min(wait, self._MAX_WAIT_S), self._paced_layout)
            return
        self._layout_asked = True
        self.refresh(layout=True)

    def _paced_layout(self) -> None:
        self._paced = None
        self._next_layout_at = 0.0
        self._changed()

    def _frame_shown(self, started: float) -> None:
        """After a frame that drew new lines: space the next one by what this one took."""
        now = time.perf_counter()
        chars, since = self._chars - self._chars_shown, now - self._shown_at
        self._chars_shown, self._shown_at = self._chars, now
        flood = since > 0 and chars / since > self.flood_chars_per_s
        spacing = self.flood_frame_spacing if flood else self.frame_spacing
        self._next_layout_at = now + min((now - started) * spacing, self._MAX_WAIT_S)

    def on_mount(self) -> None:
        # The theme is part of what was drawn (`_drawn_for`): draw again in the new colours.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh(layout=True))

    # -- drawing ------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None  # e.g. a new background: read the colours again

    def lines_at(self, width: int) -> list[Strip]:
        """Every line of the answer at `width`; only what changed since the last call is drawn."""
        width = max(width, 1)
        self._layout_asked = False
        if self._style is None:
            self._style = self.rich_style
        style = self._style
        drawn_for = (width, self.app.theme, style)
        if drawn_for != self._drawn_for:
            self._drawn, self._drawn_for, self._live, self._lines = [], drawn_for, None, None
            self._fence_pieces.clear()
            background = Color.from_rich_color(style.bgcolor) if style.bgcolor else Color(0, 0, 0)
            self._theme = markdown_theme(self.app.theme_variables, background)
        if self._lines is not None and (not self._stale or self._held()):
            return self._lines
        self._stale = False
        theme, code_theme = self._theme, "monokai" if self.app.current_theme.dark else "default"
        if not self.finished and (self.segments or self._splitter.pending):
            # Runs once the frame drawing this (and what was ready with it) is done; not
            # `call_after_refresh`, which also waits for every message queued meanwhile.
            asyncio.get_running_loop().call_soon(self._frame_shown, time.perf_counter())

        def draw(markup: str) -> list[Strip]:
            return draw_markdown(self.app.console, markup, width, style, theme, code_theme)

        # A stream faster than frames finishes several segments between two (a width or theme
        # change makes every segment due, a long code fence many pieces): draw them for at most
        # `draw_budget_s` a frame, at least one, and show the rest on the frames that follow.
        deadline = time.perf_counter() + self.draw_budget_s
        blank = Strip.blank(width, style)
        while len(self._drawn) < len(self.segments):
            lines, whole = self._draw_segment(draw, self.segments[len(self._drawn)], blank, deadline)
            if whole:
                self._drawn.append(lines)
            if not whole or (time.perf_counter() > deadline and len(self._drawn) < len(self.segments)):
                self._lines = join_drawn([*self._drawn, [] if whole else lines], blank)
                self.call_after_refresh(self._changed)  # the next frame draws on
                return self._lines
        live = self._live
        if live is None:
            live, whole = self._draw_segment(draw, self._splitter.pending, blank, deadline)
            if whole:
                self._live = live
            else:
                self.call_after_refresh(self._changed)
        self._lines = join_drawn([*self._drawn, live], blank)
        return self._lines

    def _draw_segment(
        self, draw: Callable[[str], list[Strip]], text: str, blank: Strip, deadline: float
    ) -> tuple[list[Strip], bool]:
        """A segment's lines, and whether they are all of it.

        A long code fence in it is drawn in pieces, each kept while unchanged: a fence
        growing line by line costs a frame its last piece, and once finished the segment
        is put together from the pieces drawn while it streamed. Past `deadline` (and one
        piece drawn) it stops: the lines so far, and False. Pygments highlights each piece
        on its own, so a string or comment running across two pieces may be coloured as
        code in the second (fences up to 40 lines are drawn whole).
        """
        fence = long_fence(text)
        if fence is None:
            return (draw(text) if text.strip() else []), True
        head = draw(fence.head) if fence.head.strip() else []
        code: list[Strip] = []
        last, drew = len(fence.chunks) - 1, False
        for index, chunk in enumerate(fence.chunks):
            drawn = self._fence_pieces.get((fence.opening, index))
            if drawn is None or drawn[0] != chunk:
                if drew and time.perf_counter() > deadline:
                    return join_drawn([head, code], blank), False
                body = chunk if chunk.endswith("\n") else chunk + "\n"
                drawn = (chunk, draw(fence.opening + body + fence.marker + "\n"))
                self._fence_pieces[(fence.opening, index)] = drawn
                drew = True
            lines = drawn[1]
            # Each piece is drawn as a fence of its own, with a padding line above and below.
            code.extend(lines[1 if index > 0 else 0 : len(lines) - 1 if index < last else len(lines)])
        rest = draw(fence.rest) if fence.rest.strip() else []
        return join_drawn([head, code, rest], blank), True

    def _held(self) -> bool:
        """Streaming, and too soon after the last frame that showed new text: show the same lines.

        Not only our own refreshes lead to frames: each frame that resizes this widget makes
        Textual lay it out again on the next, so new text is held back here, not only there.
        """
        return not self.finished and time.perf_counter() < self._next_layout_at

    @property
    def drawn(self) -> bool:
        """Finished, and its last frame showed all of it."""
        return self.finished and self._lines is not None and not self._stale and not self.behind

    @property
    def behind(self) -> bool:
        """Finished segments wait to be drawn (at most `draw_budget_s` of drawing goes in a frame)."""
        return len(self._drawn) < len(self.segments)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._style = None  # a layout pass: the theme or an ancestor's background may have changed
        return len(self.lines_at(width))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = self.lines_at(width)
        if y >= len(lines):
            return Strip.blank(width, self._style)
        line = lines[y].crop_extend(0, width, self._style).apply_offsets(0, y)
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(y)) is not None:
            # The span counts characters (as the offsets Textual puts on each line do); a wide
            # character (CJK, emoji) takes two cells, so crop at the cells those characters end in.
            text = line.text
            start = cell_len(text[: span[0]])
            end = width if span[1] == -1 else min(cell_len(text[: span[1]]), width)
            # On top of the drawn colours (post_style), as Textual's own widgets show a selection.
            chosen_style = self.screen.get_component_rich_style("screen--selection")
            chosen = line.crop(start, end)
            chosen = Strip(Segment.apply_style(chosen, post_style=chosen_style), chosen.cell_length)
            line = Strip.join([line.crop(0, start), chosen, line.crop(end, width)])
        return line

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        lines = self.lines_at(self.size.width)
        return selection.extract("\n".join(line.text.rstrip() for line in lines)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()
