"""Draw answer Markdown into lines with Rich, in the colours of the app's Textual theme.

Why Rich and not Textual's Markdown widget: Textual's widget is a tree of widgets
(a list item is four), and each block it mounts while an answer streams costs a
frame 28-39 ms of styling, layout and repainting on these machines, which kept the
largest event-loop stall at 70-120 ms (bench/bench_chat_pane.py). Rich draws a
200-character segment into lines in about 1 ms, with no widgets at all.

What a model writes is data: the text reaching here went through `make_visible`
first, raw HTML is off (`<script>` and `List<T>` show as typed instead of
vanishing), and links are shown as their text and address, never as terminal
hyperlinks a click would follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import ClassVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Heading, HorizontalRule, ListItem, Markdown
from rich.rule import Rule
from rich.segment import Segment
from rich.style import Style
from rich.theme import Theme
from textual.color import Color
from textual.strip import Strip


@lru_cache(maxsize=1)
def answer_parser() -> MarkdownIt:
    """CommonMark with tables and strikethrough, raw HTML off. One instance: making one takes ms."""
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


class _LeftHeading(Heading):
    # Rich centres h1; in a chat every heading starts at the left, as the text around it does.
    LEVEL_ALIGN: ClassVar = dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6"), "left")


class _ListItem(ListItem):
    def render_number(
        self, console: Console, options: ConsoleOptions, number: int, last_number: int
    ) -> RenderResult:
        # As Rich's, with the full stop a Markdown reader expects: "1. one", not "1 one".
        number_width = len(str(last_number)) + 3
        lines = console.render_lines(
            self.elements, options.update(width=options.max_width - number_width), style=self.style
        )
        number_style = console.get_style("markdown.item.number", default="none")
        numeral = Segment(f"{number}.".rjust(number_width - 1) + " ", number_style)
        padding = Segment(" " * number_width, number_style)
        for index, line in enumerate(lines):
            yield numeral if index == 0 else padding
            yield from line
            yield Segment.line()


class _Rule(HorizontalRule):
    # Rich draws a rule's blank line itself, so after a rule a list or a quote got two and a
    # paragraph one; as every other block, a rule now leaves the blank line to what follows.
    new_line = True

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Rule(style=console.get_style("markdown.hr", default="none"), characters="-")


class AnswerDocument(Markdown):
    """Rich's Markdown, parsed with `answer_parser`; headings at the left, numbers with a full stop,
    and one blank line between any two blocks."""

    elements: ClassVar = {
        **Markdown.elements,
        "heading_open": _LeftHeading,
        "list_item_open": _ListItem,
        "hr": _Rule,
    }

    def __init__(self, markup: str, code_theme: str) -> None:
        # Rich's own __init__ is not called: it builds a parser of its own on every call (~0.5 ms,
        # for each segment on each frame), with raw HTML on. These are the attributes it sets.
        self.markup = markup
        self.parsed: list[Token] = answer_parser().parse(markup)
        self.code_theme = code_theme
        self.justify = None
        self.style = "none"
        self.hyperlinks = False  # a link shows as its text and its address
        self.inline_code_lexer = None
        self.inline_code_theme = code_theme


def _solid(value: str | None, background: Color) -> str | None:
    """A theme variable as a colour Rich can use (alpha blended onto the background), or None."""
    if not value:
        return None
    try:
        color = Color.parse(value)
    except Exception:  # e.g. "auto 60%": no fixed colour
        return None
    return (background + color).hex if color.a < 1 else color.hex


def markdown_theme(variables: Mapping[str, str], background: Color) -> Theme:
    """Rich's `markdown.*` styles from a Textual theme's variables (headings as Textual draws them)."""

    def color(name: str, fallback: str) -> str:
        return _solid(variables.get(name), background) or fallback

    styles: dict[str, Style | str] = {
        "markdown.code": f"bold {color('text-accent', 'yellow')} on {color('surface', 'black')}",
        "markdown.block_quote": color("text-secondary", "magenta"),
        "markdown.list": color("text-primary", "cyan"),
        "markdown.item.bullet": f"bold {color('text-accent', 'yellow')}",
        "markdown.item.number": color("text-accent", "yellow"),
        "markdown.hr": color("secondary", "blue"),
        "markdown.link": f"bold {color('text-primary', 'blue')}",
        "markdown.link_url": f"underline {color('text-primary', 'blue')}",
        "markdown.table.border": color("primary", "blue"),
        "markdown.table.header": f"bold {color('text-primary', 'cyan')}",
    }
    for level in range(1, 7):
        text_style = variables.get(f"markdown-h{level}-text-style", "bold")
        styles[f"markdown.h{level}"] = f"{text_style} {color(f'markdown-h{level}-color', 'default')}"
    return Theme(styles)


# Drawn before every segment, then dropped with the blank line after it. Rich puts a blank
# line before a block whose inner blocks have closed (a list, a quote, a table) even at
# the top of a document; after a paragraph, every block starts as it would mid-answer,
# so a segment drawn alone draws as it does inside the whole answer.
_LEAD = "x\n\n"
_LEAD_LINES = 2


def draw_markdown(
    console: Console, markup: str, width: int, style: Style, theme: Theme, code_theme: str
) -> list[Strip]:
    """`markup` (whole blocks) drawn at `width` on `style`, every line padded to the width."""
    document = AnswerDocument(_LEAD + markup, code_theme)
    options = console.options.update(width=width, height=None, highlight=False, markup=False)
    with console.use_theme(theme):
        lines = console.render_lines(document, options, style=style, pad=True)
    return [Strip(line, width) for line in lines[_LEAD_LINES:]]


def join_drawn(drawn: list[list[Strip]], blank: Strip) -> list[Strip]:
    """Segments drawn by `draw_markdown`, one after the other, with the blank line Rich puts
    between two blocks; empty ones add nothing."""
    lines: list[Strip] = []
    for segment_lines in drawn:
        if segment_lines:
            if lines:
                lines.append(blank)
            lines.extend(segment_lines)
    return lines


def load_highlighting() -> None:
    """Load what code fences are highlighted with (Pygments' Python lexer, the usual language).

    Loaded on first use it stalls the frame that draws the first fence of a session
    (~25 ms here); a worker calls this in a thread while litellm is imported instead.
    """
    from rich.syntax import Syntax

    Syntax("x = 1", "python").highlight("x = 1")
