"""An answer's Markdown as one widget: cut into segments of whole blocks, each drawn once by Rich,
drawn as the whole answer would be, redrawn for a new width or theme, and untrusted text shown as typed."""

from __future__ import annotations

import io
import subprocess
import sys
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.style import Style
from rich.theme import Theme
from textual.app import App, ComposeResult
from textual.color import Color
from textual.containers import VerticalScroll
from textual.geometry import Offset
from textual.selection import Selection
from textual.strip import Strip

from tracetui.chat.answer_segments import SegmentSplitter, is_fence, long_fence
from tracetui.ui.widgets.answer_render import draw_markdown, join_drawn
from tracetui.ui.widgets.answer_view import AnswerView

TEXT = (
    "# Qwen 2.5\n\nA **family** of models with `code` and [a link](https://example.com), "
    "long enough to wrap at a narrow width, and then some more words.\n\n"
    "- small\n- large\n  - nested\n\n1. one\n2. two\n\n"
    "> quoted\n\n```python\nprint([1, 2])\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
)

# Top-level blocks an answer is made of, each ending with its blank line.
BLOCKS = (
    "# Heading one\n\n",
    "## Heading two\n\n",
    "A paragraph with **bold**, `code` and enough words to wrap at a narrow width.\n\n",
    "- item\n- item with *emphasis*\n  - nested\n\n",
    "1. one\n2. two\n\n",
    "1. loose\n\n2. list\n\n   continued paragraph\n\n",
    "> a quote\n> over two lines\n\n",
    "```python\nx = 1\n\ny = 2\n```\n\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n\n",
    "---\n\n",
    "Text with <b>html</b>, List<T> and [x](https://example.com).\n\n",
)


def plain_console() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=200)


def drawn_text(lines: list[Strip]) -> list[str]:
    return [line.text.rstrip() for line in lines]


def draw(text: str, width: int, segment_chars: int) -> list[Strip]:
    """`text` cut as a stream cuts it, each segment drawn alone, then joined: what the view shows."""
    splitter = SegmentSplitter(segment_chars)
    segments = [*splitter.feed(text), splitter.close()]
    console = plain_console()
    drawn = [draw_markdown(console, segment, width, Style(), Theme(), "monokai") for segment in segments]
    return join_drawn(drawn, Strip.blank(width))


# -- cutting ------------------------------------------------------------------------------


def test_segments_start_only_where_a_block_cannot_continue() -> None:
    text = (
        "First paragraph, long enough.\n\n"
        "1. one\n\n2. two, a loose list\n\n   its continued paragraph\n\n"
        "- a\n\n- b\n\n"
        "```\ncode\n\nstill code\n```\n\n"
        "Next paragraph.\n\n## Heading\n\nLast.\n"
    )
    splitter = SegmentSplitter(segment_chars=1)
    segments = [s for start in range(0, len(text), 7) for s in splitter.feed(text[start : start + 7])]
    segments.append(splitter.close())
    # The loose lists and the indented continuation stay with the paragraph they follow.
    assert segments == [
        "First paragraph, long enough.\n\n1. one\n\n2. two, a loose list\n\n"
        "   its continued paragraph\n\n- a\n\n- b\n\n",
        "```\ncode\n\nstill code\n```\n\n",  # not split at the blank line inside the fence
        "Next paragraph.\n\n",
        "## Heading\n\n",
        "Last.\n",
    ]


@settings(max_examples=150, deadline=None)
@given(
    blocks=st.lists(st.sampled_from(BLOCKS), min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=30),
    segment_chars=st.integers(min_value=1, max_value=300),
)
def test_a_stream_is_cut_the_same_however_it_arrives(
    blocks: list[str], cuts: list[int], segment_chars: int
) -> None:
    text = "".join(blocks)
    whole = SegmentSplitter(segment_chars)
    expected = [*whole.feed(text), whole.close()]
    streamed = SegmentSplitter(segment_chars)
    got: list[str] = []
    start = 0
    for size in cuts:
        got += streamed.feed(text[start : start + size])
        start += size
    got += streamed.feed(text[start:])
    got.append(streamed.close())
    assert got == expected
    assert "".join(got) == text
    for segment in got:  # never inside a fence
        assert sum(1 for line in segment.splitlines() if is_fence(line)) % 2 == 0


# -- drawing ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(blocks=st.lists(st.sampled_from(BLOCKS), min_size=1, max_size=6), width=st.integers(20, 90))
def test_segments_drawn_alone_look_as_the_whole_answer_drawn_at_once(blocks: list[str], width: int) -> None:
    text = "".join(blocks)
    one_segment = draw(text, width, segment_chars=10**9)
    assert drawn_text(draw(text, width, segment_chars=1)) == drawn_text(one_segment)
    assert all(line.cell_length == width for line in one_segment)


def test_html_and_rich_markup_show_as_typed_and_links_with_their_address() -> None:
    text = (
        "<script>alert(1)</script> and List<T> and [bold]not bold[/bold]\n\n[docs](https://example.com/a)\n"
    )
    lines = draw(text, 80, segment_chars=1)
    shown = "\n".join(drawn_text(lines))
    assert "<script>alert(1)</script> and List<T> and [bold]not bold[/bold]" in shown
    assert "docs (https://example.com/a)" in shown
    # No terminal hyperlink: a click on a model's link must not open anything.
    assert not [segment for line in lines for segment in line if segment.style and segment.style.link]


def test_an_unclosed_fence_is_drawn_as_code() -> None:
    lines = draw("Look:\n\n```python\nprint('never closed')", 60, segment_chars=1)
    assert "print('never closed')" in "\n".join(drawn_text(lines))
    assert "```" not in "\n".join(drawn_text(lines))


def test_load_highlighting_loads_the_lexer_the_first_fence_needs() -> None:
    # In a fresh interpreter: in this one another test may have loaded it already.
    check = (
        "import sys\n"
        "from tracetui.ui.widgets.answer_render import load_highlighting\n"
        "assert 'pygments.lexers.python' not in sys.modules, 'loaded by the import already'\n"
        "load_highlighting()\n"
        "assert 'pygments.lexers.python' in sys.modules, 'not loaded'\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# -- the widget ---------------------------------------------------------------------------


class Host(App[None]):
    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield AnswerView(self.text)

    @property
    def view(self) -> AnswerView:
        return self.query_one(AnswerView)


def screen_lines(app: App) -> list[str]:
    return [strip.text.rstrip() for strip in app.screen._compositor.render_strips()]


async def test_streamed_text_shows_on_the_next_frame_and_finished_segments_are_kept() -> None:
    app = Host()
    async with app.run_test(size=(70, 40)) as pilot:
        view = app.view
        for start in range(0, len(TEXT), 9):
            view.append(TEXT[start : start + 9])
        await pilot.pause()
        assert any("family of models" in line for line in screen_lines(app))
        drawn_before = list(view._drawn)
        view.append("\n\nOne more paragraph.\n")
        view.finish()
        await pilot.pause()
        assert view.source == TEXT + "\n\nOne more paragraph.\n"
        assert "One more paragraph." in screen_lines(app)
        # The segments finished before were not drawn again.
        assert all(a is b for a, b in zip(drawn_before, view._drawn, strict=False)) and drawn_before


async def test_a_new_width_redraws_every_line_at_that_width() -> None:
    app = Host(TEXT)
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.pause()
        assert {line.cell_length for line in app.view.lines_at(app.view.size.width)} == {app.view.size.width}
        wide = len(app.view.lines_at(app.view.size.width))
        await pilot.resize_terminal(40, 40)
        await pilot.pause()
        width = app.view.size.width
        assert width <= 40
        assert {line.cell_length for line in app.view.lines_at(width)} == {width}
        assert len(app.view.lines_at(width)) > wide  # wrapped anew
        assert "Qwen 2.5" in screen_lines(app)


def heading_color(app: Host) -> Color:
    (line,) = [line for line in app.view.lines_at(app.view.size.width) if line.text.startswith("Qwen 2.5")]
    style = next(segment.style for segment in line if segment.text.strip())
    return Color.from_rich_color(style.color)


async def test_a_new_theme_redraws_in_its_colours() -> None:
    app = Host(TEXT)
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.pause()
        assert heading_color(app) == Color.parse(app.theme_variables["markdown-h1-color"])
        dark = heading_color(app)
        app.theme = "textual-light"
        await pilot.pause()
        await pilot.pause()
        assert heading_color(app) == Color.parse(app.theme_variables["markdown-h1-color"]) != dark


async def test_the_text_can_be_selected_and_copied() -> None:
    app = Host(TEXT)
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.pause()
        text, _ending = app.view.get_selection(Selection(None, None))
        assert "Qwen 2.5" in text and "print([1, 2])" in text and "nested" in text


async def test_a_selection_after_wide_characters_highlights_the_characters_chosen() -> None:
    app = Host("中文 and then some words.\n")
    async with app.run_test(size=(70, 20)) as pilot:
        await pilot.pause()
        view = app.view
        lines = view.lines_at(view.size.width)
        y = next(i for i, line in enumerate(lines) if "中文" in line.text)
        x = lines[y].text.index("文")  # a character offset, as Textual's selection gives it
        app.screen.selections = {view: Selection(Offset(x, y), Offset(x + len("文 and"), y))}
        await pilot.pause()
        highlight = app.screen.get_component_rich_style("screen--selection").bgcolor
        chosen = "".join(s.text for s in view.render_line(y) if s.style and s.style.bgcolor == highlight)
        assert chosen == "文 and"


async def test_segments_due_at_once_are_drawn_over_the_next_frames_in_order() -> None:
    text = "".join(f"Paragraph {n}: " + "word " * 50 + "\n\n" for n in range(6))
    app = Host()
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.pause()
        view = app.view
        view.draw_budget_s = 0.0  # one segment a frame
        view.append(text)
        view.finish()
        assert len(view.segments) == 6
        first = view.lines_at(view.size.width)  # what the next frame lays out
        assert view.behind
        assert "Paragraph 0:" in first[0].text and not any("Paragraph 1:" in line.text for line in first)
        for _ in range(100):  # the frames that follow draw the rest
            if not view.behind:
                break
            await pilot.pause(0.02)
        assert not view.behind
        await pilot.pause()
        shown = [line.text for line in view.lines_at(view.size.width)]
        starts = [next(i for i, line in enumerate(shown) if f"Paragraph {n}:" in line) for n in range(6)]
        assert starts == sorted(starts)
        assert view.source == text


async def test_while_streaming_new_text_waits_for_its_paced_frame_and_the_last_shows_at_once() -> None:
    app = Host()
    async with app.run_test(size=(70, 20)) as pilot:
        view = app.view
        view.append("First paragraph.\n\n")
        await pilot.pause()
        assert "First paragraph." in screen_lines(app)
        view._next_layout_at = time.perf_counter() + 60  # as after a costly frame in a flood of text
        view.append("Second paragraph.\n\n")
        assert not any("Second" in line.text for line in view.lines_at(view.size.width))  # held back
        view._next_layout_at = time.perf_counter() + 0.2
        view.append("Third paragraph.\n")
        for _ in range(100):  # the paced frame comes by itself
            if "Third paragraph." in screen_lines(app):
                break
            await pilot.pause(0.02)
        assert "Second paragraph." in screen_lines(app) and "Third paragraph." in screen_lines(app)
        view._next_layout_at = time.perf_counter() + 60
        view.append(" The end.")
        view.finish()  # the last text is not held back
        assert any("The end." in line.text for line in view.lines_at(view.size.width))
        assert view.source == "First paragraph.\n\nSecond paragraph.\n\nThird paragraph.\n The end."


LONG_FENCE = (
    "Here is the script:\n\n```python\n"
    + "".join(f"value_{n} = compute({n}, 'text')  # step {n}\n" for n in range(130))
    + "```\n\nThat is all.\n"
)


async def test_a_long_code_fence_is_drawn_in_pieces_that_join_as_the_whole_fence() -> None:
    app = Host()
    async with app.run_test(size=(90, 30)) as pilot:
        view = app.view
        for start in range(0, len(LONG_FENCE), 50):  # streamed: the last piece grows, frame after frame
            view.append(LONG_FENCE[start : start + 50])
            if start % 1000 == 0:
                await pilot.pause()
                assert not view.finished
        view.finish()
        for _ in range(100):  # at most 4 ms of drawing a frame: the last segment may come a frame later
            await pilot.pause(0.02)
            if view.drawn:
                break
        width = view.size.width
        whole = draw_markdown(plain_console(), LONG_FENCE, width, Style(), Theme(), "monokai")
        assert drawn_text(view.lines_at(width)) == drawn_text(whole)
        # Drawn in pieces of 40 code lines, kept for the finished segment.
        assert len(view._fence_pieces) == 4
        code_line = next(line for line in view.lines_at(width) if "value_77" in line.text)
        colours = {segment.style.color for segment in code_line if segment.style and segment.text.strip()}
        assert len(colours) > 1  # highlighted


def test_long_fence_cuts_only_long_top_level_fences_and_keeps_every_character() -> None:
    code = "".join(f"line {n}\n" for n in range(95))
    text = f"Intro.\n\n````sh\n{code}````\n\nAfter.\n"
    fence = long_fence(text, chunk_lines=40)
    assert fence is not None
    assert (fence.head, fence.opening) == ("Intro.\n\n", "````sh\n")
    assert (fence.closing, fence.rest) == ("````\n", "\nAfter.\n")
    assert fence.marker == "````" and [chunk.count("\n") for chunk in fence.chunks] == [40, 40, 15]
    assert fence.head + fence.opening + "".join(fence.chunks) + fence.closing + fence.rest == text
    unclosed = long_fence(f"```\n{code}", chunk_lines=40)
    assert unclosed is not None and unclosed.closing == "" and "".join(unclosed.chunks) == code
    assert long_fence(f"```\n{code[:200]}```\n", chunk_lines=40) is None  # short: drawn whole
    assert long_fence(f"- item\n\n  ```\n{code}  ```\n", chunk_lines=40) is None  # in a list item


async def test_a_long_fence_arriving_at_once_is_drawn_a_piece_a_frame() -> None:
    app = Host()
    async with app.run_test(size=(90, 30)) as pilot:
        await pilot.pause()
        view = app.view
        view.draw_budget_s = 0.0  # one piece a frame
        view.append(LONG_FENCE[: LONG_FENCE.index("That is all.")])  # still streaming: the live segment
        first = drawn_text(view.lines_at(view.size.width))
        assert any("value_39 " in line for line in first) and not any("value_40 " in line for line in first)
        for _ in range(100):  # the frames that follow draw the other pieces
            await pilot.pause(0.02)
            if any("value_129 " in line.text for line in view.lines_at(view.size.width)):
                break
        assert len(view._fence_pieces) == 4
        shown = drawn_text(view.lines_at(view.size.width))
        rows = [next(i for i, line in enumerate(shown) if f"value_{n} " in line) for n in range(130)]
        assert rows == sorted(rows)  # every code line, in order
