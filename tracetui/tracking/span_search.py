"""Search inside one trace: which spans mention a text, in the order the span tree shows them.

A query is either plain text, found (case-insensitively) in a span's name, type,
status, attributes, inputs, outputs or events, or `key=value`, which looks only
at the attribute `key` (its name compared case-insensitively, its value found as
text). `SpanSearchIndex` turns each span into one lowercased text once per
trace, so a search per keystroke is a substring test per span: a few
milliseconds for the 10,001-span trace, where building the index is the slow
part (done once, off the event loop by the UI).
Pure: no I/O, no Textual or Rich.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tracetui.tracking.models import Span, Trace

# MLflow keeps inputs, outputs and the type in these attributes; they are searched as
# inputs / outputs / type already, so the attribute copies would only match twice.
_LIFTED_ATTRIBUTES = frozenset({"mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.spanType"})
# `key=value`: a key has no spaces and no "=" (attribute names never do).
_KEY_VALUE = re.compile(r"^\s*([^\s=]+)\s*=\s*(.*?)\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class SpanQuery:
    """What to look for: `text` anywhere, or (`key` set) `text` in the attribute `key`; both lowercased."""

    text: str
    key: str | None = None

    def describe(self) -> str:
        return f"{self.key}={self.text}" if self.key is not None else self.text


def parse_query(typed: str) -> SpanQuery | None:
    """The query a person typed; None for nothing (blank) to look for."""
    if not typed.strip():
        return None
    key_value = _KEY_VALUE.match(typed)
    if key_value is not None:
        return SpanQuery(key_value.group(2).lower(), key_value.group(1).lower())
    return SpanQuery(typed.strip().lower())


def spans_depth_first(trace: Trace) -> Iterator[tuple[int, Span]]:
    """Spans as the tree shows them (parents before children, siblings by start), with their depth.

    Iterative: traces can nest 10,000 deep.
    """
    children = trace.children_by_parent()
    stack = [(0, span) for span in reversed(children.get(None, []))]
    while stack:
        depth, span = stack.pop()
        yield depth, span
        stack.extend((depth + 1, child) for child in reversed(children.get(span.span_id, [])))


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        return repr(value)


def span_text(span: Span) -> str:
    """Everything searchable about a span as one lowercased text, fields on their own lines."""
    parts = [span.name, span.span_type, span.status_code, span.status_message, span.span_id]
    for key, value in span.attributes.items():
        if key not in _LIFTED_ATTRIBUTES:
            parts.append(f"{key}={_as_text(value)}")
    if span.inputs is not None:
        parts.append(_as_text(span.inputs))
    if span.outputs is not None:
        parts.append(_as_text(span.outputs))
    for event in span.events:
        parts.append(event.name)
        parts.extend(f"{key}={_as_text(value)}" for key, value in event.attributes.items())
    return "\n".join(parts).lower()


def _attributes_lowered(span: Span) -> dict[str, str]:
    return {key.lower(): _as_text(value).lower() for key, value in span.attributes.items()}


class SpanSearchIndex:
    """One trace's spans in tree order, each with its searchable text, built once."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.spans: list[Span] = [span for _, span in spans_depth_first(trace)]
        self._texts: list[str] = [span_text(span) for span in self.spans]
        self._attributes: list[dict[str, str]] | None = None  # for key=value, built on first use

    def search(self, query: SpanQuery) -> list[Span]:
        """The matching spans, in tree order."""
        if query.key is None:
            needle = query.text
            return [span for span, text in zip(self.spans, self._texts, strict=True) if needle in text]
        if self._attributes is None:
            self._attributes = [_attributes_lowered(span) for span in self.spans]
        key, needle = query.key, query.text
        return [
            span
            for span, attributes in zip(self.spans, self._attributes, strict=True)
            if key in attributes and needle in attributes[key]
        ]


def search_spans(trace: Trace, typed: str) -> list[Span]:
    """The spans of `trace` matching what a person typed, in tree order (none for a blank query)."""
    query = parse_query(typed)
    if query is None:
        return []
    return SpanSearchIndex(trace).search(query)


def span_paths(trace: Trace, spans: list[Span]) -> list[list[str]]:
    """Each span's names from the root, with one id lookup table for all (10,000 matches stay fast)."""
    by_id = {span.span_id: span for span in trace.spans}
    paths = []
    for span in spans:
        names = [span.name]
        parent_id, steps = span.parent_id, 0
        while parent_id is not None and parent_id in by_id and steps < len(by_id):
            parent = by_id[parent_id]
            names.append(parent.name)
            parent_id, steps = parent.parent_id, steps + 1
        paths.append(names[::-1])
    return paths
