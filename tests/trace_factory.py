"""Real traces for tests, logged to a real MLflow server with the mlflow client.

Each `log_*` function logs one kind of trace (or several) and returns its MLflow
trace id(s), so tests of every layer can share them:

    use_server(mlflow_server.url)             # once; or pass tracking_uri= to each call
    trace_id = log_nested_trace("my-exp")

Logging is synchronous (MLFLOW_ENABLE_ASYNC_TRACE_LOGGING=false): the async
exporter silently drops traces when its queue fills, and a test must know that
every trace it made is on the server when the call returns.

`mlflow` is imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

HOSTILE_STRINGS = {
    "rich_markup": "[bold red]x[/]",
    "ansi_clear": "\x1b[2J",
    "osc52_clipboard": "\x1b]52;c;aGVsbG8=\x07",
    "title_change": "\x1b]0;pwned\x07",
    "bidi_override": "abc\u202edef",
    "control_chars": "a\x00b\x07c\x08d\x7fe\r\nf",
}
HOSTILE_NAME = "[bold red]x[/]\x1b[2J\x1b]0;pwned\x07\u202e"
NESTED_DEPTH = 30
LARGE_VALUE_BYTES = 1_000_000


def use_server(tracking_uri: str) -> None:
    """Point the mlflow client at `tracking_uri`, logging synchronously."""
    import mlflow

    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    mlflow.set_tracking_uri(tracking_uri)


def _experiment_id(experiment_name: str, tracking_uri: str | None) -> str:
    import mlflow

    if tracking_uri is not None:
        use_server(tracking_uri)
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    return mlflow.set_experiment(experiment_name).experiment_id


def log_nested_trace(
    experiment_name: str, *, tracking_uri: str | None = None, prompt: str = "Explain Qwen 2.5."
) -> str:
    """chat_turn (CHAIN) -> litellm-completion (LLM, model/api_base, token usage)."""
    import mlflow

    _experiment_id(experiment_name, tracking_uri)
    with mlflow.start_span("chat_turn", span_type="CHAIN") as root:
        root.set_inputs({"prompt": prompt})
        with mlflow.start_span("litellm-completion", span_type="LLM") as llm:
            llm.set_inputs({"messages": [{"role": "user", "content": prompt}]})
            llm.set_attributes(
                {
                    "model": "qwen2.5:0.5b",
                    "api_base": "http://127.0.0.1:11434/api/chat",
                    "call_type": "completion",
                    "response_cost": 0.0,
                    "mlflow.chat.tokenUsage": {
                        "input_tokens": 26,
                        "output_tokens": 14,
                        "total_tokens": 40,
                    },
                }
            )
            answer = {"choices": [{"message": {"role": "assistant", "content": "A small LLM."}}]}
            llm.set_outputs(answer)
        root.set_outputs({"answer": "A small LLM."})
    return root.trace_id


class TracedFailure(RuntimeError):
    """The exception the error trace records."""


def log_error_trace(experiment_name: str, *, tracking_uri: str | None = None) -> str:
    """agent (CHAIN, ERROR) -> tool (TOOL, ERROR with an `exception` event)."""
    import mlflow

    _experiment_id(experiment_name, tracking_uri)
    root_holder: list[Any] = []
    try:
        with mlflow.start_span("agent", span_type="CHAIN") as root:
            root_holder.append(root)
            root.set_inputs({"question": "divide"})
            with mlflow.start_span("tool", span_type="TOOL") as tool:
                tool.set_inputs({"a": 1, "b": 0})
                tool.add_event(mlflow.entities.SpanEvent("retrying", attributes={"attempt": 2}))
                raise TracedFailure("division by zero in tool")
    except TracedFailure:
        pass
    return root_holder[0].trace_id


def log_many_traces(
    experiment_name: str, count: int, *, tracking_uri: str | None = None, name: str = "quick"
) -> list[str]:
    """`count` quick one-span traces, in the order they were logged."""
    import mlflow

    _experiment_id(experiment_name, tracking_uri)
    trace_ids = []
    for index in range(count):
        with mlflow.start_span(name, span_type="CHAIN") as span:
            span.set_inputs({"index": index})
            span.set_outputs({"ok": True})
        trace_ids.append(span.trace_id)
    return trace_ids


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": "bottom"}
    for level in range(depth - 1):
        value = {f"level_{depth - 1 - level}": value}
    return value


def log_hostile_trace(experiment_name: str, *, tracking_uri: str | None = None) -> str:
    """Names, inputs, outputs and attributes crafted to break a terminal or a markup parser."""
    import mlflow

    _experiment_id(experiment_name, tracking_uri)
    with mlflow.start_span(HOSTILE_NAME, span_type="CHAIN") as root:
        root.set_inputs({"nested": _nested(NESTED_DEPTH), **HOSTILE_STRINGS})
        root.set_outputs("".join(HOSTILE_STRINGS.values()))
        root.set_attributes({key: value for key, value in HOSTILE_STRINGS.items()})
        with mlflow.start_span(HOSTILE_STRINGS["rich_markup"], span_type="LLM") as child:
            child.set_inputs({"big": "x" * LARGE_VALUE_BYTES})
            child.set_attribute("model", HOSTILE_STRINGS["osc52_clipboard"])
            child.set_outputs(HOSTILE_STRINGS["ansi_clear"])
    return root.trace_id


def log_large_trace(
    experiment_name: str, span_count: int = 10_000, *, tracking_uri: str | None = None
) -> str:
    """A root span with `span_count` children: `span_count + 1` spans in one trace.

    Logging span by span costs one HTTP request each (~16 ms: 10,000 spans would
    take minutes), so the spans are built as MLflow `Span` entities and sent with
    the mlflow client's own `log_spans` in a few batches, the OTLP path the server
    uses for any other program's spans.
    """
    import base64
    import json
    import secrets
    import time

    from mlflow.entities import Span
    from mlflow.tracing.client import TracingClient

    experiment_id = _experiment_id(experiment_name, tracking_uri)
    trace_bytes = secrets.token_bytes(16)
    trace_id = "tr-" + trace_bytes.hex()
    root_id = secrets.token_bytes(8)
    start_ns = time.time_ns()

    def span_dict(
        span_id: bytes,
        parent: bytes | None,
        name: str,
        offset_us: int,
        span_type: str,
        inputs: Any,
        outputs: Any,
    ) -> dict[str, Any]:
        end_offset = span_count * 1000 + 1000 if parent is None else offset_us + 500
        return {
            "trace_id": base64.b64encode(trace_bytes).decode(),
            "span_id": base64.b64encode(span_id).decode(),
            "parent_span_id": base64.b64encode(parent).decode() if parent else None,
            "name": name,
            "start_time_unix_nano": start_ns + offset_us * 1000,
            "end_time_unix_nano": start_ns + end_offset * 1000,
            "events": [],
            "status": {"code": "STATUS_CODE_OK", "message": ""},
            "attributes": {
                "mlflow.traceRequestId": json.dumps(trace_id),
                "mlflow.spanType": json.dumps(span_type),
                "mlflow.spanInputs": json.dumps(inputs),
                "mlflow.spanOutputs": json.dumps(outputs),
            },
            "links": [],
        }

    dicts = [span_dict(root_id, None, "large", 0, "CHAIN", {"children": span_count}, {"done": True})]
    for index in range(span_count):
        dicts.append(
            span_dict(
                secrets.token_bytes(8),
                root_id,
                f"step-{index}",
                index * 1000 + 1,
                "TOOL",
                {"index": index},
                {"value": index * 2},
            )
        )
    spans = [Span.from_dict(item) for item in dicts]
    client = TracingClient()
    # Children first, root last: the trace turns OK only when everything is there.
    batches = [spans[1:][i : i + 2000] for i in range(0, span_count, 2000)] + [spans[:1]]
    for batch in batches:
        client.log_spans(experiment_id, batch)
    return trace_id


def log_agent_run(
    experiment_name: str,
    *,
    tracking_uri: str | None = None,
    question: str = "Weather in Paris?",
    search_ms: int = 300,
    answer_tokens: tuple[int, int] = (120, 30),
    answer: str = "Sunny, 21 °C.\nLight wind from the west.",
    fail_second_search: bool = False,
    extra_step: bool = False,
    session: str | None = None,
    cost_usd: float | None = None,
) -> str:
    """One run of a small agent, timed exactly (explicit start and end times):

    agent (AGENT) > plan (LLM) > search (TOOL) x2 > [check (CHAIN)] > answer (LLM).

    Two runs differing in `search_ms`, `answer_tokens` and `answer` are what a
    comparison has to tell apart; `fail_second_search` turns the second search
    into an ERROR with an exception event; `extra_step` adds a span only that run has;
    `session` puts it in a chat session; `cost_usd` records the answer's cost as MLflow does
    (`mlflow.llm.cost` on the span, which the server sums into the trace's `mlflow.trace.cost`).
    """
    import time

    import mlflow
    from mlflow.entities import SpanEvent, SpanStatusCode

    experiment_id = _experiment_id(experiment_name, tracking_uri)
    t0 = time.time_ns() - 10_000_000_000
    ms = 1_000_000

    def child(parent: Any, name: str, span_type: str, start_ms: int, **attributes: Any) -> Any:
        return mlflow.start_span_no_context(
            name,
            span_type=span_type,
            parent_span=parent,
            inputs=attributes.pop("inputs", None),
            attributes=attributes or None,
            start_time_ns=t0 + start_ms * ms,
        )

    metadata = {"mlflow.trace.session": session} if session else None
    root = mlflow.start_span_no_context(
        "agent",
        span_type="AGENT",
        inputs={"question": question},
        experiment_id=experiment_id,
        start_time_ns=t0,
        metadata=metadata,
    )
    plan = child(root, "plan", "LLM", 10, inputs={"messages": [{"role": "user", "content": question}]})
    plan.set_attributes(
        {"model": "qwen2.5:0.5b", "mlflow.chat.tokenUsage": {"input_tokens": 40, "output_tokens": 12}}
    )
    plan.end(outputs={"plan": "look up the forecast twice"}, end_time_ns=t0 + 110 * ms)
    at = 120
    for number in (1, 2):
        search = child(root, "search", "TOOL", at, inputs={"query": f"weather Paris #{number}"})
        if number == 2 and fail_second_search:
            search.add_event(
                SpanEvent("exception", attributes={"exception.message": "HTTP 503 from the weather API"})
            )
            search.end(status=SpanStatusCode.ERROR, end_time_ns=t0 + (at + search_ms) * ms)
        else:
            search.end(outputs={"forecast": "sunny"}, end_time_ns=t0 + (at + search_ms) * ms)
        at += search_ms + 10
    if extra_step:
        check = child(root, "check", "CHAIN", at, inputs={"forecast": "sunny"})
        check.end(outputs={"ok": True}, end_time_ns=t0 + (at + 50) * ms)
        at += 60
    final = child(root, "answer", "LLM", at, inputs={"messages": [{"role": "user", "content": question}]})
    final.set_attributes(
        {
            "model": "qwen2.5:0.5b",
            "mlflow.chat.tokenUsage": {"input_tokens": answer_tokens[0], "output_tokens": answer_tokens[1]},
        }
    )
    if cost_usd is not None:
        final.set_attribute(
            "mlflow.llm.cost",
            {"input_cost": cost_usd / 2, "output_cost": cost_usd / 2, "total_cost": cost_usd},
        )
    final.end(outputs={"answer": answer}, end_time_ns=t0 + (at + 200) * ms)
    root.end(outputs={"answer": answer}, end_time_ns=t0 + (at + 210) * ms)
    return root.trace_id


class OpenTrace:
    """A trace whose root span stays open until `finish()`: it ends after later traces.

    With `with_child=True` a finished child span is logged at once, so the server
    already lists the trace, as IN_PROGRESS, before the root ends.
    """

    def __init__(
        self, experiment_name: str, *, tracking_uri: str | None = None, with_child: bool = False
    ) -> None:
        import mlflow

        experiment_id = _experiment_id(experiment_name, tracking_uri)
        self.root = mlflow.start_span_no_context(
            "long-running", span_type="CHAIN", experiment_id=experiment_id
        )
        self.trace_id: str = self.root.trace_id
        if with_child:
            child = mlflow.start_span_no_context("first-step", parent_span=self.root)
            child.end(outputs={"step": 1})

    def finish(self) -> str:
        self.root.end(outputs={"done": True})
        return self.trace_id


@pytest.fixture()
def trace_server(mlflow_server: Any) -> Iterator[str]:
    """The session's MLflow server, with the mlflow client pointed at it; yields its URL."""
    use_server(mlflow_server.url)
    yield mlflow_server.url


@pytest.fixture()
def experiment_name(request: pytest.FixtureRequest) -> str:
    """A fresh experiment name per test, so tests never see each other's traces."""
    import uuid

    return f"{request.node.name[:60]}-{uuid.uuid4().hex[:8]}"
