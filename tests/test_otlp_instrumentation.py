"""Traces from released instrumentation libraries, sent over OTLP/HTTP to a real MLflow server.

Each program (tests/instrumented_program.py, run in its own process) calls the fake Ollama's
OpenAI-compatible /v1/chat/completions with the real openai client, instrumented with the
OpenTelemetry GenAI instrumentation (plus the httpx one) or OpenInference's; its spans reach the
session's MLflow server (sqlite store) on /v1/traces. Then the CLI and the dashboard are checked on
what arrived: names, models, conversations, the Ollama hop. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from fake_ollama import FakeOllama
from test_app import app_for, leave_prompt, wait_for
from test_span_widgets import detail_text

from tracetui.cli import main
from tracetui.tracking import call_path as call_path_module

pytest_plugins = ["fake_ollama"]

PROGRAM = Path(__file__).parent / "instrumented_program.py"
ANSWER = "Hello from the fake Qwen."
MODES = ("genai", "openinference")
ROOT_NAMES = {"genai": ("chat qwen2.5", "chat qwen2.5:0.5b"), "openinference": ("ChatCompletion",) * 2}


def create_experiment(url: str, name: str) -> str:
    response = httpx.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": name})
    response.raise_for_status()
    return response.json()["experiment_id"]


def program_command(mode: str, url: str, experiment_id: str, ollama_url: str) -> list[str]:
    return [sys.executable, str(PROGRAM), mode, url, experiment_id, ollama_url]


def program_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}


def run_program(mode: str, url: str, experiment_id: str, ollama_url: str) -> None:
    done = subprocess.run(
        program_command(mode, url, experiment_id, ollama_url),
        env=program_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [ANSWER, ANSWER]


@pytest.fixture(scope="module")
def sent(mlflow_server: Any, fake_ollama_server: FakeOllama) -> dict[str, str]:
    """Mode -> experiment name, after each program sent its two traces."""
    names = {}
    for mode in MODES:
        name = f"otlp-{mode}-{uuid.uuid4().hex[:8]}"
        run_program(
            mode, mlflow_server.url, create_experiment(mlflow_server.url, name), fake_ollama_server.url
        )
        names[mode] = name
    return names


@pytest.fixture(autouse=True)
def forget_known_ollama() -> Any:
    """The CLI remembers the configured Ollama address in the process: do not leak it to other tests."""
    saved = set(call_path_module._known_ollama_hosts)
    yield
    call_path_module._known_ollama_hosts.clear()
    call_path_module._known_ollama_hosts.update(saved)


def cli(url: str, *args: str, ollama_url: str | None = None) -> Result:
    env = {"MLFLOW_TRACKING_URI": url, "MLFLOW_EXPERIMENT_ID": None, "MLFLOW_EXPERIMENT_NAME": None}
    env.update({"OLLAMA_API_BASE": ollama_url, "OLLAMA_HOST": None})
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def trace_ids(url: str, experiment: str) -> list[str]:
    """Oldest first: the whole answer, then the streamed one."""
    lines = cli(url, "traces", "list", "-e", experiment).output.splitlines()[1:]
    return [line.split()[2] for line in reversed(lines)]


@pytest.mark.parametrize("mode", MODES)
def test_the_list_names_each_trace_and_its_model(mlflow_server: Any, sent: dict[str, str], mode: str) -> None:
    lines = cli(mlflow_server.url, "traces", "list", "-e", sent[mode]).output.splitlines()
    assert len(lines) == 3, lines
    newest, oldest = lines[1], lines[2]
    assert ROOT_NAMES[mode][1] in newest and "qwen2.5:0.5b" in newest
    assert ROOT_NAMES[mode][0] in oldest and "qwen2.5:latest" in oldest  # the model that answered
    assert "2→5" in newest and "4→5" in oldest  # token usage MLflow read from the conventions
    assert all("  -  " not in line for line in lines)  # no column left unknown


@pytest.mark.parametrize("mode", MODES)
def test_span_detail_prints_the_conversation(mlflow_server: Any, sent: dict[str, str], mode: str) -> None:
    whole, streamed = trace_ids(mlflow_server.url, sent[mode])
    root = ROOT_NAMES[mode][0]
    text = cli(mlflow_server.url, "traces", "show", whole, "--span", root).output
    assert "Inputs:\n  system: Be brief.\n  user: Hi there\n" in text
    assert f"Outputs:\n  assistant: {ANSWER}\n" in text
    assert f"path: {root}\n" in text
    streamed_text = cli(mlflow_server.url, "traces", "show", streamed, "--span", ROOT_NAMES[mode][1]).output
    assert "user: Stream please" in streamed_text and f"assistant: {ANSWER}" in streamed_text
    post = cli(mlflow_server.url, "traces", "show", whole, "--span", "POST").output
    assert f"path: {root} > POST" in post and "/v1/chat/completions" in post


@pytest.mark.parametrize("mode", MODES)
def test_the_http_span_is_the_ollama_hop(
    mlflow_server: Any, fake_ollama_server: FakeOllama, sent: dict[str, str], mode: str
) -> None:
    whole, _ = trace_ids(mlflow_server.url, sent[mode])
    host = fake_ollama_server.url.removeprefix("http://")
    # Ollama here listens on a random port: it is known as the configured Ollama address.
    text = cli(
        mlflow_server.url, "traces", "mermaid", whole, "--text", ollama_url=fake_ollama_server.url
    ).output
    assert f"Ollama {host}" in text and "POST /v1/chat/completions" in text and "HTTP 200" in text
    assert "qwen2.5:latest" in text
    unknown = cli(
        mlflow_server.url, "traces", "mermaid", whole, "--text", ollama_url="http://elsewhere:1"
    ).output
    assert "Ollama" not in unknown or mode == "genai"  # the GenAI span keeps Ollama's fp_ollama fingerprint


async def test_the_dashboard_shows_traces_as_they_arrive(
    mlflow_server: Any, fake_ollama_server: FakeOllama
) -> None:
    name = f"otlp-live-{uuid.uuid4().hex[:8]}"
    experiment_id = create_experiment(mlflow_server.url, name)
    app = app_for(mlflow_server.url, name)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: "0 traces listed." in app.status.sentence, "the empty list")
        process = await asyncio.create_subprocess_exec(
            *program_command("genai", mlflow_server.url, experiment_id, fake_ollama_server.url),
            env=program_env(),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        while process.returncode is None:
            assert time.monotonic() < deadline, "the instrumented program did not finish"
            await pilot.pause(0.2)
        assert process.returncode == 0
        table = app.viewer.trace_list
        await wait_for(pilot, lambda: table.row_count == 2, "both traces listed")
        await wait_for(pilot, lambda: "2 traces listed." in app.status.sentence, "the count to follow")
        finished = list(table.infos)

        def cells(column: str) -> list[str]:
            return sorted(str(table.get_cell(trace_id, column)) for trace_id in finished)

        await wait_for(pilot, lambda: "" not in cells("model"), "the models, read from the spans")
        assert cells("name") == ["chat qwen2.5", "chat qwen2.5:0.5b"]
        assert cells("model") == ["qwen2.5:0.5b", "qwen2.5:latest"]
        speeds = {speed.model for speed in app.viewer.stats_bar.speeds}
        assert speeds == {"qwen2.5:0.5b", "qwen2.5:latest"}  # not "unknown model"
        await leave_prompt(pilot)
        whole = next(i for i, info in table.infos.items() if "Be brief" in info.request_preview)
        table.select_trace(whole)
        app.viewer.follow = False
        app.viewer.spans.open(whole)
        await wait_for(pilot, lambda: app.viewer.spans.shown_trace_id == whole, "the whole answer's trace")
        await wait_for(pilot, lambda: "Be brief." in detail_text(app), "the conversation in the detail")
        text = detail_text(app)
        assert "system: Be brief." in text and "user: Hi there" in text and f"assistant: {ANSWER}" in text


@pytest.mark.parametrize("mode", MODES)
def test_show_json_keeps_every_attribute(mlflow_server: Any, sent: dict[str, str], mode: str) -> None:
    whole, _ = trace_ids(mlflow_server.url, sent[mode])
    document = json.loads(cli(mlflow_server.url, "traces", "show", whole, "--json").output)
    keys = {key for span in document["data"]["spans"] for key in span["attributes"]}
    convention = {"genai": "gen_ai.input.messages", "openinference": "llm.input_messages.0.message.role"}
    assert {convention[mode], "mlflow.llm.model", "http.url", "http.status_code"} <= keys
