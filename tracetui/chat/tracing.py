"""Every chat turn becomes ONE MLflow trace whose span tree is the path the turn took:

    chat_turn (CHAIN)                 the Python program: prompt in, answer out
      load litellm                    litellm's first import (the first turn of a process only)
      litellm-acompletion (LLM)       messages, model, parameters, mlflow.chat.tokenUsage
        Ollama 127.0.0.1:11434        endpoint, HTTP status, time to first byte
          qwen2.5:0.5b (LLM)          tokens in/out, time to first token, tokens/s, done reason

Why not `mlflow.litellm.autolog()`: with async streaming it loses whole traces
(see DESIGN.md). Why not MLflow's fluent tracing either: its exporter logs in
the background, drops traces when its queue fills and is configured by global
state. Here the spans are built after the turn from a `TurnRecord` with
explicit start and end times, and written synchronously over MLflow's REST API
by `tracetui.chat.trace_writer.TurnTracer`. This module only builds: a
`TurnRecord` in, an `mlflow.entities.Trace` out, no I/O, no shared state (each
build has its own tracer, so builds may run in parallel).

Every span carries `tracetui.hop` = python | setup | litellm | ollama | model, so the
viewer can draw the path without guessing from names.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from tracetui.chat.record import TurnRecord

ROOT_SPAN_NAME = "chat_turn"
LOAD_SPAN_NAME = "load litellm"
LLM_SPAN_NAME = "litellm-acompletion"
HOP_ATTRIBUTE = "tracetui.hop"
SESSION_METADATA = "mlflow.trace.session"
_PREVIEW_CHARS = 1000


def build_trace(record: TurnRecord, experiment_id: str, trace_id: str | None = None) -> Any:
    """The mlflow.entities.Trace for one finished turn (pure: no I/O).

    `trace_id` is the id the server gave the trace where the server chooses it (the v2
    trace API); by default the trace id the record chose when the turn started.
    """
    trace_id = trace_id or record.trace_id
    end_ns = max(record.end_ns, record.start_ns)
    usage = _token_usage(record)
    spans = TurnSpans(record, trace_id)
    root = _program_span(spans, record)
    _load_span(spans, record, root)
    llm = _litellm_span(spans, record, root, usage)
    _ollama_hop(spans, record, llm, end_ns)
    _end_litellm_span(llm, record, usage, end_ns)
    _end_program_span(root, record, end_ns)
    return _trace(trace_id, experiment_id, record, end_ns, usage, spans.made)


# -- ids and spans -----------------------------------------------------------------------


class TurnIds:
    """OpenTelemetry ids derived from the trace id the turn chose when it started.

    Span ids too (the n-th span made gets the n-th id): building the same record
    again gives the same spans, so a replayed record overwrites its trace instead
    of doubling its spans.
    """

    def __init__(self, turn_trace_id: str) -> None:
        self.trace_id = int(turn_trace_id.removeprefix("tr-"), 16)
        self._spans_made = 0

    def generate_trace_id(self) -> int:
        return self.trace_id

    def is_trace_id_random(self) -> bool:
        return True  # the turn chose it at random (a uuid4) when it started

    def generate_span_id(self) -> int:
        self._spans_made += 1
        seed = f"{self.trace_id:032x}/{self._spans_made}".encode()
        return int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") or 1


@functools.cache
def _resource() -> Any:
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": "tracetui"})


class TurnSpans:
    """The spans of one trace as they are made, by a tracer of its own.

    The tracer is never installed globally (no processors, no exporter) and lives
    only as long as this build, so nothing is shared between turns.
    """

    def __init__(self, record: TurnRecord, trace_id: str) -> None:
        from opentelemetry.sdk.trace import TracerProvider

        provider = TracerProvider(
            resource=_resource(), id_generator=TurnIds(record.trace_id), shutdown_on_exit=False
        )
        self._tracer = provider.get_tracer("tracetui.chat")
        self.trace_id = trace_id
        self.made: list[Any] = []

    def start(self, name: str, span_type: str, start_ns: int, parent: Any, hop: str) -> Any:
        from mlflow.entities import LiveSpan
        from opentelemetry import trace as otel_trace

        context = otel_trace.set_span_in_context(parent._span) if parent is not None else None
        otel_span = self._tracer.start_span(name, context=context, start_time=start_ns)
        span = LiveSpan(otel_span, self.trace_id, span_type)
        span.set_attribute(HOP_ATTRIBUTE, hop)
        self.made.append(span)
        return span


# -- one function per span -----------------------------------------------------------------


def _program_span(spans: TurnSpans, record: TurnRecord) -> Any:
    """The program: the turn as the user saw it (ended last, by `_end_program_span`)."""
    from mlflow.entities import SpanType

    root = spans.start(ROOT_SPAN_NAME, SpanType.CHAIN, record.start_ns, None, "python")
    root.set_inputs({"prompt": record.prompt})
    _set_attributes(
        root,
        {
            "tracetui.session_id": record.session_id,
            "tracetui.turn_index": record.turn_index,
            "tracetui.cancelled": record.cancelled,
            "model": record.model,
        },
    )
    return root


def _end_program_span(root: Any, record: TurnRecord, end_ns: int) -> None:
    from mlflow.entities import SpanStatus, SpanStatusCode

    root.set_outputs({"answer": record.answer})
    if record.error:
        root.set_status(SpanStatus(SpanStatusCode.ERROR, record.error))
    root.end(end_time_ns=end_ns)


def _load_span(spans: TurnSpans, record: TurnRecord, root: Any) -> None:
    """The program loading litellm (first turn only): without it the trace has a hole of seconds."""
    from mlflow.entities import SpanType

    if record.load_start_ns is None or record.load_end_ns is None:
        return
    load = spans.start(LOAD_SPAN_NAME, SpanType.UNKNOWN, record.load_start_ns, root, "setup")
    load.set_attribute("tracetui.why", "litellm's first import in this process")
    load.end(end_time_ns=max(record.load_end_ns, record.load_start_ns))


def _litellm_span(spans: TurnSpans, record: TurnRecord, root: Any, usage: dict[str, int] | None) -> Any:
    """litellm: an LLM span in the shape mlflow.litellm.autolog gives, so MLflow's UI shows chat."""
    from mlflow.entities import SpanType

    llm_start = record.call_start_ns or record.start_ns
    llm = spans.start(LLM_SPAN_NAME, SpanType.LLM, llm_start, root, "litellm")
    llm.set_inputs({"model": record.model, "messages": record.messages, **record.params, "stream": True})
    _set_attributes(
        llm,
        {
            "model": record.model,
            "api_base": record.api_base,
            "call_type": "acompletion",
            "stream": True,
            "mlflow.llm.model": record.model.partition("/")[2] or record.model,
            "mlflow.llm.provider": record.model.partition("/")[0] if "/" in record.model else None,
        },
    )
    if usage is not None:
        llm.set_attribute("mlflow.chat.tokenUsage", usage)
    return llm


def _end_litellm_span(llm: Any, record: TurnRecord, usage: dict[str, int] | None, end_ns: int) -> None:
    if record.error:
        _fail(llm, record.exception_type or "Error", record.exception_message or record.error, end_ns)
    llm.set_outputs(
        {
            "object": "chat.completion",
            "model": record.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": record.answer},
                    "finish_reason": record.finish_reason or ("cancelled" if record.cancelled else None),
                }
            ],
            "usage": usage
            and {
                "prompt_tokens": usage["input_tokens"],
                "completion_tokens": usage["output_tokens"],
                "total_tokens": usage["total_tokens"],
            },
        }
    )
    llm.end(end_time_ns=end_ns)


def _ollama_hop(spans: TurnSpans, record: TurnRecord, llm: Any, end_ns: int) -> None:
    """The HTTP call to Ollama (and the model under it), where the wire saw a request."""
    from mlflow.entities import SpanType

    wire = record.wire
    if wire is None or wire.request_start_ns is None:
        return
    wire_end = wire.end_ns or end_ns
    parts = urlsplit(wire.url)
    hop = spans.start(f"Ollama {parts.netloc}", SpanType.UNKNOWN, wire.request_start_ns, llm, "ollama")
    body = wire.request_body if isinstance(wire.request_body, dict) else {}
    hop.set_inputs(
        {
            "method": wire.method,
            "url": wire.url,
            "model": body.get("model"),
            "options": body.get("options"),
            "stream": body.get("stream"),
            "message_count": len(body.get("messages") or []),
        }
    )
    _set_attributes(
        hop,
        {
            "http.request.method": wire.method,
            "url.full": wire.url,
            "server.address": parts.hostname,
            "server.port": parts.port,
            "ollama.endpoint": parts.path,
            "http.response.status_code": wire.status_code,
            "time_to_first_byte_ms": _ms(
                wire.headers_ns - wire.request_start_ns if wire.headers_ns else None
            ),
            "time_to_first_line_ms": _ms(
                wire.first_line_ns - wire.request_start_ns if wire.first_line_ns else None
            ),
            "ndjson_lines": wire.lines,
        },
    )
    hop.set_outputs({"status_code": wire.status_code, "final_line": wire.final or None})
    gen = _model_span(spans, record, hop, body, wire_end)

    # Where the failure happened: Ollama's own error line, an HTTP error, no connection.
    if wire.error_line is not None:
        for span in (gen, hop):
            if span is not None:
                _fail(span, "OllamaError", wire.error_line, wire_end)
    elif wire.status_code is not None and wire.status_code >= 400:
        _fail(hop, "HTTPError", f"HTTP {wire.status_code}: {wire.final.get('error', '')}", wire_end)
    elif wire.status_code is None and record.exception_type:
        _fail(hop, record.exception_type, record.exception_message or "", wire_end)
    if gen is not None:
        gen.end(end_time_ns=wire_end)
    hop.end(end_time_ns=wire_end)


def _model_span(spans: TurnSpans, record: TurnRecord, hop: Any, body: dict[str, Any], wire_end: int) -> Any:
    """The model's run, as Ollama's done line describes it; None when no output came."""
    from mlflow.entities import SpanType

    wire = record.wire
    assert wire is not None and wire.request_start_ns is not None
    if wire.first_line_ns is None or wire.status_code != 200:
        return None
    stats = record.generation
    tag = (stats and stats.model_tag) or body.get("model") or record.model
    gen_start = wire.headers_ns or wire.request_start_ns
    if stats and stats.total_ms is not None:
        gen_start = max(wire.request_start_ns, wire_end - int(stats.total_ms * 1e6))
    gen = spans.start(str(tag), SpanType.LLM, gen_start, hop, "model")
    gen.set_inputs({"model": tag, "prompt_tokens": stats and stats.input_tokens})
    gen.set_outputs(
        {
            "done_reason": stats.done_reason if stats else None,
            "output_tokens": stats.output_tokens if stats else None,
        }
    )
    _set_attributes(
        gen,
        {
            "ollama.model": tag,
            "ollama.prompt_eval_count": stats and stats.input_tokens,
            "ollama.eval_count": stats and stats.output_tokens,
            "ollama.total_duration_ms": stats and stats.total_ms,
            "ollama.load_duration_ms": stats and stats.load_ms,
            "ollama.prompt_eval_duration_ms": stats and stats.prompt_eval_ms,
            "ollama.eval_duration_ms": stats and stats.eval_ms,
            "time_to_first_token_ms": stats and stats.time_to_first_token_ms,
            "tokens_per_second": stats and stats.tokens_per_s,
            "done_reason": (stats and stats.done_reason) or ("cancelled" if record.cancelled else None),
        },
    )
    return gen


# -- the trace -------------------------------------------------------------------------------


def trace_metadata(record: TurnRecord, usage: dict[str, int] | None) -> dict[str, str]:
    """The trace's metadata: the session, the previews MLflow's UI shows, who and where from."""
    metadata = {
        "mlflow.trace_schema.version": "3",
        SESSION_METADATA: record.session_id,
        "mlflow.traceInputs": _request_preview(record),
        "mlflow.traceOutputs": _response_preview(record),
        "mlflow.source.name": "tracetui",
        "mlflow.source.type": "LOCAL",
        "mlflow.user": _user(),
    }
    if usage is not None:
        metadata["mlflow.trace.tokenUsage"] = json.dumps(usage)
    return metadata


def _trace(
    trace_id: str,
    experiment_id: str,
    record: TurnRecord,
    end_ns: int,
    usage: dict[str, int] | None,
    spans: list[Any],
) -> Any:
    from mlflow.entities import Trace, TraceData, TraceInfo, TraceLocation
    from mlflow.entities.trace_state import TraceState

    info = TraceInfo(
        trace_id=trace_id,
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=record.start_ns // 1_000_000,
        execution_duration=(end_ns - record.start_ns) // 1_000_000,
        state=TraceState.ERROR if record.error else TraceState.OK,
        request_preview=_request_preview(record),
        response_preview=_response_preview(record),
        trace_metadata=trace_metadata(record, usage),
        tags={"mlflow.traceName": ROOT_SPAN_NAME},
    )
    return Trace(info=info, data=TraceData(spans=[s.to_immutable_span() for s in spans]))


def _request_preview(record: TurnRecord) -> str:
    return json.dumps({"prompt": record.prompt}, ensure_ascii=False)[:_PREVIEW_CHARS]


def _response_preview(record: TurnRecord) -> str:
    return json.dumps({"answer": record.answer}, ensure_ascii=False)[:_PREVIEW_CHARS]


# -- small helpers -----------------------------------------------------------------------------


def _fail(span: Any, kind: str, message: str, at_ns: int) -> None:
    from mlflow.entities import SpanEvent, SpanStatus, SpanStatusCode

    span.add_event(
        SpanEvent(
            name="exception",
            timestamp=at_ns,
            attributes={"exception.type": kind, "exception.message": message},
        )
    )
    span.set_status(SpanStatus(SpanStatusCode.ERROR, f"{kind}: {message}"))


def _set_attributes(span: Any, attributes: dict[str, Any]) -> None:
    """Set only what is known: an attribute without a value is noise in every viewer."""
    span.set_attributes({k: v for k, v in attributes.items() if v is not None})


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 3)


def _token_usage(record: TurnRecord) -> dict[str, int] | None:
    gen = record.generation
    tokens_in = record.input_tokens if record.input_tokens is not None else (gen and gen.input_tokens)
    tokens_out = record.output_tokens if record.output_tokens is not None else (gen and gen.output_tokens)
    if not isinstance(tokens_in, int) or not isinstance(tokens_out, int):
        return None
    return {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"
