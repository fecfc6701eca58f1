# ruff: noqa: F811 - pytest fixtures imported from trace_factory are test parameters
"""The dashboard against a real MLflow server: Pilot drives the app, traces are logged with mlflow.

No timed assertions: every wait is a loop on a condition with a generous bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from trace_factory import (  # noqa: F401 - trace_server and experiment_name are fixtures
    experiment_name,
    log_error_trace,
    log_large_trace,
    log_many_traces,
    log_nested_trace,
    trace_server,
)

from tracetui.config import TrackingSettings
from tracetui.tracking.connection import Backend
from tracetui.ui.app import TraceTuiApp, make_app
from tracetui.ui.widgets.span_detail import SpanDetail
from tracetui.ui.widgets.span_tree import SpanTree

WAIT_S = 60.0  # generous: the machine is shared; this bounds a hang, it measures nothing


async def wait_for(pilot: Any, condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; status: {pilot.app.status.render().plain!r}")
        await pilot.pause(0.05)


def app_for(url: str, experiment: str | None = None, trace_id: str | None = None) -> TraceTuiApp:
    # A long read timeout: the test machine is shared and a 10,000-span trace is 5.5 MB.
    return make_app(
        TrackingSettings(tracking_uri=url, timeout_s=120),
        experiment,
        trace_id,
        None,
        None,
        Backend(base_url=url),
        poll_interval_s=0.2,
    )


async def leave_prompt(pilot: Any) -> None:
    """The chat prompt has focus at start (at 160x48); Esc leaves it for the trace list's keys."""
    app = pilot.app
    await pilot.press("escape")
    await wait_for(pilot, lambda: app.focused is app.viewer.trace_list, "Esc to move focus to the trace list")


def tree_trace_id(app: TraceTuiApp) -> str | None:
    tree = app.query_one(SpanTree)
    return None if tree.trace is None else tree.trace.info.trace_id


def detail_span_name(app: TraceTuiApp) -> str | None:
    item = app.query_one(SpanDetail).item
    return None if item is None else getattr(item, "name", None)


async def test_logged_trace_appears_and_follow_shows_it(trace_server: str, experiment_name: str) -> None:
    first = log_nested_trace(experiment_name, prompt="first")
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        # Follow mode: without a key press the newest trace's tree and root span are shown.
        await wait_for(pilot, lambda: tree_trace_id(app) == first, "the first trace's tree")
        await wait_for(pilot, lambda: detail_span_name(app) == "chat_turn", "the root span's details")
        second = log_nested_trace(experiment_name, prompt="second")
        await wait_for(
            pilot, lambda: second in app.viewer.trace_list.infos, "the trace logged during the test"
        )
        assert app.viewer.trace_list.newest_trace_id == second  # newest first
        await wait_for(pilot, lambda: tree_trace_id(app) == second, "follow mode to show the new trace")
        assert app.viewer.trace_list.highlighted_trace_id == second
        assert "connected" in app.status.render().plain


async def test_moving_off_the_newest_turns_follow_off_and_opens_that_trace(
    trace_server: str, experiment_name: str
) -> None:
    older = log_nested_trace(experiment_name, prompt="older")
    newer = log_error_trace(experiment_name)
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: tree_trace_id(app) == newer, "the newest trace")
        await leave_prompt(pilot)
        await pilot.press("j")
        await wait_for(pilot, lambda: tree_trace_id(app) == older, "the selected trace's tree")
        assert app.viewer.follow is False
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.focused is app.query_one(SpanTree), "Enter to focus the tree")
        # New traces no longer move the selection away from the one being read.
        newest = log_nested_trace(experiment_name, prompt="newest")
        await wait_for(pilot, lambda: newest in app.viewer.trace_list.infos, "the next trace")
        assert app.viewer.trace_list.highlighted_trace_id == older
        assert tree_trace_id(app) == older
        await pilot.press("f")  # follow on again: jumps to the newest
        await wait_for(pilot, lambda: tree_trace_id(app) == newest, "follow to show the newest")


async def test_filter_narrows_the_list_and_an_invalid_one_is_explained(
    trace_server: str, experiment_name: str
) -> None:
    alpha = log_many_traces(experiment_name, 2, name="alpha")
    beta = log_many_traces(experiment_name, 2, name="beta")
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: len(app.viewer.trace_list.infos) == 4, "four rows")
        await leave_prompt(pilot)
        await pilot.press("slash")
        await pilot.press(*"trace.name = 'alpha'", "enter")
        await wait_for(pilot, lambda: set(app.viewer.trace_list.infos) == set(alpha), "only the alpha traces")
        assert app.viewer.filter_string == "trace.name = 'alpha'"

        await pilot.press("slash", "ctrl+a", "ctrl+k")
        await pilot.press(*"this is not a filter", "enter")
        await wait_for(pilot, lambda: app.status.sentence_is_error, "a sentence about the filter")
        sentence = app.status.sentence
        assert "filter" in sentence.lower() and "Traceback" not in sentence
        assert set(app.viewer.trace_list.infos) == set(alpha)  # the list is kept
        assert app.viewer.filter_string == "trace.name = 'alpha'"

        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")  # empty clears the filter
        await wait_for(pilot, lambda: set(app.viewer.trace_list.infos) == set(alpha + beta), "all four again")


async def test_experiment_switcher_lists_counts_and_opens_another(
    trace_server: str, experiment_name: str
) -> None:
    other = experiment_name + "-other"
    other_ids = log_many_traces(other, 3, name="other")
    mine = log_nested_trace(experiment_name)
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: mine in app.viewer.trace_list.infos, "this experiment's trace")
        await leave_prompt(pilot)
        await pilot.press("e")
        from textual.widgets import OptionList

        from tracetui.ui.screens.experiments import ExperimentSwitcher

        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentSwitcher), "the switcher")
        switcher = app.screen
        await wait_for(pilot, lambda: bool(switcher.experiments), "the experiment list")
        names = {e.experiment_id: e.name for e in switcher.experiments}
        await wait_for(pilot, lambda: all(c.done for c in switcher.counts.values()), "every count")
        counts = {names[experiment_id]: c.value for experiment_id, c in switcher.counts.items()}
        assert counts[other] == 3 and counts[experiment_name] == 1
        options = switcher.query_one(OptionList)
        other_id = next(experiment_id for experiment_id, name in names.items() if name == other)
        other_row = str(options.get_option(other_id).prompt)
        assert "3 traces" in other_row and other[:50] in other_row
        note = str(switcher.query_one("#experiments-note").render())
        assert note.endswith(" experiments") and "counting" not in note
        index = next(i for i, e in enumerate(switcher.experiments) if e.name == other)
        options.highlighted = index
        await wait_for(pilot, lambda: options.highlighted == index and options.has_focus, "the highlight")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExperimentSwitcher), "the switcher to close")
        await wait_for(pilot, lambda: getattr(app.viewer.experiment, "name", None) == other, "the switch")
        await wait_for(
            pilot, lambda: set(app.viewer.trace_list.infos) == set(other_ids), "the other experiment"
        )
        assert app.viewer.experiment is not None and app.viewer.experiment.name == other
        assert mine not in app.viewer.trace_list.infos


async def test_pause_stops_polling_and_resume_catches_up(trace_server: str, experiment_name: str) -> None:
    log_nested_trace(experiment_name)
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.viewer.trace_list.row_count == 1, "the first row")
        await leave_prompt(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: not app.workers or all(w.group != "poll" for w in app.workers), "idle")
        polls_when_paused = app.viewer.live._polls
        later = log_nested_trace(experiment_name, prompt="while paused")
        # Many poll intervals (0.2 s) go by: no poll may run, the row must not appear.
        for _ in range(20):
            await pilot.pause(0.1)
        assert app.viewer.live._polls == polls_when_paused
        assert later not in app.viewer.trace_list.infos
        assert "paused" in app.status.render().plain
        await pilot.press("p")
        await wait_for(pilot, lambda: later in app.viewer.trace_list.infos, "the row after resuming")


async def test_trace_flag_opens_that_trace_in_its_experiment(trace_server: str, experiment_name: str) -> None:
    wanted = log_error_trace(experiment_name)
    log_nested_trace(experiment_name)  # newer: follow mode must not win over --trace
    app = app_for(trace_server, None, wanted)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: tree_trace_id(app) == wanted, "the --trace tree")
        assert app.viewer.experiment is not None and app.viewer.experiment.name == experiment_name
        await wait_for(
            pilot, lambda: app.viewer.trace_list.highlighted_trace_id == wanted, "its row selected"
        )
        await wait_for(pilot, lambda: detail_span_name(app) is not None, "the root span's details")
        assert app.viewer.follow is False


async def test_without_an_experiment_the_one_with_the_newest_trace_opens(
    trace_server: str, experiment_name: str
) -> None:
    newest = log_nested_trace(experiment_name)
    app = app_for(trace_server)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.viewer.experiment is not None, "an experiment")
        assert app.viewer.experiment.name == experiment_name
        await wait_for(pilot, lambda: tree_trace_id(app) == newest, "its newest trace")


async def test_a_10000_span_trace_opens(trace_server: str, experiment_name: str) -> None:
    large = log_large_trace(experiment_name, 10_000)
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: tree_trace_id(app) == large, "the large trace's tree", 120)
        tree = app.query_one(SpanTree)
        assert len(tree.trace.spans) == 10_001
        await leave_prompt(pilot)
        await pilot.press("enter")  # into the tree, then scroll: the app stays responsive
        await wait_for(pilot, lambda: app.focused is tree, "Enter to focus the tree")
        first_line = tree.cursor_line
        await pilot.press(*["j"] * 20)  # vim keys move in the tree as in the list
        assert tree.cursor_line == first_line + 20
        await pilot.press("k")
        assert tree.cursor_line == first_line + 19
        await pilot.press("pagedown", "pagedown")
        await wait_for(pilot, lambda: detail_span_name(app) not in (None, "large"), "a child's details")


async def test_zoom_reaches_every_pane_at_80x24(trace_server: str, experiment_name: str) -> None:
    log_nested_trace(experiment_name)
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: tree_trace_id(app) is not None, "a trace")
        await pilot.press("z")
        seen = []
        for _ in range(4):
            maximized = app.screen.maximized
            assert maximized is not None
            seen.append(maximized.id)
            assert app.focused is not None
            assert app.focused is maximized or maximized in app.focused.ancestors
            assert maximized.region.width == 80  # it has the whole width
            await pilot.press("tab")
            await pilot.pause()
        assert sorted(seen) == sorted(["chat", "traces-pane", "tree-pane", "detail-pane"])
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is None


async def test_an_unreachable_server_is_a_sentence_and_the_app_keeps_running() -> None:
    from tracetui.tracking.local_server import free_loopback_port

    url = f"http://127.0.0.1:{free_loopback_port()}"
    app = app_for(url, "anything")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.status.sentence_is_error, "a failure sentence")
        assert "Traceback" not in app.status.sentence
        assert "disconnected" in app.status.render().plain
        await pilot.press("question_mark")  # still answers keys
        await pilot.pause()
        from tracetui.ui.screens.help import HelpScreen

        assert isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("no_color", [True])
async def test_no_color_is_respected_and_states_still_read(
    monkeypatch: pytest.MonkeyPatch, trace_server: str, experiment_name: str, no_color: bool
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    log_error_trace(experiment_name)
    app = app_for(trace_server, experiment_name)
    assert app.no_color  # Textual reads NO_COLOR and renders in monochrome
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.viewer.trace_list.row_count == 1, "the row")
        row = app.viewer.trace_list.get_row_at(0)
        assert any(getattr(cell, "plain", "") == "✗ ERROR" for cell in row)  # a symbol, not only red


async def test_without_a_server_a_local_one_starts_after_the_first_frame(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the local server's store goes here (sqlite:///…/mlflow.db)
    app = make_app(TrackingSettings(tracking_uri=None, timeout_s=60), None, None, None, None)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            # The app is up and answering while the server starts in a thread.
            await wait_for(
                pilot, lambda: "Starting a local MLflow server over" in app.status.sentence, "the hint"
            )
            assert "mlflow.db" in app.status.sentence
            await wait_for(pilot, lambda: app.viewer.experiment is not None, "the default experiment", 120)
            assert app.viewer.experiment.experiment_id == "0"
            assert "local MLflow" in app.status.server
    finally:
        if app.viewer.backend is not None:
            app.viewer.backend.close()
