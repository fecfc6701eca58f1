"""Garbage collection paused while large responses are read (tracetui/gc_policy.py)."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator

import pytest
import trace_factory
from fault_servers import FaultServer

from tracetui.config import TrackingSettings
from tracetui.gc_policy import collection_paused
from tracetui.tracking.client import THREAD_PARSE_BYTES, TrackingClient
from tracetui.tracking.decode import decode_trace
from tracetui.tracking.errors import BadResponse

trace_server = trace_factory.trace_server
experiment_name = trace_factory.experiment_name


@pytest.fixture(autouse=True)
def collection_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_collection_is_off_inside_and_back_on_after() -> None:
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_pauses_nest_across_threads() -> None:
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with collection_paused():
            inside.set()
            leave.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    with collection_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread still parses
    leave.set()
    holder.join(10)
    assert gc.isenabled()


def test_collection_that_was_off_stays_off() -> None:
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_collection_comes_back_after_an_error() -> None:
    with pytest.raises(ValueError), collection_paused():
        raise ValueError("a bad body")
    assert gc.isenabled()


async def test_a_large_trace_decoded_in_the_thread_is_the_document_decoded(
    trace_server: str, experiment_name: str
) -> None:
    trace_id = trace_factory.log_large_trace(experiment_name, span_count=1500)
    url = trace_server
    async with TrackingClient(TrackingSettings(tracking_uri=url, timeout_s=120.0), url) as client:
        trace = await client.get_trace(trace_id)
        assert gc.isenabled()
        document = await client.get_trace_json(trace_id)
        assert gc.isenabled()
    assert len(json.dumps(document)) > THREAD_PARSE_BYTES  # both took the thread path
    assert trace == decode_trace(document)
    assert len(trace.spans) == 1501


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (200, "text/html", "not MLflow's JSON, an HTML page"),
        (502, "text/html", "HTTP 502, an HTML page"),
        (200, "application/json", "JSON that is not an object"),
    ],
)
async def test_large_bad_answers_are_one_sentence(status: int, kind: str, words: str) -> None:
    big = (
        b"[" + b"1," * THREAD_PARSE_BYTES + b"1]"
        if kind == "application/json"
        else (b"<html><body>" + b"x" * THREAD_PARSE_BYTES + b"</body></html>")
    )

    def answer(method: str, path: str) -> tuple[int, str, bytes]:
        return status, kind, big

    with FaultServer("forward", intercept=answer) as server:
        async with TrackingClient(TrackingSettings(tracking_uri=server.url), server.url) as client:
            with pytest.raises(BadResponse) as caught:
                await client.get_trace("tr-0123456789abcdef0123456789abcdef")
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert gc.isenabled()
