"""TrackingClient against a real MLflow server, and against fakes of a broken proxy."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import trace_factory
from conftest import AUTH_ADMIN_USER
from fault_servers import FaultServer
from trace_factory import log_error_trace, log_nested_trace

from tracetui.config import TrackingSettings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.errors import (
    AuthenticationFailed,
    BadResponse,
    ExperimentNotFound,
    InvalidFilter,
    ServerTimeout,
    ServerUnreachable,
    TlsError,
    TraceNotFound,
)
from tracetui.tracking.export import to_mlflow_cli_document

# Fixtures shared with other test modules (they live next to the trace makers).
trace_server = trace_factory.trace_server
experiment_name = trace_factory.experiment_name


def _client(url: str, **settings: object) -> TrackingClient:
    return TrackingClient(TrackingSettings(tracking_uri=url, **settings), url)  # type: ignore[arg-type]


async def test_experiments_traces_and_pages(trace_server: str, experiment_name: str) -> None:
    trace_ids = [log_nested_trace(experiment_name) for _ in range(3)]
    error_id = log_error_trace(experiment_name)
    async with _client(trace_server) as client:
        await client.health()
        experiment = await client.resolve_experiment(experiment_name)
        assert experiment.name == experiment_name
        assert await client.resolve_experiment(experiment.experiment_id) == experiment
        assert experiment in await client.list_experiments()

        page = await client.search_traces([experiment.experiment_id], max_results=2)
        assert len(page.trace_infos) == 2 and page.next_page_token
        listed = [
            info.trace_id
            async for info in client.iter_trace_infos(
                [experiment.experiment_id], order_by=["timestamp_ms ASC"]
            )
        ]
        assert listed == [*trace_ids, error_id]  # all pages, nothing twice

        trace = await client.get_trace(trace_ids[0])
        assert [span.name for span in trace.spans] == ["chat_turn", "litellm-completion"]
        assert trace.info.name == "chat_turn" and trace.info.token_usage is not None

        error_trace = await client.get_trace(error_id)
        tool = next(span for span in error_trace.spans if span.name == "tool")
        assert tool.status_code == "ERROR"
        assert "division by zero" in tool.status_message
        assert [event.name for event in tool.events] == ["retrying", "exception"]
        assert client.base_url == trace_server


async def test_export_equals_mlflow_cli_output(trace_server: str, experiment_name: str) -> None:
    """`mlflow traces get` run for real prints the same document as our export."""
    import subprocess
    import sys

    trace_ids = [log_nested_trace(experiment_name), log_error_trace(experiment_name)]
    async with _client(trace_server) as client:
        documents = [await client.get_trace_json(trace_id) for trace_id in trace_ids]
    for trace_id, document in zip(trace_ids, documents, strict=True):
        printed = subprocess.run(
            [sys.executable, "-m", "mlflow", "traces", "get", "--trace-id", trace_id],
            capture_output=True,
            text=True,
            check=True,
            env={**__import__("os").environ, "MLFLOW_TRACKING_URI": trace_server},
        ).stdout
        assert to_mlflow_cli_document(document) == json.loads(printed)


async def test_not_found_and_invalid_filter(trace_server: str, experiment_name: str) -> None:
    log_nested_trace(experiment_name)
    async with _client(trace_server) as client:
        experiment = await client.resolve_experiment(experiment_name)
        with pytest.raises(ExperimentNotFound, match="no-such-experiment"):
            await client.resolve_experiment("no-such-experiment")
        with pytest.raises(ExperimentNotFound):
            await client.get_experiment("987654")
        with pytest.raises(TraceNotFound, match="tr-00000000000000000000000000000000"):
            await client.get_trace("tr-00000000000000000000000000000000")
        with pytest.raises(InvalidFilter, match="Invalid clause") as caught:
            await client.search_traces([experiment.experiment_id], filter_string="bogus ===")
        assert "\n" not in str(caught.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    async with _client(url) as client:
        with pytest.raises(ServerUnreachable) as caught:
            await client.health()
    assert str(caught.value) == (
        f"Cannot reach the MLflow tracking server at {url}: connection refused. Is it running?"
    )


async def test_wrong_password_names_the_user_and_hides_secrets(mlflow_auth_server) -> None:
    url = mlflow_auth_server.url
    async with _client(url, username=AUTH_ADMIN_USER, password="wrong-pw-123") as client:
        with pytest.raises(AuthenticationFailed) as caught:
            await client.list_experiments()
    assert f"user {AUTH_ADMIN_USER}" in str(caught.value) and "wrong-pw-123" not in str(caught.value)


async def test_credentials_in_the_url_never_reach_a_message() -> None:
    port = _closed_port()
    async with TrackingClient(TrackingSettings(None), f"http://bob:hunter2@127.0.0.1:{port}") as c:
        assert "hunter2" not in c.base_url
        with pytest.raises(ServerUnreachable) as caught:
            await c.health()
    assert "hunter2" not in str(caught.value) and "bob" not in str(caught.value)


async def test_untrusted_certificate_is_a_tls_error(mlflow_tls) -> None:
    url, cert_path = mlflow_tls
    async with _client(url) as client:
        with pytest.raises(TlsError, match="MLFLOW_TRACKING_SERVER_CERT_PATH"):
            await client.health()
    async with _client(url, cert_path=str(cert_path)) as client:
        await client.list_experiments()
    async with _client(url, insecure_tls=True) as client:
        await client.list_experiments()


# --- a broken proxy in front of nothing ------------------------------------------------


@pytest.fixture()
def broken_server(request: pytest.FixtureRequest) -> Iterator[str]:
    with FaultServer(request.param) as server:
        yield server.url


@pytest.mark.parametrize(
    ("broken_server", "error", "words"),
    [
        ("html", BadResponse, "HTML page"),
        ("html200", BadResponse, "not MLflow's JSON"),
        ("truncated", BadResponse, "not MLflow's JSON"),
        ("cut", BadResponse, "broke off"),
        ("500", BadResponse, "HTTP 500"),
        ("hang", ServerTimeout, "did not answer within 0.5 s"),
    ],
    indirect=["broken_server"],
)
async def test_broken_proxy_answers(broken_server: str, error: type, words: str) -> None:
    async with _client(broken_server, timeout_s=0.5) as client:
        with pytest.raises(error) as caught:
            await client.search_traces(["1"])
    sentence = str(caught.value)
    assert words in sentence and "\n" not in sentence and broken_server in sentence


async def test_large_and_hostile_traces_arrive_intact(trace_server: str, experiment_name: str) -> None:
    large_id = trace_factory.log_large_trace(experiment_name, span_count=2000)
    hostile_id = trace_factory.log_hostile_trace(experiment_name)
    async with _client(trace_server) as client:
        large = await client.get_trace(large_id)
        hostile = await client.get_trace(hostile_id)
    assert len(large.spans) == 2001
    (root,) = large.roots()
    assert len(large.children_by_parent()[root.span_id]) == 2000

    hostile_root = next(span for span in hostile.spans if span.parent_id is None)
    assert hostile_root.name == trace_factory.HOSTILE_NAME  # kept as data, byte for byte
    for key, value in trace_factory.HOSTILE_STRINGS.items():
        assert hostile_root.inputs[key] == value
    depth, node = 0, hostile_root.inputs["nested"]
    while isinstance(node, dict) and "leaf" not in node:
        node, depth = next(iter(node.values())), depth + 1
    assert depth == trace_factory.NESTED_DEPTH - 1
    child = next(span for span in hostile.spans if span.parent_id is not None)
    assert len(child.inputs["big"]) == trace_factory.LARGE_VALUE_BYTES
