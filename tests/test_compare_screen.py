# ruff: noqa: F811 - pytest fixtures imported from trace_factory are test parameters
"""Comparing two traces in the dashboard: `m` marks, `d` compares, the screen at 80x24 and 160x48.

The keys run against the real MLflow server (two runs of the same agent). The snapshots need
fixed content, so only they show hand-built traces in a one-screen host app.
"""

from __future__ import annotations

from typing import Any

from test_app import app_for, leave_prompt, wait_for
from test_trace_diff import log_two_runs
from textual.app import App
from textual.widgets import DataTable
from trace_factory import (  # noqa: F401 - trace_server and experiment_name are fixtures
    experiment_name,
    trace_server,
)

from tracetui.tracking.models import STATUS_ERROR, STATUS_OK, Span, TokenUsage, Trace, TraceInfo
from tracetui.ui.screens.compare import CompareScreen
from tracetui.ui.widgets.trace_list import COMPARE_MARK

T0_NS = 1_768_487_712_000_000_000  # fixed: snapshots must not change from run to run
MS = 1_000_000


def mark_cell(app: Any, trace_id: str) -> str:
    return app.viewer.trace_list.get_cell(trace_id, "mark").plain


async def test_mark_then_compare_opens_the_aligned_traces(trace_server: str, experiment_name: str) -> None:
    a, b = log_two_runs(experiment_name)  # b is newer: the list's first row
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.viewer.trace_list
        await wait_for(pilot, lambda: table.row_count == 2, "both runs listed")
        await leave_prompt(pilot)
        await pilot.press("d")  # nothing marked yet: a sentence, no screen
        assert not isinstance(app.screen, CompareScreen)
        await pilot.press("G", "m")  # mark A (the older run)
        assert table.compare_mark == a and mark_cell(app, a) == COMPARE_MARK
        await pilot.press("d")  # A against itself: a sentence, no screen
        assert not isinstance(app.screen, CompareScreen)
        await pilot.press("g", "d")  # select B, compare
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), "the comparison screen")
        screen = app.screen
        assert (screen.left.info.trace_id, screen.right.info.trace_id) == (a, b)
        rows = screen.query_one(DataTable)
        assert rows.row_count == 6
        assert screen.wide  # 160 columns: both sides
        assert [str(column.label) for column in rows.columns.values()] == [
            "span", "A", "B", "Δ", "tok A", "tok B", "Δ tok"
        ]  # fmt: skip
        assert rows.get_row_at(4)[0].plain.startswith("+ ") and "only in B" in rows.get_row_at(4)[0].plain
        assert rows.get_row_at(3)[0].plain.startswith("! ")  # search #2 failed in B
        assert rows.get_row_at(2)[3].plain == "+100ms"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CompareScreen), "Esc to close it")
        await pilot.press("G", "m")  # marking again clears the mark
        assert table.compare_mark is None and mark_cell(app, a) == ""


# --- snapshots -----------------------------------------------------------------------------------


def _span(
    i: int, parent: int | None, name: str, span_type: str, start_ms: int, end_ms: int, **kw: Any
) -> Span:
    return Span(
        span_id=f"{i:016x}",
        parent_id=None if parent is None else f"{parent:016x}",
        trace_id="0" * 31 + "a",
        name=name,
        span_type=span_type,
        start_time_ns=T0_NS + start_ms * MS,
        end_time_ns=T0_NS + end_ms * MS,
        status_code=kw.pop("status_code", STATUS_OK),
        **kw,
    )


def agent_run(
    number: int, search_ms: int, answer: str, tokens: tuple[int, int], failed: bool, extra: bool
) -> Trace:
    """The shape of trace_factory.log_agent_run, by hand."""
    question = {"question": "Weather in Paris?"}
    spans = [
        _span(2, 1, "plan", "LLM", 10, 110, outputs={"plan": "look up the forecast twice"},
              token_usage=TokenUsage(40, 12, 52)),
        _span(3, 1, "search", "TOOL", 120, 120 + search_ms, inputs={"query": "weather Paris #1"}),
        _span(4, 1, "search", "TOOL", 130 + search_ms, 130 + 2 * search_ms,
              inputs={"query": "weather Paris #2"}, status_code=STATUS_ERROR if failed else STATUS_OK),
    ]  # fmt: skip
    at = 140 + 2 * search_ms
    if extra:
        spans.append(_span(5, 1, "check", "CHAIN", at, at + 50))
        at += 60
    usage = TokenUsage(*tokens, sum(tokens))
    spans.append(_span(6, 1, "answer", "LLM", at, at + 200, outputs={"answer": answer}, token_usage=usage))
    end = at + 210
    root = _span(1, None, "agent", "AGENT", 0, end, inputs=question, outputs={"answer": answer})
    info = TraceInfo(f"tr-{number:032x}", "7", T0_NS // MS, end, "OK", "agent")
    return Trace(info, (root, *spans))


class CompareHost(App[None]):
    def on_mount(self) -> None:
        self.push_screen(
            CompareScreen(
                agent_run(1, 300, "Sunny, 21 °C.\nLight wind from the west.", (120, 30), False, False),
                agent_run(2, 400, "Rain, 12 °C.\nLight wind from the west.", (150, 45), True, True),
            )
        )


async def _to_the_root(pilot: Any) -> None:
    await pilot.pause()


async def _swapped_to_b_on_answer(pilot: Any) -> None:
    await pilot.pause()
    await pilot.press("s", *"jjjjj")
    await pilot.pause()


def test_compare_snapshot_160x48(snap_compare: Any) -> None:
    assert snap_compare(CompareHost(), terminal_size=(160, 48), run_before=_to_the_root)


def test_compare_snapshot_80x24(snap_compare: Any) -> None:
    assert snap_compare(CompareHost(), terminal_size=(80, 24), run_before=_to_the_root)


def test_compare_snapshot_80x24_swapped(snap_compare: Any) -> None:
    assert snap_compare(CompareHost(), terminal_size=(80, 24), run_before=_swapped_to_b_on_answer)
