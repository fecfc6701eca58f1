"""The real app in a pseudo-terminal, against the real server, with hostile traces on screen.

Every byte tracetui writes to the terminal is captured. Textual's own escape
sequences are fine; what must never appear is an escape sequence, a bidi
override or a control character that came from trace data. Also: usable as
over SSH at 80x24 with TERM=xterm-256color and with TERM=linux + NO_COLOR, by
keyboard only.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pty_app import PtyApp, terminal_env
from rich.console import Console
from trace_factory import (
    HOSTILE_NAME,
    HOSTILE_STRINGS,
    log_hostile_trace,
    log_nested_trace,
    use_server,
)

from tracetui.ui.safe_text import safe, safe_content, safe_content_line, safe_line

# The hostile payloads exactly as the trace carries them (see trace_factory.HOSTILE_STRINGS).
FORBIDDEN = {
    "OSC 52 clipboard write": b"\x1b]52;c;aGVsbG8=",
    "OSC 0 title change": b"\x1b]0;pwned",
    "screen clear from data": b"\x1b[2J",
    "raw bidi override U+202E": "\u202e".encode(),
    "C1 CSI": b"\xc2\x9b",
    "NUL from data": b"\x00",
}
VISIBLE_ESC = "␛".encode()  # how an ESC from data is shown instead
QUIT_WAIT_S = 60.0


@dataclass(frozen=True)
class Hostile:
    url: str
    experiment: str
    nested_id: str
    hostile_id: str


@pytest.fixture(scope="module")
def hostile(mlflow_server: Any) -> Iterator[Hostile]:
    use_server(mlflow_server.url)
    experiment = f"pty-{uuid.uuid4().hex[:8]}"
    nested_id = log_nested_trace(experiment)
    hostile_id = log_hostile_trace(experiment)  # the newest: follow mode opens it
    yield Hostile(mlflow_server.url, experiment, nested_id, hostile_id)


def _start(world: Hostile, term: str, columns: int, lines: int, **env: str) -> PtyApp:
    return PtyApp(
        ["--tracking-uri", world.url, "--experiment", world.experiment],
        terminal_env(term, **env),
        columns=columns,
        lines=lines,
    )


def test_no_escape_from_trace_data_reaches_the_terminal(hostile: Hostile) -> None:
    app = _start(hostile, "xterm-256color", 160, 48)
    try:
        # Follow mode opens the hostile trace: its name and inputs are on screen, made visible.
        assert app.wait_for(VISIBLE_ESC + b"]0;pwned"), app.snapshot()[-2000:]
        app.send(b"\x1b", 1.0)  # Esc: out of the chat prompt, which has the focus at start
        app.send(b"\r", 1.0)  # Enter: into the span tree
        app.send(b"j", 1.0)  # the child span: an OSC 52 "model", a 1 MB input, an ANSI output
        app.send(b"j", 1.0)
        assert app.wait_for(VISIBLE_ESC + b"]52;c;aGVsbG8="), "the child span's OSC 52 model, shown"
        app.send(b"z", 1.0)  # zoomed detail: more of the values on screen
        app.send(b"z", 0.5)
        app.send(b"q")
        assert app.wait_exit(QUIT_WAIT_S) == 0
    finally:
        app.close()
    written = app.snapshot()
    assert b"[bold red]x[/]" in written  # markup shown literally, not applied
    for what, payload in FORBIDDEN.items():
        assert payload not in written, f"{what} reached the terminal"


GREY_256 = {0, 7, 8, 15, 16, 231, *range(232, 256)}


def chromatic_colours(written: bytes) -> set[bytes]:
    """SGR colour parameters (fore- or background) that are not a shade of grey."""
    found = set()
    for match in re.finditer(rb"\x1b\[([0-9;]*)m", written):
        params = [int(p) for p in match.group(1).split(b";") if p]
        i = 0
        while i < len(params):
            if params[i] in (38, 48) and i + 1 < len(params):
                if params[i + 1] == 5 and i + 2 < len(params):
                    if params[i + 2] not in GREY_256:
                        found.add(match.group())
                    i += 3
                    continue
                if params[i + 1] == 2 and i + 4 < len(params):
                    if len(set(params[i + 2 : i + 5])) != 1:
                        found.add(match.group())
                    i += 5
                    continue
            if 31 <= params[i] <= 36 or 41 <= params[i] <= 46 or 91 <= params[i] <= 96:
                found.add(match.group())
            i += 1
    return found


@pytest.mark.parametrize(
    ("term", "env"),
    [("xterm-256color", {}), ("linux", {"NO_COLOR": "1"}), ("dumb", {"NO_COLOR": "1"})],
    ids=["xterm-256color", "linux-no-color", "dumb-no-color"],
)
def test_usable_over_ssh_at_80x24_by_keyboard(hostile: Hostile, term: str, env: dict[str, str]) -> None:
    app = _start(hostile, term, 80, 24, **env)
    try:
        assert app.wait_for(b"chat_turn"), f"no rows; wrote: {app.snapshot()[-1500:]!r}"
        for key in (b"j", b"\r", b"z", b"z", b"q"):
            app.send(key)
        code = app.wait_exit(QUIT_WAIT_S)
    finally:
        app.close()
    assert code == 0, app.snapshot()[-1500:]
    written = app.snapshot()
    if env.get("NO_COLOR"):
        # NO_COLOR: Textual renders in shades of grey; no hue reaches the terminal.
        assert not chromatic_colours(written), sorted(chromatic_colours(written))[:10]
    else:
        assert chromatic_colours(written)  # the check above does see colour where it is allowed
    assert HOSTILE_NAME.encode() not in written


# --- the UI's text helpers, fuzzed down to the bytes a terminal receives --------------------

# ESC, C0 controls but newline and tab, DEL, C1 controls, bidi embeddings/overrides/isolates, line separators.
TERMINAL_ACTIVE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
SGR = re.compile("\x1b\\[[0-9;]*m")  # colour and style: the only escapes a Console may write here
hostile_text = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from(["\x1b", "\x07", "\x9b", "\u202e", "\u2066", "[", "]", "/", "\r", "\n"]),
    )
) | st.sampled_from(list(HOSTILE_STRINGS.values()))


def _printed(renderable: Any) -> str:
    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=60)
    console.print(renderable)
    return console.file.getvalue()


@settings(max_examples=300, deadline=None)
@given(hostile_text, st.integers(min_value=1, max_value=80))
def test_safe_text_helpers_print_nothing_terminal_active(text: str, width: int) -> None:
    for renderable in (safe(text), safe_line(text, width), safe(text, style="bold red")):
        printed = SGR.sub("", _printed(renderable))
        assert TERMINAL_ACTIVE.search(printed) is None, repr(printed)
    for content in (safe_content(text), safe_content_line(text, width)):
        assert TERMINAL_ACTIVE.search(content.plain.replace("\n", "")) is None
