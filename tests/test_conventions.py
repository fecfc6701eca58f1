"""Traces from other instrumentations: conversations and the call path read from the conventions.

The samples are real `traces/get` answers of a real MLflow server for traces sent over OTLP by
opentelemetry-instrumentation-openai-v2 (GenAI conventions; with a real HTTP client span by
opentelemetry-instrumentation-httpx) and openinference-instrumentation-openai, calling the fake
Ollama's /v1/chat/completions (tests/test_otlp_instrumentation.py makes them live).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_call_path import span, trace_of

from tracetui.tracking import call_path as call_path_module
from tracetui.tracking.call_path import (
    HOP_MODEL,
    HOP_OLLAMA,
    call_path,
    derived_hops,
    explicit_hop_kind,
    model_endpoint,
    remember_ollama_address,
)
from tracetui.tracking.conversation import messages_lines, span_conversation
from tracetui.tracking.decode import decode_trace
from tracetui.tracking.models import SpanEvent, Trace
from tracetui.tracking.sequence import build_sequence, to_text_lines

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture(autouse=True)
def no_known_ollama() -> Iterator[None]:
    saved = set(call_path_module._known_ollama_hosts)
    call_path_module._known_ollama_hosts.clear()
    yield
    call_path_module._known_ollama_hosts.clear()
    call_path_module._known_ollama_hosts.update(saved)


def sample(name: str) -> Trace:
    return decode_trace(json.loads((SAMPLES / name).read_text()))


# --- conversations ------------------------------------------------------------------------


def test_genai_parts_format_from_a_real_trace() -> None:
    llm = sample("otlp_genai_get_trace.json").spans[0]
    assert span_conversation(llm, "inputs") == [("system", "Be brief."), ("user", "Hi there")]
    assert span_conversation(llm, "outputs") == [("assistant", "Hello from the fake Qwen.")]


def test_openinference_from_a_real_trace() -> None:
    llm = sample("otlp_openinference_get_trace.json").spans[0]
    assert span_conversation(llm, "inputs") == [("system", "Be brief."), ("user", "Hi there")]
    assert span_conversation(llm, "outputs") == [("assistant", "Hello from the fake Qwen.")]


def test_openinference_flattened_attributes_alone() -> None:
    attributes = {
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Be brief.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.contents.0.message_content.type": "text",
        "llm.input_messages.1.message.contents.0.message_content.text": "What is 2+2?",
        "llm.input_messages.10.message.role": "tool",
        "llm.input_messages.10.message.tool_call_id": "call_1",
        "llm.input_messages.10.message.content": "4",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_2",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "add",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"a": 2}',
    }
    llm = span("ChatCompletion", "a" * 16, attributes=attributes)
    assert span_conversation(llm, "inputs") == [
        ("system", "Be brief."),
        ("user", "What is 2+2?"),
        ("tool", "[call_1] 4"),  # message 10 after message 1: numeric order
    ]
    assert span_conversation(llm, "outputs") == [("assistant", '→ tool call add({"a": 2}) [call_2]')]


def test_genai_tool_calls_results_reasoning_and_system_instructions() -> None:
    inputs = [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "Need the tool."},
                {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Paris"}},
            ],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "rainy"}]},
        {"role": "user", "parts": [{"type": "blob", "modality": "image", "mime_type": "image/png"}]},
    ]
    attributes = {"gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be terse."}])}
    llm = span("chat qwen2.5", "b" * 16, span_type="CHAT_MODEL", attributes=attributes)
    llm = type(llm)(**{**{f: getattr(llm, f) for f in llm.__slots__}, "inputs": inputs})
    assert span_conversation(llm, "inputs") == [
        ("system", "Be terse."),
        ("user", "Weather in Paris?"),
        ("assistant", '(reasoning) Need the tool.\n→ tool call weather({"city": "Paris"}) [c1]'),
        ("tool", "← tool result [c1]: rainy"),
        ("user", '{"type": "blob", "modality": "image", "mime_type": "image/png"}'),  # raw, never empty
    ]


def test_genai_messages_read_from_the_attribute_when_mlflow_did_not_translate() -> None:
    messages = [{"role": "assistant", "parts": [{"type": "text", "content": "Hi"}], "finish_reason": "stop"}]
    llm = span("chat", "c" * 16, attributes={"gen_ai.output.messages": json.dumps(messages)})
    assert span_conversation(llm, "outputs") == [("assistant", "Hi")]


def test_event_based_genai_messages() -> None:
    events = (
        SpanEvent("gen_ai.system.message", 1, {"content": "Be brief."}),
        SpanEvent("gen_ai.user.message", 2, {"content": "Hi"}),
        SpanEvent("gen_ai.choice", 3, {"message": json.dumps({"role": "assistant", "content": "Hello"})}),
        SpanEvent("gen_ai.choice", 4, {"index": 1}),
    )
    llm = span("chat", "d" * 16, events=events)
    assert span_conversation(llm, "inputs") == [("system", "Be brief."), ("user", "Hi")]
    assert span_conversation(llm, "outputs") == [("assistant", "Hello"), ("assistant", '{"index": 1}')]


def test_openai_and_mlflow_messages_and_unknown_shapes() -> None:
    completion = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "x", "function": {"name": "f", "arguments": "{}"}}],
                }
            }
        ]
    }
    assert messages_lines(completion) == [("assistant", "→ tool call f({}) [x]")]
    assert messages_lines({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}) == [
        ("user", "a")
    ]
    assert messages_lines([{"role": "user"}]) == [("user", "(empty)")]
    assert messages_lines({"prompt": "hi"}) is None  # not a conversation: the caller shows the JSON
    assert messages_lines([{"role": "user", "content": {"odd": 1}}]) == [("user", '{"odd": 1}')]


# --- the call path ------------------------------------------------------------------------


def test_a_real_http_client_span_to_ollama_is_the_ollama_hop() -> None:
    trace = sample("otlp_genai_http_get_trace.json")
    llm, http = sorted(trace.spans, key=lambda s: s.start_time_ns)
    assert llm.name.startswith("chat") and http.name == "POST"
    # The fake listens on a random port: it is Ollama because it is the configured Ollama address.
    assert explicit_hop_kind(http, llm) is None
    remember_ollama_address(http.attributes["http.url"])
    assert explicit_hop_kind(http, llm) == HOP_OLLAMA
    assert derived_hops(llm, [http]) == []  # no derived sibling beside the real span
    [model_hop] = derived_hops(http, [], parent=llm)
    assert model_hop.kind == HOP_MODEL and model_hop.title == "qwen2.5:0.5b"
    port = http.attributes["http.url"].split(":")[2].split("/")[0]
    assert call_path(trace) == [llm.name, f"Ollama 127.0.0.1:{port}", "qwen2.5:0.5b"]
    text = "\n".join(to_text_lines(build_sequence(trace)))
    assert f"Ollama 127.0.0.1:{port}" in text and "POST /v1/chat/completions" in text
    assert "HTTP 200" in text and "qwen2.5:0.5b" in text


def test_the_model_hop_names_the_response_model() -> None:
    trace = sample("otlp_genai_get_trace.json")
    llm = trace.spans[0]
    assert llm.attributes["gen_ai.request.model"] == "qwen2.5"
    assert model_endpoint(llm).model == "qwen2.5:latest"
    # Ollama's OpenAI layer answers with system_fingerprint fp_ollama: an Ollama hop, host unknown.
    assert [hop.title for hop in derived_hops(llm)] == ["Ollama", "qwen2.5:latest"]


def test_ollama_from_provider_server_address_and_known_address() -> None:
    by_provider = span(
        "chat", "e" * 16, span_type="CHAT_MODEL", attributes={"gen_ai.provider.name": "ollama"}
    )
    assert model_endpoint(by_provider).is_ollama
    by_system = span("chat", "e" * 16, span_type="CHAT_MODEL", attributes={"gen_ai.system": "ollama"})
    assert model_endpoint(by_system).is_ollama
    by_port = span(
        "chat",
        "f" * 16,
        span_type="CHAT_MODEL",
        attributes={"gen_ai.provider.name": "openai", "server.address": "gpu-box", "server.port": 11434},
    )
    endpoint = model_endpoint(by_port)
    assert endpoint.is_ollama and endpoint.host == "gpu-box:11434"
    hops = derived_hops(by_port)
    assert hops[0].title == "Ollama gpu-box:11434"
    assert ("host", "gpu-box:11434") in hops[0].facts
    elsewhere = span(
        "chat",
        "1" * 16,
        span_type="CHAT_MODEL",
        attributes={"gen_ai.provider.name": "openai", "server.address": "llm.lan", "server.port": 8080},
    )
    assert not model_endpoint(elsewhere).is_ollama
    remember_ollama_address("http://llm.lan:8080")
    assert model_endpoint(elsewhere).is_ollama


def test_a_v1_call_beside_an_api_chat_call_on_the_same_host_is_ollama() -> None:
    v1 = span(
        "chat",
        "2" * 16,
        span_type="CHAT_MODEL",
        start_ms=0,
        attributes={"gen_ai.request.model": "qwen2.5", "server.address": "box", "server.port": 9000},
    )
    native = span(
        "litellm-completion",
        "3" * 16,
        start_ms=10,
        attributes={"model": "ollama_chat/qwen2.5", "api_base": "http://box:9000/api/chat"},
    )
    assert not model_endpoint(v1).is_ollama
    assert call_path(trace_of(v1, native))[1:] == ["Ollama box:9000", "qwen2.5"]
