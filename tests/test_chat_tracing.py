"""Every chat turn is one complete MLflow trace on a real server: Python -> litellm -> Ollama -> model."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from fake_ollama import FakeAnswer, FakeOllama

from tracetui.chat.record import TurnRecord
from tracetui.chat.session import ChatSession
from tracetui.chat.trace_writer import TurnTracer
from tracetui.config import TrackingSettings

pytest_plugins = ["fake_ollama"]

HOPS = ["python", "litellm", "ollama", "model"]


def _hex(b64: str) -> str:
    return base64.b64decode(b64).hex()


def _value(value: dict[str, Any]) -> Any:
    """An OTLP AnyValue as Python; MLflow's own string attributes are JSON inside."""
    if "string_value" in value:
        try:
            return json.loads(value["string_value"])
        except ValueError:
            return value["string_value"]
    if "kvlist_value" in value:
        return {kv["key"]: _value(kv.get("value", {})) for kv in value["kvlist_value"].get("values", [])}
    if "array_value" in value:
        return [_value(v or {}) for v in value["array_value"].get("values", [])]
    if "int_value" in value:
        return int(value["int_value"])
    for key in ("double_value", "bool_value"):
        if key in value:
            return value[key]
    return None


def fetch_trace(server_url: str, trace_id: str) -> dict[str, Any]:
    """The trace as MLflow's REST API returns it, spans decoded to plain dicts."""
    response = httpx.get(f"{server_url}/api/3.0/mlflow/traces/get", params={"trace_id": trace_id}, timeout=30)
    assert response.status_code == 200, response.text
    trace = response.json()["trace"]
    spans = []
    for span in trace["spans"]:
        attributes = {a["key"]: _value(a.get("value", {})) for a in span.get("attributes", [])}
        spans.append(
            {
                "id": _hex(span["span_id"]),
                "parent": _hex(span["parent_span_id"]) if span.get("parent_span_id") else None,
                "name": span["name"],
                "status": span.get("status", {}).get("code"),
                "events": span.get("events", []),
                "attributes": attributes,
                "type": attributes.get("mlflow.spanType"),
                "hop": attributes.get("tracetui.hop"),
                "inputs": attributes.get("mlflow.spanInputs"),
                "outputs": attributes.get("mlflow.spanOutputs"),
            }
        )
    return {"info": trace["trace_info"], "spans": spans}


def experiment_trace_ids(url: str, experiment_id: str, auth: Any = None) -> list[str]:
    """The ids of an experiment's traces on the server, newest first (`auth` for a basic-auth server)."""
    found = httpx.post(
        f"{url}/api/3.0/mlflow/traces/search",
        json={
            "locations": [
                {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}
            ],
            "max_results": 100,
        },
        auth=auth,
        timeout=30,
    )
    assert found.status_code == 200, found.text
    return [t["trace_id"] for t in found.json().get("traces", [])]


def setup_spans(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """The program's own preparation (litellm's first import in a process): beside the path."""
    return [s for s in trace["spans"] if s["hop"] == "setup"]


def hop_chain(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """The spans from the root down, following the only child at each level.

    A "load litellm" span under the root (a process's first turn) is set aside: it is
    the program preparing the call, not a hop of the path.
    """
    spans = [s for s in trace["spans"] if s["hop"] != "setup"]
    chain = [s for s in spans if s["parent"] is None]
    assert len(chain) == 1, "exactly one root span"
    while children := [s for s in spans if s["parent"] == chain[-1]["id"]]:
        assert len(children) == 1
        chain.append(children[0])
    assert len(chain) == len(spans), "every span is on the one path"
    assert all(s["parent"] == chain[0]["id"] for s in setup_spans(trace)), "setup spans hang off the root"
    return chain


@pytest.fixture
def tracer(tracking_settings: TrackingSettings) -> TurnTracer:
    tracer = TurnTracer(tracking_settings, experiment=f"chat-{uuid.uuid4().hex[:8]}")
    yield tracer
    tracer.close()


def _session(fake: FakeOllama, tracer: TurnTracer | None) -> ChatSession:
    return ChatSession(model="ollama_chat/qwen2.5", ollama_url=fake.url, tracer=tracer)


async def test_a_turn_is_one_trace_with_the_whole_path(
    fake_ollama: FakeOllama, tracer: TurnTracer, mlflow_server
) -> None:
    fake_ollama.script("Qwen 2.5 is a family of open models.")
    session = _session(fake_ollama, tracer)
    result = await session.ask("What is Qwen 2.5?")
    assert result.traced and result.trace_id and result.not_traced_reason is None

    trace = fetch_trace(mlflow_server.url, result.trace_id)
    info = trace["info"]
    assert info["state"] == "OK"
    assert info["trace_location"]["mlflow_experiment"]["experiment_id"] == tracer.experiment_id()
    assert info["trace_metadata"]["mlflow.trace.session"] == session.session_id
    assert json.loads(info["trace_metadata"]["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 4,
        "output_tokens": 8,
        "total_tokens": 12,
    }
    assert info["tags"]["mlflow.traceName"] == "chat_turn"

    root, llm, hop, gen = hop_chain(trace)
    assert [s["hop"] for s in (root, llm, hop, gen)] == HOPS
    assert all(s["status"] == "STATUS_CODE_OK" for s in (root, llm, hop, gen))
    assert (root["name"], root["type"]) == ("chat_turn", "CHAIN")
    assert root["inputs"] == {"prompt": "What is Qwen 2.5?"}
    assert root["outputs"] == {"answer": result.answer}

    assert llm["type"] == "LLM" and llm["attributes"]["model"] == "ollama_chat/qwen2.5"
    assert llm["inputs"]["messages"] == [{"role": "user", "content": "What is Qwen 2.5?"}]
    assert llm["outputs"]["choices"][0]["message"] == {"role": "assistant", "content": result.answer}
    assert llm["attributes"]["mlflow.chat.tokenUsage"]["output_tokens"] == 8

    assert hop["name"] == f"Ollama {fake_ollama.url.removeprefix('http://')}"
    assert hop["attributes"]["http.response.status_code"] == 200
    assert hop["attributes"]["ollama.endpoint"] == "/api/chat"
    assert hop["attributes"]["time_to_first_byte_ms"] >= 0

    assert gen["name"] == "qwen2.5:latest" and gen["type"] == "LLM"
    assert gen["attributes"]["ollama.eval_count"] == 8
    assert gen["attributes"]["ollama.prompt_eval_count"] == 4
    assert gen["attributes"]["done_reason"] == "stop"
    assert gen["attributes"]["tokens_per_second"] > 0
    assert gen["attributes"]["time_to_first_token_ms"] > 0


async def test_mlflows_own_client_reads_the_trace(
    fake_ollama: FakeOllama, tracer: TurnTracer, mlflow_server
) -> None:
    from mlflow import MlflowClient

    fake_ollama.script("Hello.")
    result = await _session(fake_ollama, tracer).ask("hi")
    trace = MlflowClient(tracking_uri=mlflow_server.url).get_trace(result.trace_id)
    types = {span.name: span.span_type for span in trace.data.spans}
    assert types["chat_turn"] == "CHAIN" and types["litellm-acompletion"] == "LLM"
    assert trace.info.token_usage["total_tokens"] == 2


async def test_fifty_turns_make_fifty_complete_traces(
    fake_ollama: FakeOllama, tracer: TurnTracer, mlflow_server
) -> None:
    session = _session(fake_ollama, tracer)
    trace_ids = []
    for turn in range(50):
        fake_ollama.script(f"Answer number {turn}.")
        result = await session.ask(f"Question {turn}?")
        assert result.ok and result.traced, result.not_traced_reason
        trace_ids.append(result.trace_id)
    assert len(set(trace_ids)) == 50

    search = httpx.post(
        f"{mlflow_server.url}/api/3.0/mlflow/traces/search",
        json={
            "locations": [
                {
                    "type": "MLFLOW_EXPERIMENT",
                    "mlflow_experiment": {"experiment_id": tracer.experiment_id()},
                }
            ],
            "max_results": 500,
        },
        timeout=30,
    ).json()
    assert sorted(t["trace_id"] for t in search["traces"]) == sorted(trace_ids)

    for turn, trace_id in enumerate(trace_ids):
        trace = fetch_trace(mlflow_server.url, trace_id)
        chain = hop_chain(trace)
        assert [s["hop"] for s in chain] == HOPS, trace_id
        assert trace["info"]["state"] == "OK"
        assert chain[0]["outputs"] == {"answer": f"Answer number {turn}."}
        assert chain[3]["attributes"]["ollama.eval_count"] == 3
        assert trace["info"]["trace_metadata"]["mlflow.trace.session"] == session.session_id


async def test_error_mid_stream_makes_an_error_trace_with_the_exception(
    fake_ollama: FakeOllama, tracer: TurnTracer, mlflow_server
) -> None:
    fake_ollama.script(FakeAnswer.of_text("one two three", error_after=2, error_message="oom"))
    result = await _session(fake_ollama, tracer).ask("x")
    assert result.answer == "one two" and result.error and result.traced

    trace = fetch_trace(mlflow_server.url, result.trace_id)
    assert trace["info"]["state"] == "ERROR"
    root, llm, hop, gen = hop_chain(trace)
    assert root["outputs"] == {"answer": "one two"}
    for span in (root, llm, hop, gen):
        assert span["status"] == "STATUS_CODE_ERROR", span["name"]
    for span in (hop, gen):  # where it failed: Ollama's error line
        (event,) = span["events"]
        attributes = {a["key"]: _value(a.get("value", {})) for a in event["attributes"]}
        assert event["name"] == "exception"
        assert attributes["exception.type"] == "OllamaError"
        assert attributes["exception.message"] == "oom"
    (llm_event,) = llm["events"]
    assert llm_event["name"] == "exception"


async def test_unknown_model_trace_shows_the_404_on_the_ollama_hop(
    fake_ollama: FakeOllama, tracer: TurnTracer, mlflow_server
) -> None:
    session = ChatSession(model="ollama_chat/nope", ollama_url=fake_ollama.url, tracer=tracer)
    result = await session.ask("x")
    assert result.error == "Model nope is not pulled. Run `ollama pull nope`."
    root, llm, hop = hop_chain(fetch_trace(mlflow_server.url, result.trace_id))
    assert hop["attributes"]["http.response.status_code"] == 404
    assert hop["status"] == "STATUS_CODE_ERROR" and hop["events"][0]["name"] == "exception"
    assert llm["status"] == root["status"] == "STATUS_CODE_ERROR"


async def test_cancelled_turn_is_traced_with_its_partial_answer(
    fake_ollama: FakeOllama, tracer: TurnTracer, mlflow_server
) -> None:
    fake_ollama.script(FakeAnswer.of_tokens(200, token_delay_s=0.05))
    turn = _session(fake_ollama, tracer).start_turn("count")
    async for delta in turn:
        if delta.strip() == "w2":
            turn.cancel()
    result = await turn.result()
    assert result.cancelled and result.traced
    chain = hop_chain(fetch_trace(mlflow_server.url, result.trace_id))
    assert [s["hop"] for s in chain] == HOPS
    assert chain[0]["outputs"]["answer"] == result.answer
    assert chain[0]["attributes"]["tracetui.cancelled"] is True
    assert chain[3]["attributes"]["done_reason"] == "cancelled"


async def test_tracking_server_down_the_chat_still_works(fake_ollama: FakeOllama) -> None:
    down = TurnTracer(TrackingSettings(tracking_uri="http://127.0.0.1:9"), experiment="x")
    fake_ollama.script("Still here.")
    result = await _session(fake_ollama, down).ask("x")
    assert result.answer == "Still here." and result.ok
    assert not result.traced and result.trace_id is None
    assert result.not_traced_reason == (
        "The MLflow tracking server at http://127.0.0.1:9 is not reachable, so this turn was not traced."
    )


async def test_a_record_replayed_later_writes_the_same_single_trace(
    fake_ollama: FakeOllama, tracer: TurnTracer, mlflow_server
) -> None:
    """The seam for an outbox: records survive JSON, and a replay does not duplicate."""
    fake_ollama.script("Kept for later.")
    session = _session(fake_ollama, None)
    await session.ask("x")
    stored = json.dumps(session.current_turn.record.to_dict())
    replayed = TurnRecord.from_dict(json.loads(stored))
    first = tracer(replayed)
    again = tracer(TurnRecord.from_dict(json.loads(stored)))
    assert first == again == replayed.trace_id
    chain = hop_chain(fetch_trace(mlflow_server.url, first))
    assert [s["hop"] for s in chain] == HOPS
