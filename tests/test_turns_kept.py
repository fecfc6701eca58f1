# ruff: noqa: F811 - pytest fixtures imported from trace_factory are test parameters
"""No answered chat turn is ever dropped, whatever state the tracking side is in when it ends.

Real MLflow servers (the session's, one with MLflow's basic-auth app, and one the
dashboard starts itself in an empty folder), real litellm to the fake Ollama, the
app driven by Pilot; `tracetui ask` and `tracetui outbox` run as the person would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import AUTH_ADMIN_PASSWORD, AUTH_ADMIN_USER
from fake_ollama import FakeOllama
from test_app import WAIT_S, wait_for
from test_app_chat import ask, chat_app
from test_chat_tracing import HOPS, experiment_trace_ids, fetch_trace, hop_chain, setup_spans
from trace_factory import (  # noqa: F401 - trace_server and experiment_name are fixtures
    experiment_name,
    log_nested_trace,
    trace_server,
)

from tracetui.chat.outbox import Outbox
from tracetui.chat.outbox_listing import outbox_folders
from tracetui.config import TrackingSettings, tracking_settings
from tracetui.tracking.connection import Backend
from tracetui.ui.app import make_app
from tracetui.ui.widgets.status_bar import CONNECTED, STOPPED

pytest_plugins = ["fake_ollama"]

MODEL = "ollama_chat/qwen2.5:0.5b"
STARTUP_WAIT_S = 180.0  # bounds a hang while a local MLflow server starts on a shared machine


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The outbox of this test only (TRACETUI_STATE_DIR), never the person's own."""
    monkeypatch.setenv("TRACETUI_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def _experiment_by_name(url: str, name: str, auth: Any = None) -> dict[str, Any] | None:
    got = httpx.get(
        f"{url}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": name},
        auth=auth,
        timeout=30,
    )
    return got.json()["experiment"] if got.status_code == 200 else None


def _run_cli(args: list[str], state: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OLLAMA_"))}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", TRACETUI_STATE_DIR=str(state))
    return subprocess.run(
        [sys.executable, "-m", "tracetui", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


# -- an experiment that does not exist yet ------------------------------------------------------


async def test_a_missing_experiment_name_is_created_by_the_first_turn_not_by_viewing(
    trace_server: str, fake_ollama: FakeOllama, state: Path
) -> None:
    name = f"my-new-app-{uuid.uuid4().hex[:8]}"
    fake_ollama.script("Created by this turn.")
    app = chat_app(trace_server, name, fake_ollama.url)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: "does not exist yet" in app.status.sentence, "the sentence")
        assert app.status.sentence == (
            f"Experiment {name} does not exist yet on MLflow at {trace_server}; "
            "the first chat turn will create it."
        )
        assert app.status.connection == CONNECTED and not app.status.sentence_is_error
        assert "disconnected" not in app.status.render().plain and app.viewer.trace_list.row_count == 0
        assert _experiment_by_name(trace_server, name) is None  # viewing alone creates nothing

        answer = await ask(pilot, "Hello, new app?")
        trace_id = answer.result.trace_id
        assert trace_id is not None, answer.result.not_traced_reason
        assert f"trace {trace_id}" in str(answer.footer.render())
        await wait_for(pilot, lambda: trace_id in app.viewer.trace_list.infos, "the turn's trace in the list")
        experiment = _experiment_by_name(trace_server, name)
        assert experiment is not None and app.viewer.experiment.experiment_id == experiment["experiment_id"]
        assert app.status.sentence == f"Experiment {name}: 1 traces listed."

        # The sentence stays true as traces arrive from any program.
        log_nested_trace(name, prompt="from another program")
        await wait_for(pilot, lambda: app.viewer.trace_list.row_count == 2, "the second trace")
        await wait_for(pilot, lambda: app.status.sentence == f"Experiment {name}: 2 traces listed.", "count")
    assert [s["hop"] for s in hop_chain(fetch_trace(trace_server, trace_id))] == HOPS


async def test_a_missing_experiment_id_is_a_sentence_and_its_turn_waits(
    trace_server: str, fake_ollama: FakeOllama, state: Path
) -> None:
    missing_id = str(900_000_000 + int(uuid.uuid4().int % 1_000_000))
    fake_ollama.script("Kept until an experiment exists.")
    app = chat_app(trace_server, missing_id, fake_ollama.url)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.status.connection == STOPPED, "the experiment to be found missing")
        await wait_for(pilot, lambda: "no experiment with id" in app.status.sentence, "the sentence")
        assert app.status.sentence.startswith(f"There is no experiment with id {missing_id} on MLflow at ")
        assert "an id cannot be created" in app.status.sentence
        assert "no such experiment, not retrying" in app.status.render().plain
        answer = await ask(pilot, "Where does this go?")
        assert answer.result.ok and answer.result.queued and answer.result.trace_id is None
        assert str(answer.footer.render()).startswith("waiting to be traced (1 in the outbox)")
        await wait_for(pilot, lambda: app.status.turns_waiting == 1, "the status line's count")
    assert _experiment_by_name(trace_server, missing_id) is None  # never created, as an id or a name
    (folder,) = outbox_folders(state)
    assert folder.unresolved and folder.experiment == missing_id and folder.waiting == 1

    # `ask` says the same before asking the model, and creates nothing either.
    requests_before = len(fake_ollama.chat_requests())
    done = _run_cli(
        [
            "ask",
            "hi",
            "--tracking-uri",
            trace_server,
            "--experiment",
            missing_id,
            "--ollama-url",
            fake_ollama.url,
        ],
        state,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == (
        f"There is no experiment with id {missing_id} on MLflow at {trace_server}, and an id cannot be "
        "created; give an existing id (tracetui experiments lists them) or a name to create."
    )
    assert len(fake_ollama.chat_requests()) == requests_before
    assert _experiment_by_name(trace_server, missing_id) is None


# -- a server that is not answering yet ---------------------------------------------------------


async def test_a_turn_asked_while_the_local_server_starts_is_traced_once_it_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_ollama: FakeOllama, state: Path
) -> None:
    """The first thing a new user does: `tracetui` in an empty folder, and a question at once."""
    folder = tmp_path / "fresh"
    folder.mkdir()
    monkeypatch.chdir(folder)
    fake_ollama.script("Answered before the server was up.")
    settings = TrackingSettings(tracking_uri=None, timeout_s=60)
    app = make_app(settings, None, None, MODEL, fake_ollama.url, poll_interval_s=0.2)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            answer = await ask(pilot, "First question?")
            assert app.viewer.experiment is None, "the server answered before the turn ended: nothing tested"
            assert answer.result.ok and answer.result.queued
            assert str(answer.footer.render()).startswith("waiting to be traced (1 in the outbox)")
            trace_id = answer.result.queued_trace_id
            await wait_for(
                pilot,
                lambda: trace_id in app.viewer.trace_list.infos,
                "the waiting turn's trace",
                STARTUP_WAIT_S,
            )
            await wait_for(pilot, lambda: answer.trace_id == trace_id, "the answer to name its trace")
            assert f"trace {trace_id}" in str(answer.footer.render())
            await wait_for(pilot, lambda: app.status.turns_waiting == 0, "the count to clear")
            url = app.viewer.backend.base_url
            assert experiment_trace_ids(url, app.viewer.experiment.experiment_id) == [
                trace_id
            ]  # exactly once
            assert [s["hop"] for s in hop_chain(fetch_trace(url, trace_id))] == HOPS
            assert outbox_folders(state) == []
    finally:
        if app.viewer.backend is not None:
            app.viewer.backend.close()


# -- credentials refused ------------------------------------------------------------------------


async def test_a_turn_refused_with_403_waits_and_is_traced_after_the_fix_and_a_restart(
    mlflow_auth_server: Any, fake_ollama: FakeOllama, state: Path
) -> None:
    url = mlflow_auth_server.url
    user, password = f"bob{uuid.uuid4().hex[:6]}", "bob-Pw-only-in-tests-5521"
    admin = (AUTH_ADMIN_USER, AUTH_ADMIN_PASSWORD)
    name = f"read-only-{uuid.uuid4().hex[:8]}"
    with httpx.Client(auth=admin, timeout=30) as client:
        made = client.post(
            f"{url}/api/2.0/mlflow/users/create", json={"username": user, "password": password}
        )
        assert made.status_code == 200, made.text
        experiment_id = client.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": name}).json()[
            "experiment_id"
        ]
    env = {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}

    def bobs_app() -> Any:
        settings = tracking_settings(url, env=env)
        return make_app(
            settings, name, None, MODEL, fake_ollama.url, Backend(base_url=url), poll_interval_s=0.2
        )

    fake_ollama.script("Bob may read, not write.")
    app = bobs_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.viewer.experiment is not None, "the experiment (bob may read it)")
        answer = await ask(pilot, "Will this be kept?")
        assert answer.result.ok and answer.result.queued, answer.result.not_traced_reason
        assert str(answer.footer.render()).startswith("waiting to be traced (1 in the outbox)")
        assert "refused the credentials (HTTP 403)" in answer.result.not_traced_reason
        await wait_for(pilot, lambda: app.status.turns_waiting == 1, "the status line's count")
    trace_id = answer.result.queued_trace_id
    assert experiment_trace_ids(url, experiment_id, admin) == []

    # The admin lets bob write; bob starts tracetui again: the turn is traced, once.
    with httpx.Client(auth=admin, timeout=30) as client:
        granted = client.post(
            f"{url}/api/3.0/mlflow/users/permissions/grant",
            json={
                "username": user,
                "resource_type": "experiment",
                "resource_id": experiment_id,
                "permission": "EDIT",
            },
        )
        assert granted.status_code == 200, granted.text
    app = bobs_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(
            pilot, lambda: trace_id in app.viewer.trace_list.infos, "the kept turn's trace", WAIT_S
        )
        await wait_for(pilot, lambda: app.status.turns_waiting == 0, "the count to clear")
    assert experiment_trace_ids(url, experiment_id, admin) == [trace_id]
    assert outbox_folders(state) == []


# -- refused for good: kept, listed, retried -----------------------------------------------------


def test_a_refused_turn_is_kept_listed_and_retried_from_the_shell(trace_server: str, state: Path) -> None:
    from chat_turns import turn_record

    name = f"refused-{uuid.uuid4().hex[:8]}"
    experiment_id = httpx.post(
        f"{trace_server}/api/2.0/mlflow/experiments/create", json={"name": name}, timeout=30
    ).json()["experiment_id"]
    first = turn_record("sess-refused", "a turn before the deletion", "kept", start_ns=1_000_000_000)
    second = turn_record("sess-refused", "a turn after it", "kept too", start_ns=2_000_000_000)
    outbox = Outbox(trace_server, name, state)
    outbox.put(second)
    outbox.put(first)
    listed = _run_cli(["outbox", "list"], state)
    assert listed.returncode == 0
    assert f"experiment {name} on {trace_server}: 2 waiting, 0 refused" in listed.stdout

    # Someone deletes the experiment: the server refuses the turns for good (HTTP 400); none is dropped.
    deleted = httpx.post(
        f"{trace_server}/api/2.0/mlflow/experiments/delete", json={"experiment_id": experiment_id}
    )
    assert deleted.status_code == 200
    sent = _run_cli(["outbox", "retry", "--tracking-uri", trace_server], state)
    assert sent.returncode == 1 and "0 traced, 0 waiting" in sent.stdout, sent.stdout + sent.stderr
    assert sent.stderr.count("was set aside as") == 2 and "refused the trace (HTTP 400: " in sent.stderr
    listed = _run_cli(["outbox", "list"], state).stdout
    assert f"experiment {name} on {trace_server}: 0 waiting, 2 refused" in listed
    for turn in (first, second):
        assert f"refused {turn.trace_id}  {turn.prompt!r}" in listed
    assert listed.count("because the server refused it: The MLflow tracking server at") == 2

    # The cause mended (the experiment restored), `retry` sends both, oldest first, once each.
    restored = httpx.post(
        f"{trace_server}/api/2.0/mlflow/experiments/restore", json={"experiment_id": experiment_id}
    )
    assert restored.status_code == 200
    sent = _run_cli(["outbox", "retry", "--tracking-uri", trace_server], state)
    assert sent.returncode == 0 and "2 traced (2 refused before), 0 waiting" in sent.stdout, sent.stderr
    assert experiment_trace_ids(trace_server, experiment_id) == [
        second.trace_id,
        first.trace_id,
    ]  # newest first
    assert "Nothing waits to be traced" in _run_cli(["outbox", "list"], state).stdout


# -- the time a turn spends loading litellm ------------------------------------------------------


def test_the_first_turn_of_a_process_shows_loading_litellm_and_its_parts_add_up(
    trace_server: str, fake_ollama: FakeOllama, state: Path
) -> None:
    name = f"first-turn-{uuid.uuid4().hex[:8]}"
    fake_ollama.script("The first answer of a fresh process.")
    done = _run_cli(
        [
            "ask",
            "first?",
            "--tracking-uri",
            trace_server,
            "--experiment",
            name,
            "--ollama-url",
            fake_ollama.url,
        ],
        state,
    )
    assert done.returncode == 0, done.stderr
    trace_id = done.stderr.strip().removeprefix("trace: ")
    trace = fetch_trace(trace_server, trace_id)
    chain = hop_chain(trace)
    (load,) = setup_spans(trace)
    assert load["name"] == "load litellm" and load["parent"] == chain[0]["id"]

    raw = httpx.get(f"{trace_server}/api/3.0/mlflow/traces/get", params={"trace_id": trace_id}, timeout=30)
    times = {
        span["name"]: (int(span["start_time_unix_nano"]), int(span["end_time_unix_nano"]))
        for span in raw.json()["trace"]["spans"]
    }
    root_start, root_end = times["chat_turn"]
    children = sorted(times[n] for n in ("load litellm", "litellm-acompletion"))
    covered, reached = 0, root_start
    for start, end in children:
        covered += max(0, end - max(start, reached))
        reached = max(reached, end)
    uncovered_ms = (root_end - root_start - covered) / 1e6
    assert (children[0][1] - children[0][0]) / 1e6 > 100  # importing litellm takes seconds, not nothing
    assert uncovered_ms <= 150, f"{uncovered_ms:.0f} ms of the turn is in no child span"


# -- what the status line says -------------------------------------------------------------------


async def test_turns_waiting_for_another_experiment_are_counted_and_named(
    trace_server: str, fake_ollama: FakeOllama, state: Path
) -> None:
    from chat_turns import turn_record

    name = f"ex-{uuid.uuid4().hex[:6]}"
    log_nested_trace(name)
    elsewhere = Outbox("http://elsewhere.example:5000", "their-experiment", state)
    elsewhere.put(turn_record("sess-elsewhere", "asked against another server", "kept"))
    app = chat_app(trace_server, name, fake_ollama.url)
    async with app.run_test(size=(200, 48)) as pilot:
        await wait_for(pilot, lambda: app.viewer.trace_list.row_count == 1, "the list")
        await wait_for(
            pilot, lambda: app.status.waiting_elsewhere != "", "the count of turns waiting elsewhere"
        )
        line = app.status.render().plain.splitlines()[0]
        assert "⏳ 1 more for experiment their-experiment on http://elsewhere.example:5000" in line
        assert "(tracetui outbox list)" in line and app.status.turns_waiting == 0
        await pilot.resize_terminal(100, 30)  # narrower: shortened, not dropped
        await pilot.pause()
        assert "⏳ 1 more elsewhere" in app.status.render().plain.splitlines()[0]
    assert elsewhere.pending_count() == 1  # never sent anywhere but where it was asked for


async def test_a_url_with_no_mlflow_api_is_stated_and_not_retried(tmp_path: Path) -> None:
    """A web server that is not MLflow (404 for the API): one sentence, no back-off clock."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        app = make_app(
            TrackingSettings(tracking_uri=url, timeout_s=10), None, None, None, None, Backend(base_url=url)
        )
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: app.status.connection == STOPPED, "the verdict")
            await wait_for(pilot, lambda: "no MLflow API" in app.status.sentence, "the sentence")
            assert app.status.sentence == (
                f"There is no MLflow API at {url} (HTTP 404); is this the tracking server's URL?"
            )
            line = app.status.render().plain.splitlines()[0]
            assert "no MLflow API, not retrying" in line and "disconnected" not in line
            assert app.status.retry_in_s is None
    finally:
        server.shutdown()


async def test_turns_waiting_for_another_experiment_of_the_watched_server_are_sent_into_it(
    trace_server: str, fake_ollama: FakeOllama, state: Path
) -> None:
    """Asked while another experiment was watched (and the server was down): sent where they were asked."""
    from chat_turns import turn_record

    watched, earlier = f"now-{uuid.uuid4().hex[:6]}", f"then-{uuid.uuid4().hex[:6]}"
    log_nested_trace(watched)
    earlier_id = httpx.post(
        f"{trace_server}/api/2.0/mlflow/experiments/create", json={"name": earlier}, timeout=30
    ).json()["experiment_id"]
    waiting = Outbox(trace_server, earlier_id, state)
    record = turn_record("sess-then", "asked while the other experiment was watched", "kept")
    waiting.put(record)
    app = chat_app(trace_server, watched, fake_ollama.url)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: waiting.pending_count() == 0, "the waiting turn to be sent")
        await wait_for(pilot, lambda: app.status.waiting_elsewhere == "", "the status line to say none wait")
        assert record.trace_id not in app.viewer.trace_list.infos  # not into the watched experiment
    assert experiment_trace_ids(trace_server, earlier_id) == [record.trace_id]
