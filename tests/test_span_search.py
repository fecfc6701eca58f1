# ruff: noqa: F811 - pytest fixtures imported from trace_factory are test parameters
"""Search inside a trace: the tracking function, `traces show --grep`, and Ctrl+F / n / N in the tree.

Traces are logged to the real MLflow server and read back with the real client.
"""

from __future__ import annotations

import asyncio

import pytest
from test_app import app_for, leave_prompt, tree_trace_id, wait_for
from test_cli import run_cli
from trace_factory import (  # noqa: F401 - trace_server and experiment_name are fixtures
    experiment_name,
    log_agent_run,
    log_large_trace,
    trace_server,
)

from tracetui.config import TrackingSettings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.models import Trace
from tracetui.tracking.span_search import parse_query, search_spans, span_paths
from tracetui.ui.widgets.span_tree import MATCH_MARK, SpanTree


def fetch(url: str, trace_id: str) -> Trace:
    async def get() -> Trace:
        async with TrackingClient(TrackingSettings(tracking_uri=url), url) as client:
            return await client.get_trace(trace_id)

    return asyncio.run(get())


@pytest.fixture()
def agent_trace(trace_server: str, experiment_name: str) -> Trace:
    return fetch(trace_server, log_agent_run(experiment_name, fail_second_search=True))


def names(spans: list) -> list[str]:
    return [span.name for span in spans]


def test_parse_query_tells_text_from_key_value() -> None:
    assert parse_query("  ") is None
    assert parse_query(" Paris ").text == "paris" and parse_query("Paris").key is None
    key_value = parse_query("Model = Qwen2.5")
    assert (key_value.key, key_value.text) == ("model", "qwen2.5")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("search", ["search", "search"]),  # a name, in tree order
        ("SEARCH", ["search", "search"]),  # any case
        ("agent", ["agent"]),  # the type AGENT and the name
        ("tool", ["search", "search"]),  # a type
        ("error", ["search"]),  # a status (the failed search only)
        ("503 from the weather", ["search"]),  # an event's attribute
        ("paris #2", ["search"]),  # inputs
        ("light wind", ["agent", "answer"]),  # outputs
        ("FORECAST TWICE", ["plan"]),  # outputs of another span
        ("model=qwen", ["plan", "answer"]),  # key=value looks in that attribute
        ("MODEL=QWEN2.5:0.5B", ["plan", "answer"]),
        ("model=llama", []),
        ("nosuchkey=qwen", []),  # another key: nothing, even though "qwen" is in the spans
        ("", []),
        ("nowhere-in-this-trace", []),
    ],
)
def test_search_finds_spans_by_every_field(agent_trace: Trace, typed: str, expected: list[str]) -> None:
    assert names(search_spans(agent_trace, typed)) == expected


def test_paths_name_each_match_from_the_root(agent_trace: Trace) -> None:
    matches = search_spans(agent_trace, "search")
    assert span_paths(agent_trace, matches) == [["agent", "search"], ["agent", "search"]]


def test_show_grep_prints_matches_with_paths(trace_server: str, experiment_name: str) -> None:
    trace_id = log_agent_run(experiment_name, fail_second_search=True)
    result = run_cli("traces", "show", trace_id, "--grep", "WEATHER", "--tracking-uri", trace_server)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"5 of 5 spans of {trace_id} match 'WEATHER':"
    assert lines[1].startswith("agent  (AGENT)  950ms  [")
    assert lines[2].startswith("agent > plan  (LLM)  100ms  [")
    assert lines[3].startswith("agent > search  (TOOL)  300ms  [")
    assert lines[4].startswith("agent > search  (TOOL)  300ms  ERROR")
    assert lines[5].startswith("agent > answer  (LLM)  200ms  [")

    key_value = run_cli("traces", "show", trace_id, "--grep", "model=qwen", "--tracking-uri", trace_server)
    assert [line.split("  ")[0] for line in key_value.stdout.splitlines()[1:]] == [
        "agent > plan",
        "agent > answer",
    ]

    nothing = run_cli("traces", "show", trace_id, "--grep", "zebra", "--tracking-uri", trace_server)
    assert nothing.exit_code == 1
    assert nothing.stderr.strip() == f"Error: No span of trace {trace_id} (5 spans) matches 'zebra'."

    both = run_cli("traces", "show", trace_id, "--grep", "x", "--tree", "--tracking-uri", trace_server)
    assert both.exit_code == 2 and "Choose one of --json, --tree, --span and --grep." in both.stderr


async def open_tree(pilot, app, trace_id: str) -> SpanTree:
    await wait_for(pilot, lambda: tree_trace_id(app) == trace_id, "the trace's tree", 120)
    await leave_prompt(pilot)
    await pilot.press("enter")
    tree = app.query_one(SpanTree)
    await wait_for(pilot, lambda: app.focused is tree, "Enter to focus the tree")
    return tree


def tree_title(app) -> str:
    return str(app.query_one("#tree-pane").border_title)


def cursor_span_name(tree: SpanTree) -> str | None:
    node = tree.cursor_node
    item = None if node is None or node.data is None else node.data.item
    return getattr(item, "name", None)


async def test_search_keys_mark_count_and_step_through_matches(
    trace_server: str, experiment_name: str
) -> None:
    trace_id = log_agent_run(experiment_name, fail_second_search=True)
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        tree = await open_tree(pilot, app, trace_id)
        await pilot.press("ctrl+f")
        box = app.query_one("#span-search")
        await wait_for(pilot, lambda: app.focused is box, "Ctrl+F to open the search box")
        await pilot.press(*"search")
        await wait_for(
            pilot, lambda: "2 matches" in tree_title(app) or "1 of 2" in tree_title(app), "the count"
        )
        assert tree_title(app).endswith("search: 1 of 2 (n/N)")
        assert cursor_span_name(tree) == "search"
        assert len(tree.match_ids) == 2
        first = tree.cursor_line
        lines = [tree.render_line(y).text for y in range(tree.size.height)]
        assert sum(MATCH_MARK in line for line in lines) + sum("✗" in line for line in lines) == 2
        await pilot.press("enter")  # back to the tree; the marks stay
        await wait_for(pilot, lambda: app.focused is tree, "Enter to return to the tree")
        assert not box.display
        await pilot.press("n")
        assert tree_title(app).endswith("2 of 2 (n/N)") and tree.cursor_line == first + 1
        await pilot.press("n")  # wraps around
        assert tree_title(app).endswith("1 of 2 (n/N)") and tree.cursor_line == first
        await pilot.press("N")
        assert tree_title(app).endswith("2 of 2 (n/N)")

        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: app.focused is box, "the box again, with the text kept")
        assert box.value == "search"
        await pilot.press(*["backspace"] * 6, *"model=qwen")
        await wait_for(pilot, lambda: tree_title(app).endswith("model=qwen: 1 of 2 (n/N)"), "key=value")
        assert cursor_span_name(tree) == "plan"
        await pilot.press(*["backspace"] * 10, *"zebra")
        await wait_for(pilot, lambda: tree_title(app).endswith("zebra: no match"), "no match")
        assert tree.match_ids == frozenset()
        await pilot.press(*["backspace"] * 5, "escape")  # an empty search clears; Esc closes
        await wait_for(pilot, lambda: app.focused is tree, "Esc to return to the tree")
        assert tree_title(app) == "Spans — 5"


async def test_search_reveals_a_match_beyond_the_first_chunk_of_10000(
    trace_server: str, experiment_name: str
) -> None:
    large = log_large_trace(experiment_name, 10_000)
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        tree = await open_tree(pilot, app, large)
        nodes_before = tree.node_count
        await pilot.press("ctrl+f", *"step-9999")
        await wait_for(pilot, lambda: tree_title(app).endswith("step-9999: 1 of 1 (n/N)"), "the match", 60)
        assert cursor_span_name(tree) == "step-9999"  # past 49 "… more" chunks, revealed
        assert tree.node_count > nodes_before
        await pilot.press("escape", "ctrl+f", *["backspace"] * 9, *"TOOL")
        await wait_for(pilot, lambda: "1 of 10000" in tree_title(app), "every child", 60)
        await pilot.press("enter", "N")  # from the first match back round to the last
        assert tree_title(app).endswith("10000 of 10000 (n/N)")
        assert cursor_span_name(tree) == "step-9999"
