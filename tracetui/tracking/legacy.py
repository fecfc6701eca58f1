"""Older servers' trace JSON turned into the v3 documents the rest of tracetui reads.

- A v2 trace info (`GET /api/2.0/mlflow/traces`, `…/traces/{id}/info`):
  `{"request_id", "experiment_id", "timestamp_ms", "execution_time_ms", "status",
  "request_metadata": [{"key", "value"}], "tags": [{"key", "value"}]}` becomes a v3
  `trace_info`, as MLflow's own `TraceInfoV2.to_v3()` does it.
- A trace artifact (`traces.json`, served by `get-trace-artifact`) is `{"spans": [...]}`
  in one of three schemas: MLflow 2.x (`context`, `parent_id`, `start_time`, `status_code`),
  3.x (`trace_id`/`span_id` base64, `start_time_unix_nano`, `status.code`) and 3.5.0's
  (ids in hex, `tr-` trace id, status "OK"). Attribute values are JSON text. Each span
  becomes an OTLP JSON span like `/traces/get` sends (attributes as typed AnyValues).

The original artifact spans are kept under ARTIFACT_SPANS in the converted document,
so `mlflow traces get`'s output can be built from them as MLflow builds it.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from tracetui.tracking.errors import BadResponse

ARTIFACT_SPANS = "_artifact_spans"  # key of the raw artifact spans in a converted document
_REQUEST_ID_KEY = "mlflow.traceRequestId"
_STATE_OF_STATUS = {"TRACE_STATUS_UNSPECIFIED": "STATE_UNSPECIFIED"}
_STATUS_NAMES = {
    "OK": "STATUS_CODE_OK",
    "ERROR": "STATUS_CODE_ERROR",
    "UNSET": "STATUS_CODE_UNSET",
    "STATUS_CODE_OK": "STATUS_CODE_OK",
    "STATUS_CODE_ERROR": "STATUS_CODE_ERROR",
    "STATUS_CODE_UNSET": "STATUS_CODE_UNSET",
}


def _pairs(items: Any) -> dict[str, str]:
    if isinstance(items, dict):
        return {str(key): str(value) for key, value in items.items()}
    return {str(item["key"]): str(item.get("value", "")) for item in items or []}


def iso_time(ms: int) -> str:
    """Epoch ms as protobuf JSON writes a Timestamp ("2026-11-27T15:00:50.244Z")."""
    moment = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{ms % 1000:03d}Z" if ms % 1000 else f"{text}Z"


def duration_text(ms: int) -> str:
    """Milliseconds as protobuf JSON writes a Duration ("13.861s", "2s")."""
    return f"{ms // 1000}.{ms % 1000:03d}s" if ms % 1000 else f"{ms // 1000}s"


def trace_info_v3(info: dict[str, Any]) -> dict[str, Any]:
    """A v2 trace info -> a v3 `trace_info` (request_time and duration in protobuf JSON)."""
    try:
        status = str(info.get("status") or "TRACE_STATUS_UNSPECIFIED")
        document: dict[str, Any] = {
            "trace_id": str(info["request_id"]),
            "trace_location": {
                "type": "MLFLOW_EXPERIMENT",
                "mlflow_experiment": {"experiment_id": str(info.get("experiment_id", ""))},
            },
            "request_time": iso_time(int(info.get("timestamp_ms") or 0)),
            "execution_duration": duration_text(int(info.get("execution_time_ms") or 0)),
            "state": _STATE_OF_STATUS.get(status, status),
            "trace_metadata": _pairs(info.get("request_metadata")),
            "tags": _pairs(info.get("tags")),
        }
        # The v2 API has no previews; MLflow's UI shows these (truncated) metadata instead.
        metadata = document["trace_metadata"]
        previews = (("mlflow.traceInputs", "request_preview"), ("mlflow.traceOutputs", "response_preview"))
        for key, preview in previews:
            if metadata.get(key):
                document[preview] = metadata[key]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BadResponse(
            f"The tracking server sent a trace summary this version cannot read ({type(error).__name__})."
        ) from None
    return document


def trace_page_v3(body: dict[str, Any]) -> dict[str, Any]:
    """A v2 search answer -> the shape of a v3 one."""
    traces = body.get("traces") or []
    if not isinstance(traces, list):
        raise BadResponse("The tracking server sent a trace list that is not a list.")
    return {
        "traces": [trace_info_v3(info) for info in traces],
        "next_page_token": body.get("next_page_token"),
    }


# --- spans ---------------------------------------------------------------------------


def any_value(value: Any) -> dict[str, Any]:
    """A Python value -> OTLP JSON AnyValue, as MLflow's `_set_otel_proto_anyvalue` does it."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, int):
        return {"int_value": value}
    if isinstance(value, float):
        return {"double_value": value}
    if isinstance(value, (list, tuple)):
        return {"array_value": {"values": [any_value(item) for item in value]}}
    if isinstance(value, dict):
        return {
            "kvlist_value": {"values": [{"key": str(k), "value": any_value(v)} for k, v in value.items()]}
        }
    return {"string_value": str(value)}


def _loaded(value: Any) -> Any:
    """An artifact attribute value (JSON text) -> the value MLflow's span objects hand out."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _attributes(attributes: Any) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(_loaded(value))} for key, value in (attributes or {}).items()]


def _hex_to_b64(hex_id: Any, size: int) -> str:
    text = str(hex_id).lower().removeprefix("0x").removeprefix("tr-")
    return base64.b64encode(int(text, 16).to_bytes(size, "big")).decode("ascii")


_HEX = frozenset("0123456789abcdefABCDEF")


def _id(value: Any, size: int, *, hexadecimal: bool = False) -> str | None:
    """A span or trace id in any artifact schema -> base64 of its bytes (None for no id).

    2.x writes hex ("0x…"), 3.x base64, 3.5.0 hex (the trace id as "tr-…").
    """
    if not value:
        return None
    text = str(value)
    bare = text.removeprefix("0x").removeprefix("tr-")
    if hexadecimal or text.startswith(("0x", "tr-")) or (len(bare) == size * 2 and set(bare) <= _HEX):
        return _hex_to_b64(bare, size)
    return text


def _status(code: Any, message: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"code": _STATUS_NAMES.get(str(code or "UNSET"), "STATUS_CODE_UNSET")}
    if message:
        status["message"] = message
    return status


def _events(span: dict[str, Any], time_key: str) -> list[dict[str, Any]]:
    """The span's events as OTLP JSON; the schemas differ only in the name of the time field."""
    return [
        {
            "name": event.get("name", ""),
            "time_unix_nano": int(event.get(time_key) or 0),
            "attributes": _attributes(event.get("attributes")),
        }
        for event in span.get("events") or []
    ]


def otlp_span(span: dict[str, Any]) -> dict[str, Any]:
    """One artifact span (any schema) -> an OTLP JSON span as `/traces/get` sends it."""
    if "context" in span:  # MLflow 2.x
        context = span["context"]
        status = _status(span.get("status_code"), span.get("status_message"))
        events = _events(span, "timestamp")
        document = {
            "trace_id": _id(context["trace_id"], 16, hexadecimal=True),
            "span_id": _id(context["span_id"], 8, hexadecimal=True),
            "parent_span_id": _id(span.get("parent_id"), 8, hexadecimal=True) or "",
            "name": span.get("name", ""),
            "start_time_unix_nano": int(span.get("start_time") or 0),
            "end_time_unix_nano": int(span.get("end_time") or 0),
        }
    else:
        raw_status = span.get("status") or {}
        status = _status(raw_status.get("code"), raw_status.get("message"))
        events = _events(span, "time_unix_nano")
        document = {
            "trace_id": _id(span["trace_id"], 16),
            "span_id": _id(span["span_id"], 8),
            "parent_span_id": _id(span.get("parent_span_id"), 8) or "",
            "name": span.get("name", ""),
            "start_time_unix_nano": int(span.get("start_time_unix_nano") or 0),
            "end_time_unix_nano": int(span.get("end_time_unix_nano") or 0),
        }
    document["attributes"] = _attributes(span.get("attributes"))
    document["status"] = status
    if events:
        document["events"] = events
    return document


def artifact_spans(content: bytes) -> list[dict[str, Any]]:
    """The spans of a `traces.json` artifact, as stored."""
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        raise BadResponse("The tracking server sent a trace artifact that is not JSON.") from None
    spans = data.get("spans") if isinstance(data, dict) else None
    if not isinstance(spans, list):
        raise BadResponse("The tracking server sent a trace artifact without a span list.")
    return spans


def trace_document(trace_info: dict[str, Any], spans: list[dict[str, Any]]) -> dict[str, Any]:
    """A v3 trace info and the artifact's spans -> the `{"trace": …}` document of `/traces/get`."""
    try:
        otlp = [otlp_span(span) for span in spans]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise BadResponse(
            f"The tracking server sent a trace artifact this version cannot read ({type(error).__name__})."
        ) from None
    return {"trace": {"trace_info": trace_info, "spans": otlp}, ARTIFACT_SPANS: spans}
