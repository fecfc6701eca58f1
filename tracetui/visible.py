"""Make untrusted text safe to put on a terminal: every control character becomes visible.

Text from a trace or a model may carry ANSI/OSC escapes (screen clears,
clipboard writes, title changes), C1 controls, bidi overrides that reorder what
is shown, or invalid UTF-8. None of it may reach the terminal raw. This module
has no dependencies so the CLI and the tracking/chat layers can use it; the UI
wraps its result in Rich/Textual `Text`/`Content`, which never parses markup.
"""

from __future__ import annotations

import re

# C0 controls become their Unicode "control picture" (ESC -> ␛), so a person
# still sees that something was there and what it was.
_C0_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)}
_C0_PICTURES[0x7F] = "\u2421"  # DEL -> ␡

# Also replaced: bidi embeddings, overrides and isolates and the line/paragraph
# separators, which change how the text around them is displayed, and lone
# surrogates (invalid UTF-8 decoded with surrogateescape).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_NO_NEWLINES = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _picture(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code in _C0_PICTURES:
        return _C0_PICTURES[code]
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate from invalid UTF-8 (surrogateescape)
        return "\ufffd"
    return f"\\u{code:04x}"  # C1 controls and format controls: show the code point


def make_visible(text: str, *, keep_newlines: bool = True) -> str:
    """`text` with every control and display-altering character replaced by a visible stand-in.

    Newlines and tabs are kept when `keep_newlines` (multi-line detail views);
    single-line places (a table cell, a tree label) pass False and get ␊ and ␉.
    """
    pattern = _UNSAFE if keep_newlines else _UNSAFE_NO_NEWLINES
    if pattern.search(text) is None:  # the common case: nothing to do, no copy
        return text
    return pattern.sub(_picture, text)


def visible_bytes(data: bytes) -> str:
    """Bytes of unknown encoding as visible text: invalid UTF-8 becomes U+FFFD."""
    return make_visible(data.decode("utf-8", errors="replace"))


def one_line(text: str, width: int = 200, *, clause: bool = False) -> str:
    """Text in one line of at most `width` characters, controls made visible.

    `clause`: the text goes inside a sentence of ours (a server's message in parentheses),
    so its own final period is dropped.
    """
    flat = make_visible(" ".join(text.split()), keep_newlines=False)
    if clause:
        flat = flat.rstrip(" .")
    if len(flat) <= width:
        return flat
    return flat[: max(0, width - 1)].rstrip() + "…"
