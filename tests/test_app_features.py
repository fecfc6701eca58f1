# ruff: noqa: F811 - pytest fixtures imported from trace_factory are test parameters
"""Issue 6's feature keys in the whole app against a real MLflow server (sequence, feedback, copy).

The widgets themselves are tested in test_feature_widgets.py; this checks the app wires them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_app import app_for, leave_prompt, wait_for
from textual.widgets import ContentSwitcher
from trace_factory import (  # noqa: F401 - trace_server and experiment_name are fixtures
    experiment_name,
    log_nested_trace,
    trace_server,
)

from tracetui.config import TrackingSettings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.feedback import current_feedback, thumbs
from tracetui.ui.screens.feedback import FeedbackScreen


@pytest.fixture()
def no_local_clipboard(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Like an SSH session: no display and no clipboard tool, the fallback file under tmp_path."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


async def test_sequence_feedback_and_copy_keys_in_the_app(
    trace_server: str, experiment_name: str, no_local_clipboard: None
) -> None:
    trace_id = log_nested_trace(experiment_name, prompt="vote on me")
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.viewer.spans.shown_trace_id == trace_id, "the logged trace's tree")
        await leave_prompt(pilot)

        await pilot.press("s")
        switcher = app.query_one("#tree-switcher", ContentSwitcher)
        assert switcher.current == "sequence"
        assert (
            app.viewer.spans.sequence_view.trace is not None
            and app.viewer.spans.sequence_view.trace.info.trace_id == trace_id
        )
        assert app.query_one("#tree-pane").border_title == "Sequence"
        await pilot.press("s")  # and back to the tree, its span count with it
        assert switcher.current == "span-tree"
        assert app.query_one("#tree-pane").border_title == f"Spans — {len(app.viewer.span_tree.trace.spans)}"
        assert len(app.viewer.span_tree.trace.spans) > 1

        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, FeedbackScreen), "the feedback screen")
        await pilot.press("plus", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, FeedbackScreen), "the vote to be stored")
        await wait_for(
            pilot, lambda: str(app.viewer.trace_list.get_cell(trace_id, "fb")) == "👍", "the list's fb column"
        )

        await pilot.press("y")
        assert app.clipboard == trace_id
        await app.workers.wait_for_complete()

    async with TrackingClient(TrackingSettings(tracking_uri=trace_server), trace_server) as client:
        trace = await client.get_trace(trace_id)
    assert thumbs(current_feedback(trace.info)) is True


async def test_turns_left_in_the_outbox_are_delivered_when_the_experiment_opens(
    trace_server: str, experiment_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from chat_turns import turn_record

    from tracetui.chat.outbox import Outbox

    monkeypatch.setenv("TRACETUI_STATE_DIR", str(tmp_path / "state"))
    log_nested_trace(experiment_name, prompt="already there")
    experiment_id = mlflow.get_experiment_by_name(experiment_name).experiment_id
    outbox = Outbox(trace_server, experiment_id)
    outbox.put(turn_record("sess-outbox", "left behind by an earlier run", "delivered now"))
    assert outbox.pending_count() == 1
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(
            pilot,
            lambda: any(
                "left behind" in info.request_preview for info in app.viewer.trace_list.infos.values()
            ),
            "the outbox's turn to be traced and listed",
        )
        assert outbox.pending_count() == 0
        await wait_for(pilot, lambda: app.status.turns_waiting == 0, "the status line to say none wait")


async def test_idle_polls_write_nothing_to_the_terminal(trace_server: str, experiment_name: str) -> None:
    """With nothing new on the server, polls go on but no pane repaints (idle SSH traffic)."""
    import itertools
    from datetime import datetime, timezone

    from tracetui.tracking.connection import Backend
    from tracetui.ui.app import make_app

    log_nested_trace(experiment_name, prompt="idle")
    seconds = itertools.count()

    def clock() -> datetime:  # one second later at every call, within one minute
        return datetime(2026, 1, 15, 14, 35, min(next(seconds), 59), tzinfo=timezone.utc)

    app = make_app(
        TrackingSettings(tracking_uri=trace_server, timeout_s=120),
        experiment_name,
        backend=Backend(base_url=trace_server),
        poll_interval_s=0.2,
        clock=clock,  # a later second of the same minute must not repaint
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.viewer.spans.shown_trace_id is not None, "the trace's tree")
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        polls = []
        written: list[str] = []
        original_apply = app.viewer.trace_list.apply

        def counting_apply(*args, **kwargs):  # type: ignore[no-untyped-def]
            polls.append(1)
            return original_apply(*args, **kwargs)

        app.viewer.trace_list.apply = counting_apply  # type: ignore[method-assign]
        # Headless, nothing reaches the driver: count the widgets' repaint requests instead.
        for widget in (
            app.status,
            app.viewer.trace_list,
            app.viewer.span_tree,
            app.viewer.spans.sequence_view,
            app.viewer.spans.span_detail,
        ):
            original = widget.refresh

            def recording(*args, _widget=widget, _original=original, **kwargs):  # type: ignore[no-untyped-def]
                written.append(_widget.id or "")
                return _original(*args, **kwargs)

            widget.refresh = recording  # type: ignore[method-assign]
        await wait_for(pilot, lambda: len(polls) >= 5, "five idle polls")
        assert written == []
        assert app.status.polled_text == "14:35"
