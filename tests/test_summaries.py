"""A trace's name and models for the list: the name tag, else the root span's name, else service.name."""

from __future__ import annotations

import dataclasses

from test_call_path import span, trace_of
from test_conventions import sample

from tracetui.tracking.models import STATE_IN_PROGRESS
from tracetui.tracking.summaries import (
    PENDING,
    UNKNOWN,
    UNNAMED,
    SummaryCache,
    TraceSummary,
    list_name,
    model_of,
    says_nothing,
    summarize,
)


def test_what_says_nothing() -> None:
    for name in (
        "",
        "  ",
        "POST",
        "get",
        "tr-c49e2ddbc9aee59e30aaa80c2aca41e5",
        "0123456789abcdef",
        "42",
        "11abee5d-73e1-47dc-82df-7fb4af23a61c",
    ):
        assert says_nothing(name), name
    for name in ("chat qwen2.5", "ChatCompletion", "chat_turn", "POST /api/chat", "beef"):
        assert not says_nothing(name), name


def test_list_name_prefers_the_tag_then_the_root_then_the_service() -> None:
    otlp = sample("otlp_genai_get_trace.json").info
    assert otlp.name == "" and otlp.tags["service.name"] == "scratch-genai"
    assert list_name(otlp) == "scratch-genai"  # before the spans are read: the program
    assert list_name(otlp, TraceSummary("chat qwen2.5")) == "chat qwen2.5"
    assert list_name(otlp, TraceSummary("POST")) == "scratch-genai: POST"
    assert list_name(otlp, TraceSummary("")) == "scratch-genai"
    assert list_name(otlp, TraceSummary("0123456789abcdef0123")) == "scratch-genai"
    bare = dataclasses.replace(otlp, tags={})
    assert list_name(bare) == PENDING
    assert list_name(bare, UNKNOWN) == UNNAMED
    assert list_name(bare, TraceSummary("POST")) == "POST"
    assert list_name(bare, TraceSummary("c49e2ddbc9aee59e30aaa80c2aca41e5")) == UNNAMED  # never a bare id
    tagged = dataclasses.replace(otlp, name="chat_turn")
    assert list_name(tagged, TraceSummary("other")) == "chat_turn"


def test_models_are_the_answering_models_in_call_order() -> None:
    assert summarize(sample("otlp_genai_get_trace.json")) == TraceSummary("chat qwen2.5", ("qwen2.5:latest",))
    assert summarize(sample("otlp_openinference_get_trace.json")).models == ("qwen2.5:latest",)
    two = trace_of(
        span("agent", "1" * 16, span_type="AGENT"),
        span("a", "2" * 16, "1" * 16, start_ms=1, attributes={"gen_ai.response.model": "qwen2.5:7b"}),
        span("b", "3" * 16, "1" * 16, start_ms=2, attributes={"llm.model_name": "llama3.2"}),
        span("c", "4" * 16, "1" * 16, start_ms=3, attributes={"model": "ollama_chat/qwen2.5:7b"}),
    )
    assert summarize(two) == TraceSummary("agent", ("qwen2.5:7b", "llama3.2"))


def test_the_cache_fetches_each_finished_trace_once() -> None:
    info = sample("otlp_genai_get_trace.json").info
    running = dataclasses.replace(info, trace_id="tr-running", state=STATE_IN_PROGRESS)
    huge = dataclasses.replace(info, trace_id="tr-huge", metadata={"mlflow.trace.sizeBytes": "5500000"})
    cache = SummaryCache(limit=2)
    assert cache.wanted([info, running, huge]) == [info.trace_id]
    assert cache.get("tr-huge") == UNKNOWN  # too big to read for a name: never fetched
    assert cache.wanted([info]) == []  # being fetched
    cache.put({info.trace_id: None})  # not exported yet: ask again
    assert cache.wanted([info]) == [info.trace_id]
    cache.put({info.trace_id: TraceSummary("chat", ("qwen2.5:latest",))})
    assert cache.wanted([info]) == []
    assert model_of(cache, [info.trace_id, "tr-huge"]) == {info.trace_id: "qwen2.5:latest"}
    cache.put({"a": UNKNOWN, "b": UNKNOWN})
    assert cache.get(info.trace_id) is None  # the oldest goes past the limit
