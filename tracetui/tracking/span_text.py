"""One span's detail as plain text lines: what the detail pane shows, for a shell or a script.

`find_spans(trace, key)` picks spans by id or by name; `span_detail_lines` gives,
for one span, its path from the root, timing, tokens, the conversation (any
convention, see conversation.py) or the raw inputs/outputs, every attribute
and every event. Every line is made safe here (controls and escapes visible,
`visible.make_visible`), so the caller can print it as it is.
Pure: no I/O, no Textual or Rich.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from tracetui.tracking.conversation import span_conversation
from tracetui.tracking.models import Span, Trace
from tracetui.visible import make_visible, one_line

# Lifted into their own sections, so not repeated among the attributes.
_SHOWN_ELSEWHERE = frozenset({"mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.spanType"})
INDENT = "  "


def find_spans(trace: Trace, key: str) -> list[Span]:
    """The span whose id is `key`, else every span named `key`, in start order."""
    wanted = key.strip().lower()
    by_id = [span for span in trace.spans if span.span_id == wanted]
    if by_id:
        return by_id
    return sorted((span for span in trace.spans if span.name == key), key=lambda s: s.start_time_ns)


def span_path(trace: Trace, span: Span) -> list[str]:
    """Names from the root to `span` (a missing parent ends the walk)."""
    by_id = {s.span_id: s for s in trace.spans}
    names = [span.name]
    parent_id, steps = span.parent_id, 0
    while parent_id is not None and parent_id in by_id and steps < 10_000:
        parent = by_id[parent_id]
        names.append(parent.name)
        parent_id, steps = parent.parent_id, steps + 1
    return names[::-1]


def _safe(text: str) -> str:
    return make_visible(text, keep_newlines=True)


def _block(text: str) -> list[str]:
    return [INDENT + line for line in _safe(text).split("\n")]


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        return repr(value)


def _utc(ns: int) -> str:
    moment = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _seconds(ns: int | None) -> str:
    return "still running" if ns is None else f"{ns / 1e9:.3f} s"


def _io_lines(title: str, span: Span, which: str) -> list[str]:
    value = span.inputs if which == "inputs" else span.outputs
    conversation = span_conversation(span, which)
    lines = [f"{title}:"]
    if conversation is not None:
        for role, text in conversation:
            body = _safe(text).split("\n")
            lines.append(f"{INDENT}{one_line(role, 20)}: {body[0]}")
            lines += [INDENT * 2 + line for line in body[1:]]
    elif value is None:
        lines.append(f"{INDENT}(none)")
    else:
        lines += _block(_json(value))
    return lines


def span_detail_lines(trace: Trace, span: Span) -> list[str]:
    """The span's detail as safe plain lines."""
    trace_start = min((s.start_time_ns for s in trace.spans), default=span.start_time_ns)
    status = span.status_code + (f": {one_line(span.status_message, 300)}" if span.status_message else "")
    lines = [
        f"Span {one_line(span.name, 200)} ({one_line(span.span_type, 40)})  {status}",
        "path: " + " > ".join(one_line(name, 80) for name in span_path(trace, span)),
        f"span id: {span.span_id}" + (f"  parent id: {span.parent_id}" if span.parent_id else ""),
        f"start: {_utc(span.start_time_ns)}  (+{_seconds(span.start_time_ns - trace_start)} in the trace)",
        f"duration: {_seconds(span.duration_ns)}",
    ]
    usage = span.token_usage
    if usage is not None:
        counts = [usage.input_tokens, usage.output_tokens, usage.total_tokens]
        shown = ["?" if n is None else str(n) for n in counts]
        lines.append(f"tokens: {shown[0]} in, {shown[1]} out, {shown[2]} total")
    lines += _io_lines("Inputs", span, "inputs")
    lines += _io_lines("Outputs", span, "outputs")
    attributes = [(k, v) for k, v in span.attributes.items() if k not in _SHOWN_ELSEWHERE]
    lines.append(f"Attributes ({len(attributes)}):")
    for key, value in attributes:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        body = _safe(text).split("\n")
        lines.append(f"{INDENT}{one_line(key, 200)} = {body[0]}")
        lines += [INDENT * 2 + line for line in body[1:]]
    lines.append(f"Events ({len(span.events)}):")
    for event in span.events:
        offset = _seconds(max(0, event.time_unix_nano - span.start_time_ns))
        lines.append(f"{INDENT}{one_line(event.name, 200)}  +{offset}")
        for key, value in event.attributes.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            body = _safe(text).split("\n")
            lines.append(f"{INDENT * 2}{one_line(key, 200)} = {body[0]}")
            lines += [INDENT * 3 + line for line in body[1:]]
    return lines
