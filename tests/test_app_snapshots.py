"""Snapshots of the whole app at 80x24 and 160x48.

Snapshots need fixed content, so ONLY here the tracking client is a stand-in
serving hand-built TraceInfo/Trace objects; every behaviour test talks to the
real server (tests/test_app.py). Fixed clock, UTC times, no blinking cursor.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pytest

from tracetui.config import TrackingSettings
from tracetui.tracking.models import (
    STATE_ERROR,
    STATE_IN_PROGRESS,
    STATE_OK,
    STATUS_ERROR,
    STATUS_OK,
    Experiment,
    Span,
    TokenUsage,
    Trace,
    TraceInfo,
    TracePage,
)
from tracetui.ui.app import TraceTuiApp, make_app
from tracetui.ui.widgets import trace_list

NOW = datetime(2026, 1, 15, 14, 35, 20, tzinfo=timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)
T0_NS = (NOW_MS - 8_000) * 1_000_000
HOSTILE_NAME = "[bold red]x[/]\x1b[2J\x1b]0;pwned\x07"


def _info(n: int, name: str, state: str, duration_ms: int | None, preview: str, tokens: bool) -> TraceInfo:
    return TraceInfo(
        trace_id=f"tr-{n:032x}",
        experiment_id="7",
        request_time_ms=NOW_MS - 8_000 - (10 - n) * 61_000,
        execution_duration_ms=duration_ms,
        state=state,
        name=name,
        request_preview=preview,
        token_usage=TokenUsage(26 + n, 14 + n, 40 + 2 * n) if tokens else None,
    )


INFOS = [
    _info(10, "chat_turn", STATE_OK, 1240, '{"prompt": "Explain Qwen 2.5 in one paragraph."}', True),
    _info(9, "chat_turn", STATE_ERROR, 302, '{"prompt": "Summarise the release notes"}', True),
    _info(8, "long-running", STATE_IN_PROGRESS, None, '{"job": "index documents"}', False),
    _info(7, HOSTILE_NAME, STATE_OK, 95, "[link=http://x]click[/link] \x1b[31mred\x1b[0m", False),
    _info(6, "litellm-completion", STATE_OK, 4210, '{"messages": [{"role": "user", "content": "hi"}]}', True),
]


def _span(
    i: int, parent: int | None, name: str, span_type: str, start_ms: int, end_ms: int, **kw: Any
) -> Span:
    return Span(
        span_id=f"{i:016x}",
        parent_id=None if parent is None else f"{parent:016x}",
        trace_id="0" * 31 + "a",
        name=name,
        span_type=span_type,
        start_time_ns=T0_NS + start_ms * 1_000_000,
        end_time_ns=T0_NS + end_ms * 1_000_000,
        status_code=kw.pop("status_code", STATUS_OK),
        **kw,
    )


def _trace(info: TraceInfo) -> Trace:
    failed = info.state == STATE_ERROR
    spans = (
        _span(
            1,
            None,
            info.name,
            "CHAIN",
            0,
            1240,
            inputs={"prompt": "Explain Qwen 2.5 in one paragraph."},
            outputs="Qwen 2.5 is a family of open language models.",
            status_code=STATUS_ERROR if failed else STATUS_OK,
        ),
        _span(
            2,
            1,
            "litellm-completion",
            "LLM",
            10,
            1230,
            inputs={"messages": [{"role": "user", "content": "Explain Qwen 2.5 in one paragraph."}]},
            outputs={"choices": [{"message": {"role": "assistant", "content": "Qwen 2.5 is …"}}]},
            attributes={"model": "ollama_chat/qwen2.5:0.5b", "api_base": "http://127.0.0.1:11434"},
            token_usage=TokenUsage(26, 14, 40),
        ),
        _span(3, 1, "format_answer", "TOOL", 1232, 1238, inputs={"text": "[bold]literal[/]"}, outputs="ok"),
    )
    return Trace(info, spans)


class SnapshotClient:
    """Serves INFOS and their traces; just enough of TrackingClient for the app and LiveTraceList."""

    experiments = [Experiment("0", "Default"), Experiment("7", "chat-demo", last_update_time_ms=NOW_MS)]

    async def list_experiments(self) -> list[Experiment]:
        return list(self.experiments)

    async def get_experiment(self, experiment_id: str) -> Experiment:
        return next(e for e in self.experiments if e.experiment_id == experiment_id)

    async def resolve_experiment(self, name_or_id: str) -> Experiment:
        return next(e for e in self.experiments if name_or_id in (e.experiment_id, e.name))

    async def search_traces(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        order_by: Any = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> TracePage:
        infos = [i for i in INFOS if i.experiment_id in experiment_ids]
        if filter_string and "IN_PROGRESS" in filter_string:
            infos = [i for i in infos if i.state == STATE_IN_PROGRESS]
        return TracePage(tuple(infos[:max_results]))

    async def get_trace(self, trace_id: str) -> Trace:
        return _trace(next(i for i in INFOS if i.trace_id == trace_id))

    async def aclose(self) -> None:
        pass


class SnapshotBackend:
    base_url = "http://mlflow.example:5000"

    def describe(self) -> str:
        return "MLflow at http://mlflow.example:5000"

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def new_row_marks_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    """New rows keep their mark for 3 s of wall time; on a loaded machine settling can take
    longer, so the mark would vanish before the picture is taken. Keep it for the whole test."""
    monkeypatch.setattr(trace_list, "NEW_ROW_MARK_S", 3600.0)


def snapshot_app() -> TraceTuiApp:
    return make_app(
        TrackingSettings(tracking_uri=SnapshotBackend.base_url),
        "chat-demo",
        None,
        None,
        None,
        SnapshotBackend(),
        client=SnapshotClient(),
        tz=timezone.utc,
        clock=lambda: NOW,
        poll_interval_s=3600,  # one poll: nothing moves while the snapshot is taken
    )


async def settled(pilot: Any) -> None:
    app: TraceTuiApp = pilot.app
    deadline = time.monotonic() + 30
    finished = [info.trace_id for info in INFOS if info.state != STATE_IN_PROGRESS]
    while (
        app.viewer.spans.shown_trace_id is None
        or app.query_one("#span-detail").item is None
        or any(
            app.viewer.trace_list.summaries.get(trace_id) is None for trace_id in finished
        )  # names, models
    ):
        assert time.monotonic() < deadline, "the app did not settle"
        await pilot.pause(0.05)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_app_snapshot(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(snapshot_app(), terminal_size=size, run_before=settled)


def test_zoomed_trace_list_at_80x24(snap_compare: Any) -> None:
    async def zoom(pilot: Any) -> None:
        await settled(pilot)
        await pilot.press("z")
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=(80, 24), run_before=zoom)


def test_zoomed_span_detail_at_80x24(snap_compare: Any) -> None:
    async def zoom_detail(pilot: Any) -> None:
        await settled(pilot)
        await pilot.press("z", "tab", "tab")
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=(80, 24), run_before=zoom_detail)


def test_help_screen(snap_compare: Any) -> None:
    async def help_open(pilot: Any) -> None:
        await settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=(80, 24), run_before=help_open)
