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

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.theme import Theme
from textual.color import Color
from textual.geometry import Size
from textual.selection import Selection
from textual.strip import Strip
from textual.widget import Widget

from tracetui.ui.widgets.answer_render import draw_markdown, join_drawn, markdown_theme
from tracetui.ui.widgets.answer_segments import DEFAULT_SEGMENT_CHARS, SegmentSplitter


class AnswerView(Widget):
    """Markdown text that grows with `append` and ends with `finish`; `source` is all of it."""

    DEFAULT_CSS = "AnswerView { height: auto; }"

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
        if markdown:
            self.append(markdown)
            self.finish()

    @property
    def source(self) -> str:
        return "".join(self.segments) + self._splitter.pending

    def append(self, text: str) -> int:
        """Add streamed text; returns how many segments it finished (drawn once, next frame)."""
        done = self._splitter.feed(text)
        self.segments.extend(done)
        self._changed()
        return len(done)

    def finish(self) -> None:
        """No more text: the rest becomes the last finished segment (an unclosed fence closes)."""
        last = self._splitter.close()
        if last:
            self.segments.append(last)
        self.finished = True
        self._changed()

    def _changed(self) -> None:
        self._live = None
        self._lines = None
        self.refresh(layout=True)

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
        if self._style is None:
            self._style = self.rich_style
        style = self._style
        drawn_for = (width, self.app.theme, style)
        if drawn_for != self._drawn_for:
            self._drawn, self._drawn_for, self._live, self._lines = [], drawn_for, None, None
            background = Color.from_rich_color(style.bgcolor) if style.bgcolor else Color(0, 0, 0)
            self._theme = markdown_theme(self.app.theme_variables, background)
        if self._lines is not None:
            return self._lines
        theme, code_theme = self._theme, "monokai" if self.app.current_theme.dark else "default"

        def draw(markup: str) -> list[Strip]:
            return draw_markdown(self.app.console, markup, width, style, theme, code_theme)

        while len(self._drawn) < len(self.segments):
            self._drawn.append(draw(self.segments[len(self._drawn)]))
        pending = self._splitter.pending
        if self._live is None:
            self._live = draw(pending) if pending.strip() else []
        lines = join_drawn([*self._drawn, self._live], Strip.blank(width, style))
        self._lines = lines
        return lines

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
