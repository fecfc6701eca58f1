"""The document `mlflow traces get --trace-id …` prints, built from the REST response.

Users already have scripts that read MLflow's CLI output, so `tracetui traces
get` prints exactly that shape instead of the raw REST document:

    {"info": {... "execution_duration_ms": 13861 ...},
     "data": {"spans": [{..., "attributes": {"key": "<JSON text>"}, "events": [...],
                         "status": {"code": "STATUS_CODE_OK", "message": ""}, "links": []}]}}

MLflow gets there by parsing the response into protobuf, then into its span
objects, then `Trace.to_dict()`. The rules below mirror that path (see
mlflow/entities/span.py `from_otel_proto` and `to_dict`), so the two documents
compare equal as parsed JSON. Malformed input raises `BadResponse`.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from tracetui.tracking.decode import (
    b64_to_hex,
    decode_attributes,
    decode_trace,
    hex_to_b64,
    parse_duration_ms,
)
from tracetui.tracking.errors import BadResponse
from tracetui.tracking.legacy import ARTIFACT_SPANS
from tracetui.tracking.models import Span

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient

_REQUEST_ID_KEY = "mlflow.traceRequestId"
_NO_KIND = "SPAN_KIND_UNSPECIFIED"
_STATUS_NAMES = {
    "STATUS_CODE_OK": "STATUS_CODE_OK",
    "STATUS_CODE_ERROR": "STATUS_CODE_ERROR",
    "STATUS_CODE_UNSET": "STATUS_CODE_UNSET",
    1: "STATUS_CODE_OK",
    2: "STATUS_CODE_ERROR",
    0: "STATUS_CODE_UNSET",
}


def _dump_attribute(value: Any) -> str:
    # mlflow.tracing.utils.dump_span_attribute_value: JSON with ensure_ascii=False; values
    # JSON cannot hold (bytes) fall back to str(), as its TraceJSONEncoder does.
    return json.dumps(value, ensure_ascii=False, default=str)


# MLflow rebuilds assessments from protobuf through its entity classes, which keep only
# some fields: Expectation and IssueReference drop `valid`, `overrides` and (Expectation)
# `rationale`; Feedback always writes `valid`, False when the server sent none.
_DROPPED_ASSESSMENT_KEYS = {
    "expectation": ("valid", "overrides", "rationale"),
    "issue": ("valid", "overrides"),
}


def _assessment_document(assessment: dict[str, Any]) -> dict[str, Any]:
    document = dict(assessment)
    for kind, dropped in _DROPPED_ASSESSMENT_KEYS.items():
        if kind in document:
            for key in dropped:
                document.pop(key, None)
            return document
    document.setdefault("valid", False)
    return document


def _info_document(info: dict[str, Any]) -> dict[str, Any]:
    document = dict(info)
    if document.get("assessments"):
        document["assessments"] = [_assessment_document(item) for item in document["assessments"]]
    duration = document.pop("execution_duration", None)
    if duration is not None:
        document["execution_duration_ms"] = parse_duration_ms(duration)
    return document


def _span_document(
    span: dict[str, Any], decoded: Span, span_kind: bool, from_artifact: bool
) -> dict[str, Any]:
    # decode_trace already turned the attribute lists into values; reuse them rather than decode twice.
    attributes = {key: _dump_attribute(value) for key, value in decoded.attributes.items()}
    if not from_artifact:
        # MLflow re-derives the request id from the OTLP trace id instead of trusting the attribute
        # (spans read from an artifact keep theirs: a 2.x trace id is not "tr-" + the OTLP id).
        attributes[_REQUEST_ID_KEY] = _dump_attribute("tr-" + decoded.trace_id)
    status = span.get("status") or {}
    links = []
    for link in span.get("links") or []:
        link_attributes = {
            key: base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
            for key, value in decode_attributes(link.get("attributes")).items()
        }
        links.append(
            {
                "trace_id": "tr-" + b64_to_hex(link["trace_id"], 16),
                "span_id": b64_to_hex(link["span_id"], 8),
                "attributes": link_attributes or None,
            }
        )
    document = {
        # MLflow re-encodes the ids from bytes, so write them in canonical base64 too.
        "trace_id": hex_to_b64(decoded.trace_id),
        "span_id": hex_to_b64(decoded.span_id),
        "parent_span_id": hex_to_b64(decoded.parent_id) if decoded.parent_id else None,
        "name": span.get("name", ""),
        "start_time_unix_nano": int(span.get("start_time_unix_nano", 0)),
        "end_time_unix_nano": int(span.get("end_time_unix_nano", 0)),
        "events": [
            {
                "name": event.get("name", ""),
                "time_unix_nano": int(event.get("time_unix_nano", 0)),
                "attributes": dict(decoded_event.attributes),
            }
            for event, decoded_event in zip(span.get("events") or [], decoded.events, strict=True)
        ],
        "status": {
            "code": _STATUS_NAMES[status.get("code", "STATUS_CODE_UNSET")],
            "message": status.get("message") or "",
        },
        "attributes": attributes,
        "links": links,
    }
    if span_kind:
        # MLflow 3.18's `mlflow traces get` prints each span's kind (an OTel SDK span is INTERNAL
        # unless it says otherwise).
        kind = span.get("kind")
        document["kind"] = kind if isinstance(kind, str) and kind != _NO_KIND else "SPAN_KIND_INTERNAL"
    return document


async def mlflow_cli_document(client: TrackingClient, trace_id: str) -> dict[str, Any]:
    """What the server's own version of `mlflow traces get --trace-id` prints for a trace."""
    document = await client.get_trace_json(trace_id)
    capabilities = await client.capabilities()
    printed = to_mlflow_cli_document(document, span_kind=capabilities.span_kind)
    if not capabilities.span_links:
        for span in printed["data"]["spans"]:
            del span["links"]
    return printed


def to_mlflow_cli_document(get_trace_response: dict[str, Any], *, span_kind: bool = False) -> dict[str, Any]:
    """`GET /api/3.0/mlflow/traces/get` JSON -> what `mlflow traces get --trace-id` prints.

    `span_kind`: add each span's "kind", as MLflow 3.18 and later print it.
    """
    # Decoding first validates the whole document and gives one clear error if it is broken.
    decoded = decode_trace(get_trace_response)
    trace = get_trace_response["trace"]
    from_artifact = ARTIFACT_SPANS in get_trace_response
    try:
        spans = [
            _span_document(span, decoded_span, span_kind, from_artifact)
            for span, decoded_span in zip(trace.get("spans") or [], decoded.spans, strict=True)
        ]
        return {"info": _info_document(trace["trace_info"]), "data": {"spans": spans}}
    except BadResponse:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BadResponse(
            f"The tracking server sent a trace that cannot be exported ({type(error).__name__})."
        ) from None
