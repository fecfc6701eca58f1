"""Decoding MLflow's REST JSON: real samples, hand-made edge cases, and random garbage."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracetui.tracking.decode import (
    b64_to_hex,
    decode_span,
    decode_trace,
    decode_trace_info,
    decode_trace_page,
    hex_to_b64,
    parse_duration_ms,
    parse_timestamp_ms,
)
from tracetui.tracking.errors import BadResponse
from tracetui.tracking.export import to_mlflow_cli_document
from tracetui.tracking.models import STATUS_ERROR, STATUS_OK, STATUS_UNSET, TokenUsage

SAMPLES = Path(__file__).parent / "samples"
SHARED_SAMPLES = Path("/work/shared/samples")


def _sample_get_trace() -> dict[str, Any]:
    return json.loads((SAMPLES / "autolog_get_trace.json").read_text())


def _span(**overrides: Any) -> dict[str, Any]:
    span = {
        "trace_id": "rME/408Ej3D8NdEf5Ddfhg==",
        "span_id": "7fuNilP00FA=",
        "name": "s",
        "start_time_unix_nano": "1795791650244082819",
        "end_time_unix_nano": 1795791664105142073,
        "attributes": [],
        "status": {"code": "STATUS_CODE_OK"},
    }
    span.update(overrides)
    return span


def test_sample_trace_decodes_to_the_values_mlflow_shows() -> None:
    trace = decode_trace(_sample_get_trace())
    info = trace.info
    assert info.trace_id == "tr-acc13fe34f048f70fc35d11fe4375f86"
    assert info.experiment_id == "1"
    assert info.request_time_ms == 1795791650244  # 2026-11-27T15:00:50.244Z
    assert info.execution_duration_ms == 13861
    assert info.end_time_ms == 1795791650244 + 13861
    assert info.state == "OK"
    assert info.name == "sample-turn"
    assert info.token_usage == TokenUsage(26, 25, 51)
    assert info.request_preview.startswith('{"prompt"')

    root, llm = trace.spans
    assert root.parent_id is None
    assert root.trace_id == "acc13fe34f048f70fc35d11fe4375f86"  # the hex of the OTLP id
    assert llm.parent_id == root.span_id
    assert root.span_type == "CHAIN" and llm.span_type == "LLM"
    assert root.inputs == {"prompt": "Explain Qwen 2.5 in one line."}
    assert llm.inputs == {"messages": [{"role": "user", "content": "Explain Qwen 2.5 in one line."}]}
    assert llm.token_usage == TokenUsage(26, 25, 51)
    assert llm.attributes["model"] == "qwen2.5:0.5b"
    assert llm.attributes["cache_hit"] is None  # an attribute without "value"
    assert llm.attributes["request_tags"] == []  # an empty array_value
    assert llm.attributes["response_cost"] == 0.0
    assert llm.duration_ns == 1795791650593303808 - 1795791650281730816
    assert trace.roots() == [root]


def test_search_page_decodes_like_the_trace_info_of_get() -> None:
    page = decode_trace_page(json.loads((SHARED_SAMPLES / "search_traces.json").read_text()))
    assert page.next_page_token is None
    assert page.trace_infos == (decode_trace(_sample_get_trace()).info,)
    assert decode_trace_page({}).trace_infos == ()  # an empty search answers {}


def test_export_matches_the_mlflow_cli_sample() -> None:
    expected = json.loads((SHARED_SAMPLES / "mlflow_traces_get.json").read_text())
    assert to_mlflow_cli_document(_sample_get_trace()) == expected


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("2026-11-27T15:00:50.244Z", 1795791650244),
        ("2026-11-27T15:00:50Z", 1795791650000),
        ("2026-11-27T15:00:50.244999999Z", 1795791650244),
        ("2026-11-27T16:00:50.244+01:00", 1795791650244),
        (1795791650244, 1795791650244),
    ],
)
def test_timestamps(text: Any, millis: int) -> None:
    assert parse_timestamp_ms(text) == millis


@pytest.mark.parametrize(
    ("text", "millis"),
    [("0.295s", 295), ("13.861s", 13861), ("1s", 1000), ("0.000999s", 0), ("0s", 0), (None, None)],
)
def test_durations(text: str | None, millis: int | None) -> None:
    assert parse_duration_ms(text) == millis


def test_in_progress_trace_has_no_duration() -> None:
    info = _sample_get_trace()["trace"]["trace_info"]
    info.update(state="IN_PROGRESS", execution_duration="0s")
    decoded = decode_trace_info(info)
    assert decoded.execution_duration_ms is None and decoded.end_time_ms is None


def test_session_and_assessments() -> None:
    info = _sample_get_trace()["trace"]["trace_info"]
    info["trace_metadata"]["mlflow.trace.session"] = "chat-42"
    info["assessments"] = [
        {
            "assessment_id": "a-1",
            "assessment_name": "helpful",
            "source": {"source_type": "HUMAN", "source_id": "me"},
            "create_time": "2026-11-27T15:10:55.342Z",
            "feedback": {"value": True},
            "rationale": "[b]fine[/b]",
        },
        {
            "assessment_id": "a-2",
            "assessment_name": "expected",
            "expectation": {"serialized_value": {"serialization_format": "JSON_FORMAT", "value": '{"a": 1}'}},
        },
    ]
    decoded = decode_trace_info(info)
    assert decoded.session_id == "chat-42"
    feedback, expectation = decoded.assessments
    assert (feedback.name, feedback.value, feedback.kind) == ("helpful", True, "feedback")
    assert feedback.rationale == "[b]fine[/b]" and feedback.source_id == "me"
    assert feedback.create_time_ms == 1795792255342
    assert (expectation.value, expectation.kind) == ({"a": 1}, "expectation")


def test_attribute_value_kinds() -> None:
    attributes = [
        {"key": "s", "value": {"string_value": "x"}},
        {"key": "i", "value": {"int_value": "9007199254740993"}},  # int64 as a string
        {"key": "d", "value": {"double_value": "NaN"}},
        {"key": "b", "value": {"bool_value": False}},
        {"key": "raw", "value": {"bytes_value": base64.b64encode(b"\x00\xff").decode()}},
        {"key": "none"},
        {"key": "empty", "value": {}},
        {
            "key": "kv",
            "value": {"kvlist_value": {"values": [{"key": "k", "value": {"int_value": 1}}]}},
        },
        {"key": "arr", "value": {"array_value": {"values": [{"string_value": "a"}, {}]}}},
        {"key": "mlflow.chat.tokenUsage", "value": {"string_value": '{"input_tokens": 3}'}},
    ]
    span = decode_span(_span(attributes=attributes))
    values = dict(span.attributes)
    assert values["s"] == "x"
    assert values["i"] == 9007199254740993
    assert values["d"] != values["d"]  # NaN
    assert values["b"] is False
    assert values["raw"] == b"\x00\xff"
    assert values["none"] is None and values["empty"] is None
    assert values["kv"] == {"k": 1}
    assert values["arr"] == ["a", None]
    # JSON text where MLflow stores JSON text: token usage is parsed.
    assert span.token_usage == TokenUsage(input_tokens=3)
    assert span.start_time_ns == 1795791650244082819
    assert span.span_type == "UNKNOWN"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("STATUS_CODE_OK", STATUS_OK),
        ("STATUS_CODE_ERROR", STATUS_ERROR),
        ("STATUS_CODE_UNSET", STATUS_UNSET),
        (None, STATUS_UNSET),
    ],
)
def test_status_codes(code: str | None, expected: str) -> None:
    status = {"code": code, "message": "boom"} if code else {}
    span = decode_span(_span(status=status))
    assert span.status_code == expected


def test_events_keep_their_attributes() -> None:
    event = {
        "name": "exception",
        "time_unix_nano": "17",
        "attributes": [{"key": "exception.message", "value": {"string_value": "bad"}}],
    }
    (decoded,) = decode_span(_span(events=[event])).events
    assert (decoded.name, decoded.time_unix_nano) == ("exception", 17)
    assert decoded.attributes == {"exception.message": "bad"}


def test_missing_end_and_parent() -> None:
    span = decode_span(_span(end_time_unix_nano="0", parent_span_id=""))
    assert span.end_time_ns is None and span.duration_ns is None and span.parent_id is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("trace"),
        lambda d: d["trace"].pop("trace_info"),
        lambda d: d["trace"]["trace_info"].update(request_time="yesterday"),
        lambda d: d["trace"]["trace_info"].update(execution_duration=[1]),
        lambda d: d["trace"]["trace_info"].update(tags=["not", "a", "map"]),
        lambda d: d["trace"].update(spans={"not": "a list"}),
        lambda d: d["trace"]["spans"][0].update(span_id="!!notbase64!!"),
        lambda d: d["trace"]["spans"][0].update(span_id="AAAA"),  # 3 bytes, not 8
        lambda d: d["trace"]["spans"][0].update(trace_id=None),
        lambda d: d["trace"]["spans"][0].update(status={"code": "STATUS_CODE_MAYBE"}),
        lambda d: d["trace"]["spans"][0].update(attributes=[{"value": {}}]),
        lambda d: d["trace"]["spans"][0].update(attributes=[{"key": "k", "value": 5}]),
        lambda d: d["trace"]["spans"][0].update(start_time_unix_nano="soon"),
        lambda d: d["trace"]["spans"].append("span"),
    ],
)
def test_malformed_documents_raise_one_sentence(mutate: Any) -> None:
    document = _sample_get_trace()
    mutate(document)
    with pytest.raises(BadResponse) as caught:
        decode_trace(document)
    sentence = str(caught.value)
    assert sentence.startswith("The tracking server sent") and sentence.endswith(".")
    assert "\n" not in sentence


# --- properties ---------------------------------------------------------------------

_json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_json = st.recursive(
    _json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_SPAN_KEYS = [
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "attributes",
    "status",
    "events",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_json, st.dictionaries(st.sampled_from(_SPAN_KEYS), _json)))
def test_random_spans_decode_or_raise_bad_response(document: Any) -> None:
    try:
        decode_span(document)
    except BadResponse:
        pass


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corrupted_sample_decodes_or_raises_bad_response(data: st.DataObject) -> None:
    """Replace one node anywhere in a real document with random JSON."""
    document = _sample_get_trace()
    paths: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            items = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            return
        for key, child in list(items):
            paths.append((node, key))
            walk(child)

    walk(document)
    parent, key = data.draw(st.sampled_from(paths))
    parent[key] = data.draw(_json)
    for decoder in (decode_trace, to_mlflow_cli_document):
        try:
            decoder(copy.deepcopy(document))
        except BadResponse:
            pass


@given(st.binary(min_size=8, max_size=8), st.binary(min_size=16, max_size=16))
def test_ids_round_trip(span_id: bytes, trace_id: bytes) -> None:
    span_b64 = base64.b64encode(span_id).decode()
    trace_b64 = base64.b64encode(trace_id).decode()
    span = decode_span(_span(span_id=span_b64, trace_id=trace_b64, parent_span_id=span_b64))
    assert span.span_id == span_id.hex() and span.trace_id == trace_id.hex()
    assert span.parent_id == span.span_id
    assert hex_to_b64(span.span_id) == span_b64 and hex_to_b64(span.trace_id) == trace_b64


def test_b64_to_hex_rejects_wrong_sizes() -> None:
    assert b64_to_hex("7fuNilP00FA=", 8) == "edfb8d8a53f4d050"
    with pytest.raises(ValueError) as caught:
        b64_to_hex("7fuNilP00FA=", 16)
    assert "bytes" in str(caught.value)


def test_deep_nesting_is_a_bad_response_not_a_crash() -> None:
    value: dict[str, Any] = {"string_value": "x"}
    for _ in range(5000):
        value = {"array_value": {"values": [value]}}
    with pytest.raises(BadResponse):
        decode_span(_span(attributes=[{"key": "deep", "value": value}]))
