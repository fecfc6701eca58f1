"""A turn's trace written with the v2 trace API, as MLflow 2.14-3.4's own clients write one.

Servers before 3.5 (2.14-2.22, 3.1) have neither OTLP `/v1/traces` nor
`POST /api/3.0/mlflow/traces`. Their clients (MlflowV2SpanExporter) write a trace
in three requests, and so does this module:

    POST  /api/2.0/mlflow/traces              start: the server chooses the id, tags the
                                              trace with `mlflow.artifactLocation`
    PUT   …/mlflow-artifacts/artifacts/…/traces.json
                                              the spans (tracetui.chat.trace_artifact)
    PATCH /api/2.0/mlflow/traces/{request_id} end: status, end time, metadata, tags

Because the server chooses the id, a replayed turn (the outbox sending it again after
a failure half-way) would start a second trace. So the start carries the turn's own id
as the tag `tracetui.turn_id`, and a write first searches for it: a trace already
started for the turn is finished (its artifact and end rewritten) instead of doubled.

The HTTP itself (auth, TLS, errors as sentences) is the caller's: every function
takes its `request(method, path, what, **kwargs) -> httpx.Response`, which returns
only a successful response and raises for anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tracetui.chat.record import TurnRecord
from tracetui.chat.trace_artifact import (
    ARTIFACT_LOCATION_TAG,
    ArtifactNotWritable,
    spans_document,
    upload_artifact,
)
from tracetui.chat.tracing import ROOT_SPAN_NAME, build_trace

TRACES_PATH = "/api/2.0/mlflow/traces"
TURN_TAG = "tracetui.turn_id"  # the turn's own trace id, so a replay finds the trace it started

Request = Callable[..., httpx.Response]


def write_turn(request: Request, experiment_id: str, record: TurnRecord, server_major: int) -> str:
    """Start the turn's trace (or find it, on a replay), upload its spans, end it; its id.

    Where the spans can never be written here (ArtifactNotWritable), the trace is still
    ended, as an error, so it does not show as running for ever; the exception is raised after.
    """
    schema = {"mlflow.trace_schema.version": "2" if server_major < 3 else "3"}
    info = find_started(request, experiment_id, record.trace_id)
    if info is None:
        tags = {"mlflow.traceName": ROOT_SPAN_NAME, TURN_TAG: record.trace_id}
        body = start_body(experiment_id, record.start_ns // 1_000_000, schema, tags)
        info = request("POST", TRACES_PATH, "the trace", json=body).json()["trace_info"]
    request_id = str(info["request_id"])
    trace = build_trace(record, experiment_id, trace_id=request_id)
    metadata = {**trace.info.trace_metadata, **schema}
    end_ms = trace.info.request_time + trace.info.execution_duration
    tags = {**trace.info.tags, TURN_TAG: record.trace_id}
    status = "ERROR" if trace.info.state.value == "ERROR" else "OK"
    try:
        upload_artifact(
            request, tags_of(info).get(ARTIFACT_LOCATION_TAG), spans_document(trace, server_major)
        )
    except ArtifactNotWritable:
        end = end_body(request_id, end_ms, "ERROR", metadata, tags)
        request("PATCH", f"{TRACES_PATH}/{request_id}", "the trace's end", json=end)
        raise
    # Any other failure leaves the trace running (honestly: it is not written yet) until the
    # outbox's replay finds it by its tag and finishes it.
    end = end_body(request_id, end_ms, status, metadata, tags)
    request("PATCH", f"{TRACES_PATH}/{request_id}", "the trace's end", json=end)
    return request_id


def find_started(request: Request, experiment_id: str, turn_id: str) -> dict[str, Any] | None:
    """The v2 trace info of a trace already started for this turn, or None."""
    response = request(
        "GET",
        TRACES_PATH,
        "the search for this turn's trace",
        params={
            "experiment_ids": experiment_id,
            "filter": f"tag.`{TURN_TAG}` = '{turn_id}'",
            "max_results": 1,
        },
    )
    traces = response.json().get("traces") or []
    return traces[0] if traces else None


def start_body(experiment_id: str, start_ms: int, metadata: dict[str, str], tags: dict[str, str]) -> dict:
    return {
        "experiment_id": experiment_id,
        "timestamp_ms": start_ms,
        "request_metadata": _pairs(metadata),
        "tags": _pairs(tags),
    }


def end_body(
    request_id: str, end_ms: int, status: str, metadata: dict[str, str], tags: dict[str, str]
) -> dict:
    return {
        "request_id": request_id,
        "timestamp_ms": end_ms,
        "status": status,
        "request_metadata": _pairs(metadata),
        "tags": _pairs(tags),
    }


def tags_of(info: dict[str, Any]) -> dict[str, str]:
    """A v2 trace info's tags (a list of key/value pairs) as a dict."""
    return {str(item.get("key")): str(item.get("value")) for item in info.get("tags") or []}


def _pairs(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": str(value)} for key, value in values.items()]
