"""The call path Python -> litellm -> Ollama -> model, derived from span attributes if no hop spans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracetui.tracking.call_path import (
    ATTR_HOP,
    HOP_MODEL,
    HOP_OLLAMA,
    call_path,
    derived_hops,
    explicit_hop_kind,
    model_endpoint,
)
from tracetui.tracking.decode import decode_trace
from tracetui.tracking.models import Span, SpanEvent, TokenUsage, Trace, TraceInfo, elapsed_ns

# A real GET /api/3.0/mlflow/traces/get response for a plain mlflow.litellm.autolog() program.
SAMPLE = Path(__file__).parent / "samples" / "autolog_get_trace.json"
T0 = 1_800_000_000_000_000_000


def span(
    name: str,
    span_id: str,
    parent_id: str | None = None,
    span_type: str = "LLM",
    *,
    start_ms: int = 0,
    end_ms: int | None = 1000,
    status: str = "OK",
    attributes: dict | None = None,
    events: tuple[SpanEvent, ...] = (),
    token_usage: TokenUsage | None = None,
    outputs: object = None,
) -> Span:
    return Span(
        span_id=span_id,
        parent_id=parent_id,
        trace_id="0" * 32,
        name=name,
        span_type=span_type,
        start_time_ns=T0 + start_ms * 1_000_000,
        end_time_ns=None if end_ms is None else T0 + end_ms * 1_000_000,
        status_code=status,
        attributes=attributes or {},
        events=events,
        token_usage=token_usage,
        outputs=outputs,
    )


def trace_of(*spans: Span) -> Trace:
    info = TraceInfo("tr-1", "0", T0 // 1_000_000, 1000, "OK", spans[0].name)
    return Trace(info, spans)


@pytest.fixture(scope="module")
def sample() -> Trace:
    return decode_trace(json.loads(SAMPLE.read_text()))


def test_sample_autolog_trace_gets_an_ollama_hop_and_a_model_hop(sample: Trace) -> None:
    llm = next(s for s in sample.spans if s.name == "litellm-completion")
    ollama, model = derived_hops(llm)
    assert (ollama.kind, ollama.title) == (HOP_OLLAMA, "Ollama 127.0.0.1:54177")
    assert dict(ollama.facts)["api_base"] == "http://127.0.0.1:54177/api/chat"
    assert (model.kind, model.title) == (HOP_MODEL, "qwen2.5:0.5b")
    facts = dict(model.facts)
    assert facts["input tokens"] == "26" and facts["output tokens"] == "25"
    assert facts["provider"] == "ollama_chat"
    assert facts["finish reason"] == "stop"
    # 25 tokens over the 0.3116 s call.
    assert facts["tokens/s (whole call)"] == "80.2"
    assert ollama.source_span is llm and ollama.duration_ns == llm.duration_ns
    assert ollama.hop_id != model.hop_id


def test_sample_call_path_reads_program_litellm_ollama_model(sample: Trace) -> None:
    assert call_path(sample) == [
        "sample-turn",
        "litellm-completion",
        "Ollama 127.0.0.1:54177",
        "qwen2.5:0.5b",
    ]


def test_non_llm_span_has_no_derived_hops(sample: Trace) -> None:
    root = next(s for s in sample.spans if s.parent_id is None)
    assert derived_hops(root) == []


def test_explicit_hop_children_suppress_derivation() -> None:
    llm = span("litellm-completion", "a", attributes={"model": "qwen2.5:0.5b", "api_base": "http://h:11434"})
    by_attribute = span("call", "b", "a", "UNKNOWN", attributes={ATTR_HOP: HOP_OLLAMA})
    by_name = span("ollama /api/chat", "c", "a", "UNKNOWN")
    assert derived_hops(llm, [by_attribute]) == []
    assert derived_hops(llm, [by_name]) == []
    assert len(derived_hops(llm, [span("other-child", "d", "a", "TOOL")])) == 2


def test_a_chat_turns_explicit_model_span_gets_no_derived_model_under_it() -> None:
    # As tracetui.chat.tracing writes a turn: the model hop is an LLM span, a grandchild of litellm's.
    llm = span(
        "litellm-acompletion", "a", "r", attributes={"model": "ollama_chat/qwen2.5:0.5b", ATTR_HOP: "litellm"}
    )
    ollama = span("Ollama 127.0.0.1:11434", "b", "a", "UNKNOWN", attributes={ATTR_HOP: HOP_OLLAMA})
    model = span("qwen2.5:0.5b", "c", "b", "LLM", attributes={ATTR_HOP: HOP_MODEL, "model": "qwen2.5:0.5b"})
    assert derived_hops(llm, [ollama]) == []
    assert derived_hops(model, []) == []
    root = span("chat_turn", "r", None, "CHAIN", attributes={ATTR_HOP: "python"})
    assert call_path(trace_of(root, llm, ollama, model)) == [
        "chat_turn",
        "litellm-acompletion",
        "Ollama 127.0.0.1:11434",
        "qwen2.5:0.5b",
    ]


def test_explicit_model_hop_is_recognised_under_an_ollama_hop() -> None:
    ollama = span("ollama", "b", "a", "UNKNOWN")
    generation = span("qwen2.5:0.5b", "c", "b", "UNKNOWN", attributes={"model": "qwen2.5:0.5b"})
    assert explicit_hop_kind(generation, ollama) == HOP_MODEL
    assert explicit_hop_kind(generation) is None


def test_call_path_follows_explicit_hop_spans() -> None:
    root = span("chat_turn", "r", None, "CHAIN")
    llm = span("litellm-completion", "a", "r", attributes={"model": "qwen2.5:0.5b"})
    ollama = span("ollama 127.0.0.1:11434", "b", "a", "UNKNOWN", attributes={ATTR_HOP: HOP_OLLAMA})
    model = span("qwen2.5:0.5b", "c", "b", "UNKNOWN", attributes={ATTR_HOP: HOP_MODEL})
    assert call_path(trace_of(root, llm, ollama, model)) == [
        "chat_turn",
        "litellm-completion",
        "ollama 127.0.0.1:11434",
        "qwen2.5:0.5b",
    ]


def test_openai_autolog_span_gets_a_model_hop_but_no_ollama_hop() -> None:
    completions = span(
        "Completions",
        "a",
        span_type="CHAT_MODEL",
        attributes={"model": "gpt-4o-mini", "temperature": 0, "mlflow.message.format": "openai"},
        token_usage=TokenUsage(10, 5, 15),
    )
    hops = derived_hops(completions)
    assert [(hop.kind, hop.title) for hop in hops] == [(HOP_MODEL, "gpt-4o-mini")]


def test_openai_client_pointed_at_ollama_port_gets_an_ollama_hop() -> None:
    completions = span(
        "Completions",
        "a",
        span_type="CHAT_MODEL",
        attributes={"model": "qwen2.5", "base_url": "http://gpu:11434/v1"},
    )
    assert [hop.title for hop in derived_hops(completions)] == ["Ollama gpu:11434", "qwen2.5"]


def test_ollama_model_string_without_api_base_says_host_unknown() -> None:
    llm = span("litellm-completion", "a", attributes={"mlflow.llm.model": "ollama/qwen2.5:1.5b"})
    ollama, model = derived_hops(llm)
    assert ollama.title == "Ollama"
    assert dict(ollama.facts)["host"].startswith("unknown")
    assert model.title == "qwen2.5:1.5b"


def test_llm_span_naming_no_model_gets_no_hops() -> None:
    assert derived_hops(span("my-llm", "a", attributes={"temperature": 0.1})) == []


def test_streamed_chunks_give_time_to_first_chunk() -> None:
    chunk = SpanEvent("mlflow.chunk.item.0", T0 + 250_000_000)
    llm = span("litellm-completion", "a", attributes={"model": "ollama_chat/qwen2.5:0.5b"}, events=(chunk,))
    model = derived_hops(llm)[-1]
    assert dict(model.facts)["time to first chunk"] == "250 ms"


def test_failed_llm_call_shows_on_the_ollama_hop() -> None:
    llm = span("litellm-completion", "a", status="ERROR", attributes={"api_base": "http://127.0.0.1:11434"})
    (ollama,) = derived_hops(llm)
    assert dict(ollama.facts)["status"] == "error"


@pytest.mark.parametrize(
    ("attributes", "model", "host", "is_ollama"),
    [
        ({"model": "ollama_chat/qwen2.5:0.5b"}, "qwen2.5:0.5b", None, True),
        ({"model": "qwen2.5:7b", "api_base": "myhost:11434"}, "qwen2.5:7b", "myhost:11434", True),
        ({"model": "llama3", "api_base": "http://[::1]:8080/api/generate"}, "llama3", "[::1]:8080", True),
        ({"model": "gpt-4o", "api_base": "https://api.openai.com/v1"}, "gpt-4o", "api.openai.com", False),
        ({"model": "x", "api_base": "http://h:notaport/"}, "x", "h", False),
    ],
)
def test_model_endpoint(attributes: dict, model: str, host: str | None, is_ollama: bool) -> None:
    endpoint = model_endpoint(span("llm", "a", attributes=attributes))
    assert (endpoint.model, endpoint.host, endpoint.is_ollama) == (model, host, is_ollama)


def test_unfinished_llm_span_has_open_ended_hops() -> None:
    llm = span("litellm-completion", "a", end_ms=None, attributes={"model": "ollama/qwen2.5"})
    assert all(hop.duration_ns is None for hop in derived_hops(llm))


@given(st.integers(0, 2**63), st.one_of(st.none(), st.integers(0, 2**63)))
def test_elapsed_is_unknown_while_running_and_never_negative(start: int, end: int | None) -> None:
    """Spans and derived hops share this: a running span has no duration, and an end a little
    before the start (two processes' clocks) is zero, not a negative time."""
    elapsed = elapsed_ns(start, end)
    if end is None:
        assert elapsed is None
    else:
        assert elapsed == (end - start if end >= start else 0)
