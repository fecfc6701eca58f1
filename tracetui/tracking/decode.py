"""MLflow's REST JSON turned into the plain dataclasses of `models`.

The server speaks two dialects: trace infos are protobuf JSON (`request_time`
as an RFC 3339 string, `execution_duration` as "0.295s"), and spans are OTLP
JSON (base64 ids, attributes as typed `AnyValue`s). Anything that does not fit
raises `BadResponse` with one sentence; no KeyError or TypeError escapes.

Speed matters: a 10,000-span trace must decode in a small fraction of the time
the server takes to send it, so per-span work is kept to plain dict lookups,
and ids are decoded once each (a parent id is some other span's id).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import re
from typing import Any

from tracetui.tracking.errors import BadResponse
from tracetui.tracking.models import (
    METADATA_SESSION,
    METADATA_TOKEN_USAGE,
    STATE_IN_PROGRESS,
    STATE_UNSPECIFIED,
    STATUS_ERROR,
    STATUS_OK,
    STATUS_UNSET,
    TAG_TRACE_NAME,
    Assessment,
    Experiment,
    Span,
    SpanEvent,
    TokenUsage,
    Trace,
    TraceInfo,
    TracePage,
)

# MLflow's own span attributes, lifted into Span fields.
ATTR_SPAN_TYPE = "mlflow.spanType"
ATTR_INPUTS = "mlflow.spanInputs"
ATTR_OUTPUTS = "mlflow.spanOutputs"
ATTR_TOKEN_USAGE = "mlflow.chat.tokenUsage"

_STATUS_CODES = {
    "STATUS_CODE_OK": STATUS_OK,
    "STATUS_CODE_ERROR": STATUS_ERROR,
    "STATUS_CODE_UNSET": STATUS_UNSET,
    "OK": STATUS_OK,
    "ERROR": STATUS_ERROR,
    "UNSET": STATUS_UNSET,
    1: STATUS_OK,  # protobuf JSON may carry the enum's number instead of its name
    2: STATUS_ERROR,
    0: STATUS_UNSET,
}

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:\d\d)\Z"
)
_DURATION = re.compile(r"(-)?(\d+)(?:\.(\d{1,9}))?s\Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}\Z")

# The errors that malformed JSON can provoke inside the decoders below.
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError)


class _Malformed(ValueError):
    """Internal: a field has the wrong shape. Turned into BadResponse at the API boundary."""


# --- scalars -----------------------------------------------------------------


def parse_timestamp_ms(value: Any) -> int:
    """Protobuf JSON timestamp ("2026-11-27T15:00:50.244Z") or epoch milliseconds -> ms."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise _Malformed(f"a timestamp was {type(value).__name__}, not a string")
    match = _TIMESTAMP.match(value)
    if match is None:
        if value.isdigit():
            return int(value)
        raise _Malformed(f"{value[:40]!r} is not a timestamp")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    seconds = calendar.timegm((int(year), int(month), int(day), int(hour), int(minute), int(second), 0, 0, 0))
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    millis = int((fraction or "0").ljust(9, "0")) // 1_000_000
    return seconds * 1000 + millis


def parse_duration_ms(value: Any) -> int | None:
    """Protobuf JSON duration ("13.861s") -> ms, truncated as MLflow's `ToMilliseconds` does."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, str):
        raise _Malformed(f"a duration was {type(value).__name__}, not a string")
    match = _DURATION.match(value)
    if match is None:
        raise _Malformed(f"{value[:40]!r} is not a duration")
    negative, whole, fraction = match.groups()
    nanos = int(whole) * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))
    millis = nanos // 1_000_000
    return -millis if negative else millis


def _as_int(value: Any) -> int:
    """An int64 from protobuf JSON, which may arrive as a number or a decimal string."""
    if isinstance(value, bool):
        raise _Malformed("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Malformed(f"expected an integer, got {type(value).__name__}")


def _as_float(value: Any) -> float:
    # Protobuf JSON writes non-finite doubles as the strings "NaN", "Infinity", "-Infinity".
    if isinstance(value, bool):
        raise _Malformed("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value)
    raise _Malformed(f"expected a number, got {type(value).__name__}")


def _as_str(value: Any, default: str = "") -> str:
    if value is None:
        return default
    if isinstance(value, str):
        return value
    raise _Malformed(f"expected a string, got {type(value).__name__}")


def _str_mapping(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Malformed(f"expected an object of strings, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise _Malformed(f"the value of {key!r} is {type(item).__name__}, not a string")
    return value


def b64_to_hex(value: Any, size: int) -> str:
    """A base64 OTLP id -> lowercase hex, checking it is `size` bytes long."""
    if not isinstance(value, str) or not _BASE64.match(value):
        raise _Malformed(f"{str(value)[:40]!r} is not a base64 id")
    try:
        # What `base64.b64decode(validate=True)` does once `_BASE64` has vetted the characters.
        raw = binascii.a2b_base64(value.replace("-", "+").replace("_", "/"))
    except (binascii.Error, ValueError) as error:
        raise _Malformed(f"{value[:40]!r} is not a base64 id") from error
    if len(raw) != size:
        raise _Malformed(f"the id {value[:40]!r} is {len(raw)} bytes, not {size}")
    return raw.hex()


def hex_to_b64(hex_id: str) -> str:
    """The inverse of `b64_to_hex`: how the REST API and `mlflow traces get` spell an id."""
    return base64.b64encode(bytes.fromhex(hex_id)).decode("ascii")


# --- OTLP AnyValue -----------------------------------------------------------


def _any_value(value: Any) -> Any:
    """One OTLP JSON `AnyValue` -> a Python value (an absent value is None)."""
    if type(value) is dict and len(value) == 1:
        # Fast path, most values: one key, a string or an integer.
        raw = value.get("string_value")
        if type(raw) is str:
            return raw
        raw = value.get("int_value")
        if type(raw) is int:
            return raw
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Malformed(f"an attribute value was {type(value).__name__}, not an object")
    if not value:
        return None
    if "string_value" in value:
        return _as_str(value["string_value"])
    if "int_value" in value:
        return _as_int(value["int_value"])
    if "double_value" in value:
        return _as_float(value["double_value"])
    if "bool_value" in value:
        flag = value["bool_value"]
        if not isinstance(flag, bool):
            raise _Malformed("a bool_value was not true or false")
        return flag
    if "kvlist_value" in value:
        return _key_values((value["kvlist_value"] or {}).get("values"))
    if "array_value" in value:
        items = (value["array_value"] or {}).get("values") or []
        if not isinstance(items, list):
            raise _Malformed("an array_value's values were not a list")
        return [_any_value(item) for item in items]
    if "bytes_value" in value:
        data = value["bytes_value"]
        if not isinstance(data, str) or not _BASE64.match(data):
            raise _Malformed("a bytes_value was not base64")
        return base64.b64decode(data.replace("-", "+").replace("_", "/"))
    # A value kind from a newer OTLP than we know: keep it visible rather than drop it.
    return value


def _key_values(items: Any) -> dict[str, Any]:
    """OTLP `[{"key": …, "value": AnyValue}]` -> dict (a missing "value" means None)."""
    if not items:
        return {}
    if not isinstance(items, list):
        raise _Malformed(f"attributes were {type(items).__name__}, not a list")
    result: dict[str, Any] = {}
    for item in items:
        key = item["key"]
        if not isinstance(key, str):
            raise _Malformed("an attribute key was not a string")
        value = item.get("value")
        # `_any_value`'s fast path inlined (attributes were a third of a 10,000-span trace's
        # decode, mostly calls): a string, an integer, a key-value list (MLflow's inputs/outputs).
        if type(value) is dict and len(value) == 1:
            raw = value.get("string_value")
            if type(raw) is str:
                result[key] = raw
                continue
            raw = value.get("int_value")
            if type(raw) is int:
                result[key] = raw
                continue
            if "kvlist_value" in value:
                result[key] = _key_values((value["kvlist_value"] or {}).get("values"))
                continue
        result[key] = _any_value(value)
    return result


# --- token usage and assessments -----------------------------------------------


def _maybe_json(value: Any) -> Any:
    """MLflow stores some values (metadata, old span attributes) as JSON text."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def decode_token_usage(value: Any) -> TokenUsage | None:
    """`{"input_tokens", "output_tokens", "total_tokens"}` (dict or JSON text) -> TokenUsage.

    Token counts are decoration: a malformed usage is shown as unknown, not an error.
    """
    value = _maybe_json(value)
    if not isinstance(value, dict):
        return None

    def count(key: str) -> int | None:
        item = value.get(key)
        if isinstance(item, bool) or item is None:
            return None
        try:
            number = _as_int(item)
        except (_Malformed, ValueError):
            return None
        return number

    usage = TokenUsage(count("input_tokens"), count("output_tokens"), count("total_tokens"))
    if usage == TokenUsage():
        return None
    return usage


def _assessment_value(assessment: dict[str, Any]) -> tuple[str, Any]:
    if "expectation" in assessment:
        expectation = assessment["expectation"] or {}
        if "serialized_value" in expectation:
            serialized = expectation["serialized_value"] or {}
            return "expectation", _maybe_json(serialized.get("value"))
        return "expectation", expectation.get("value")
    feedback = assessment.get("feedback") or {}
    if "value" in feedback:
        return "feedback", feedback["value"]
    error = feedback.get("error")
    if isinstance(error, dict):
        return "feedback", error.get("error_message") or error.get("error_code")
    return "feedback", None


def decode_assessment(assessment: Any) -> Assessment:
    if not isinstance(assessment, dict):
        raise _Malformed("an assessment was not an object")
    kind, value = _assessment_value(assessment)
    source = assessment.get("source") or {}
    create_time = assessment.get("create_time")
    return Assessment(
        assessment_id=_as_str(assessment.get("assessment_id")),
        name=_as_str(assessment.get("assessment_name") or assessment.get("name")),
        value=value,
        rationale=assessment.get("rationale") or None,
        source_type=source.get("source_type"),
        source_id=source.get("source_id"),
        create_time_ms=parse_timestamp_ms(create_time) if create_time is not None else None,
        kind=kind,
    )


# --- trace info ------------------------------------------------------------------


def _experiment_id_of(info: dict[str, Any]) -> str:
    location = info.get("trace_location") or {}
    experiment = location.get("mlflow_experiment") or {}
    experiment_id = experiment.get("experiment_id", info.get("experiment_id", ""))
    if isinstance(experiment_id, int) and not isinstance(experiment_id, bool):
        return str(experiment_id)
    return _as_str(experiment_id)


def _decode_trace_info(info: Any) -> TraceInfo:
    if not isinstance(info, dict):
        raise _Malformed(f"a trace info was {type(info).__name__}, not an object")
    metadata = _str_mapping(info.get("trace_metadata"))
    tags = _str_mapping(info.get("tags"))
    trace_id = info["trace_id"]
    if not isinstance(trace_id, str) or not trace_id:
        raise _Malformed("a trace info has no trace_id")
    assessments = info.get("assessments") or []
    if not isinstance(assessments, list):
        raise _Malformed("assessments were not a list")
    state = _as_str(info.get("state"), STATE_UNSPECIFIED)
    duration_ms = parse_duration_ms(info.get("execution_duration"))
    if state == STATE_IN_PROGRESS:
        # MLflow reports "0s" (or the span-derived range so far) while the root span is
        # still open; showing it as the trace's duration would be a lie.
        duration_ms = None
    return TraceInfo(
        trace_id=trace_id,
        experiment_id=_experiment_id_of(info),
        request_time_ms=parse_timestamp_ms(info["request_time"]),
        execution_duration_ms=duration_ms,
        state=state,
        name=tags.get(TAG_TRACE_NAME, ""),
        request_preview=_as_str(info.get("request_preview")),
        response_preview=_as_str(info.get("response_preview")),
        token_usage=decode_token_usage(metadata.get(METADATA_TOKEN_USAGE)),
        session_id=metadata.get(METADATA_SESSION) or None,
        metadata=metadata,
        tags=tags,
        assessments=tuple(decode_assessment(item) for item in assessments),
    )


# --- spans -------------------------------------------------------------------------


def _decode_event(event: Any) -> SpanEvent:
    return SpanEvent(
        name=_as_str(event.get("name")),
        time_unix_nano=_as_int(event.get("time_unix_nano", 0)),
        attributes=_key_values(event.get("attributes")),
    )


def _decode_span(span: Any, ids: dict[str, str]) -> Span:
    """One OTLP JSON span; `ids` memoises base64 -> hex across the spans of one trace."""
    trace_b64 = span["trace_id"]
    trace_id = ids.get(trace_b64)
    if trace_id is None:
        trace_id = ids[trace_b64] = b64_to_hex(trace_b64, 16)
    span_b64 = span["span_id"]
    span_id = ids.get(span_b64)
    if span_id is None:
        span_id = ids[span_b64] = b64_to_hex(span_b64, 8)
    parent_b64 = span.get("parent_span_id")
    parent_id = None
    if parent_b64:
        parent_id = ids.get(parent_b64)
        if parent_id is None:
            parent_id = ids[parent_b64] = b64_to_hex(parent_b64, 8)

    attributes = _key_values(span.get("attributes"))
    status = span.get("status") or {}
    code = status.get("code", "STATUS_CODE_UNSET")
    status_code = _STATUS_CODES.get(code) if isinstance(code, (str, int)) else None
    if status_code is None:
        raise _Malformed(f"{str(code)[:40]!r} is not a span status")
    # The common types are taken as they are; anything else goes through the checks.
    name = span.get("name")
    if type(name) is not str:
        name = _as_str(name)
    start_ns = span.get("start_time_unix_nano", 0)
    if type(start_ns) is not int:
        start_ns = _as_int(start_ns)
    end = span.get("end_time_unix_nano")
    end_ns = (end if type(end) is int else _as_int(end)) if end not in (None, 0, "0") else None
    events = span.get("events")
    span_type = attributes.get(ATTR_SPAN_TYPE)
    return Span(
        span_id=span_id,
        parent_id=parent_id,
        trace_id=trace_id,
        name=name,
        span_type=span_type if isinstance(span_type, str) and span_type else "UNKNOWN",
        start_time_ns=start_ns,
        end_time_ns=end_ns,
        status_code=status_code,
        status_message=_as_str(status.get("message")),
        inputs=attributes.get(ATTR_INPUTS),
        outputs=attributes.get(ATTR_OUTPUTS),
        attributes=attributes,
        events=tuple(_decode_event(event) for event in events) if events else (),
        token_usage=decode_token_usage(attributes.get(ATTR_TOKEN_USAGE)),
    )


# --- the public API: every failure is a BadResponse --------------------------------


def _bad(what: str, error: BaseException) -> BadResponse:
    detail = str(error) if isinstance(error, _Malformed) else type(error).__name__
    return BadResponse(f"The tracking server sent a {what} this version cannot read ({detail}).")


def decode_trace_info(info: Any) -> TraceInfo:
    """One `trace_info` object (from search or get) -> TraceInfo."""
    try:
        return _decode_trace_info(info)
    except (_Malformed, *_MALFORMED) as error:
        raise _bad("trace summary", error) from None


def decode_span(span: Any) -> Span:
    """One OTLP JSON span -> Span."""
    try:
        return _decode_span(span, {})
    except (_Malformed, *_MALFORMED) as error:
        raise _bad("span", error) from None


def decode_trace(document: Any) -> Trace:
    """The `{"trace": {"trace_info": …, "spans": [...]}}` document of traces/get -> Trace."""
    try:
        trace = document["trace"]
        info = _decode_trace_info(trace["trace_info"])
        spans = trace.get("spans") or []
        if not isinstance(spans, list):
            raise _Malformed("spans were not a list")
        ids: dict[str, str] = {}
        return Trace(info=info, spans=tuple(_decode_span(span, ids) for span in spans))
    except (_Malformed, *_MALFORMED) as error:
        raise _bad("trace", error) from None


def decode_trace_page(document: Any) -> TracePage:
    """A traces/search response -> TracePage (an empty page has no "traces" key)."""
    try:
        traces = document.get("traces") or []
        if not isinstance(traces, list):
            raise _Malformed("traces were not a list")
        token = document.get("next_page_token") or None
        return TracePage(
            trace_infos=tuple(_decode_trace_info(info) for info in traces),
            next_page_token=_as_str(token) or None,
        )
    except (_Malformed, *_MALFORMED) as error:
        raise _bad("trace search result", error) from None


def decode_experiment(experiment: Any) -> Experiment:
    try:
        tags = experiment.get("tags") or []
        if isinstance(tags, list):
            tag_map = {_as_str(tag["key"]): _as_str(tag.get("value")) for tag in tags}
        else:
            tag_map = dict(_str_mapping(tags))
        last_update = experiment.get("last_update_time")
        created = experiment.get("creation_time")
        experiment_id = experiment["experiment_id"]
        return Experiment(
            experiment_id=str(_as_int(experiment_id))
            if isinstance(experiment_id, int)
            else _as_str(experiment_id),
            name=_as_str(experiment["name"]),
            lifecycle_stage=_as_str(experiment.get("lifecycle_stage"), "active"),
            last_update_time_ms=_as_int(last_update) if last_update is not None else None,
            creation_time_ms=_as_int(created) if created is not None else None,
            tags=tag_map,
        )
    except (_Malformed, *_MALFORMED) as error:
        raise _bad("experiment", error) from None


def decode_attributes(items: Any) -> dict[str, Any]:
    """An OTLP attribute list -> dict of Python values."""
    try:
        return _key_values(items)
    except (_Malformed, *_MALFORMED) as error:
        raise _bad("span attribute list", error) from None
