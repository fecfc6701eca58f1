"""Cut a streaming Markdown answer into segments of whole blocks (plain text; no Textual, no Rich).

Why: the answer view draws each finished segment once and keeps its lines, so a
frame only redraws the segment still streaming. That is only right if a segment
drawn alone draws as it would inside the whole answer, so a segment ends only
where a new top-level block starts: after a blank line outside a code fence,
before a line that cannot continue the block above (an indented continuation or
the next item of a loose list could).
"""

from __future__ import annotations

from dataclasses import dataclass

# Small, because the segment still streaming is drawn anew on every frame, while finished
# ones are drawn once (about 1 ms per 200 characters of Markdown, measured with Rich).
DEFAULT_SEGMENT_CHARS = 200

# A line starting with one of these after a blank line may continue the block before it
# (an indented continuation, the next item of a loose list): no segment starts there.
_MAY_CONTINUE = frozenset(" \t-*+0123456789")


def is_fence(line: str) -> bool:
    """A line that opens or closes a fenced code block (``` or ~~~, indented at most 3)."""
    stripped = line.lstrip(" ")
    return len(line) - len(stripped) <= 3 and stripped.startswith(("```", "~~~"))


class SegmentSplitter:
    """Feed text as it streams; get back the segments it finished. `pending` is the rest."""

    def __init__(self, segment_chars: int = DEFAULT_SEGMENT_CHARS) -> None:
        self.segment_chars = segment_chars
        self.pending = ""  # the segment being written
        self._line = ""  # the line being received, to know where blocks and fences end
        self._in_fence = False
        self._split_due = False  # a blank line ended a long enough segment; split before the next block

    def feed(self, text: str) -> list[str]:
        """Take `text`; return the segments finished by it (often none), oldest first."""
        finished: list[str] = []
        for piece in text.splitlines(keepends=True):
            if self._split_due and not self._line and piece.strip("\r\n"):
                self._split_due = False
                if piece[0] not in _MAY_CONTINUE:
                    finished.append(self.pending)
                    self.pending = ""
            self.pending += piece
            self._line += piece
            if not piece.endswith(("\n", "\r")):
                continue
            line, self._line = self._line, ""
            if is_fence(line):
                self._in_fence = not self._in_fence
            elif not line.strip() and not self._in_fence and len(self.pending) >= self.segment_chars:
                self._split_due = True
        return finished

    def close(self) -> str:
        """The stream ended: return the last segment (may be empty, may hold an unclosed fence)."""
        last, self.pending = self.pending, ""
        self._line, self._in_fence, self._split_due = "", False, False
        return last


# A top-level code fence longer than this is drawn in pieces of this many lines: redrawn
# whole on every frame, a growing 200-line fence took ~40 ms a frame and 1,000 lines ~190 ms.
FENCE_CHUNK_LINES = 40


@dataclass(frozen=True, slots=True)
class LongFence:
    """A segment cut around its first long top-level code fence: `head`, the fence, `rest`.

    `opening` is the fence's first line (with its newline), `chunks` its code in pieces
    of at most FENCE_CHUNK_LINES lines, `closing` its last line ("" while unclosed).
    """

    head: str
    opening: str
    chunks: list[str]
    closing: str
    rest: str

    @property
    def marker(self) -> str:
        """What closes the fence: its opening's run of backticks or tildes."""
        return _marker(self.opening)


def long_fence(text: str, chunk_lines: int = FENCE_CHUNK_LINES) -> LongFence | None:
    """`text` cut around its first code fence that starts at the left margin and holds more
    than `chunk_lines` lines; None when it has none. Indented fences (in a list item) are left whole."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line[:1] in "`~" and is_fence(line)), None)
    if start is None:
        return None
    opening = lines[start]
    marker = _marker(opening)
    end = next((i for i in range(start + 1, len(lines)) if _closes(lines[i], marker)), None)
    code = lines[start + 1 : end]
    if len(code) <= chunk_lines:
        return None
    chunks = ["".join(code[i : i + chunk_lines]) for i in range(0, len(code), chunk_lines)]
    return LongFence(
        head="".join(lines[:start]),
        opening=opening,
        chunks=chunks,
        closing="" if end is None else lines[end],
        rest="" if end is None else "".join(lines[end + 1 :]),
    )


def _marker(opening: str) -> str:
    """A fence's opening line's run of backticks or tildes."""
    stripped = opening.lstrip(" ")
    return stripped[: len(stripped) - len(stripped.lstrip(stripped[0]))]


def _closes(line: str, marker: str) -> bool:
    """`line` closes a fence opened with `marker`: the same character, at least as many, nothing else."""
    stripped = line.strip()
    return is_fence(line) and stripped.startswith(marker) and not stripped.strip(marker[0])
