"""SpanTree and SpanDetail in a host app: hierarchy, derived hops, errors, hostile text, 10k spans."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static, TextArea
from trace_factory import (
    HOSTILE_NAME,
    LARGE_VALUE_BYTES,
    experiment_name,  # noqa: F401 - fixture
    log_hostile_trace,
    log_nested_trace,
    trace_server,  # noqa: F401 - fixture
)

from tracetui.tracking.call_path import DerivedHop
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.decode import decode_trace
from tracetui.tracking.models import Span, SpanEvent, TokenUsage, Trace, TraceInfo
from tracetui.ui.widgets.span_detail import FullValueScreen, ShowAll, SpanDetail
from tracetui.ui.widgets.span_tree import SpanTree, waterfall

SAMPLE = Path(__file__).parent / "samples" / "autolog_get_trace.json"
T0 = 1_795_791_650_000_000_000  # fixed times: snapshots must not change from run to run
MS = 1_000_000
STACK = 'Traceback (most recent call last):\n  File "tool.py", line 3, in run\nValueError: no such city'


def _span(
    name: str,
    span_id: str,
    parent: str | None,
    span_type: str,
    start_ms: int,
    end_ms: int | None,
    **fields: Any,
) -> Span:
    return Span(
        span_id=span_id,
        parent_id=parent,
        trace_id="ab" * 16,
        name=name,
        span_type=span_type,
        start_time_ns=T0 + start_ms * MS,
        end_time_ns=None if end_ms is None else T0 + end_ms * MS,
        status_code=fields.pop("status_code", "OK"),
        **fields,
    )


def fixed_trace() -> Trace:
    """A chat turn: program -> litellm (autolog-style attributes) plus a tool that failed."""
    question = "Weather in Paris?"
    spans = (
        _span(
            "chat_turn",
            "0000000000000001",
            None,
            "CHAIN",
            0,
            1240,
            inputs={"prompt": question},
            outputs={"answer": "Sunny, 21 °C."},
        ),
        _span(
            "litellm-completion",
            "0000000000000002",
            "0000000000000001",
            "LLM",
            20,
            900,
            inputs={
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": question},
                ]
            },
            outputs={
                "choices": [
                    {"message": {"role": "assistant", "content": "Sunny, 21 °C."}, "finish_reason": "stop"}
                ]
            },
            attributes={
                "model": "qwen2.5:0.5b",
                "api_base": "http://127.0.0.1:11434/api/chat",
                "mlflow.llm.model": "ollama_chat/qwen2.5:0.5b",
                "call_type": "completion",
            },
            token_usage=TokenUsage(26, 14, 40),
        ),
        _span(
            "get_weather",
            "0000000000000003",
            "0000000000000001",
            "TOOL",
            910,
            1200,
            status_code="ERROR",
            status_message="ValueError: no such city",
            inputs={"city": "Paris"},
            events=(
                SpanEvent(
                    "exception",
                    T0 + 1190 * MS,
                    {
                        "exception.type": "ValueError",
                        "exception.message": "no such city",
                        "exception.stacktrace": STACK,
                    },
                ),
            ),
        ),
        _span("lookup", "0000000000000004", "0000000000000003", "RETRIEVER", 930, 1100, outputs=[{"doc": 1}]),
    )
    info = TraceInfo("tr-fixed", "1", T0 // MS, 1240, "ERROR", "chat_turn")
    return Trace(info, spans)


def hostile_trace() -> Trace:
    """Markup, escapes, bidi, a 1 MB value, 30-level nested input and 30 nested spans."""
    hostile = "[bold red]x[/] \x1b[2J \x1b]52;c;aGVsbG8=\x07 \u202eevil"
    nested: Any = {"leaf": hostile}
    for level in range(30):
        nested = {f"level_{level}": nested}
    spans = [
        _span(
            hostile,
            "1000000000000000",
            None,
            "CHAIN",
            0,
            100,
            inputs=nested,
            outputs=hostile,
            attributes={"note": hostile, "big": "y" * LARGE_VALUE_BYTES},
        ),
        _span(
            "[link=http://evil]click[/link]",
            "1000000000000001",
            "1000000000000000",
            "LLM",
            1,
            99,
            inputs={"big": "x" * LARGE_VALUE_BYTES},
            attributes={"model": hostile},
        ),
    ]
    parent = "1000000000000000"
    for depth in range(30):
        span_id = f"20000000000000{depth:02d}"
        spans.append(_span(f"level-{depth}", span_id, parent, "CHAIN", 2 + depth, 90 - depth))
        parent = span_id
    return Trace(TraceInfo("tr-hostile", "1", T0 // MS, 100, "OK", "hostile"), tuple(spans))


class SpanViewHost(App[None]):
    """The span tree and detail side by side, wired as the real app wires them."""

    CSS = "SpanTree, SpanDetail { width: 1fr; height: 1fr; border: round $primary; }"

    def __init__(self, trace: Trace | None = None) -> None:
        super().__init__()
        self.initial_trace = trace
        self.highlighted: list[Span | DerivedHop] = []

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield SpanTree()
            yield SpanDetail()

    def on_mount(self) -> None:
        self.query_one(SpanDetail).clear_span()
        if self.initial_trace is not None:
            self.query_one(SpanTree).show_trace(self.initial_trace)
        self.query_one(SpanTree).focus()

    def on_span_tree_span_highlighted(self, message: SpanTree.SpanHighlighted) -> None:
        self.highlighted.append(message.span)
        self.query_one(SpanDetail).show_span(message.span, message.trace)


def screen_text(app: App[Any]) -> str:
    """What is on the screen as plain text (control segments left out), to search for leaks."""
    console = Console(
        width=app.size.width,
        height=app.size.height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False)


def detail_text(app: App[Any]) -> str:
    return "\n".join(str(static.render()) for static in app.query_one(SpanDetail).query(Static))


def names(items: list[Span | DerivedHop]) -> list[str]:
    return [item.title if isinstance(item, DerivedHop) else item.name for item in items]


# --- pure helpers ---------------------------------------------------------------------


def test_waterfall_places_bars_on_the_timeline() -> None:
    assert waterfall(0.0, 1.0, 8) == "████████"
    assert waterfall(0.5, 1.0, 8) == "    ████"
    assert waterfall(0.0, 0.0, 4) == "▌   "  # an instant still shows
    assert waterfall(0.125, 0.375, 4) == "▐▌  "  # half-cell precision


# --- tree and detail --------------------------------------------------------------------


async def test_tree_shows_hierarchy_with_derived_hops_and_root_selected() -> None:
    app = SpanViewHost(fixed_trace())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        tree = app.query_one(SpanTree)
        (root,) = tree.root.children
        assert root.data.item.name == "chat_turn"
        assert names([child.data.item for child in root.children]) == ["litellm-completion", "get_weather"]
        llm, tool = root.children
        assert names([c.data.item for c in llm.children]) == ["Ollama 127.0.0.1:11434"]
        assert names([c.data.item for c in llm.children[0].children]) == ["qwen2.5:0.5b"]
        assert names([c.data.item for c in tool.children]) == ["lookup"]
        assert names(app.highlighted) == ["chat_turn"]  # the root is announced on first show
        assert app.query_one(SpanDetail).item.name == "chat_turn"
        text = screen_text(app)
        assert "Ollama 127.0.0.1:11434 (derived)" in text
        assert "◆ litellm-completion" in text and "1.24s" in text


async def test_moving_the_cursor_updates_the_detail() -> None:
    app = SpanViewHost(fixed_trace())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("down")
        await pilot.pause()
        detail = app.query_one(SpanDetail)
        assert detail.item.name == "litellm-completion"
        text = detail_text(app)
        assert "system: Be brief.\nuser: Weather in Paris?" in text  # inputs as a conversation
        assert "assistant: Sunny, 21 °C." in text
        assert "api_base" in text and "http://127.0.0.1:11434/api/chat" in text
        await pilot.press("down")
        await pilot.pause()
        assert isinstance(detail.item, DerivedHop)
        assert "Derived from the attributes of LLM span litellm-completion" in detail_text(app)
        await pilot.press("down")
        await pilot.pause()
        text = detail_text(app)
        assert detail.item.title == "qwen2.5:0.5b"
        assert "input tokens" in text and "26" in text


async def test_error_span_is_marked_and_its_exception_shown() -> None:
    app = SpanViewHost(fixed_trace())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        lines = screen_text(app).splitlines()
        (tool_line,) = [line for line in lines if "get_weather" in line]
        assert "✗" in tool_line
        assert not any("✗" in line for line in lines if "lookup" in line or "chat_turn" in line)
        tree = app.query_one(SpanTree)
        tool_node = tree.root.children[0].children[1]
        tree.move_cursor(tool_node)
        await pilot.pause()
        text = detail_text(app)
        assert "✗ ERROR: ValueError: no such city" in text
        assert "✗ exception +280ms  ValueError: no such city" in text
        assert 'File "tool.py", line 3, in run' in text


async def test_autolog_sample_trace_shows_derived_ollama_and_model() -> None:
    trace = decode_trace(json.loads(SAMPLE.read_text()))
    app = SpanViewHost(trace)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("down", "down", "down")
        await pilot.pause()
        assert names(app.highlighted) == [
            "sample-turn",
            "litellm-completion",
            "Ollama 127.0.0.1:54177",
            "qwen2.5:0.5b",
        ]
        text = screen_text(app)
        assert "⇄ Ollama 127.0.0.1:54177 (derived)" in text
        assert "● qwen2.5:0.5b (derived)" in text
        assert "output tokens" in text


async def test_hostile_content_is_shown_literally() -> None:
    app = SpanViewHost(hostile_trace())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        for raw in ("\x1b", "\x07", "\u202e"):
            assert raw not in text
        assert "[bold red]x[/] ␛[2J ␛]52;c;aGVsbG8=␇ \\u202eevil" in text  # tree label and detail
        assert "level_29" in text  # the nested input, pretty-printed
        # The 1 MB attribute is cut in the table, with a way to see it all.
        show_all = [w for w in app.query(ShowAll) if w.value_title == "attribute big"]
        assert len(show_all) == 1
        await pilot.press("down")
        await pilot.pause()
        assert "[link=http://evil]click[/link]" in screen_text(app)
        inputs_show_all = next(w for w in app.query(ShowAll) if w.value_title == "Inputs")
        inputs_show_all.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FullValueScreen)
        assert len(app.screen.query_one(TextArea).text) > LARGE_VALUE_BYTES
        await pilot.press("end", "escape")
        await pilot.pause()
        assert isinstance(app.screen.query_one(SpanTree), SpanTree)
        # All 30 nested spans are reachable.
        tree = app.query_one(SpanTree)
        deepest = max(node.data.depth for node in tree._tree_nodes.values() if node.data is not None)
        assert deepest == 30


async def test_v_opens_the_whole_span() -> None:
    app = SpanViewHost(fixed_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.query_one(SpanDetail).focus()
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, FullValueScreen)
        assert json.loads(app.screen.query_one(TextArea).text)["outputs"] == {"answer": "Sunny, 21 °C."}


async def test_clear_trace_empties_the_tree() -> None:
    app = SpanViewHost(fixed_trace())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        tree = app.query_one(SpanTree)
        tree.clear_trace()
        await pilot.pause()
        assert tree.trace is None and not tree.root.children


# --- large and real traces ----------------------------------------------------------------


def large_trace(children: int = 10_000) -> Trace:
    """The shape trace_factory.log_large_trace logs: one root with `children` TOOL children."""
    root = _span("large", "f" * 16, None, "CHAIN", 0, children + 1, inputs={"children": children})
    steps = [
        _span(f"step-{i}", f"{i:016x}", "f" * 16, "TOOL", i, i + 1, inputs={"index": i})
        for i in range(children)
    ]
    return Trace(TraceInfo("tr-large", "1", T0 // MS, children + 1, "OK", "large"), (root, *steps))


async def test_ten_thousand_spans_open_lazily_and_load_more_on_enter() -> None:
    app = SpanViewHost(large_trace())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        tree = app.query_one(SpanTree)
        # 10,001 spans, but only the first chunk of the root's children became nodes.
        assert tree.node_count <= SpanTree.CHUNK + 3
        assert app.query_one(SpanDetail).item.name == "large"
        more = tree.root.children[0].children[-1]
        assert more.data.item is None and "9,800 more" in str(more.label)
        tree.move_cursor(more)
        await pilot.press("enter")
        await pilot.pause()
        assert len(tree.root.children[0].children) == 2 * SpanTree.CHUNK + 1
        assert app.query_one(SpanDetail).item.name == f"step-{SpanTree.CHUNK}"
        await pilot.press("end", "up", "pageup", "home")  # scrolling keeps working
        await pilot.pause()
        assert app.query_one(SpanDetail).item.name == "large"


async def _fetch(url: str, trace_id: str, tracking_settings: Any) -> Trace:
    # The shared test machine can be very busy: a generous timeout, this test is not about speed.
    async with TrackingClient(dataclasses.replace(tracking_settings, timeout_s=120.0), url) as client:
        return await client.get_trace(trace_id)


async def test_real_traces_from_the_server(
    trace_server: str,  # noqa: F811
    experiment_name: str,  # noqa: F811
    tracking_settings: Any,
) -> None:
    nested = await _fetch(trace_server, log_nested_trace(experiment_name), tracking_settings)
    hostile = await _fetch(trace_server, log_hostile_trace(experiment_name), tracking_settings)
    app = SpanViewHost(nested)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        tree = app.query_one(SpanTree)
        assert "⇄ Ollama 127.0.0.1:11434 (derived)" in screen_text(app)

        tree.show_trace(hostile)
        await pilot.pause()
        text = screen_text(app)
        assert "\x1b" not in text and "\x07" not in text
        assert HOSTILE_NAME[:14] in text  # "[bold red]x[/]" literally
        await pilot.press("down")
        await pilot.pause()
        assert any(w.value_title == "Inputs" for w in app.query(ShowAll))  # the 1 MB input is cut


# --- snapshots --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_snapshot_llm_span(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(SpanViewHost(fixed_trace()), press=["down"], terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_snapshot_error_span(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        SpanViewHost(fixed_trace()), press=["down", "down", "down", "down"], terminal_size=size
    )


async def test_a_click_on_a_nodes_arrow_folds_and_unfolds_it() -> None:
    """The arrow carries Tree's toggle meta (tracetui/ui/textual_compat.py): clicking it folds the node."""
    app = SpanViewHost(fixed_trace())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        tree = app.query_one(SpanTree)
        (root,) = tree.root.children
        llm = root.children[0]
        assert llm.is_expanded
        arrow_x = tree.guide_depth * llm.data.depth  # the toggle is the first cell after the guides
        offset = (tree.region.x - app.query_one(SpanTree).region.x + arrow_x + 1, llm.line + 1)
        cursor = tree.cursor_line  # on the root: a click on the arrow folds without moving it
        await pilot.click(SpanTree, offset=offset)
        await pilot.pause()
        assert not llm.is_expanded and tree.cursor_line == cursor
        await pilot.click(SpanTree, offset=offset)
        await pilot.pause()
        assert llm.is_expanded and tree.cursor_line == cursor
