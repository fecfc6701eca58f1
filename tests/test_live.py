"""LiveTraceList against a real MLflow server: nothing lost, nothing twice, idle polls cheap."""

from __future__ import annotations

import httpx
import trace_factory
from trace_factory import OpenTrace, log_many_traces

from tracetui.config import TrackingSettings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.live import LiveTraceList

trace_server = trace_factory.trace_server
experiment_name = trace_factory.experiment_name


class _RequestCounter:
    """An httpx event hook: counts what really goes over the wire."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, request: httpx.Request) -> None:
        self.count += 1


def _client(url: str, counter: _RequestCounter | None = None) -> TrackingClient:
    hooks = {"request": [counter]} if counter else None
    return TrackingClient(TrackingSettings(tracking_uri=url), url, event_hooks=hooks)


async def _experiment_id(client: TrackingClient, name: str) -> str:
    return (await client.resolve_experiment(name)).experiment_id


async def test_idle_poll_is_one_request(trace_server: str, experiment_name: str) -> None:
    log_many_traces(experiment_name, 3)
    counter = _RequestCounter()
    async with _client(trace_server, counter) as client:
        live = LiveTraceList([await _experiment_id(client, experiment_name)])
        first = await live.poll(client)
        assert len(first.added) == 3
        # Initial load plus the first look for in-progress traces.
        assert first.requests == 2

        before = counter.count
        idle = await live.poll(client)
        assert (idle.added, idle.changed, idle.requests) == ((), (), 1)
        assert counter.count - before == 1


async def test_pages_between_polls_lose_nothing_and_repeat_nothing(
    trace_server: str, experiment_name: str
) -> None:
    log_many_traces(experiment_name, 2, name="before")
    async with _client(trace_server) as client:
        live = LiveTraceList([await _experiment_id(client, experiment_name)], page_size=3)
        await live.poll(client)
        new_ids = log_many_traces(experiment_name, 8, name="after")
        update = await live.poll(client)
        added = [info.trace_id for info in update.added]
        assert sorted(added) == sorted(new_ids)  # every one, once
        assert update.changed == ()
        assert update.requests >= 3  # it really had to follow pages
        assert [info.trace_id for info in live.traces][:8] == list(reversed(new_ids))
        assert len(live.traces) == 10


async def test_long_trace_ending_after_newer_ones_is_found(trace_server: str, experiment_name: str) -> None:
    log_many_traces(experiment_name, 1)
    async with _client(trace_server) as client:
        live = LiveTraceList([await _experiment_id(client, experiment_name)])
        await live.poll(client)
        long_trace = OpenTrace(experiment_name)  # starts now, logged only when it ends
        newer = log_many_traces(experiment_name, 3)
        seen = await live.poll(client)
        assert {info.trace_id for info in seen.added} == set(newer)

        long_trace.finish()
        update = await live.poll(client)
        assert [info.trace_id for info in update.added] == [long_trace.trace_id]
        found = live.get(long_trace.trace_id)
        assert found is not None and found.request_time_ms < live.get(newer[0]).request_time_ms


async def test_in_progress_trace_turns_into_a_change(trace_server: str, experiment_name: str) -> None:
    log_many_traces(experiment_name, 1)
    async with _client(trace_server) as client:
        live = LiveTraceList([await _experiment_id(client, experiment_name)])
        await live.poll(client)
        open_trace = OpenTrace(experiment_name, with_child=True)
        update = await live.poll(client)
        (running,) = update.added
        assert (running.trace_id, running.state) == (open_trace.trace_id, "IN_PROGRESS")
        assert running.execution_duration_ms is None

        open_trace.finish()
        update = await live.poll(client)
        assert update.added == ()
        (finished,) = update.changed
        assert finished.trace_id == open_trace.trace_id and finished.state == "OK"
        assert finished.execution_duration_ms is not None
        assert live.get(open_trace.trace_id) == finished


async def test_user_filter_applies_to_every_query(trace_server: str, experiment_name: str) -> None:
    wanted = log_many_traces(experiment_name, 2, name="wanted")
    log_many_traces(experiment_name, 2, name="other")
    async with _client(trace_server) as client:
        live = LiveTraceList([await _experiment_id(client, experiment_name)], filter_string="name = 'wanted'")
        first = await live.poll(client)
        assert sorted(info.trace_id for info in first.added) == sorted(wanted)
        log_many_traces(experiment_name, 1, name="other")
        more = log_many_traces(experiment_name, 1, name="wanted")
        update = await live.poll(client)
        assert [info.trace_id for info in update.added] == more
