"""Many traces, fast: OTLP protobuf batches posted to a real MLflow server's `/v1/traces`.

MLflow's own client logs ~10 traces/s; one OTLP request carries a batch of
traces (~190 traces/s on these machines), with start and end times chosen by
the test, so a test can make a trace that started long ago and ends now.

    send_traces(url, experiment_id, [TraceSpec(start_ms, duration_ms, name="turn 1"), ...])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

OTLP_PATH = "/v1/traces"
BATCH = 200


@dataclass(frozen=True)
class TraceSpec:
    """One trace of one root span: when it starts, how long it runs, its name and outcome."""

    start_ms: int
    duration_ms: int = 250
    name: str = "chat_turn"
    error: bool = False
    trace_id: bytes = b""  # 16 bytes; random when empty
    session: str | None = None  # the chat session (OpenTelemetry's `session.id` on the root span)

    def otlp_trace_id(self) -> bytes:
        return self.trace_id or os.urandom(16)


def mlflow_trace_id(otlp_trace_id: bytes) -> str:
    """The id MLflow gives a trace that arrived over OTLP."""
    return "tr-" + otlp_trace_id.hex()


def _request(specs: Sequence[TraceSpec]) -> tuple[bytes, list[str]]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    ids: list[str] = []
    for spec in specs:
        trace_id = spec.otlp_trace_id()
        ids.append(mlflow_trace_id(trace_id))
        start_ns = spec.start_ms * 1_000_000
        attributes = [KeyValue(key="test.kind", value=AnyValue(string_value="bulk"))]
        if spec.session is not None:
            attributes.append(KeyValue(key="session.id", value=AnyValue(string_value=spec.session)))
        scope_spans.spans.append(
            Span(
                trace_id=trace_id,
                span_id=os.urandom(8),
                name=spec.name,
                kind=Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=start_ns,
                end_time_unix_nano=start_ns + spec.duration_ms * 1_000_000,
                attributes=attributes,
                status=Status(code=Status.STATUS_CODE_ERROR if spec.error else Status.STATUS_CODE_OK),
            )
        )
    return request.SerializeToString(), ids


def send_traces(url: str, experiment_id: str, specs: Sequence[TraceSpec]) -> list[str]:
    """Post `specs` in batches; the MLflow trace ids, in order. Raises on any refused batch."""
    ids: list[str] = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for start in range(0, len(specs), BATCH):
            body, batch_ids = _request(specs[start : start + BATCH])
            response = client.post(
                OTLP_PATH,
                content=body,
                headers={
                    "Content-Type": "application/x-protobuf",
                    "x-mlflow-experiment-id": experiment_id,
                },
            )
            response.raise_for_status()
            ids.extend(batch_ids)
    return ids


def create_experiment(url: str, name: str) -> str:
    response = httpx.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": name}, timeout=30)
    response.raise_for_status()
    return response.json()["experiment_id"]
