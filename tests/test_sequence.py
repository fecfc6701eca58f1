"""Sequence view: real traces from the real server (tracetui's chat writer, autolog-shaped and
hostile ones) drawn as Mermaid and as terminal lines, and the `traces mermaid` command."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator

import pytest
from chat_turns import (
    CALL_AT,
    END_AT,
    LOAD_MS,
    MODEL_TAG,
    MS,
    OUTPUT_TOKENS,
    PROMPT_EVAL_MS,
    REQUEST_AT,
    WIRE_END_AT,
    turn_record,
)
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from trace_factory import log_hostile_trace, log_nested_trace, use_server

from tracetui.chat.trace_writer import TurnTracer
from tracetui.cli import main
from tracetui.config import TrackingSettings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.models import Trace
from tracetui.tracking.sequence import (
    CALL,
    RETURN,
    build_sequence,
    mermaid_escape,
    to_mermaid,
    to_text_lines,
)
from tracetui.visible import one_line


def fetch(settings: TrackingSettings, url: str, trace_id: str) -> Trace:
    async def get() -> Trace:
        async with TrackingClient(settings, url) as client:
            return await client.get_trace(trace_id)

    return asyncio.run(get())


@pytest.fixture(scope="module")
def chat_trace_id(mlflow_server) -> Iterator[str]:
    tracer = TurnTracer(
        TrackingSettings(tracking_uri=mlflow_server.url), experiment=f"seq-{uuid.uuid4().hex[:8]}"
    )
    try:
        yield tracer.log(turn_record("seq-session", "What is Qwen 2.5?", "A small model."))
    finally:
        tracer.close()


def test_chat_trace_has_every_hop_with_its_latency(mlflow_server, tracking_settings, chat_trace_id) -> None:
    diagram = build_sequence(fetch(tracking_settings, mlflow_server.url, chat_trace_id))
    labels = [p.label for p in diagram.participants]
    assert labels == ["Python program", "litellm", "Ollama 127.0.0.1:11434", MODEL_TAG, "MLflow"]
    arrows = [(m.source, m.target, m.kind, m.label) for m in diagram.messages]
    assert arrows == [
        (0, 1, CALL, f"acompletion({MODEL_TAG})"),
        (1, 2, CALL, "POST /api/chat"),
        (2, 3, CALL, "generate, 26 tok in"),
        (3, 2, RETURN, "first token"),
        (3, 2, RETURN, f"done, {OUTPUT_TOKENS} tok, 20.0 tok/s"),
        (2, 1, RETURN, "HTTP 200"),
        (1, 0, RETURN, f"answer, {OUTPUT_TOKENS} tok"),
        (0, 4, CALL, "log trace (4 spans)"),
    ]
    by_label = {m.label: m for m in diagram.messages}
    assert by_label["HTTP 200"].duration_ns == (WIRE_END_AT - REQUEST_AT) * MS
    assert by_label[f"answer, {OUTPUT_TOKENS} tok"].duration_ns == (END_AT - CALL_AT) * MS
    assert by_label["first token"].duration_ns == (LOAD_MS + PROMPT_EVAL_MS) * MS
    assert not any(m.derived for m in diagram.messages)
    offsets = [m.offset_ns for m in diagram.messages]
    assert offsets == sorted(offsets), "arrows are in time order"
    assert diagram.messages[0].offset_ns == CALL_AT * MS
    assert by_label["log trace (4 spans)"].offset_ns == END_AT * MS


def test_the_first_turns_litellm_load_is_an_arrow_of_its_own(mlflow_server, tracking_settings) -> None:
    """The seconds of litellm's first import are named in the diagram, not an unexplained gap."""
    record = turn_record("seq-session", "First question?", "First answer.")
    record.load_start_ns, record.load_end_ns = record.start_ns + MS, record.start_ns + 5 * MS
    tracer = TurnTracer(
        TrackingSettings(tracking_uri=mlflow_server.url), experiment=f"seq-{uuid.uuid4().hex[:8]}"
    )
    try:
        trace_id = tracer.log(record)
    finally:
        tracer.close()
    diagram = build_sequence(fetch(tracking_settings, mlflow_server.url, trace_id))
    first, second = diagram.messages[:2]
    assert (first.source, first.target, first.kind, first.label) == (0, 1, CALL, "load litellm")
    assert first.duration_ns == 4 * MS and first.offset_ns == 1 * MS
    assert second.label == f"acompletion({MODEL_TAG})"
    assert diagram.messages[-1].label == "log trace (5 spans)"


def test_chat_trace_as_mermaid(mlflow_server, tracking_settings, chat_trace_id) -> None:
    text = to_mermaid(build_sequence(fetch(tracking_settings, mlflow_server.url, chat_trace_id)))
    assert text.splitlines() == [
        "sequenceDiagram",
        "    participant P0 as Python program",
        "    participant P1 as litellm",
        "    participant P2 as Ollama 127.0.0.1#58;11434",
        "    participant P3 as qwen2.5#58;0.5b",
        "    participant P4 as MLflow",
        "    P0->>P1: acompletion(qwen2.5#58;0.5b)",
        "    P1->>P2: POST /api/chat",
        "    P2->>P3: generate, 26 tok in",
        "    P3-->>P2: first token, 90 ms",
        "    P3-->>P2: done, 14 tok, 20.0 tok/s, 850 ms",
        "    P2-->>P1: HTTP 200, 880 ms",
        "    P1-->>P0: answer, 14 tok, 940 ms",
        "    P0->>P4: log trace (4 spans)",
    ]


def test_autolog_trace_derives_ollama_and_model(mlflow_server, tracking_settings) -> None:
    use_server(mlflow_server.url)
    trace_id = log_nested_trace(f"seq-autolog-{uuid.uuid4().hex[:8]}")
    trace = fetch(tracking_settings, mlflow_server.url, trace_id)
    diagram = build_sequence(trace)
    assert [p.label for p in diagram.participants] == [
        "Python program",
        "litellm",
        "Ollama 127.0.0.1:11434",
        "qwen2.5:0.5b",
        "MLflow",
    ]
    llm = next(s for s in trace.spans if s.span_type == "LLM")
    derived = [m for m in diagram.messages if m.derived]
    # litellm -> Ollama -> model and back: four arrows borrowed from the LLM span.
    assert [(m.source, m.target) for m in derived] == [(1, 2), (2, 3), (3, 2), (2, 1)]
    assert all(m.duration_ns == llm.duration_ns for m in derived if m.kind == RETURN)
    assert to_mermaid(diagram).count("~") == 2, "derived latencies are marked as such"
    assert diagram.messages[-1].label == "log trace (2 spans)"


# Every statement of our Mermaid output has one of these shapes; labels are entity-escaped.
_LABEL = r"[\w .,/()\-~]*(#\d+;[\w .,/()\-~]*)*"
_STATEMENT = re.compile(
    rf"^(sequenceDiagram|    participant P\d+ as {_LABEL}|    P\d+(->>|-->>|-x|--x)P\d+: {_LABEL}"
    rf"|    Note over P0: {_LABEL})$"
)


def test_hostile_names_cannot_break_the_diagram(mlflow_server, tracking_settings) -> None:
    use_server(mlflow_server.url)
    trace_id = log_hostile_trace(f"seq-hostile-{uuid.uuid4().hex[:8]}")
    diagram = build_sequence(fetch(tracking_settings, mlflow_server.url, trace_id))
    mermaid = to_mermaid(diagram)
    for line in mermaid.splitlines():
        assert _STATEMENT.match(line), line
    labels_only = re.sub(r"#\d+;", "", mermaid)
    for forbidden in ("[", ";", "<", "%", "\x1b", "\x07", "\u202e", ":"):
        assert forbidden not in labels_only.replace("P0: ", "").split("sequenceDiagram", 1)[1].replace(
            ": ", " "
        ), forbidden
    # The LLM span is named "[bold red]x[/]" and its model is an OSC 52 sequence: both shown, escaped.
    assert "#91;bold red#93;x#91;/#93;" in mermaid
    assert "#9243;#93;52" in mermaid  # ␛]52 — the escape made visible, then entity-encoded
    lines = to_text_lines(diagram)
    assert lines and not any(re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e]", line) for line in lines)
    assert "[bold red]x[/]" in lines[0] and "\u241b]52" in "\n".join(lines)


@given(st.text(max_size=80))
def test_mermaid_escape_keeps_only_inert_characters(text: str) -> None:
    escaped = mermaid_escape(text)
    assert re.fullmatch(r"([\w .,/()\-~]|#\d+;)*", escaped), escaped
    assert "\n" not in escaped and ";" not in re.sub(r"#\d+;", "", escaped)
    decoded = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), escaped)
    assert decoded == one_line(text, 200)


def test_text_lines_have_a_column_per_participant(mlflow_server, tracking_settings, chat_trace_id) -> None:
    lines = to_text_lines(build_sequence(fetch(tracking_settings, mlflow_server.url, chat_trace_id)))
    header = lines[0]
    for label in ("Python program", "litellm", "Ollama 127.0.0.1:11434", MODEL_TAG, "MLflow"):
        assert label in header
    assert any("HTTP 200, 880 ms" in line for line in lines)
    arrows = [line for line in lines if "▶" in line or "◀" in line]
    assert len(arrows) == 8
    # The "log trace" arrow runs from the program's column to MLflow's.
    assert arrows[-1].rstrip().endswith("▶│")


def test_mermaid_command(mlflow_server, chat_trace_id) -> None:
    runner = CliRunner()
    env = {"MLFLOW_TRACKING_URI": None, "MLFLOW_EXPERIMENT_ID": None, "MLFLOW_EXPERIMENT_NAME": None}
    result = runner.invoke(
        main, ["--tracking-uri", mlflow_server.url, "traces", "mermaid", chat_trace_id], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sequenceDiagram\n")
    assert "P2-->>P1: HTTP 200, 880 ms" in result.stdout
    text = runner.invoke(
        main, ["--tracking-uri", mlflow_server.url, "traces", "mermaid", "--text", chat_trace_id], env=env
    )
    assert text.exit_code == 0 and "Python program" in text.stdout.splitlines()[0]
    missing = runner.invoke(
        main, ["--tracking-uri", mlflow_server.url, "traces", "mermaid", "tr-" + "0" * 32], env=env
    )
    assert missing.exit_code == 1
    assert missing.stderr.strip().startswith("No trace tr-") and "\n" not in missing.stderr.strip()
