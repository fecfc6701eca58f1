"""`traces show ID --span NAME_OR_ID`: one span's detail as safe plain text."""

from __future__ import annotations

from test_call_path import span, trace_of
from test_conventions import sample

from tracetui.tracking.models import SpanEvent
from tracetui.tracking.span_text import find_spans, span_detail_lines


def test_a_span_by_name_or_id_with_its_path() -> None:
    trace = trace_of(
        span("agent", "1" * 16, span_type="AGENT"),
        span("step", "2" * 16, "1" * 16, start_ms=1),
        span("step", "3" * 16, "2" * 16, start_ms=2),
    )
    assert [s.span_id for s in find_spans(trace, "step")] == ["2" * 16, "3" * 16]
    assert [s.span_id for s in find_spans(trace, "3" * 16)] == ["3" * 16]
    assert find_spans(trace, "nope") == []
    lines = span_detail_lines(trace, find_spans(trace, "step")[1])
    assert lines[1] == "path: agent > step > step"


def test_detail_of_a_real_genai_span() -> None:
    trace = sample("otlp_genai_get_trace.json")
    text = "\n".join(span_detail_lines(trace, trace.spans[0]))
    assert "Span chat qwen2.5 (CHAT_MODEL)  UNSET" in text or "Span chat qwen2.5 (CHAT_MODEL)  OK" in text
    assert "tokens: 4 in, 5 out, 9 total" in text
    assert (
        "Inputs:\n  system: Be brief.\n  user: Hi there\nOutputs:\n  assistant: Hello from the fake Qwen."
        in text
    )
    assert "  gen_ai.response.model = qwen2.5:latest" in text
    assert "mlflow.spanInputs" not in text  # shown as the conversation, not repeated


def test_hostile_text_is_made_visible() -> None:
    hostile = "\x1b[2J\x1b]0;pwned\x07\u202e"
    trace = trace_of(
        span(
            hostile,
            "1" * 16,
            attributes={"k\x1b": "v\x1b[31m\nnext"},
            events=(SpanEvent("e\x07", 0, {"a": "\x1b]52;c;eA==\x07"}),),
            outputs={"choices": [{"message": {"role": "assistant", "content": "ok\x1b[0m\nline two"}}]},
        )
    )
    lines = span_detail_lines(trace, trace.spans[0])
    text = "\n".join(lines)
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in text
    assert "  assistant: ok␛[0m\n    line two" in text
    assert "  k␛ = v␛[31m\n    next" in text
