"""Nothing lost: turns chatted while the tracking server is down wait on disk and reach it when it is back.

A real `mlflow server` of this module's own (sqlite in a temporary folder, a
fixed port) is killed while real ChatSessions talk through real litellm to the
fake Ollama, then started again at the same address; the waiting turns are
then found on it as complete traces, once each.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from chat_turns import turn_record
from fake_ollama import FakeOllama
from fault_servers import FaultServer, kill_server
from test_chat_pane import ChatHost, ask_and_finish, closed_port_url, screen_text, wait_for
from test_chat_tracing import HOPS, experiment_trace_ids, fetch_trace, hop_chain
from textual.app import ComposeResult

from tracetui.chat.outbox import Outbox, state_dir, target_key
from tracetui.chat.outbox_tracer import OutboxTracer, with_outbox
from tracetui.chat.record import TurnRecord
from tracetui.chat.session import ChatSession
from tracetui.chat.trace_writer import TurnTracer
from tracetui.config import TrackingSettings
from tracetui.tracking.local_server import LocalMlflowServer, free_loopback_port
from tracetui.ui.widgets.chat_pane import ChatPane
from tracetui.ui.widgets.status_bar import StatusBar

pytest_plugins = ["fake_ollama"]


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMlflowServer]:
    root: Path = tmp_path_factory.mktemp("mlflow-outbox")
    server = LocalMlflowServer(
        f"sqlite:///{root / 'mlflow.db'}",
        artifacts_destination=str(root / "artifacts"),
        log_path=root / "server.log",
    )  # the port is chosen once: a restart comes back at the same URL
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRACETUI_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def _outboxed(url: str, experiment: str, **settings: object) -> OutboxTracer:
    return with_outbox(TurnTracer(TrackingSettings(tracking_uri=url, timeout_s=5, **settings), experiment))


def _files(tracer: OutboxTracer, pattern: str = "tr-*.json") -> list[Path]:
    return sorted(tracer.outbox.folder.glob(pattern))


def _assert_complete(url: str, trace_id: str, answer: str) -> None:
    trace = fetch_trace(url, trace_id)
    chain = hop_chain(trace)  # one root, one path, no doubled spans
    assert [s["hop"] for s in chain] == HOPS, trace_id
    assert trace["info"]["state"] == "OK"
    assert chain[0]["outputs"] == {"answer": answer}


async def test_turns_made_while_the_server_is_down_are_traced_when_it_is_back(
    own_server: LocalMlflowServer, fake_ollama: FakeOllama, state: Path
) -> None:
    experiment = f"outbox-{uuid.uuid4().hex[:8]}"  # created only on delivery: the server is down now
    tracer = _outboxed(own_server.url, experiment)
    session = ChatSession(model="ollama_chat/qwen2.5", ollama_url=fake_ollama.url, tracer=tracer)
    await asyncio.to_thread(kill_server, own_server)

    fake_ollama.script("First answer.", "Second answer.")
    first = await session.ask("one?")
    second = await session.ask("two?")
    for result, waiting, answer in ((first, 1, "First answer."), (second, 2, "Second answer.")):
        assert result.ok and result.answer == answer  # the chat goes on
        assert not result.traced and result.queued and result.waiting == waiting
        assert result.not_traced_reason == (
            f"The MLflow tracking server at {own_server.url} is not reachable: not traced yet, "
            f"{waiting} turn{'s' if waiting > 1 else ''} waiting, will be sent when the server is back."
        )
    queued = _records(tracer)  # oldest first
    assert [r.answer for r in queued] == ["First answer.", "Second answer."]
    queued_ids = [r.trace_id for r in queued]
    assert [p.name for p in _files(tracer)] == sorted(f"{i}.json" for i in queued_ids)
    assert tracer.pending_count() == 2
    # Still down: a delivery sends nothing, keeps both, and says why in one sentence.
    delivered, waiting = tracer.deliver_pending()
    assert (delivered, waiting) == (0, 2) and "2 turns waiting" in tracer.last_delivery.sentence

    await asyncio.to_thread(own_server.start)
    # A new turn is traced, and the two waiting ones go with it (oldest first).
    fake_ollama.script("Third answer.")
    third = await session.ask("three?")
    assert third.traced and not third.queued
    assert tracer.pending_count() == 0 and _files(tracer) == []
    experiment_id = tracer.tracer.experiment_id()
    ids = experiment_trace_ids(own_server.url, experiment_id)
    assert sorted(ids) == sorted([*queued_ids, third.trace_id])
    _assert_complete(own_server.url, queued_ids[0], "First answer.")
    _assert_complete(own_server.url, queued_ids[1], "Second answer.")
    session_ids = {
        fetch_trace(own_server.url, i)["info"]["trace_metadata"]["mlflow.trace.session"] for i in ids
    }
    assert session_ids == {session.session_id}

    # Delivering again sends nothing, and replaying a record rewrites its trace, not a second one.
    assert tuple(tracer.deliver_pending()) == (0, 0)
    record = turn_record(session.session_id, "again?", "Again.")
    outbox = tracer.outbox
    outbox.put(record)
    outbox.put(record)  # stored once: the file is named by the trace id
    assert outbox.pending_count() == 1
    assert tuple(outbox.deliver(tracer.tracer)) == (1, 0)
    outbox.put(record)
    assert tuple(outbox.deliver(tracer.tracer)) == (1, 0)
    ids = experiment_trace_ids(own_server.url, experiment_id)
    assert len(ids) == len(set(ids)) == 4
    assert len(fetch_trace(own_server.url, record.trace_id)["spans"]) == 4
    tracer.close()


def _records(tracer: OutboxTracer) -> list:
    records, set_aside = tracer.outbox.pending()
    assert set_aside == []
    return records


def test_concurrent_deliveries_send_each_turn_once(own_server: LocalMlflowServer, state: Path) -> None:
    tracer = _outboxed(own_server.url, f"outbox-{uuid.uuid4().hex[:8]}")
    sent: list[str] = []
    lock = threading.Lock()

    def counting(record) -> str:
        with lock:
            sent.append(record.trace_id)
        return tracer.tracer(record)

    records = [turn_record("s", f"q{i}", f"a{i}", turn_index=i) for i in range(3)]
    for record in records:
        tracer.outbox.put(record)
    # Another process delivering holds the folder's flock: this one keeps its hands off.
    fd = os.open(tracer.outbox.folder / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert tuple(tracer.outbox.deliver(counting)) == (0, 3) and sent == []
    finally:
        os.close(fd)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(tracer.outbox.deliver(counting))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == sorted(r.trace_id for r in records)  # each sent exactly once
    assert sum(r.delivered for r in results) == 3 and tracer.pending_count() == 0
    assert sent == [r.trace_id for r in records]  # oldest turn first
    ids = experiment_trace_ids(own_server.url, tracer.tracer.experiment_id())
    assert sorted(ids) == sorted(sent)
    tracer.close()


def test_a_corrupt_file_is_set_aside_and_the_rest_delivered(
    own_server: LocalMlflowServer, state: Path
) -> None:
    tracer = _outboxed(own_server.url, f"outbox-{uuid.uuid4().hex[:8]}")
    good = turn_record("s", "fine?", "Fine.")
    tracer.outbox.put(good)
    broken = tracer.outbox.folder / f"tr-{uuid.uuid4().hex}.json"
    broken.write_text('{"trace_id": "tr-cut-in-the-mid')
    wrong_shape = tracer.outbox.folder / f"tr-{uuid.uuid4().hex}.json"
    wrong_shape.write_text(json.dumps({"trace_id": "tr-0", "unknown": 1}))
    assert tracer.pending_count() == 3

    delivery = tracer.deliver_pending()
    assert (delivery.delivered, delivery.waiting) == (1, 0)
    assert not broken.exists() and Path(f"{broken}.bad").exists() and Path(f"{wrong_shape}.bad").exists()
    assert f"was set aside as {broken}.bad because it cannot be read" in delivery.sentence
    _assert_complete(own_server.url, good.trace_id, "Fine.")
    assert tuple(tracer.deliver_pending()) == (0, 0)  # the .bad files are no longer waiting
    tracer.close()


def test_a_record_refused_for_good_is_set_aside_not_retried(
    own_server: LocalMlflowServer, state: Path
) -> None:
    refused = turn_record("s", "bad?", "Refused.")
    accepted = turn_record("s", "good?", "Accepted.", start_ns=refused.start_ns + 1)
    spans_posted: list[str] = []

    def reject_first(method: str, path: str):
        if path.startswith("/v1/traces"):
            spans_posted.append(path)
            if len(spans_posted) == 1:
                return 400, "application/json", b'{"error_code": "INVALID_PARAMETER_VALUE", "message": "bad"}'
        return None

    with FaultServer("forward", forward_to=own_server.url, intercept=reject_first) as proxy:
        tracer = _outboxed(proxy.url, f"outbox-{uuid.uuid4().hex[:8]}")
        tracer.outbox.put(refused)
        tracer.outbox.put(accepted)
        delivery = tracer.deliver_pending()
        assert (delivery.delivered, delivery.waiting) == (1, 0)
        assert (tracer.outbox.folder / f"{refused.trace_id}.json.rejected").exists()
        assert "the server refused it" in delivery.sentence and "HTTP 400" in delivery.sentence
        assert tuple(tracer.deliver_pending()) == (0, 0) and len(spans_posted) == 2  # not tried again
        tracer.close()
    _assert_complete(own_server.url, accepted.trace_id, "Accepted.")


async def test_refused_credentials_keep_the_turn_without_a_retry_storm(
    fake_ollama: FakeOllama, state: Path
) -> None:
    with FaultServer("401") as server:
        tracer = _outboxed(server.url, "x", username="alice", password="wrong")
        session = ChatSession(model="ollama_chat/qwen2.5", ollama_url=fake_ollama.url, tracer=tracer)
        fake_ollama.script("Answered anyway.")
        result = await session.ask("x")
        assert result.ok and result.queued and result.waiting == 1
        assert result.not_traced_reason == (
            f"The MLflow tracking server at {server.url} refused the credentials (HTTP 401): "
            "not traced yet, 1 turn waiting, will be sent once the credentials are accepted."
        )
        requests = server.request_count
        for _ in range(5):  # as an app's poll loop would
            assert tuple(tracer.deliver_pending()) == (0, 1)
        assert server.request_count == requests and tracer.pending_count() == 1
        # Other credentials are another tracer over the same outbox folder: it tries again.
        retry = _outboxed(server.url, "x", username="alice", password="right")
        assert retry.outbox.folder == tracer.outbox.folder
        assert tuple(retry.deliver_pending()) == (0, 1) and server.request_count > requests
        tracer.close()
        retry.close()


async def test_no_credentials_are_written_to_the_outbox(fake_ollama: FakeOllama, state: Path) -> None:
    down = f"http://127.0.0.1:{free_loopback_port()}"
    with_secret_url = down.replace("http://", "http://url-user:url-S3CRET@")
    tracer = _outboxed(
        with_secret_url, "secret-exp", username="alice", password="pw-S3CRET", token="tok-S3CRET"
    )
    ollama_with_secret = fake_ollama.url.replace("http://", "http://ollama-user:ollama-S3CRET@")
    session = ChatSession(model="ollama_chat/qwen2.5", ollama_url=ollama_with_secret, tracer=tracer)
    result = await session.ask("x")
    assert result.queued and down in result.not_traced_reason and "S3CRET" not in result.not_traced_reason
    # The folder is the one for the same server without the secret in its URL.
    assert tracer.outbox.folder == Outbox(down, "secret-exp").folder
    assert tracer.outbox.folder.name == target_key(down, "secret-exp")
    written = [p for p in state.rglob("*") if p.is_file()]
    assert len([p for p in written if p.name.startswith("tr-")]) == 1
    for path in written:
        text = path.read_bytes()
        assert b"S3CRET" not in text and b"url-user" not in text and b"ollama-user" not in text, path
    assert "S3CRET" not in str(tracer.outbox.folder)
    (stored,) = _records(tracer)
    # litellm refuses credentials in Ollama's URL: the error sentence names the URL, without them.
    assert (
        stored.api_base == fake_ollama.url and f"Ollama is not running at {fake_ollama.url}" in stored.error
    )
    tracer.close()


def test_state_dir_follows_xdg_and_the_override() -> None:
    assert state_dir({"TRACETUI_STATE_DIR": "/x/y"}) == Path("/x/y")
    assert state_dir({"XDG_STATE_HOME": "/s"}) == Path("/s/tracetui")
    assert state_dir({"XDG_STATE_HOME": "relative"}) == Path.home() / ".local/state/tracetui"
    assert state_dir({}) == Path.home() / ".local/state/tracetui"
    assert (
        target_key("http://h:5000/", "1")
        == target_key("http://u:p@h:5000", "1")
        != target_key("http://h:5000", "2")
    )


def _run_ask(prompt: str, tracking_uri: str, ollama_url: str, state: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OLLAMA_"))}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", TRACETUI_STATE_DIR=str(state))
    command = [sys.executable, "-m", "tracetui", "ask", prompt, "--ollama-url", ollama_url]
    command += ["--tracking-uri", tracking_uri, "--experiment", "ask-outbox"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_ask_queues_the_turn_when_the_server_is_down_and_sends_it_with_the_next(
    own_server: LocalMlflowServer, fake_ollama: FakeOllama, state: Path
) -> None:
    down = f"http://127.0.0.1:{free_loopback_port()}"
    fake_ollama.script("Queued answer.")
    done = _run_ask("first?", down, fake_ollama.url, state)
    assert done.returncode == 0 and done.stdout == "Queued answer.\n", done.stderr
    assert done.stderr.strip() == (
        f"The MLflow tracking server at {down} is not reachable: not traced yet, "
        "1 turn waiting, will be sent when the server is back."
    )
    (waiting,) = Outbox(down, "ask-outbox").folder.glob("tr-*.json")

    # The same turn waiting for a server that is up: the next `ask` there sends it too.
    outbox = Outbox(own_server.url, "ask-outbox")
    outbox.put(TurnRecord.from_dict(json.loads(waiting.read_text())))
    fake_ollama.script("Traced answer.")
    done = _run_ask("second?", own_server.url, fake_ollama.url, state)
    assert done.returncode == 0, done.stderr
    assert "Also traced 1 earlier turn(s) that were waiting." in done.stderr
    assert outbox.pending_count() == 0
    _assert_complete(own_server.url, waiting.stem, "Queued answer.")


class WaitingHost(ChatHost):
    """The chat pane alone, with a status bar fed as the app feeds it."""

    def __init__(self, session: ChatSession) -> None:
        super().__init__(session)
        self.waiting: list[ChatPane.TurnsWaiting] = []

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield StatusBar()

    def on_chat_pane_turns_waiting(self, message: ChatPane.TurnsWaiting) -> None:
        self.waiting.append(message)
        self.query_one(StatusBar).turns_waiting = message.count


async def test_the_chat_pane_and_status_bar_show_the_waiting_turns_until_delivered(
    own_server: LocalMlflowServer, fake_ollama: FakeOllama, state: Path
) -> None:
    down = _outboxed(closed_port_url(), "pane")
    session = ChatSession(model="ollama_chat/qwen2.5", ollama_url=fake_ollama.url, tracer=down)
    host = WaitingHost(session)
    async with host.run_test(size=(120, 30)) as pilot:
        fake_ollama.script("Kept for later.")
        answer = await ask_and_finish(pilot, "later?")
        await wait_for(pilot, lambda: host.pane.turns_waiting == 1, "the waiting count")
        assert answer.result.queued
        text = screen_text(host)
        assert "⏳ 1 turn waiting to be traced" in text.split("\n")[0]  # the pane's model line
        # Said once, under the answer; why it waits is the status line's (the app's) to say.
        assert "waiting to be traced (1 in the outbox)" in str(answer.footer.render())
        assert text.count("not traced yet") == 0 and not answer.query("ChatBanner")
        assert "⏳ 1 turn waiting to be traced" in host.query_one(StatusBar).render().plain

        # The same turn waiting for a server that answers: the app's poll loop calls this.
        (record,) = _records(down)
        up = _outboxed(own_server.url, "pane")
        up.outbox.put(record)
        session.tracer = up
        host.pane.deliver_waiting()
        await wait_for(pilot, lambda: any(m.delivered for m in host.waiting), "the delivery")
        await wait_for(pilot, lambda: host.pane.turns_waiting == 0, "the count to clear")
        assert "waiting to be traced" not in screen_text(host) and up.pending_count() == 0
        assert "waiting" not in host.query_one(StatusBar).render().plain
        # The answer that waited now names its trace, and Ctrl+T can open it.
        assert f"trace {record.trace_id}" in str(answer.footer.render())
        assert answer.trace_id == record.trace_id
    _assert_complete(own_server.url, record.trace_id, "Kept for later.")
    down.close()
    up.close()
