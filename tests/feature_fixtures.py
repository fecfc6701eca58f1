"""Hand-built traces with fixed times for the feature widgets' tests and snapshots."""

from __future__ import annotations

from typing import Any

from tracetui.tracking.models import Span, TokenUsage, Trace, TraceInfo

T0 = 1_795_791_650_000_000_000  # fixed: snapshots must not change from run to run
MS = 1_000_000
HOSTILE = "[bold red]x[/] \x1b[2J \x1b]52;c;aGVsbG8=\x07 \u202eevil"


def span(
    name: str, span_id: str, parent: str | None, span_type: str, start_ms: int, end_ms: int, **fields: Any
) -> Span:
    return Span(
        span_id=span_id,
        parent_id=parent,
        trace_id="cd" * 16,
        name=name,
        span_type=span_type,
        start_time_ns=T0 + start_ms * MS,
        end_time_ns=T0 + end_ms * MS,
        status_code=fields.pop("status_code", "OK"),
        **fields,
    )


def chat_turn_trace(trace_id: str = "tr-sequence", model_name: str = "qwen2.5:0.5b") -> Trace:
    """A tracetui chat turn with every hop as its own span: program, litellm, Ollama, model."""
    spans = (
        span("chat_turn", "0000000000000001", None, "CHAIN", 0, 1240, attributes={"tracetui.hop": "python"}),
        span(
            "litellm-acompletion",
            "0000000000000002",
            "0000000000000001",
            "LLM",
            15,
            1230,
            attributes={
                "tracetui.hop": "litellm",
                "model": "qwen2.5:0.5b",
                "api_base": "http://127.0.0.1:11434",
                "call_type": "acompletion",
            },
            token_usage=TokenUsage(26, 14, 40),
        ),
        span(
            "Ollama 127.0.0.1:11434",
            "0000000000000003",
            "0000000000000002",
            "UNKNOWN",
            40,
            1220,
            attributes={
                "tracetui.hop": "ollama",
                "http.request.method": "POST",
                "ollama.endpoint": "/api/chat",
                "http.response.status_code": 200,
            },
        ),
        span(
            model_name,
            "0000000000000004",
            "0000000000000003",
            "LLM",
            60,
            1210,
            attributes={
                "tracetui.hop": "model",
                "model": model_name,
                "ollama.prompt_eval_count": 26,
                "ollama.eval_count": 14,
                "ollama.eval_duration_ms": 1000.0,
                "tokens_per_second": 14.0,
                "time_to_first_token_ms": 180.0,
            },
        ),
    )
    info = TraceInfo(
        trace_id,
        "1",
        T0 // MS,
        1240,
        "OK",
        "chat_turn",
        request_preview="Explain Qwen 2.5.",
        token_usage=TokenUsage(26, 14, 40),
    )
    return Trace(info, spans)
