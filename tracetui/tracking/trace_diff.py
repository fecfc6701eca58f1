"""Two traces side by side: their span trees aligned by path, and two spans' inputs/outputs line by line.

A span's path is the names from the root down to it; siblings with the same
name are told apart by position ("search", "search #2"), so two runs of the
same program line up span for span even when one of them did a step more.
Each aligned row has both durations and token counts and their differences,
whether the status changed, and whether the span is in one trace only.
`io_diff` compares two values (inputs or outputs) as indented JSON lines, the
way a person would read them, and marks the lines that differ.
Pure: no I/O, no Textual or Rich.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from tracetui.tracking.models import Span, Trace

LEFT, RIGHT, BOTH = "left", "right", "both"


@dataclass(frozen=True, slots=True)
class AlignedSpan:
    """One row of a comparison: the span at `path` in each trace (None where it has none)."""

    path: tuple[str, ...]  # names from the root, repeated siblings as "name #2"
    depth: int
    left: Span | None
    right: Span | None

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def side(self) -> str:
        """BOTH, or LEFT / RIGHT for a span only one trace has."""
        if self.left is not None and self.right is not None:
            return BOTH
        return LEFT if self.left is not None else RIGHT

    @property
    def status_changed(self) -> bool:
        return self.side == BOTH and self.left.status_code != self.right.status_code  # type: ignore[union-attr]

    @property
    def duration_delta_ns(self) -> int | None:
        """Right minus left; None unless both spans have ended."""
        left = self.left.duration_ns if self.left is not None else None
        right = self.right.duration_ns if self.right is not None else None
        return None if left is None or right is None else right - left

    def tokens(self, side: str) -> tuple[int | None, int | None]:
        """(in, out) tokens of one side's span; None where it records none."""
        span = self.left if side == LEFT else self.right
        usage = span.token_usage if span is not None else None
        if usage is None:
            return None, None
        return usage.input_tokens, usage.output_tokens

    def tokens_delta(self) -> tuple[int | None, int | None]:
        """Right minus left, for tokens in and out; None where either side has no count."""
        left, right = self.tokens(LEFT), self.tokens(RIGHT)
        return tuple(None if a is None or b is None else b - a for a, b in zip(left, right, strict=True))  # type: ignore[return-value]


def _keyed_children(children: list[Span]) -> list[tuple[str, Span]]:
    """Siblings keyed by name, the second and later of a name by position: "search", "search #2"."""
    seen: dict[str, int] = {}
    keyed = []
    for span in children:
        seen[span.name] = seen.get(span.name, 0) + 1
        count = seen[span.name]
        keyed.append((span.name if count == 1 else f"{span.name} #{count}", span))
    return keyed


def _merged_order(left_keys: list[str], right_keys: list[str]) -> list[str]:
    """Left's order, with each key only right has placed after the key it follows in right."""
    merged = list(left_keys)
    present = set(merged)
    for index, key in enumerate(right_keys):
        if key in present:
            continue
        before = next((right_keys[j] for j in range(index - 1, -1, -1) if right_keys[j] in present), None)
        merged.insert(0 if before is None else merged.index(before) + 1, key)
        present.add(key)
    return merged


def align_traces(left: Trace, right: Trace) -> list[AlignedSpan]:
    """Both span trees as one list of rows, parents before children (iterative: traces nest deep)."""
    left_children, right_children = left.children_by_parent(), right.children_by_parent()
    rows: list[AlignedSpan] = []
    # (path, depth, left parent id or None, right parent id or None, is the top level)
    stack: list[tuple[tuple[str, ...], int, Span | None, Span | None]] = []

    def push_children(
        path: tuple[str, ...], depth: int, left_span: Span | None, right_span: Span | None
    ) -> None:
        lefts = _keyed_children(left_children.get(left_span.span_id, []) if left_span else [])
        rights = _keyed_children(right_children.get(right_span.span_id, []) if right_span else [])
        left_by, right_by = dict(lefts), dict(rights)
        order = _merged_order([key for key, _ in lefts], [key for key, _ in rights])
        for key in reversed(order):
            stack.append(((*path, key), depth, left_by.get(key), right_by.get(key)))

    top_left = _keyed_children(left_children.get(None, []))
    top_right = _keyed_children(right_children.get(None, []))
    left_by, right_by = dict(top_left), dict(top_right)
    for key in reversed(_merged_order([k for k, _ in top_left], [k for k, _ in top_right])):
        stack.append(((key,), 0, left_by.get(key), right_by.get(key)))
    while stack:
        path, depth, left_span, right_span = stack.pop()
        rows.append(AlignedSpan(path, depth, left_span, right_span))
        push_children(path, depth + 1, left_span, right_span)
    return rows


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a side-by-side comparison; None where that side has no line here."""

    left: str | None
    right: str | None
    changed: bool


def value_lines(value: Any) -> list[str]:
    """A value as a person reads it: text as it is, anything else as indented JSON, keys sorted."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split("\n")
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str).split("\n")
    except (ValueError, RecursionError, TypeError):
        return repr(value).split("\n")


def io_diff(left_value: Any, right_value: Any) -> list[DiffLine]:
    """Two values line by line, side by side, with the lines that differ marked."""
    left_lines, right_lines = value_lines(left_value), value_lines(right_value)
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=left_lines, b=right_lines, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            lines += [DiffLine(text, text, False) for text in left_lines[a0:a1]]
            continue
        lefts, rights = left_lines[a0:a1], right_lines[b0:b1]
        for index in range(max(len(lefts), len(rights))):
            lines.append(
                DiffLine(
                    lefts[index] if index < len(lefts) else None,
                    rights[index] if index < len(rights) else None,
                    True,
                )
            )
    return lines


@dataclass(frozen=True, slots=True)
class DiffSummary:
    """What changed between two traces, in counts."""

    rows: int
    only_left: int
    only_right: int
    status_changes: int
    duration_left_ns: int | None
    duration_right_ns: int | None


def summarize_diff(left: Trace, right: Trace, rows: list[AlignedSpan]) -> DiffSummary:
    def total_ns(trace: Trace) -> int | None:
        duration_ms = trace.info.execution_duration_ms
        return None if duration_ms is None else duration_ms * 1_000_000

    return DiffSummary(
        rows=len(rows),
        only_left=sum(row.side == LEFT for row in rows),
        only_right=sum(row.side == RIGHT for row in rows),
        status_changes=sum(row.status_changed for row in rows),
        duration_left_ns=total_ns(left),
        duration_right_ns=total_ns(right),
    )


def diff_document(left: Trace, right: Trace) -> dict[str, Any]:
    """The comparison as plain JSON-able data (`tracetui traces diff --json`)."""
    rows = align_traces(left, right)

    def side(span: Span | None) -> dict[str, Any] | None:
        if span is None:
            return None
        usage = span.token_usage
        duration = span.duration_ns
        return {
            "span_id": span.span_id,
            "span_type": span.span_type,
            "status": span.status_code,
            "duration_ms": None if duration is None else duration / 1e6,
            "tokens_in": usage.input_tokens if usage else None,
            "tokens_out": usage.output_tokens if usage else None,
        }

    summary = summarize_diff(left, right, rows)
    return {
        "left": left.info.trace_id,
        "right": right.info.trace_id,
        "summary": {
            "spans_aligned": summary.rows,
            "only_in_left": summary.only_left,
            "only_in_right": summary.only_right,
            "status_changes": summary.status_changes,
            "duration_ms": {
                "left": left.info.execution_duration_ms,
                "right": right.info.execution_duration_ms,
            },
        },
        "spans": [
            {
                "path": list(row.path),
                "depth": row.depth,
                "in": row.side,
                "left": side(row.left),
                "right": side(row.right),
                "duration_delta_ms": None if row.duration_delta_ns is None else row.duration_delta_ns / 1e6,
                "tokens_in_delta": row.tokens_delta()[0],
                "tokens_out_delta": row.tokens_delta()[1],
                "status_changed": row.status_changed,
            }
            for row in rows
        ],
    }
