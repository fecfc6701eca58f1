"""tracetui against real `mlflow server`s of other versions: 2.22 (for 2.14-2.21), 3.1, 3.5 and 3.18.

Each version lives in its own virtual environment cached outside the clone (mlflow_versions.py;
a second run installs nothing, an install failure fails the run). One server per version for the
whole module, started in parallel; its traces are logged by that version's own client
(version_traces.py run with that venv's python): a nested trace with an LLM span, a trace with
a failing child, 20 small ones.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fake_ollama import FakeOllama
from mlflow_versions import VERSIONS, MlflowVersion, VersionServer, ensure_venvs

from tracetui.chat.session import ChatSession
from tracetui.chat.trace_writer import TurnTracer
from tracetui.cli import main
from tracetui.config import TrackingSettings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.compat import UnsupportedServer
from tracetui.tracking.feedback import get_trace_info, log_feedback
from tracetui.tracking.live import LiveTraceList

pytest_plugins = ["fake_ollama"]

HERE = Path(__file__).parent
EXPERIMENT = "versions"
NAMES = tuple(VERSIONS)


@dataclass
class World:
    version: MlflowVersion
    server: VersionServer
    ids: dict[str, Any]

    @property
    def url(self) -> str:
        return self.server.url

    def log(self, *extra: str) -> dict[str, Any]:
        return log_traces(self.version, self.url, *extra)


def log_traces(version: MlflowVersion, url: str, *extra: str) -> dict[str, Any]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": url}
    done = subprocess.run(
        [str(version.python), str(HERE / "version_traces.py"), url, EXPERIMENT, *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _start(version: MlflowVersion, root: Path) -> World:
    server = VersionServer(version, root)
    server.start(timeout_s=180)
    try:
        return World(version, server, log_traces(version, server.url))
    except BaseException:
        server.stop()
        raise


@pytest.fixture(scope="module")
def worlds() -> Iterator[dict[str, World]]:
    ensure_venvs(NAMES)  # installs what the cache lacks, in parallel; raises on failure
    roots = {name: Path(tempfile.mkdtemp(prefix=f"tracetui-mlflow-{name}-")) for name in NAMES}
    started: dict[str, World] = {}
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=len(NAMES)) as pool:
        futures = {name: pool.submit(_start, VERSIONS[name], roots[name]) for name in NAMES}
        for name, future in futures.items():
            try:
                started[name] = future.result()
            except BaseException as error:  # noqa: BLE001 - stop the others, then fail
                errors.append(error)
    try:
        if errors:
            raise errors[0]
        yield started
    finally:
        with ThreadPoolExecutor(max_workers=len(NAMES)) as pool:
            list(pool.map(lambda world: world.server.stop(), started.values()))


@pytest.fixture(params=NAMES)
def world(request: pytest.FixtureRequest, worlds: dict[str, World]) -> World:
    return worlds[request.param]


def at_least(world: World, *version: int) -> bool:
    return tuple(int(part) for part in world.version.version.split(".")) >= version


def cli(world: World, *args: str) -> Any:
    # Other tests' in-process mlflow.set_experiment leaves MLFLOW_EXPERIMENT_ID set: unset it.
    env = {
        "MLFLOW_TRACKING_URI": world.url,
        "MLFLOW_EXPERIMENT_NAME": EXPERIMENT,
        "MLFLOW_EXPERIMENT_ID": None,
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def client_for(world: World) -> TrackingClient:
    return TrackingClient(TrackingSettings(tracking_uri=world.url), world.url)


# --- what the server can do ------------------------------------------------------------------------


EXPECTED_API = {
    # version: (v3 search, spans from /traces/get, end_time_ms filter, assessments, span kind)
    "2.22.5": (False, False, False, False, False),
    "3.1.4": (False, False, False, False, False),
    "3.5.1": (True, False, False, True, False),
    "3.18.0": (True, True, True, True, True),
}


def test_capabilities_are_read_from_the_version(world: World) -> None:
    async def ask() -> Any:
        async with client_for(world) as client:
            first = await client.capabilities()
            requests = client.requests_made
            assert await client.capabilities() is first  # once per connection
            assert client.requests_made == requests
            return first

    capabilities = asyncio.run(ask())
    assert capabilities.version_text == world.version.version
    found = (
        capabilities.v3_search,
        capabilities.v3_get,
        capabilities.end_time_filter,
        capabilities.assessments,
        capabilities.span_kind,
    )
    assert found == EXPECTED_API[world.version.version]


# --- reading ---------------------------------------------------------------------------------------


def test_list_shows_every_trace_the_versions_client_logged(world: World) -> None:
    done = cli(world, "traces", "list", "--json", "--max", "100")
    assert done.exit_code == 0, done.output
    rows = {row["trace_id"]: row for row in json.loads(done.output)["traces"]}
    expected = {world.ids["nested"], world.ids["failing"], *world.ids["small"]}
    assert expected <= set(rows)
    assert rows[world.ids["nested"]]["name"] == "chat_turn"
    assert rows[world.ids["failing"]]["state"] == "ERROR"
    assert rows[world.ids["small"][0]]["state"] == "OK"


def test_ids_have_the_servers_own_form(world: World) -> None:
    # 2.x and 3.1 (whose client falls back to the v2 API) give ids without "tr-"; 3.5+ with it.
    assert world.ids["nested"].startswith("tr-") == at_least(world, 3, 5)


def test_show_tree_has_the_spans_from_the_artifact_or_traces_get(world: World) -> None:
    done = cli(world, "traces", "show", world.ids["nested"], "--tree")
    assert done.exit_code == 0, done.output
    assert "chat_turn (CHAIN)" in done.output
    assert "litellm-completion (LLM)" in done.output
    assert "26→14 tok" in done.output

    failing = cli(world, "traces", "show", world.ids["failing"], "--tree")
    assert failing.exit_code == 0, failing.output
    assert "flaky_step" in failing.output
    assert "ValueError: the tool broke" in failing.output


def test_show_text_mermaid_and_export_work(world: World, tmp_path: Path) -> None:
    trace_id = world.ids["nested"]
    text = cli(world, "traces", "show", trace_id)
    assert text.exit_code == 0, text.output
    assert "litellm-completion" in text.output
    mermaid = cli(world, "traces", "mermaid", trace_id)
    assert mermaid.exit_code == 0, mermaid.output
    assert "sequenceDiagram" in mermaid.output
    target = tmp_path / "trace.json"
    exported = cli(world, "traces", "export", trace_id, "-o", str(target))
    assert exported.exit_code == 0, exported.output
    document = json.loads(target.read_text())
    assert document["info"]["trace_id"] == trace_id
    assert [span["name"] for span in document["data"]["spans"]] == ["chat_turn", "litellm-completion"]


def test_show_json_is_what_that_versions_mlflow_traces_get_prints(world: World) -> None:
    trace_id = world.ids["nested"]
    done = cli(world, "traces", "show", trace_id, "--json")
    assert done.exit_code == 0, done.output
    ours = json.loads(done.output)
    if not at_least(world, 3, 5):
        # No `mlflow traces get` there: 3.x's document, each span as the artifact stores it.
        spans = ours["data"]["spans"]
        assert ours["info"]["trace_id"] == trace_id
        assert all(json.loads(span["attributes"]["mlflow.traceRequestId"]) == trace_id for span in spans)
        assert spans[1]["parent_span_id"] == spans[0]["span_id"]
        assert "kind" not in spans[0]
        return
    theirs = subprocess.run(
        [str(world.version.mlflow), "traces", "get", "--trace-id", trace_id],
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": world.url},
        timeout=300,
        check=True,
    )
    expected = json.loads(theirs.stdout)
    pairs = zip(expected["data"]["spans"], ours["data"]["spans"], strict=True)
    differences = [
        (index, key, span.get(key), mine.get(key))
        for index, (span, mine) in enumerate(pairs)
        for key in set(span) | set(mine)
        if span.get(key) != mine.get(key)
    ]
    assert differences == []
    assert ours == expected
    assert ("kind" in ours["data"]["spans"][0]) == at_least(world, 3, 18)


def test_sessions_list_works(world: World) -> None:
    done = cli(world, "sessions", "list")
    assert done.exit_code == 0, done.output


# --- the chat writes into every version ---------------------------------------------------------------

MODEL = "ollama_chat/qwen2.5"


def chat_turn(world: World, fake_ollama: FakeOllama, answer: str) -> Any:
    """One chat turn over real litellm to the fake Ollama, traced into `world`'s server."""
    tracer = TurnTracer(TrackingSettings(tracking_uri=world.url), EXPERIMENT)
    fake_ollama.script(answer)
    try:
        result = asyncio.run(ChatSession(model=MODEL, ollama_url=fake_ollama.url, tracer=tracer).ask("Hi?"))
    finally:
        tracer.close()
    assert result.traced, result.not_traced_reason
    return result


def four_hops(fake_ollama: FakeOllama, model: str = "qwen2.5:latest") -> list[str]:
    return [
        "chat_turn",
        "litellm-acompletion",
        f"Ollama {fake_ollama.url.removeprefix('http://')}",
        model,
    ]


def test_the_chat_traces_its_turns_into_every_version(world: World, fake_ollama: FakeOllama) -> None:
    result = chat_turn(world, fake_ollama, "Traced on every server.")
    trace_id = result.trace_id
    assert trace_id.startswith("tr-") == at_least(world, 3, 5)  # the server's own id form

    tree = cli(world, "traces", "show", trace_id, "--tree")
    assert tree.exit_code == 0, tree.output
    for hop in four_hops(fake_ollama):
        assert hop in tree.output, (hop, tree.output)
    assert "chat_turn (CHAIN)" in tree.output and "litellm-acompletion (LLM)" in tree.output

    async def read() -> Any:
        async with client_for(world) as client:
            return await client.get_trace(trace_id)

    from tracetui.tracking.call_path import call_path

    trace = asyncio.run(read())
    assert call_path(trace) == four_hops(fake_ollama)
    assert trace.info.state == "OK" and trace.info.name == "chat_turn"
    assert trace.info.session_id and trace.info.token_usage is not None

    listed = cli(world, "traces", "list", "--json", "--max", "100")
    rows = {row["trace_id"]: row for row in json.loads(listed.output)["traces"]}
    assert rows[trace_id]["name"] == "chat_turn" and rows[trace_id]["state"] == "OK"

    # That version's own client reads the trace too (2.x's refuses spans in 3.x's schema).
    theirs = their_client_reads(world, trace_id)
    assert [name for name in theirs["spans"] if name != "load litellm"] == four_hops(fake_ollama)
    assert theirs["session"] == trace.info.session_id and theirs["status"] == "OK"


THEIR_GET_TRACE = """
import json, sys, mlflow
trace = mlflow.MlflowClient(sys.argv[1]).get_trace(sys.argv[2])
metadata = getattr(trace.info, "trace_metadata", None) or trace.info.request_metadata
status = getattr(trace.info, "state", None) or trace.info.status
print(json.dumps({
    "spans": [span.name for span in trace.data.spans],
    "session": metadata.get("mlflow.trace.session"),
    "status": getattr(status, "value", str(status)),
}))
"""


def their_client_reads(world: World, trace_id: str) -> dict[str, Any]:
    """What `MlflowClient.get_trace` of the server's own version makes of a trace."""
    done = subprocess.run(
        [str(world.version.python), "-c", THEIR_GET_TRACE, world.url, trace_id],
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": world.url},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _traces_of_turn(world: World, turn_id: str) -> list[str]:
    """The ids of the traces the server holds for one turn (on 2.x/3.1, by its tracetui.turn_id tag)."""
    experiment = httpx.get(
        f"{world.url}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": EXPERIMENT}
    ).json()["experiment"]["experiment_id"]
    if at_least(world, 3, 5):
        body = {
            "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment}}]
        }
        found = httpx.post(f"{world.url}/api/3.0/mlflow/traces/search", json={**body, "max_results": 500})
        return [t["trace_id"] for t in found.json().get("traces", []) if t["trace_id"] == turn_id]
    found = httpx.get(
        f"{world.url}/api/2.0/mlflow/traces",
        params={"experiment_ids": experiment, "filter": f"tag.`tracetui.turn_id` = '{turn_id}'"},
    )
    assert found.status_code == 200, found.text
    return [t["request_id"] for t in found.json().get("traces", [])]


def test_a_replayed_turn_is_still_one_trace(world: World, fake_ollama: FakeOllama) -> None:
    # The outbox sends a record again when a write failed half-way: the server must not double it.
    records: list[Any] = []
    tracer = TurnTracer(TrackingSettings(tracking_uri=world.url), EXPERIMENT)

    def keep(record: Any) -> str:
        records.append(record)
        return tracer(record)

    fake_ollama.script("Written twice, stored once.")
    try:
        first = asyncio.run(ChatSession(model=MODEL, ollama_url=fake_ollama.url, tracer=keep).ask("Again?"))
        again = tracer(records[0])
    finally:
        tracer.close()
    assert first.traced and again == first.trace_id
    assert _traces_of_turn(world, records[0].trace_id) == [first.trace_id]
    done = cli(world, "traces", "show", first.trace_id, "--tree")
    assert done.exit_code == 0 and done.output.count("litellm-acompletion") == 1, done.output


def test_a_turn_cut_off_half_way_is_finished_from_the_outbox_not_doubled(
    world: World, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    """A write cut off after the trace started: the outbox's replay finishes that trace, never a second.

    2.x/3.1 choose a trace's id at its start (the replay finds it by its tracetui.turn_id tag);
    3.5 keeps the turn's own id (the replay rewrites it).
    """
    if at_least(world, 3, 10):
        pytest.skip("3.10 and later read spans from their database: no artifact write to cut off")
    from fault_servers import FaultServer

    from tracetui.chat.outbox_tracer import with_outbox

    failed_puts: list[str] = []

    def drop_first_artifact(method: str, path: str) -> Any:
        # A proxy failing once between the trace's start and its spans, as a restart would.
        if method == "PUT" and not failed_puts:
            failed_puts.append(path)
            return 502, "text/html", b"<html><body>Bad Gateway</body></html>"
        return None

    with FaultServer("forward", forward_to=world.url, intercept=drop_first_artifact) as proxy:
        settings = TrackingSettings(tracking_uri=proxy.url, timeout_s=30)
        tracer = with_outbox(TurnTracer(settings, EXPERIMENT), tmp_path / "outbox")
        fake_ollama.script("Cut off once, traced once.")
        result = asyncio.run(ChatSession(model=MODEL, ollama_url=fake_ollama.url, tracer=tracer).ask("Cut?"))
        assert result.ok and result.queued and result.waiting == 1, result.not_traced_reason
        assert "refused the spans (HTTP 502" in result.not_traced_reason
        turn_id = result.queued_trace_id
        started = _traces_of_turn(world, turn_id)
        assert len(started) == 1  # started, without its spans yet
        if not at_least(world, 3, 5):  # and shown as still running, not as a finished trace
            info = httpx.get(f"{world.url}/api/2.0/mlflow/traces/{started[0]}/info").json()["trace_info"]
            assert info["status"] == "IN_PROGRESS"
        assert tuple(tracer.deliver_pending()) == (1, 0)
    assert failed_puts and _traces_of_turn(world, turn_id) == started
    assert tracer.delivered_ids == {turn_id: started[0]}  # the id the answer then shows
    tree = cli(world, "traces", "show", started[0], "--tree")
    assert tree.exit_code == 0, tree.output
    assert all(hop in tree.output for hop in four_hops(fake_ollama)), tree.output


async def test_the_dashboard_shows_a_chat_turn_on_2_22(
    worlds: dict[str, World], fake_ollama: FakeOllama
) -> None:
    """The app's own chat traces into a 2.22 server; its list, follow mode and tree show the turn."""
    from test_app import leave_prompt, tree_trace_id, wait_for
    from test_app_chat import ask, chat_app

    from tracetui.ui.widgets.span_tree import SpanTree

    world = worlds["2.22.5"]
    app = chat_app(world.url, EXPERIMENT, fake_ollama.url)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(
            pilot, lambda: world.ids["nested"] in app.viewer.trace_list.infos, "2.22's traces listed"
        )
        fake_ollama.script("Shown on a 2.22 server.")
        answer = await ask(pilot, "Hello 2.22")
        assert answer.result.traced, answer.result.not_traced_reason
        turn = answer.result.trace_id
        assert not turn.startswith("tr-")  # 2.22's own id form
        await wait_for(pilot, lambda: turn in app.viewer.trace_list.infos, "the turn in the list")
        assert app.viewer.trace_list.newest_trace_id == turn
        await wait_for(pilot, lambda: tree_trace_id(app) == turn, "follow mode to open the turn's tree")
        names = [span.name for span in app.query_one(SpanTree).trace.spans]
        assert [name for name in names if name != "load litellm"] == four_hops(fake_ollama, "qwen2.5:0.5b")
        # Moving off the newest turns follow off and opens the older trace's tree, from its artifact.
        await leave_prompt(pilot)
        await pilot.press("j")
        await wait_for(pilot, lambda: tree_trace_id(app) not in (None, turn), "the next trace's tree")
        assert app.viewer.follow is False
        await pilot.press("f")
        await wait_for(pilot, lambda: tree_trace_id(app) == turn, "follow to show the turn again")


# --- the live list -----------------------------------------------------------------------------------


def test_live_poll_finds_new_and_long_running_traces(world: World) -> None:
    async def run() -> None:
        async with client_for(world) as client:
            experiment = await client.get_experiment_by_name(EXPERIMENT)
            live = LiveTraceList([experiment.experiment_id], in_progress_every=1, sweep_every=1)
            first = await live.poll(client)
            assert world.ids["nested"] in {info.trace_id for info in first.added}
            idle = await live.poll(client)
            assert idle.added == ()
            # A trace that started ten minutes ago and ends now: older than every poll window.
            long_id = (await asyncio.to_thread(world.log, "long"))["long"]
            update = await live.poll(client)
            assert long_id in {info.trace_id for info in update.added}, update
            found = live.get(long_id)
            assert found is not None and found.execution_duration_ms >= 590_000

    asyncio.run(run())


def test_the_live_list_pages_back_to_every_trace_and_counts_them(world: World) -> None:
    from tracetui.tracking.experiments import count_traces

    async def run() -> None:
        async with client_for(world) as client:
            experiment = await client.get_experiment_by_name(EXPERIMENT)
            everything = [info.trace_id async for info in client.iter_trace_infos([experiment.experiment_id])]
            live = LiveTraceList([experiment.experiment_id], initial_limit=2, page_size=2)
            await live.poll(client)
            while live.more_exist:
                await live.load_older(client)
            assert sorted(info.trace_id for info in live.traces) == sorted(everything)
            assert len(everything) > 2
            paged: list[int] = []
            count = await count_traces(client, experiment.experiment_id, paged.append, page_size=5)
            assert count == len(everything)
            if world.version.version.startswith(("2.", "3.1.", "3.5.")):  # no trace metrics: paging
                assert paged[0] == 0 and all(b - a == 5 for a, b in zip(paged, paged[1:], strict=False))
                assert len(paged) >= 4 and 0 < count - paged[-1] <= 5
            else:  # the server counts: nothing to say while counting
                assert paged == []

    asyncio.run(run())


def test_experiments_prints_exact_counts_and_says_when_it_pages(world: World) -> None:
    async def listed() -> int:
        async with client_for(world) as client:
            experiment = await client.get_experiment_by_name(EXPERIMENT)
            return len([info async for info in client.iter_trace_infos([experiment.experiment_id])])

    expected = asyncio.run(listed())
    result = cli(world, "experiments", "--json")
    assert result.exit_code == 0, result.output
    counts = {e["name"]: e["trace_count"] for e in json.loads(result.stdout)["experiments"]}
    assert counts[EXPERIMENT] == expected > 20
    if world.version.version.startswith(("2.", "3.1.", "3.5.")):  # no trace metrics: paging, said once
        assert result.stderr.count("counting…") == 1, result.stderr
    else:
        assert "counting" not in result.stderr


def test_a_filtered_live_poll_keeps_the_users_filter(world: World) -> None:
    async def run() -> None:
        async with client_for(world) as client:
            experiment = await client.get_experiment_by_name(EXPERIMENT)
            live = LiveTraceList([experiment.experiment_id], "status = 'ERROR'")
            await live.poll(client)
            await live.poll(client)
            assert {info.trace_id for info in live.traces} >= {world.ids["failing"]}
            assert all(info.state == "ERROR" for info in live.traces)

    asyncio.run(run())


# --- feedback ------------------------------------------------------------------------------------------


def test_feedback_where_the_server_has_assessments_else_one_sentence(world: World) -> None:
    trace_id = world.ids["small"][3]

    async def run() -> None:
        async with client_for(world) as client:
            info = await get_trace_info(client, trace_id)
            assert info.trace_id == trace_id
            if not at_least(world, 3, 5):
                with pytest.raises(UnsupportedServer) as raised:
                    await log_feedback(client, trace_id, thumbs_up=True)
                assert str(raised.value) == (
                    f"The MLflow server at {world.url} (version {world.version.version}) is too old for "
                    "feedback: assessments need MLflow 3.5 or later."
                )
                return
            stored = await log_feedback(client, trace_id, thumbs_up=True, comment="good")
            assert stored.value is True
            again = await get_trace_info(client, trace_id)
            assert [a.value for a in again.assessments] == [True]

    asyncio.run(run())


# --- URLs that are not a tracing MLflow ----------------------------------------------------------------


def test_a_url_that_is_not_mlflow_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html>hello</html>")
    from tracetui.tracking.local_server import free_loopback_port

    port = free_loopback_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        async def run() -> str:
            for _ in range(100):
                try:
                    async with TrackingClient(TrackingSettings(tracking_uri=url), url) as client:
                        await client.search_traces(["0"])
                except UnsupportedServer as error:
                    return str(error)
                except Exception:  # noqa: BLE001 - not listening yet
                    await asyncio.sleep(0.1)
            raise AssertionError("the web server never answered")

        sentence = asyncio.run(run())
    finally:
        web.terminate()
        web.wait()
    assert sentence == (
        f"{url} is not an MLflow tracking server (no MLflow API answers there); check MLFLOW_TRACKING_URI."
    )


def test_servers_before_2_14_are_named_too_old() -> None:
    from tracetui.tracking.compat import parse_version, unsupported_version

    assert unsupported_version((2, 13, 2), "http://old") == (
        "The MLflow server at http://old is version 2.13.2, older than 2.14, and has no traces; "
        "upgrade it to 2.14 or later."
    )
    assert unsupported_version((2, 14, 0), "http://new") is None
    assert parse_version("2.13.2\n") == (2, 13, 2)
    assert parse_version("<html>") is None
