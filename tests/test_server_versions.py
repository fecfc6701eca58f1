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

import pytest
from click.testing import CliRunner
from mlflow_versions import VERSIONS, MlflowVersion, ensure_venvs

from tracetui.cli import main
from tracetui.config import TrackingSettings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.compat import UnsupportedServer
from tracetui.tracking.feedback import get_trace_info, log_feedback
from tracetui.tracking.live import LiveTraceList
from tracetui.tracking.local_server import LocalMlflowServer

HERE = Path(__file__).parent
EXPERIMENT = "versions"
NAMES = tuple(VERSIONS)


class VersionServer(LocalMlflowServer):
    """`mlflow server` run by another version's python, under tracetui's process-group guard."""

    def __init__(self, version: MlflowVersion, root: Path) -> None:
        super().__init__(
            f"sqlite:///{root / 'mlflow.db'}",
            artifacts_destination=str(root / "artifacts"),
            log_path=root / "server.log",
        )
        self.version = version

    def command(self) -> list[str]:
        return [str(self.version.python), *super().command()[1:]]


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
            count, lower_bound = await count_traces(client, experiment.experiment_id, cap=None)
            assert (count, lower_bound) == (len(everything), False)

    asyncio.run(run())


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
