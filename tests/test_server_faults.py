"""Server faults while the TUI runs: a killed and restarted real server, a server that never
answers, a broken proxy's answers, and a trace not fully exported yet.

This module starts its own `mlflow server` on a fixed port over a temporary
sqlite store, so it can be killed (SIGKILL, as a crash) and started again at
the same address while the app keeps polling it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import running_server
from fault_servers import FaultServer, kill_server
from test_app import wait_for
from test_remote_auth import run_cli
from trace_factory import OpenTrace, log_many_traces

import tracetui.ui.viewer.trace_viewer as trace_viewer
from tracetui.cli import main
from tracetui.config import TrackingSettings
from tracetui.tracking.connection import Backend
from tracetui.tracking.local_server import LocalMlflowServer
from tracetui.ui.app import TraceTuiApp, make_app
from tracetui.ui.widgets.span_tree import SpanTree
from tracetui.ui.widgets.status_bar import CONNECTED, CONNECTING, DISCONNECTED

RESTART_WAIT_S = 240.0  # a restart takes 10-50 s on this shared machine; this bounds a hang


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMlflowServer]:
    with running_server(tmp_path_factory.mktemp("mlflow-faults")) as server:
        yield server


def _app(url: str, experiment: str | None, *, timeout_s: float = 30.0) -> TraceTuiApp:
    settings = TrackingSettings(tracking_uri=url, timeout_s=timeout_s)
    return make_app(settings, experiment, None, None, None, Backend(base_url=url), poll_interval_s=0.2)


def _tree_trace_id(app: TraceTuiApp) -> str | None:
    tree = app.query_one(SpanTree)
    return None if tree.trace is None else tree.trace.info.trace_id


# --- a trace still being exported -----------------------------------------------------------


async def test_in_progress_trace_is_shown_partial_then_complete(own_server: LocalMlflowServer) -> None:
    """MLflow 3.17 gives out a running trace's finished spans: shown at once, re-read when it ends."""
    experiment = f"running-{uuid.uuid4().hex[:8]}"
    log_many_traces(experiment, 1, tracking_uri=own_server.url)
    open_trace = OpenTrace(experiment, tracking_uri=own_server.url, with_child=True)
    app = _app(own_server.url, experiment)
    async with app.run_test(size=(120, 32)) as pilot:
        # Follow mode opens the newest trace: the running one, with its one finished span.
        await wait_for(pilot, lambda: _tree_trace_id(app) == open_trace.trace_id, "the running trace")
        assert len(app.query_one(SpanTree).trace.spans) == 1
        await asyncio.to_thread(open_trace.finish)
        await wait_for(
            pilot, lambda: len(app.query_one(SpanTree).trace.spans) == 2, "the finished trace's spans"
        )
        assert app.viewer.trace_list.infos[open_trace.trace_id].state == "OK"


async def test_trace_not_fully_exported_is_pending_then_fetched(own_server: LocalMlflowServer) -> None:
    """A proxy in front of the real server says "not fully exported yet" three times, as MLflow
    does while a trace's spans are still arriving; the app says pending and fetches again."""
    experiment = f"exporting-{uuid.uuid4().hex[:8]}"
    (trace_id,) = log_many_traces(experiment, 1, tracking_uri=own_server.url)
    refusals = []

    def not_yet(method: str, path: str) -> tuple[int, str, bytes] | None:
        if path.startswith("/api/3.0/mlflow/traces/get") and trace_id in path and len(refusals) < 3:
            refusals.append(path)
            message = f"Trace with ID {trace_id} is not fully exported yet, please try again later."
            body = json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": message})
            return 404, "application/json", body.encode()
        return None

    with FaultServer("forward", forward_to=own_server.url, intercept=not_yet) as proxy:
        app = _app(proxy.url, experiment)
        async with app.run_test(size=(120, 32)) as pilot:
            await wait_for(pilot, lambda: "is pending" in app.status.sentence, "the pending sentence")
            assert trace_id in app.status.sentence and _tree_trace_id(app) is None
            await wait_for(pilot, lambda: _tree_trace_id(app) == trace_id, "the trace, fetched again")
            assert len(refusals) == 3


# --- killed, then restarted ------------------------------------------------------------------


async def test_killed_server_backs_off_then_recovers_without_losing_rows(
    own_server: LocalMlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A low cap, so the test sees the delays reach it within a few seconds (the app's is 30 s).
    monkeypatch.setattr(trace_viewer, "MAX_RETRY_S", 1.6)
    experiment = f"restart-{uuid.uuid4().hex[:8]}"
    before = log_many_traces(experiment, 3, tracking_uri=own_server.url, name="before")
    app = _app(own_server.url, experiment, timeout_s=5)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: set(before) <= set(app.viewer.trace_list.infos), "the first rows")

        await asyncio.to_thread(kill_server, own_server)
        await wait_for(pilot, lambda: app.status.connection == DISCONNECTED, "the disconnection")
        assert "disconnected, retrying in" in app.status.render().plain
        delays: list[float] = []
        failures_seen = 0
        while len(delays) < 6:
            if app.viewer.poll_failures > failures_seen:  # one entry per failed poll
                failures_seen = app.viewer.poll_failures
                delays.append(app.status.retry_in_s)
            await pilot.pause(0.02)
        # Each failure doubles the wait (0.4, 0.8, 1.6 s from a 0.2 s interval), then the cap holds.
        assert delays[:3] == sorted(set(delays[:3])), delays
        assert max(delays) == 1.6 and delays[-3:] == [1.6, 1.6, 1.6], delays
        assert app.viewer.trace_list.row_count == 3  # nothing dropped while down

        await asyncio.to_thread(own_server.start)
        after = await asyncio.to_thread(
            log_many_traces, experiment, 3, tracking_uri=own_server.url, name="after"
        )
        everything = {*before, *after}
        await wait_for(
            pilot,
            lambda: everything <= set(app.viewer.trace_list.infos),
            "recovery",
            timeout_s=RESTART_WAIT_S,
        )
        assert app.status.connection == CONNECTED
        assert app.viewer.trace_list.row_count == 6 and set(app.viewer.trace_list.infos) == everything


# --- a server that accepts connections and never answers ----------------------------------


async def test_silent_server_times_out_while_keys_still_work() -> None:
    with FaultServer("hang") as server:
        app = _app(server.url, "whatever", timeout_s=8)
        # 80x24, as over SSH: the chat pane is hidden there, so keys go to the viewer.
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: server.request_count >= 1, "the first request")
            # The request is still waiting for an answer, and the app answers keys meanwhile.
            await pilot.press("p")
            assert app.viewer.paused and app.status.paused
            await pilot.press("question_mark")
            assert type(app.screen).__name__ == "HelpScreen"
            await pilot.press("escape")
            assert app.status.connection == CONNECTING  # proof the request had not returned yet
            await wait_for(pilot, lambda: app.status.connection == DISCONNECTED, "the time-out")
            assert f"at {server.url} did not answer within 8 s" in app.status.sentence


def test_cli_gives_up_on_a_silent_server_with_a_sentence(tmp_path: Path) -> None:
    with FaultServer("hang") as server:
        # subprocess timeout 120 s only bounds a hang; the client's own limit is 10 s a request.
        done = run_cli(["traces", "list", "--tracking-uri", server.url], {}, tmp_path)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"The MLflow tracking server at {server.url} did not answer within 10 s")


# --- a broken proxy's answers --------------------------------------------------------------

BROKEN_ANSWERS = {
    "500": "HTTP 500",
    "html": "an HTML page: is a proxy in the way?",
    "html200": "not MLflow's JSON",
    "truncated": "not MLflow's JSON (cut short?)",
    "cut": "broke off its answer",
}


async def test_broken_answers_are_a_clear_status_not_a_crash() -> None:
    for mode, words in BROKEN_ANSWERS.items():
        with FaultServer(mode) as server:
            app = _app(server.url, None, timeout_s=5)
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(pilot, lambda app=app: app.status.connection == DISCONNECTED, mode)
                assert words in app.status.sentence and server.url in app.status.sentence, mode
                await pilot.press("j", "e", "escape", "z", "z")  # still a working app
                assert app.is_running
                assert "retrying in" in app.status.render().plain


def test_cli_broken_answers_are_one_sentence() -> None:
    runner = CliRunner()
    for mode, words in BROKEN_ANSWERS.items():
        with FaultServer(mode) as server:
            result = runner.invoke(main, ["traces", "list", "--tracking-uri", server.url])
        assert result.exit_code == 1, (mode, result.output)
        (line,) = result.stderr.strip().splitlines()
        assert words in line and "Traceback" not in result.output, mode
