"""The live list against a team's server: MLflow with two workers on PostgreSQL, traces sent over OTLP.

What is checked here is what the poll asks the server: every query is bounded by start time
(the column PostgreSQL indexes), no trace is missed (new ones, one that ends late, one longer
than the window), and a trace already listed is not downloaded again.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from otlp_traces import TraceSpec, create_experiment, send_traces

from tracetui.config import TrackingSettings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.live import LiveTraceList

SEARCH_PATH = "/api/3.0/mlflow/traces/search"


class SearchWatcher:
    """httpx event hooks: each trace search's filter, and how many traces each answer carried."""

    def __init__(self) -> None:
        self.filters: list[str] = []
        self.rows: list[int] = []

    async def on_request(self, request: httpx.Request) -> None:
        if request.url.path == SEARCH_PATH:
            self.filters.append(json.loads(request.content).get("filter") or "")

    async def on_response(self, response: httpx.Response) -> None:
        if response.request.url.path == SEARCH_PATH:
            await response.aread()
            self.rows.append(len(response.json().get("traces", [])))

    def hooks(self) -> dict[str, list]:
        return {"request": [self.on_request], "response": [self.on_response]}

    def rows_since(self, mark: int) -> int:
        return sum(self.rows[mark:])


def _client(url: str, watcher: SearchWatcher) -> TrackingClient:
    return TrackingClient(TrackingSettings(tracking_uri=url), url, event_hooks=watcher.hooks())


def _now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def team_url(team_server) -> str:
    return team_server.url


async def test_poll_finds_new_late_and_long_traces_with_start_bounded_queries(team_url: str) -> None:
    experiment_id = create_experiment(team_url, "late-ends")
    now = _now_ms()
    # An hour of history, a trace every 12 s, the newest a few seconds old.
    send_traces(team_url, experiment_id, [TraceSpec(now - 5_000 - i * 12_000) for i in range(300)])
    watcher = SearchWatcher()
    async with _client(team_url, watcher) as client:
        live = LiveTraceList([experiment_id], window_ms=120_000, sweep_every=4)
        first = await live.poll(client)
        assert len(first.added) == 300

        now = _now_ms()
        new = send_traces(team_url, experiment_id, [TraceSpec(now - 500, 100) for _ in range(3)])
        # Started before the newest listed trace, logged only now that it ends: inside the window.
        (late,) = send_traces(team_url, experiment_id, [TraceSpec(now - 90_000, 90_000, name="late")])
        # Started half an hour ago: longer than the window, found by the sweep.
        (long,) = send_traces(team_url, experiment_id, [TraceSpec(now - 1_800_000, 1_800_000, "long")])

        mark = len(watcher.filters)
        update = await live.poll(client)
        assert {info.trace_id for info in update.added} == {*new, late}
        for _ in range(2):
            assert (await live.poll(client)).added == ()
        swept = await live.poll(client)  # the 4th poll sweeps the day
        assert [info.trace_id for info in swept.added] == [long]
        assert live.get(long).execution_duration_ms == 1_800_000
        assert len(live.traces) == 305

        # Every poll query is bounded by start time, the column the trace table indexes.
        poll_filters = watcher.filters[mark:]
        assert poll_filters and all("trace.timestamp_ms >= " in f for f in poll_filters), poll_filters


async def test_a_busy_minute_is_not_downloaded_again(team_url: str) -> None:
    experiment_id = create_experiment(team_url, "busy-minute")
    now = _now_ms()
    send_traces(team_url, experiment_id, [TraceSpec(now - 1_000 - i * 300) for i in range(150)])
    watcher = SearchWatcher()
    async with _client(team_url, watcher) as client:
        live = LiveTraceList([experiment_id])
        assert len((await live.poll(client)).added) == 150

        for _ in range(3):
            mark = len(watcher.rows)
            idle = await live.poll(client)
            assert (idle.added, idle.changed, idle.requests) == ((), (), 1)
            assert watcher.rows_since(mark) == 0  # 150 traces ended within the overlap: none again

        more = send_traces(team_url, experiment_id, [TraceSpec(_now_ms() - 200) for _ in range(20)])
        mark = len(watcher.rows)
        update = await live.poll(client)
        assert sorted(info.trace_id for info in update.added) == sorted(more)
        assert watcher.rows_since(mark) == 20
        mark = len(watcher.rows)
        await live.poll(client)
        assert watcher.rows_since(mark) == 0


@pytest.fixture(scope="module")
def two_thousand(team_url: str) -> tuple[str, list[str]]:
    """An experiment of 2,000 traces, a second apart; (its id, their ids newest first)."""
    experiment_id = create_experiment(team_url, "two-thousand")
    now = _now_ms()
    ids = send_traces(team_url, experiment_id, [TraceSpec(now - 10_000 - i * 1_000) for i in range(2_000)])
    return experiment_id, ids


async def test_paging_back_reaches_every_trace_once_while_new_ones_arrive(
    team_url: str, two_thousand: tuple[str, list[str]]
) -> None:
    from tracetui.tracking.counts import server_trace_count

    experiment_id, ids = two_thousand
    watcher = SearchWatcher()
    async with _client(team_url, watcher) as client:
        assert await server_trace_count(client, [experiment_id]) == 2_000
        live = LiveTraceList([experiment_id], initial_limit=500)
        assert [info.trace_id for info in (await live.poll(client)).added] == ids[:500]
        assert live.more_exist is True

        arrived = send_traces(team_url, experiment_id, [TraceSpec(_now_ms() - 100) for _ in range(7)])
        pages = []
        while live.more_exist:
            mark = len(watcher.rows)
            pages.append([info.trace_id for info in (await live.load_older(client)).added])
            assert watcher.rows_since(mark) == len(pages[-1])  # nothing downloaded twice
            if len(pages) == 1:  # new arrivals keep coming in while paging
                assert sorted(i.trace_id for i in (await live.poll(client)).added) == sorted(arrived)
        assert [len(page) for page in pages] == [500, 500, 500, 0]
        assert [trace_id for page in pages for trace_id in page] == ids[500:]
        assert len(live.traces) == 2_007
        assert await server_trace_count(client, [experiment_id]) == 2_007


async def test_dashboard_pages_back_to_the_oldest_trace_without_moving_the_cursor(
    team_url: str, two_thousand: tuple[str, list[str]]
) -> None:
    from test_app import app_for, leave_prompt, wait_for

    experiment_id, ids = two_thousand
    total = int(
        httpx.post(
            f"{team_url}/api/3.0/mlflow/traces/metrics",
            json={
                "experiment_ids": [experiment_id],
                "view_type": "TRACES",
                "metric_name": "trace_count",
                "aggregations": [{"aggregation_type": "COUNT"}],
            },
        ).json()["data_points"][0]["values"]["COUNT"]
    )
    app = app_for(team_url, "two-thousand")
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.viewer.trace_list
        pane = app.viewer.query_one("#traces-pane")
        await wait_for(pilot, lambda: pane.border_title == f"Traces — 500 of {total:,}", "500 of the total")
        await leave_prompt(pilot)
        await pilot.press("G")  # the 500th row: near the end, so the next page is asked for
        at_end = table.highlighted_trace_id
        assert at_end == ids[499 - (total - 2_000)]
        await wait_for(pilot, lambda: table.row_count == 1_000, "the second page")
        assert table.highlighted_trace_id == at_end  # the cursor stayed on its trace
        assert app.viewer.follow is False

        arrived = send_traces(team_url, experiment_id, [TraceSpec(_now_ms() - 100) for _ in range(3)])
        await wait_for(pilot, lambda: set(arrived) <= set(table.infos), "new arrivals while paging")
        assert table.highlighted_trace_id == at_end
        total += 3
        await wait_for(pilot, lambda: pane.border_title == f"Traces — 1,003 of {total:,}", "arrivals counted")

        # Paging down a screen at a time: the next page is asked for before the last row is reached.
        table.move_cursor(row=700, animate=False)  # then a screen at a time, as a person pages down
        while not (app.viewer.loading_older or table.row_count > 1_003):
            assert table.cursor_row < 1_002, "the end of the list was reached before a page came"
            await pilot.press("pagedown")
            await pilot.pause()
        await wait_for(pilot, lambda: table.row_count == 1_503, "the third page")
        assert table.cursor_row < 1_002
        while table.row_count < total:  # G, the end: each time the next page comes
            rows = table.row_count
            await pilot.press("G")
            await wait_for(pilot, lambda: table.row_count > rows, f"a page after {rows} rows")  # noqa: B023
        assert set(ids) <= set(table.infos)
        await wait_for(pilot, lambda: pane.border_title == f"Traces — {total:,}", "everything listed")


async def test_every_session_is_complete_past_two_thousand_session_traces(team_url: str) -> None:
    from tracetui.tracking.sessions import list_sessions, stream_sessions

    experiment_id = create_experiment(team_url, "sessions")
    now = _now_ms()
    # 420 sessions of 5 turns, interleaved: every session's turns span the whole history, so
    # grouping only the newest 2,000 session traces (as before) leaves the oldest ones short.
    specs = [TraceSpec(now - 5_000 - i * 1_000, session=f"s{i % 420:03d}") for i in range(2_100)]
    specs += [TraceSpec(now - 5_500 - i * 7_000) for i in range(60)]  # traces of no session
    send_traces(team_url, experiment_id, specs)
    async with _client(team_url, SearchWatcher()) as client:
        sessions = await list_sessions(client, experiment_id)
        assert len(sessions) == 420 and {s.trace_count for s in sessions} == {5}
        assert [s.session_id for s in sessions][:2] == ["s000", "s001"]  # the most recently active first

        seen = [(len(found), complete) async for found, complete in stream_sessions(client, experiment_id)]
        assert seen[0] == (420, False) and seen[-1] == (420, True)  # first rows after one page
        assert [complete for _, complete in seen].count(True) == 1


async def test_a_trace_the_server_is_slow_to_build_is_waited_for_but_a_slow_search_is_not(
    team_url: str, two_thousand: tuple[str, list[str]]
) -> None:
    from fault_servers import FaultServer

    from tracetui.tracking.errors import ServerTimeout

    experiment_id, ids = two_thousand

    def slow_trace(method: str, path: str) -> None:
        if path.startswith("/api/3.0/mlflow/traces/get") or "search" in path:
            time.sleep(1.5)  # as a server building a 50,000-span answer: nothing comes for a while
        return None  # then the real server's answer

    with FaultServer("forward", forward_to=team_url, intercept=slow_trace) as proxy:
        settings = TrackingSettings(tracking_uri=proxy.url, timeout_s=0.5)
        async with TrackingClient(settings, proxy.url) as client:
            trace = await client.get_trace(ids[0])
            assert trace.info.trace_id == ids[0]
            with pytest.raises(ServerTimeout) as caught:
                await client.search_traces([experiment_id])
            assert f"{proxy.url} did not answer within 0.5 s" in str(caught.value)


async def test_the_dashboard_shows_a_slow_trace_being_read_then_its_tree_not_an_error(
    team_url: str, two_thousand: tuple[str, list[str]]
) -> None:
    from fault_servers import FaultServer
    from test_app import wait_for

    from tracetui.tracking.connection import Backend
    from tracetui.ui.app import make_app

    def slow_trace(method: str, path: str) -> None:
        if path.startswith("/api/3.0/mlflow/traces/get"):
            time.sleep(3.0)  # longer than the settings' 1 s time-out
        return None

    with FaultServer("forward", forward_to=team_url, intercept=slow_trace) as proxy:
        settings = TrackingSettings(tracking_uri=proxy.url, timeout_s=1.0)
        app = make_app(settings, "two-thousand", None, None, None, Backend(base_url=proxy.url))
        async with app.run_test(size=(160, 48)) as pilot:
            pane = app.query_one("#tree-pane")
            await wait_for(pilot, lambda: "reading the trace…" in str(pane.border_title), "reading progress")
            await wait_for(pilot, lambda: pane.border_title == "Spans — 1", "the slow trace's tree")
            assert "did not answer" not in app.status.render().plain
