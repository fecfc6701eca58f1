"""`tracetui ask` end to end: a real subprocess, real litellm, the fake Ollama, a real MLflow server."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from fake_ollama import HOSTILE_ANSWER, FakeAnswer, FakeOllama

pytest_plugins = ["fake_ollama"]


def _run_ask(*args: str, ollama_url: str, tracking_uri: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OLLAMA_"))}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    command = [sys.executable, "-m", "tracetui", "ask", *args, "--ollama-url", ollama_url]
    if tracking_uri:
        command += ["--tracking-uri", tracking_uri]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_ask_streams_the_answer_and_prints_the_trace_id(fake_ollama: FakeOllama, mlflow_server) -> None:
    fake_ollama.script("Qwen 2.5 is small and quick.")
    done = _run_ask(
        "What is Qwen 2.5?",
        "--experiment",
        "ask-e2e",
        ollama_url=fake_ollama.url,
        tracking_uri=mlflow_server.url,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Qwen 2.5 is small and quick.\n"
    trace_line = [line for line in done.stderr.splitlines() if line.startswith("trace: ")]
    assert len(trace_line) == 1
    trace_id = trace_line[0].removeprefix("trace: ")
    got = httpx.get(
        f"{mlflow_server.url}/api/3.0/mlflow/traces/get", params={"trace_id": trace_id}, timeout=30
    )
    assert got.status_code == 200
    assert got.json()["trace"]["trace_info"]["request_preview"] == '{"prompt": "What is Qwen 2.5?"}'


def test_ask_unknown_model_is_one_sentence_and_exit_1(fake_ollama: FakeOllama) -> None:
    done = _run_ask("hi", "--model", "ollama_chat/nope", "--no-trace", ollama_url=fake_ollama.url)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == "Model nope is not pulled. Run `ollama pull nope`."


def test_ask_with_ollama_down_says_how_to_start_it() -> None:
    done = _run_ask("hi", "--no-trace", ollama_url="http://127.0.0.1:9")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Ollama is not running at http://127.0.0.1:9. Start it with `ollama serve`."
    )
    assert "Traceback" not in done.stderr


def test_ask_error_mid_stream_keeps_the_partial_answer(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(FakeAnswer.of_text("one two three", error_after=2, error_message="oom"))
    done = _run_ask("x", "--no-trace", ollama_url=fake_ollama.url)
    assert done.returncode == 1
    assert done.stdout == "one two\n"
    assert "oom" in done.stderr and "partial answer is kept" in done.stderr


def test_ask_tracking_server_down_still_answers(fake_ollama: FakeOllama) -> None:
    fake_ollama.script("Answer anyway.")
    done = _run_ask("x", ollama_url=fake_ollama.url, tracking_uri="http://127.0.0.1:9")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Answer anyway.\n"
    assert "not traced" in done.stderr and "Traceback" not in done.stderr


def test_ask_never_writes_terminal_escapes(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(HOSTILE_ANSWER)
    done = _run_ask("x", "--no-trace", ollama_url=fake_ollama.url)
    assert done.returncode == 0
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout and "\x00" not in done.stdout
    assert "[bold red]not bold[/]" in done.stdout  # markup is shown as text, not applied
