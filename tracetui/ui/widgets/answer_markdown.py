"""Answer Markdown that turns into one widget of drawn lines once it is finished.

Why: Textual places every widget of the screen on each layout pass, and a
streaming answer asks for one per frame. Markdown makes a widget per block
(a list item is four), so a conversation grows to thousands of them: measured
with bench/bench_chat_pane.py, 2,000 words of headings, lists and fences made
~2,000 widgets and 150-270 ms layout passes while the answer streamed, however
it was split into segments. A finished segment cannot change, so `AnswerMarkdown`
draws it once, off screen, at its width, and gives way to its lines in a
`FrozenMarkdown`, drawn exactly as Markdown drew it; the frozen segments of one
answer share a single widget. Frozen segments turn back into Markdown (and
freeze again) when the width or the theme changes, so they never show stale lines.

The drawing uses Textual's compositor class, which is not public API: if it
fails, the segment simply stays live Markdown (slower, still right).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from markdown_it import MarkdownIt
from rich.cells import cell_len
from rich.segment import Segment
from textual.events import Resize
from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.selection import Selection
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Markdown


def answer_parser() -> MarkdownIt:
    """GitHub-like Markdown with raw HTML off: Textual drops HTML tokens, so with HTML on a
    `<script>` or a `List<T>` in an answer would silently vanish; off, it shows as typed."""
    return MarkdownIt("gfm-like", {"html": False})


def load_highlighting() -> None:
    """Load what code fences are highlighted with (Pygments' Python lexer, the usual language).

    Loaded on first use it stalls the frame that draws the first fence of a session
    (~25 ms here); a worker calls this in a thread while litellm is imported instead.
    """
    from textual.highlight import highlight

    highlight("x = 1", language="python")


def draw_lines(widget: Widget, width: int) -> list[Strip] | None:
    """The lines `widget` and its children draw at `width`, or None if they cannot be drawn yet.

    Drawn off screen, so the parts scrolled out of view are drawn too. Widgets draw at
    the size the screen last gave them, so this is right only once the screen has laid
    out the widget's newest blocks at this width: None until then (the caller waits a
    frame), and None if Textual's compositor (private API) ever changes.
    """
    if width <= 0:
        return None
    try:
        from textual._compositor import Compositor

        gutter = widget.styles.gutter  # padding and border: inside the widget's region
        content = widget.get_content_height(Size(width, 0), widget.app.size, width - gutter.width)
        height = content + gutter.height
        if content <= 0:
            return None
        size = Size(width, height)
        compositor = Compositor()
        compositor.reflow(widget, size)
        for child, geometry in compositor._full_map.items():
            if child.region.size != geometry.region.size:
                return None  # the screen has not laid this out yet: it would draw stale or blank
        lines = compositor.render_strips(size)
    except Exception:  # a private API: any change in it must only cost speed
        return None
    return lines if len(lines) == height else None


# Until the screen has laid out a segment's newest blocks it cannot be drawn: try again
# this often, this many times (then again whenever it is resized, e.g. a pane shown).
_RETRY_S = 0.02
_ATTEMPTS = 10


class AnswerMarkdown(Markdown):
    """One segment of a model's answer; finished, it gives way to a `FrozenMarkdown`."""

    def __init__(self, markdown: str | None = None) -> None:
        # open_links=False: a link in a model's answer must not open a browser on a click.
        super().__init__(markdown, parser_factory=answer_parser, open_links=False)
        self.finished = False
        self._on_frozen: Callable[[], None] | None = None
        self._frozen = False
        self._attempts_left = 0

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        # Every block is height:auto, so the height this is given cannot change where they go.
        # Textual keys its arrangement cache on the whole size, and a growing answer's height
        # changes every frame: arranged at height 0, unchanged lists and fences stay cached
        # (a 2,000-word answer streamed with 30 % fewer arrange passes).
        return super().arrange(Size(size.width, 0), optimal)

    @property
    def awaiting_freeze(self) -> bool:
        """Finished, with text, and not yet replaced by its drawn lines (an empty one stays as it is)."""
        return self.finished and not self._frozen and bool(self.source)

    def _frozen_copy(self) -> FrozenMarkdown | None:
        parent = self.parent
        if self._frozen or not self.is_attached or not isinstance(parent, Widget):
            return None
        width = parent.content_region.width if parent.content_region.width else self.size.width
        lines = draw_lines(self, width)
        if lines is None:
            return None
        self._frozen = True
        return FrozenMarkdown(self.source, lines, width)

    async def freeze(self, on_frozen: Callable[[], None] | None = None) -> bool:
        """Replace this finished segment with its drawn lines, waiting for the screen to lay out
        its newest blocks first. From a worker, not from the widget's own handlers."""
        self.finished = True
        for _attempt in range(_ATTEMPTS):
            frozen = self._frozen_copy()
            if frozen is not None:
                await _swap(self, frozen, on_frozen)
                return True
            await asyncio.sleep(_RETRY_S)  # a frame or two: the screen lays out the newest blocks
        self.finish(on_frozen)  # e.g. in a hidden pane: tried again when it gets a size
        return False

    def finish(self, on_frozen: Callable[[], None] | None = None) -> None:
        """No more text: freeze once the screen has laid this segment out."""
        self.finished = True
        self._on_frozen = on_frozen
        self._attempts_left = _ATTEMPTS
        self.call_after_refresh(self._freeze_later)

    def on_resize(self, event: Resize) -> None:
        # Not laid out when finished (a hidden pane): freeze when it gets a size.
        if self.finished and not self._frozen:
            self._attempts_left = _ATTEMPTS
            self.call_after_refresh(self._freeze_later)

    def _freeze_later(self) -> None:
        frozen = self._frozen_copy()
        if frozen is not None:
            # Through the app's queue: a widget cannot wait for its own removal in its handler.
            self.app.call_later(_swap, self, frozen, self._on_frozen)
        elif self._attempts_left > 0 and not self._frozen:
            self._attempts_left -= 1
            self.set_timer(_RETRY_S, self._freeze_later)


class FrozenMarkdown(Widget):
    """Finished answer segments as the lines Markdown drew for them; `source` is their Markdown text.

    Consecutive segments of one answer share one widget (`extend`), so however long the
    answer, its finished part is one widget for the screen to place on each frame.
    """

    DEFAULT_CSS = "FrozenMarkdown { height: auto; }"

    def __init__(self, source: str, lines: list[Strip], width: int) -> None:
        super().__init__()
        # Each segment's text: thawed, each is its own Markdown again, so the redraw
        # keeps the spacing the segments had.
        self.parts: list[str] = [source]
        self.lines = lines
        self.drawn_width = width
        self._thawing = False

    @property
    def source(self) -> str:
        return "".join(self.parts)

    def can_extend(self, other: FrozenMarkdown) -> bool:
        return not self._thawing and self.drawn_width == other.drawn_width

    def extend(self, other: FrozenMarkdown) -> None:
        """Take `other`'s segments (drawn at the same width) after this one's."""
        self.parts.extend(other.parts)
        self.lines = [*self.lines, *other.lines]
        self.refresh(layout=True)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.thaw())

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines)

    def on_resize(self, event: Resize) -> None:
        if event.size.width != self.drawn_width:
            self.thaw()

    def thaw(self) -> None:
        """Back to live Markdown, drawn anew (at a new width, in a new theme); it freezes again."""
        if self._thawing or not self.is_attached:
            return
        self._thawing = True
        self.app.call_later(_swap, self, [AnswerMarkdown(text) for text in self.parts], None)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self.lines):
            return Strip.blank(width)
        line = self.lines[y].crop_extend(0, width, None).apply_offsets(0, y)
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(y)) is not None:
            # The span counts characters (as the offsets Textual puts on each line do); a wide
            # character (CJK, emoji) takes two cells, so crop at the cells those characters end in.
            text = line.text
            start = cell_len(text[: span[0]])
            end = width if span[1] == -1 else min(cell_len(text[: span[1]]), width)
            # On top of the drawn colours (post_style), as Textual's own widgets show a selection.
            style = self.screen.get_component_rich_style("screen--selection")
            chosen = line.crop(start, end)
            chosen = Strip(Segment.apply_style(chosen, post_style=style), chosen.cell_length)
            line = Strip.join([line.crop(0, start), chosen, line.crop(end, width)])
        return line

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(line.text.rstrip() for line in self.lines)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.refresh()


async def _swap(
    old: Widget, new: FrozenMarkdown | list[AnswerMarkdown], after: Callable[[], None] | None
) -> None:
    """Put `new` where `old` is, in one frame; run `after` once `old` is gone (its objects are garbage).

    Frozen lines join the frozen segments next to them (segments can freeze out of order
    when one had to wait for a frame), so finished segments stay one widget.
    """
    parent = old.parent
    if parent is None or not old.is_attached:
        return
    before, after_old = _neighbours(old)
    gone = [old]
    with old.app.batch_update():
        if isinstance(new, FrozenMarkdown):
            if isinstance(before, FrozenMarkdown) and before.can_extend(new):
                before.extend(new)
                new = before
            else:
                await parent.mount(new, before=old)
            if isinstance(after_old, FrozenMarkdown) and new.can_extend(after_old):
                new.extend(after_old)
                gone.append(after_old)
        else:  # thawed segments, live again
            await parent.mount_all(new, before=old)
        await parent.remove_children(gone)
    if isinstance(new, list):
        for markdown in new:
            markdown.finish()
    if after is not None:
        after()


def _neighbours(widget: Widget) -> tuple[Widget | None, Widget | None]:
    """The siblings just before and just after `widget`."""
    parent = widget.parent
    if not isinstance(parent, Widget):
        return None, None
    siblings = parent.children
    index = siblings.index(widget)
    before = siblings[index - 1] if index > 0 else None
    after = siblings[index + 1] if index + 1 < len(siblings) else None
    return before, after
