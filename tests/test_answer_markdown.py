"""Finished answer Markdown frozen into drawn lines: drawn exactly as Markdown draws it, redrawn
when the width or the theme changes, and segments split only where a new block starts."""

from __future__ import annotations

import subprocess
import sys

from textual.app import App, ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Offset
from textual.pilot import Pilot
from textual.selection import Selection
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownBlock

from tracetui.ui.widgets.answer_markdown import (
    AnswerMarkdown,
    FrozenMarkdown,
    answer_parser,
)
from tracetui.ui.widgets.answer_stream import SegmentedMarkdownStream

TEXT = (
    "# Qwen 2.5\n\nA **family** of models with `code` and [a link](https://example.com), "
    "long enough to wrap at a narrow width, and then some more words.\n\n"
    "- small\n- large\n  - nested\n\n1. one\n2. two\n\n"
    "> quoted\n\n```python\nprint([1, 2])\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
)


class Host(App[None]):
    def __init__(self, text: str, plain: bool = False) -> None:
        super().__init__()
        self.text = text
        self.plain = plain  # Textual's own Markdown widget, the reference

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            if self.plain:
                markdown = Markdown(self.text, parser_factory=answer_parser, open_links=False)
            else:
                markdown = AnswerMarkdown(self.text)
            yield Vertical(markdown, id="body")


def cells(app: App) -> list[list[tuple[str, str]]]:
    """Every cell of the screen: its character and its style (colours, bold…), meta left out."""
    rows = []
    for strip in app.screen._compositor.render_strips():
        row = []
        for segment in strip.discard_meta():
            style = str(segment.style) if segment.style else ""
            row.extend((char, style) for char in segment.text)
        rows.append(row)
    return rows


async def wait_for(pilot: Pilot, condition, what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def live_cells(size: tuple[int, int], theme: str | None = None) -> list[list[tuple[str, str]]]:
    """The screen with Textual's own Markdown widget: what the frozen lines must match."""
    app = Host(TEXT, plain=True)
    async with app.run_test(size=size) as pilot:
        if theme is not None:
            app.theme = theme
        await pilot.pause()
        await pilot.pause()
        assert app.query(MarkdownBlock)  # really live Markdown
        return cells(app)


def frozen(app: App) -> FrozenMarkdown | None:
    found = app.query(FrozenMarkdown)
    return found.first() if found else None


async def test_answer_markdown_lays_out_as_textuals_markdown_while_live() -> None:
    expected = await live_cells((70, 40))
    app = Host(TEXT)
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert app.query(MarkdownBlock)  # not frozen: its own arrangement is what is compared
        assert cells(app) == expected


async def test_frozen_lines_are_what_markdown_drew_and_one_widget() -> None:
    expected = await live_cells((70, 40))
    app = Host(TEXT)
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.pause()
        assert await app.query_one(AnswerMarkdown).freeze()
        await pilot.pause()
        assert not app.query(AnswerMarkdown) and not app.query(MarkdownBlock)
        segment = frozen(app)
        assert segment is not None and segment.source == TEXT
        assert cells(app) == expected


async def test_frozen_right_after_its_last_text_before_the_screen_drew_it() -> None:
    # A fast stream closes a segment before the screen has laid out its newest blocks.
    expected = await live_cells((70, 40))
    app = Host("")
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.pause()
        markdown = app.query_one(AnswerMarkdown)
        await markdown.update(TEXT)
        assert await markdown.freeze()  # no frame in between
        await pilot.pause()
        assert cells(app) == expected


async def test_a_new_width_redraws_the_frozen_lines() -> None:
    expected = await live_cells((40, 40))
    app = Host(TEXT)
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.pause()
        await app.query_one(AnswerMarkdown).freeze()
        await pilot.pause()
        assert frozen(app).drawn_width == 70
        await pilot.resize_terminal(40, 40)
        await wait_for(pilot, lambda: frozen(app) is not None and frozen(app).drawn_width == 40, "a redraw")
        await pilot.pause()
        assert cells(app) == expected


async def test_a_new_theme_redraws_the_frozen_lines() -> None:
    expected = await live_cells((70, 40), theme="textual-light")
    app = Host(TEXT)
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.pause()
        await app.query_one(AnswerMarkdown).freeze()
        await pilot.pause()
        dark = frozen(app)
        app.theme = "textual-light"
        await wait_for(pilot, lambda: frozen(app) not in (None, dark), "a redraw in the new theme")
        await pilot.pause()
        assert cells(app) == expected


async def test_frozen_text_can_still_be_selected_and_copied() -> None:
    app = Host(TEXT)
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.pause()
        await app.query_one(AnswerMarkdown).freeze()
        await pilot.pause()
        text, _ending = frozen(app).get_selection(Selection(None, None))
        assert "Qwen 2.5" in text and "print([1, 2])" in text and "nested" in text


class StreamHost(App[None]):
    def compose(self) -> ComposeResult:
        yield Vertical(AnswerMarkdown(), id="body")


async def test_segments_start_only_where_a_block_cannot_continue() -> None:
    text = (
        "First paragraph, long enough.\n\n"
        "1. one\n\n2. two, a loose list\n\n   its continued paragraph\n\n"
        "- a\n\n- b\n\n"
        "```\ncode\n\nstill code\n```\n\n"
        "Next paragraph.\n\n## Heading\n\nLast.\n"
    )
    app = StreamHost()
    async with app.run_test(size=(80, 40)) as pilot:
        body = app.query_one("#body", Vertical)
        first = body.query_one(AnswerMarkdown)
        stream = SegmentedMarkdownStream(body, AnswerMarkdown, first, segment_chars=1)
        for start in range(0, len(text), 7):  # arrives in fragments, as from a model
            await stream.write(text[start : start + 7])
        await stream.stop()
        await pilot.pause()
        texts = [t for t in stream.texts if t]
        assert "".join(stream.texts) == text
        # The loose lists and the indented continuation stay with the paragraph they follow.
        assert texts == [
            "First paragraph, long enough.\n\n1. one\n\n2. two, a loose list\n\n"
            "   its continued paragraph\n\n- a\n\n- b\n\n",
            "```\ncode\n\nstill code\n```\n\n",  # not split at the blank line inside the fence
            "Next paragraph.\n\n",
            "## Heading\n\n",
            "Last.\n",
        ]


# Segments that each start a block which cannot continue the one before: every one is split off.
PARTS = ("# One\n\n", "First paragraph, **bold**, long enough to wrap at forty.\n\n", "> quoted\n\n")
PARTS += ("```\ncode\n\nmore code\n```\n\n", "Last words.\n")


class SegmentsHost(App[None]):
    """Textual's own Markdown, one widget per segment: the reference for joined frozen segments."""

    def compose(self) -> ComposeResult:
        yield Vertical(*(Markdown(part, parser_factory=answer_parser, open_links=False) for part in PARTS))


async def segments_cells(size: tuple[int, int]) -> list[list[tuple[str, str]]]:
    app = SegmentsHost()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert len(app.query(Markdown)) == len(PARTS)
        return cells(app)


def only_frozen(app: App) -> FrozenMarkdown | None:
    """The one widget left in the body, if it is frozen lines and nothing else is there."""
    children = app.query_one("#body", Vertical).children
    return children[0] if len(children) == 1 and isinstance(children[0], FrozenMarkdown) else None


async def test_finished_segments_join_one_widget_drawn_as_separate_markdown() -> None:
    expected_wide, expected_narrow = await segments_cells((60, 30)), await segments_cells((40, 30))
    app = StreamHost()
    async with app.run_test(size=(60, 30)) as pilot:
        body = app.query_one("#body", Vertical)
        stream = SegmentedMarkdownStream(
            body, AnswerMarkdown, body.query_one(AnswerMarkdown), segment_chars=1
        )
        await stream.write("".join(PARTS))
        await stream.stop()
        await wait_for(pilot, lambda: only_frozen(app) is not None, "one frozen widget")
        frozen_lines = only_frozen(app)
        assert frozen_lines.parts == list(PARTS)
        assert cells(app) == expected_wide
        # A new width thaws every segment; they freeze again and join again.
        await pilot.resize_terminal(40, 30)
        await wait_for(
            pilot, lambda: only_frozen(app) is not None and only_frozen(app).drawn_width == 40, "a redraw"
        )
        assert only_frozen(app).parts == list(PARTS)
        assert cells(app) == expected_narrow


def test_load_highlighting_loads_the_lexer_the_first_fence_needs() -> None:
    # In a fresh interpreter: in this one another test may have loaded it already.
    check = (
        "import sys\n"
        "from tracetui.ui.widgets.answer_markdown import load_highlighting\n"
        "assert 'pygments.lexers.python' not in sys.modules, 'loaded by the import already'\n"
        "load_highlighting()\n"
        "assert 'pygments.lexers.python' in sys.modules, 'not loaded'\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


async def test_a_selection_after_wide_characters_highlights_the_characters_chosen() -> None:
    app = Host("中文 and then some words.\n")
    async with app.run_test(size=(70, 20)) as pilot:
        await pilot.pause()
        assert await app.query_one(AnswerMarkdown).freeze()
        await pilot.pause()
        segment = frozen(app)
        y = next(i for i, line in enumerate(segment.lines) if "中文" in line.text)
        x = segment.lines[y].text.index("文")  # a character offset, as Textual's selection gives it
        app.screen.selections = {segment: Selection(Offset(x, y), Offset(x + len("文 and"), y))}
        await pilot.pause()
        highlight = app.screen.get_component_rich_style("screen--selection").bgcolor
        chosen = "".join(s.text for s in segment.render_line(y) if s.style and s.style.bgcolor == highlight)
        assert chosen == "文 and"
