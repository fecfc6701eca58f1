"""The fake Ollama speaks Ollama's wire protocol (checked over real HTTP with httpx)."""

from __future__ import annotations

import json

import httpx
from fake_ollama import HOSTILE_ANSWER, FakeAnswer, FakeOllama, split_tokens

pytest_plugins = ["fake_ollama"]  # the fake_ollama fixture


def _stream_lines(fake: FakeOllama, path: str, body: dict) -> tuple[httpx.Response, list[dict]]:
    with httpx.Client(base_url=fake.url) as client:
        with client.stream("POST", path, json=body) as response:
            lines = [json.loads(line) for line in response.iter_lines() if line]
    return response, lines


def test_health_version_and_tags(fake_ollama: FakeOllama) -> None:
    with httpx.Client(base_url=fake_ollama.url) as client:
        assert client.get("/").text == "Ollama is running"
        assert "version" in client.get("/api/version").json()
        names = [m["name"] for m in client.get("/api/tags").json()["models"]]
    assert names == ["qwen2.5:latest", "qwen2.5:0.5b"]


def test_show_knows_pulled_models_and_404s_others(fake_ollama: FakeOllama) -> None:
    with httpx.Client(base_url=fake_ollama.url) as client:
        shown = client.post("/api/show", json={"model": "qwen2.5"})
        missing = client.post("/api/show", json={"model": "llama9"})
    assert shown.status_code == 200 and shown.json()["details"]["family"] == "qwen2"
    assert missing.status_code == 404
    assert missing.json() == {"error": "model 'llama9' not found"}


def test_chat_streams_ndjson_with_a_timed_done_line(fake_ollama: FakeOllama) -> None:
    fake_ollama.script("One two three.")
    response, lines = _stream_lines(
        fake_ollama, "/api/chat", {"model": "qwen2.5", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert response.headers["content-type"].startswith("application/x-ndjson")
    *pieces, done = lines
    assert "".join(p["message"]["content"] for p in pieces) == "One two three."
    assert all(p["done"] is False for p in pieces)
    assert done["done"] is True and done["done_reason"] == "stop"
    assert done["eval_count"] == len(pieces)
    for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(done[key], int) and done[key] > 0  # nanoseconds
    assert done["model"] == "qwen2.5:latest"


def test_generate_streams_response_field(fake_ollama: FakeOllama) -> None:
    fake_ollama.script("Hi there")
    _, lines = _stream_lines(fake_ollama, "/api/generate", {"model": "qwen2.5:0.5b", "prompt": "x"})
    assert "".join(line["response"] for line in lines) == "Hi there"
    assert lines[-1]["done"] is True and "context" in lines[-1]


def test_non_streaming_answer_is_one_object(fake_ollama: FakeOllama) -> None:
    fake_ollama.script("All at once.")
    with httpx.Client(base_url=fake_ollama.url) as client:
        body = client.post(
            "/api/chat",
            json={"model": "qwen2.5", "stream": False, "messages": [{"role": "user", "content": "x"}]},
        ).json()
    assert body["message"]["content"] == "All at once." and body["done"] is True
    assert body["eval_count"] == 3


def test_unknown_model_is_404_with_ollama_error(fake_ollama: FakeOllama) -> None:
    with httpx.Client(base_url=fake_ollama.url) as client:
        response = client.post("/api/chat", json={"model": "nope", "messages": []})
    assert response.status_code == 404
    assert response.json() == {"error": "model 'nope' not found"}


def test_error_mid_stream_is_an_error_line_and_no_done_line(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(FakeAnswer.of_text("a b c d", error_after=2, error_message="boom"))
    response, lines = _stream_lines(
        fake_ollama, "/api/chat", {"model": "qwen2.5", "messages": [{"role": "user", "content": "x"}]}
    )
    assert response.status_code == 200
    assert [line.get("message", {}).get("content") for line in lines[:2]] == ["a", " b"]
    assert lines[-1] == {"error": "boom"}
    assert not any(line.get("done") for line in lines)


def test_num_predict_cuts_the_answer_with_done_reason_length(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(FakeAnswer.of_tokens(10))
    _, lines = _stream_lines(
        fake_ollama,
        "/api/chat",
        {"model": "qwen2.5", "messages": [], "options": {"num_predict": 4}},
    )
    assert lines[-1]["done_reason"] == "length" and lines[-1]["eval_count"] == 4


def test_hostile_answer_survives_the_wire_byte_for_byte(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(HOSTILE_ANSWER)
    _, lines = _stream_lines(fake_ollama, "/api/chat", {"model": "qwen2.5", "messages": []})
    assert "".join(line["message"]["content"] for line in lines) == HOSTILE_ANSWER
    assert "".join(split_tokens(HOSTILE_ANSWER)) == HOSTILE_ANSWER


def test_fast_mode_sends_every_token(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(FakeAnswer.of_tokens(2000, fast=True))
    _, lines = _stream_lines(fake_ollama, "/api/chat", {"model": "qwen2.5", "messages": []})
    assert len(lines) == 2001 and lines[-1]["eval_count"] == 2000


def test_requests_are_recorded_and_reset(fake_ollama: FakeOllama) -> None:
    _stream_lines(fake_ollama, "/api/chat", {"model": "qwen2.5", "messages": [{"content": "q"}]})
    assert fake_ollama.chat_requests()[0]["messages"] == [{"content": "q"}]
    fake_ollama.reset()
    assert fake_ollama.requests == []


# --- the OpenAI-compatible endpoint (tests/fake_ollama_openai.py) ------------------------------


def test_openai_compatible_chat_completion(fake_ollama: FakeOllama) -> None:
    fake_ollama.script("One two.")
    body = {"model": "qwen2.5", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=fake_ollama.url) as client:
        answer = client.post("/v1/chat/completions", json=body).json()
        missing = client.post("/v1/chat/completions", json={**body, "model": "llama9"})
    assert answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    assert answer["system_fingerprint"] == "fp_ollama" and answer["model"] == "qwen2.5:latest"
    assert answer["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "One two."}, "finish_reason": "stop"}
    ]
    assert answer["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"


def test_openai_compatible_stream_is_server_sent_events(fake_ollama: FakeOllama) -> None:
    fake_ollama.script("One two.", "Three.")
    body = {"model": "qwen2.5:0.5b", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.Client(base_url=fake_ollama.url) as client:
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            events = [line for line in response.iter_lines() if line]
        with_usage = {**body, "stream_options": {"include_usage": True}}
        with client.stream("POST", "/v1/chat/completions", json=with_usage) as usage_response:
            usage_events = [line for line in usage_response.iter_lines() if line]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert all(line.startswith("data: ") for line in events) and events[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in events[:-1]]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "One two."
    assert all(c["object"] == "chat.completion.chunk" and "usage" not in c for c in chunks)
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "stop"
    last = json.loads(usage_events[-2][6:])
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 1
