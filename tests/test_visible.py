"""The sanitiser: nothing that a terminal would act on survives, and plain text is untouched."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from tracetui.visible import make_visible, one_line, visible_bytes

# Anything a terminal would interpret: C0 (but newline/tab), DEL, C1, bidi/format controls.
TERMINAL_ACTIVE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def test_escape_sequences_become_visible() -> None:
    hostile = "\x1b[2J\x1b]52;c;aGVsbG8=\x07\x1b]0;pwned\x07\u202eevil\x9b31m"
    shown = make_visible(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert shown == "␛[2J␛]52;c;aGVsbG8=␇␛]0;pwned␇\\u202eevil\\u009b31m"


def test_markup_is_left_as_text() -> None:
    assert make_visible("[bold red]x[/] [link=http://e]y[/link]") == (
        "[bold red]x[/] [link=http://e]y[/link]"
    )


def test_newlines_kept_or_shown() -> None:
    assert make_visible("a\nb\tc") == "a\nb\tc"
    assert make_visible("a\nb\tc", keep_newlines=False) == "a␊b␉c"


def test_invalid_utf8_is_replaced() -> None:
    assert visible_bytes(b"ok \xff\xfe \x1b") == "ok \ufffd\ufffd ␛"
    assert make_visible("x\udcff") == "x\ufffd"


def test_one_line_truncates_with_ellipsis() -> None:
    assert one_line("hello\nworld", 8) == "hello w…"
    assert one_line("short", 8) == "short"


@given(st.text())
def test_nothing_terminal_active_survives(text: str) -> None:
    shown = make_visible(text)
    assert TERMINAL_ACTIVE.search(shown) is None
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in shown)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))))
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert make_visible(text) == text


@given(st.text(), st.integers(min_value=1, max_value=200))
def test_one_line_is_one_line_and_bounded(text: str, width: int) -> None:
    line = one_line(text, width)
    assert "\n" not in line and len(line) <= width
