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
`TurnRecord` in, an `mlflow.entities.Trace` out, no I/O.

Every span carries `tracetui.hop` = python | setup | litellm | ollama | model, so the
viewer can draw the path without guessing from names.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import threading
from typing import Any
from urllib.parse import urlsplit

from tracetui.chat.record import TurnRecord

ROOT_SPAN_NAME = "chat_turn"
LOAD_SPAN_NAME = "load litellm"
LLM_SPAN_NAME = "litellm-acompletion"
HOP_ATTRIBUTE = "tracetui.hop"
SESSION_METADATA = "mlflow.trace.session"
_PREVIEW_CHARS = 1000


# -- building the trace ------------------------------------------------------------------


_build_lock = threading.Lock()
_tracer: Any = None
_ids: Any = None


def _private_tracer() -> tuple[Any, Any]:
    """A tracer of our own, never installed globally: no processors, no exporter, no leaks."""
    global _tracer, _ids
    if _tracer is None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

        class FixedTraceIds(RandomIdGenerator):
            """Ids derived from the trace id the turn chose when it started.

            Span ids too: building the same record again gives the same spans, so a
            replayed record overwrites its trace instead of doubling its spans.
            """

            trace_id = 0
            spans_made = 0

            def generate_trace_id(self) -> int:
                return self.trace_id

            def generate_span_id(self) -> int:
                self.spans_made += 1
                seed = f"{self.trace_id:032x}/{self.spans_made}".encode()
                return int.from_bytes(hashlib.sha256(seed).digest()[:8], "big") or 1

        _ids = FixedTraceIds()
        provider = TracerProvider(resource=Resource.create({"service.name": "tracetui"}), id_generator=_ids)
        _tracer = provider.get_tracer("tracetui.chat")
    assert _ids is not None
    return _tracer, _ids


def _exception_event(kind: str, message: str, at_ns: int) -> Any:
    from mlflow.entities import SpanEvent

    return SpanEvent(
        name="exception",
        timestamp=at_ns,
        attributes={"exception.type": kind, "exception.message": message},
    )


def _fail(span: Any, kind: str, message: str, at_ns: int) -> None:
    from mlflow.entities import SpanStatus, SpanStatusCode

    span.add_event(_exception_event(kind, message, at_ns))
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


def build_trace(record: TurnRecord, experiment_id: str) -> Any:
    """The mlflow.entities.Trace for one finished turn (pure: no I/O)."""
    with _build_lock:
        return _build_trace(record, experiment_id)


def _build_trace(record: TurnRecord, experiment_id: str) -> Any:
    from mlflow.entities import LiveSpan, SpanType, Trace, TraceData, TraceInfo, TraceLocation
    from mlflow.entities.trace_state import TraceState
    from opentelemetry import trace as otel_trace

    tracer, ids = _private_tracer()
    ids.trace_id = int(record.trace_id.removeprefix("tr-"), 16)
    ids.spans_made = 0
    end_ns = max(record.end_ns, record.start_ns)
    spans: list[Any] = []

    def start(name: str, span_type: str, start_ns: int, parent: Any, hop: str) -> Any:
        context = otel_trace.set_span_in_context(parent._span) if parent is not None else None
        otel_span = tracer.start_span(name, context=context, start_time=start_ns)
        span = LiveSpan(otel_span, record.trace_id, span_type)
        span.set_attribute(HOP_ATTRIBUTE, hop)
        spans.append(span)
        return span

    # The program: the turn as the user saw it.
    root = start(ROOT_SPAN_NAME, SpanType.CHAIN, record.start_ns, None, "python")
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

    # The program loading litellm (first turn only): without it the trace has a hole of seconds.
    if record.load_start_ns is not None and record.load_end_ns is not None:
        load = start(LOAD_SPAN_NAME, SpanType.UNKNOWN, record.load_start_ns, root, "setup")
        load.set_attribute("tracetui.why", "litellm's first import in this process")
        load.end(end_time_ns=max(record.load_end_ns, record.load_start_ns))

    # litellm: an LLM span in the shape mlflow.litellm.autolog gives, so MLflow's UI shows chat.
    llm_start = record.call_start_ns or record.start_ns
    llm = start(LLM_SPAN_NAME, SpanType.LLM, llm_start, root, "litellm")
    llm.set_inputs({"model": record.model, "messages": record.messages, **record.params, "stream": True})
    usage = _token_usage(record)
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

    wire = record.wire
    hop = gen = None
    if wire is not None and wire.request_start_ns is not None:
        wire_end = wire.end_ns or end_ns
        parts = urlsplit(wire.url)
        hop = start(f"Ollama {parts.netloc}", SpanType.UNKNOWN, wire.request_start_ns, llm, "ollama")
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

        # The model's run, as Ollama's done line describes it.
        stats = record.generation
        if wire.first_line_ns is not None and wire.status_code == 200:
            tag = (stats and stats.model_tag) or body.get("model") or record.model
            gen_start = wire.headers_ns or wire.request_start_ns
            if stats and stats.total_ms is not None:
                gen_start = max(wire.request_start_ns, wire_end - int(stats.total_ms * 1e6))
            gen = start(str(tag), SpanType.LLM, gen_start, hop, "model")
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
                    "done_reason": (stats and stats.done_reason)
                    or ("cancelled" if record.cancelled else None),
                },
            )

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

    if record.error:
        _fail(
            llm,
            record.exception_type or "Error",
            record.exception_message or record.error,
            end_ns,
        )
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

    root.set_outputs({"answer": record.answer})
    if record.error:
        from mlflow.entities import SpanStatus, SpanStatusCode

        root.set_status(SpanStatus(SpanStatusCode.ERROR, record.error))
    root.end(end_time_ns=end_ns)

    request_preview = json.dumps({"prompt": record.prompt}, ensure_ascii=False)
    response_preview = json.dumps({"answer": record.answer}, ensure_ascii=False)
    metadata = {
        "mlflow.trace_schema.version": "3",
        SESSION_METADATA: record.session_id,
        "mlflow.traceInputs": request_preview[:_PREVIEW_CHARS],
        "mlflow.traceOutputs": response_preview[:_PREVIEW_CHARS],
        "mlflow.source.name": "tracetui",
        "mlflow.source.type": "LOCAL",
        "mlflow.user": _user(),
    }
    if usage is not None:
        metadata["mlflow.trace.tokenUsage"] = json.dumps(usage)
    info = TraceInfo(
        trace_id=record.trace_id,
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=record.start_ns // 1_000_000,
        execution_duration=(end_ns - record.start_ns) // 1_000_000,
        state=TraceState.ERROR if record.error else TraceState.OK,
        request_preview=request_preview[:_PREVIEW_CHARS],
        response_preview=response_preview[:_PREVIEW_CHARS],
        trace_metadata=metadata,
        tags={"mlflow.traceName": ROOT_SPAN_NAME},
    )
    return Trace(info=info, data=TraceData(spans=[s.to_immutable_span() for s in spans]))


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"
