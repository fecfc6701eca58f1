"""Export on the real server: a trace as MLflow JSON that mlflow itself reads back, and a
session as a Markdown transcript that hostile model text cannot break out of."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

from chat_turns import turn_record
from click.testing import CliRunner
from trace_factory import log_hostile_trace, log_nested_trace, use_server

from tracetui.chat.trace_writer import TurnTracer
from tracetui.cli import main
from tracetui.config import TrackingSettings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.export import to_mlflow_cli_document
from tracetui.tracking.transcript import Turn, markdown_block, markdown_inline, session_markdown

_ENV = {"MLFLOW_TRACKING_URI": None, "MLFLOW_EXPERIMENT_ID": None, "MLFLOW_EXPERIMENT_NAME": None}
HOSTILE_ANSWER = (
    "ok ```\n</pre><script>alert(1)</script>\n````\n# not a heading\x1b]0;pwned\x07 \u202eevil\r\n~~~"
)


def cli(*args: str):
    return CliRunner().invoke(main, list(args), env=_ENV)


def test_trace_export_is_mlflows_document(mlflow_server, tracking_settings, tmp_path) -> None:
    use_server(mlflow_server.url)
    for trace_id in (log_nested_trace(f"export-{uuid.uuid4().hex[:8]}"), log_hostile_trace("export-hostile")):
        target = tmp_path / f"{trace_id}.json"
        result = cli("--tracking-uri", mlflow_server.url, "traces", "export", trace_id, "-o", str(target))
        assert result.exit_code == 0, result.output
        text = target.read_text(encoding="utf-8")
        assert text.isascii(), "escape sequences in the trace are written as \\u escapes"

        async def raw(trace_id: str = trace_id):
            async with TrackingClient(tracking_settings, mlflow_server.url) as client:
                return await client.get_trace_json(trace_id)

        assert json.loads(text) == to_mlflow_cli_document(asyncio.run(raw()))
        # MLflow reads the file back as its own trace, with every span.
        import mlflow
        from mlflow.entities import Trace

        loaded = Trace.from_dict(json.loads(text))
        original = mlflow.MlflowClient().get_trace(trace_id)
        assert loaded.info.trace_id == trace_id
        assert [s.name for s in loaded.data.spans] == [s.name for s in original.data.spans]
        assert loaded.data.spans[0].inputs == original.data.spans[0].inputs


def test_trace_export_failures_are_one_sentence(mlflow_server, tmp_path) -> None:
    use_server(mlflow_server.url)
    trace_id = log_nested_trace(f"export-fail-{uuid.uuid4().hex[:8]}")
    nowhere = cli(
        "--tracking-uri",
        mlflow_server.url,
        "traces",
        "export",
        trace_id,
        "-o",
        str(tmp_path / "no" / "x.json"),
    )
    assert nowhere.exit_code == 1 and "does not exist; create it first" in nowhere.stderr
    folder = cli("--tracking-uri", mlflow_server.url, "traces", "export", trace_id, "-o", str(tmp_path))
    assert folder.exit_code == 1 and "is a directory" in folder.stderr
    missing = cli(
        "--tracking-uri",
        mlflow_server.url,
        "traces",
        "export",
        "tr-" + "0" * 32,
        "-o",
        str(tmp_path / "m.json"),
    )
    assert missing.exit_code == 1 and missing.stderr.startswith("No trace tr-")
    assert not (tmp_path / "m.json").exists() and list(tmp_path.iterdir()) == []


def _fenced_blocks(markdown: str) -> list[str]:
    """The contents of fenced code blocks, read as CommonMark does (a fence closes only
    on a line of at least as many backticks)."""
    blocks, lines, index = [], markdown.split("\n"), 0
    while index < len(lines):
        opening = re.match(r"^(`{3,})text$", lines[index])
        if opening is None:
            index += 1
            continue
        fence, body, index = opening.group(1), [], index + 1
        while not re.fullmatch(f"`{{{len(fence)},}}", lines[index]):
            body.append(lines[index])
            index += 1
        blocks.append("\n".join(body))
        index += 1
    return blocks


def test_markdown_block_cannot_be_closed_from_inside() -> None:
    block = markdown_block(HOSTILE_ANSWER)
    (body,) = _fenced_blocks(block)
    assert "<script>alert(1)</script>" in body  # shown literally, inside the code block
    assert "\x1b" not in block and "\x07" not in block and "\u202e" not in block and "\r" not in block
    assert block.startswith("`````text\n"), "the fence is longer than the longest backtick run"


def test_markdown_inline_escapes_html_and_markup() -> None:
    assert markdown_inline("<img src=x onerror=alert(1)> *b* [l](u) `c` a&b\nz") == (
        "&lt;img src=x onerror=alert(1)&gt; \\*b\\* \\[l\\](u) \\`c\\` a&amp;b z"
    )


def test_session_export_to_markdown(mlflow_server, tmp_path) -> None:
    experiment = f"export-session-{uuid.uuid4().hex[:8]}"
    session_id = "<b>s</b>"
    tracer = TurnTracer(TrackingSettings(tracking_uri=mlflow_server.url), experiment=experiment)
    try:
        first = tracer.log(turn_record(session_id, "Tell me a trick.", HOSTILE_ANSWER))
        second = tracer.log(turn_record(session_id, "Thanks", "You're welcome.", turn_index=1))
    finally:
        tracer.close()
    target = tmp_path / "session.md"
    result = cli(
        "--tracking-uri",
        mlflow_server.url,
        "sessions",
        "export",
        session_id,
        "-e",
        experiment,
        "-o",
        str(target),
    )
    assert result.exit_code == 0, result.output
    markdown = target.read_text(encoding="utf-8")
    assert markdown.startswith("# Session &lt;b&gt;s&lt;/b&gt;\n")
    assert markdown.index(first) < markdown.index(second), "turns in time order, with their trace ids"
    assert "- Model: qwen2.5:0.5b" in markdown and "- Turns: 2" in markdown
    blocks = _fenced_blocks(markdown)
    assert blocks[:2] == [
        "Tell me a trick.",
        markdown_block(HOSTILE_ANSWER).split("\n", 1)[1].rsplit("\n", 1)[0],
    ]
    assert blocks[2:] == ["Thanks", "You're welcome."]
    outside = markdown
    for block in blocks:
        outside = outside.replace(block, "")
    assert "<script>" not in outside and "<b>" not in outside
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e]", markdown)


def test_session_markdown_of_a_failed_turn() -> None:
    turn = Turn("tr-1", "q", "", "m", 0, None, "ERROR", error="Ollama said [no]")
    markdown = session_markdown("s", [turn])
    assert "_(no answer)_" in markdown and "- Error: Ollama said \\[no\\]" in markdown
    assert "Duration: in progress" in markdown
