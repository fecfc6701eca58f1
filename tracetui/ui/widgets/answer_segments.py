"""Cut a streaming Markdown answer into segments of whole blocks (plain text; no Textual, no Rich).

Why: the answer view draws each finished segment once and keeps its lines, so a
frame only redraws the segment still streaming. That is only right if a segment
drawn alone draws as it would inside the whole answer, so a segment ends only
where a new top-level block starts: after a blank line outside a code fence,
before a line that cannot continue the block above (an indented continuation or
the next item of a loose list could).
"""

from __future__ import annotations

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
