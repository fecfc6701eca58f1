"""The feature widgets in host apps: sequence view, feedback, sessions, export, copy, numbers, web link.

Real traces come from the real MLflow server: tracetui's own trace writer logs
chat turns (with sessions), the mlflow client logs autolog-shaped ones. Feedback
is read back through MLflow's own client, so MLflow's UI would show it too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chat_turns import turn_record
from feature_fixtures import HOSTILE, MS, T0, chat_turn_trace
from rich.text import Text
from test_span_widgets import screen_text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import ContentSwitcher, DataTable, Input, Sparkline, Static
from trace_factory import log_nested_trace, use_server

from tracetui.chat.session import ChatSession
from tracetui.chat.trace_writer import TurnTracer
from tracetui.config import TrackingSettings
from tracetui.exports import export_session_markdown, export_trace_json, safe_file_name
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.connection import Backend
from tracetui.tracking.feedback import current_feedback, get_trace_info, thumbs, with_assessment
from tracetui.tracking.models import TokenUsage, TraceInfo
from tracetui.tracking.sequence import build_sequence, to_mermaid
from tracetui.tracking.sessions import session_turns
from tracetui.tracking.transcript import Turn
from tracetui.tracking.web_url import trace_web_url
from tracetui.ui import clipboard
from tracetui.ui.screens.feedback import FeedbackScreen, FeedbackSent
from tracetui.ui.screens.sessions import SessionsScreen
from tracetui.ui.screens.web_link import WebLinkScreen, browser_can_open
from tracetui.ui.session_resume import load_session_into_chat
from tracetui.ui.viewer import trace_keys
from tracetui.ui.viewer.trace_viewer import TraceViewer
from tracetui.ui.widgets.chat_message import AnswerMessage, ChatBanner, PromptMessage
from tracetui.ui.widgets.chat_pane import ChatPane
from tracetui.ui.widgets.sequence_view import SequenceView
from tracetui.ui.widgets.stats_bar import StatsBar
from tracetui.ui.widgets.trace_list import feedback_mark

HOSTILE_SESSION = "[red]s'\"\x1b]0;t\x07"


class Host(App[Any]):
    """Mounts one widget; records what pushed screens were dismissed with."""

    def __init__(self, widget_factory: Any = None) -> None:
        super().__init__()
        self.widget_factory = widget_factory
        self.results: list[Any] = []

    def compose(self) -> ComposeResult:
        if self.widget_factory is not None:
            yield self.widget_factory()
        else:
            yield Static("host")

    def open(self, screen: Any) -> None:
        self.push_screen(screen, self.results.append)


class SequenceHost(App[None]):
    def __init__(self, trace: Any) -> None:
        super().__init__()
        self.trace = trace

    def compose(self) -> ComposeResult:
        yield SequenceView()

    def on_mount(self) -> None:
        view = self.query_one(SequenceView)
        view.show_trace(self.trace)
        view.focus()


async def settle(app: App[Any], pilot: Any) -> None:
    """Let pushed screens mount and start their workers, then wait for the workers."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def new_experiment(mlflow_server: Any) -> str:
    """A fresh experiment name, with the mlflow client pointed at the test server."""
    use_server(mlflow_server.url)
    return f"features-{uuid.uuid4().hex[:8]}"


def record_terminal_writes(app: App[Any]) -> list[str]:
    """What the app writes to its terminal driver (the headless driver drops it otherwise)."""
    written: list[str] = []
    app._driver.write = written.append  # type: ignore[union-attr,method-assign]
    return written


@pytest.fixture()
def no_local_clipboard(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A session like SSH's: no display, no clipboard tool; the cache folder under tmp_path."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "tracetui"


@pytest.fixture(scope="module")
def chat_sessions(mlflow_server) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """Real chat-turn traces by tracetui's writer: session "sess-a" (two turns) and a hostile id."""
    tracer = TurnTracer(
        TrackingSettings(tracking_uri=mlflow_server.url, timeout_s=60.0),
        experiment=f"features-{uuid.uuid4().hex[:8]}",
    )
    try:
        start = T0
        ids = {
            "sess-a": [
                tracer.log(turn_record("sess-a", "What is Qwen 2.5?", "A model family.", start_ns=start)),
                tracer.log(
                    turn_record(
                        "sess-a",
                        "And the 0.5b one?",
                        "The smallest.",
                        turn_index=1,
                        start_ns=start + 5 * 10**9,
                    )
                ),
            ],
            HOSTILE_SESSION: [
                tracer.log(turn_record(HOSTILE_SESSION, HOSTILE, "ok", start_ns=start + 9000 * MS))
            ],
        }
        yield tracer.experiment_id(), ids
    finally:
        tracer.close()


# --- sequence view ------------------------------------------------------------------------


async def test_sequence_view_draws_every_hop_in_time_order_with_latency() -> None:
    trace = chat_turn_trace()
    app = SequenceHost(trace)
    async with app.run_test(size=(200, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        header = next(line for line in text.splitlines() if "Python program" in line)
        names = ["Python program", "litellm", "Ollama 127.0.0.1:11434", "qwen2.5:0.5b", "MLflow"]
        assert [header.index(name) for name in names] == sorted(header.index(name) for name in names)
        labels = ["acompletion(qwen2.5:0.5b)", "POST /api/chat", "first token, 180 ms", "HTTP 200, 1.18 s"]
        positions = [text.index(label) for label in labels]
        assert positions == sorted(positions)
        assert "log trace (4 spans)" in text
        assert app.query_one(SequenceView).mermaid == to_mermaid(build_sequence(trace))


async def test_sequence_view_of_a_real_autolog_trace(mlflow_server, tracking_settings) -> None:
    trace_id = log_nested_trace(new_experiment(mlflow_server))
    async with TrackingClient(tracking_settings, mlflow_server.url) as client:
        trace = await client.get_trace(trace_id)
    app = SequenceHost(trace)
    async with app.run_test(size=(200, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        for participant in ("Python program", "litellm", "Ollama 127.0.0.1:11434", "qwen2.5:0.5b", "MLflow"):
            assert participant in text
        assert "answer, 14 tok" in text


async def test_sequence_view_shows_hostile_names_literally() -> None:
    app = SequenceHost(chat_turn_trace(model_name=HOSTILE))
    async with app.run_test(size=(200, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "[bold red]x[/]" in text and "␛[2J" in text
        assert "\x1b]52" not in text and "\x1b[2J" not in text and "\u202e" not in text


async def test_sequence_view_scrolls_sideways_on_a_narrow_terminal() -> None:
    app = SequenceHost(chat_turn_trace())
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        view = app.query_one(SequenceView)
        assert view.max_scroll_x > 0
        assert "MLflow" not in screen_text(app)
        await pilot.press("right")
        assert view.scroll_x > 0
        view.scroll_to(x=view.max_scroll_x, animate=False)
        await pilot.pause()
        assert "MLflow" in screen_text(app)


async def test_m_copies_the_mermaid_text_through_osc52(no_local_clipboard: Path) -> None:
    trace = chat_turn_trace()
    app = SequenceHost(trace)
    async with app.run_test(size=(120, 30)) as pilot:
        written = record_terminal_writes(app)
        await pilot.press("m")
        await settle(app, pilot)
        mermaid = to_mermaid(build_sequence(trace))
        assert app.clipboard == mermaid
        osc52 = [data for data in written if data.startswith("\x1b]52;c;")]
        assert [base64.b64decode(data[7:-1]).decode() for data in osc52] == [mermaid]
        # No clipboard tool over SSH: the value is also in a private file, and the sentence says where.
        fallback = no_local_clipboard / clipboard.FALLBACK_NAME
        assert fallback.read_text() == mermaid
        assert stat.S_IMODE(fallback.stat().st_mode) == 0o600
        (note,) = [n.message for n in app._notifications]
        assert str(fallback) in note and "OSC 52" in note


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_snapshot_sequence_view(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(SequenceHost(chat_turn_trace()), terminal_size=size)


# --- clipboard --------------------------------------------------------------------------


def test_clipboard_tool_only_in_a_local_graphical_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clipboard.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert clipboard.native_copy_command({"WAYLAND_DISPLAY": "wayland-0"}, "linux") == ["wl-copy"]
    assert clipboard.native_copy_command({"DISPLAY": ":0"}, "linux")[0] == "xclip"
    assert clipboard.native_copy_command({}, "darwin") == ["pbcopy"]
    assert clipboard.native_copy_command({"DISPLAY": ":0", "SSH_CONNECTION": "x"}, "linux") is None
    assert clipboard.native_copy_command({}, "linux") is None


def test_a_value_too_long_for_osc52_says_where_it_is(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path), "SSH_TTY": "/dev/pts/1"}
    sentence = clipboard.deliver("x" * 200_000, "the value", env)
    assert "too long" in sentence and str(tmp_path / "tracetui" / "clipboard.txt") in sentence


# --- feedback -----------------------------------------------------------------------------


def mlflow_feedback(tracking_uri: str, trace_id: str) -> list[Any]:
    """The trace's feedback as MLflow's own client reads it."""
    from mlflow import MlflowClient

    return [a for a in MlflowClient(tracking_uri).get_trace(trace_id).info.assessments if a.feedback]


async def test_feedback_is_stored_as_an_assessment_mlflow_reads(mlflow_server, tracking_settings) -> None:
    trace_id = log_nested_trace(new_experiment(mlflow_server))
    async with TrackingClient(tracking_settings, mlflow_server.url) as client:
        app = Host()
        async with app.run_test(size=(100, 30)) as pilot:
            app.open(FeedbackScreen(client, trace_id))
            await pilot.pause()
            await pilot.press("minus")
            assert isinstance(app.focused, Input)
            await pilot.press(*"too [b]slow[/b]")
            await pilot.press("enter")
            await settle(app, pilot)
            (sent,) = app.results
            assert isinstance(sent, FeedbackSent) and sent.trace_id == trace_id
            assert sent.sentence == f"Stored thumbs down on trace {trace_id}."
            assert [n.message for n in app._notifications] == [sent.sentence]
        info = await get_trace_info(client, trace_id)
    assert thumbs(current_feedback(info)) is False
    (stored,) = await asyncio.to_thread(mlflow_feedback, mlflow_server.url, trace_id)
    assert stored.name == "user_feedback" and stored.value is False
    assert stored.rationale == "too [b]slow[/b]"
    assert str(feedback_mark(info)) == "👎"


async def test_feedback_changes_the_vote_and_the_list_mark(mlflow_server, tracking_settings) -> None:
    trace_id = log_nested_trace(new_experiment(mlflow_server))
    async with TrackingClient(tracking_settings, mlflow_server.url) as client:
        app = Host()
        async with app.run_test(size=(100, 30)) as pilot:
            for key in ("plus", "minus"):
                info = await get_trace_info(client, trace_id)
                app.open(FeedbackScreen(client, trace_id, info))
                await pilot.pause()
                await pilot.press(key, "enter")
                await settle(app, pilot)
            up, down = app.results
            # What the app does with the result: the row shows the vote before the next poll.
            row = with_assessment(TraceInfo(trace_id, "0", 0, 1, "OK", "t"), up.assessment)
            assert str(feedback_mark(row)) == "👍"
        info = await get_trace_info(client, trace_id)
    assert thumbs(current_feedback(info)) is False  # the second vote replaced the first
    assert current_feedback(info).assessment_id == down.assessment.assessment_id


async def test_feedback_needs_a_vote_and_reports_a_failure_in_one_sentence(
    mlflow_server, tracking_settings
) -> None:
    async with TrackingClient(tracking_settings, mlflow_server.url) as client:
        app = Host()
        async with app.run_test(size=(100, 30)) as pilot:
            screen = FeedbackScreen(client, "tr-00000000000000000000000000000000")
            app.open(screen)
            await pilot.pause()
            await pilot.press("ctrl+s")
            status = screen.query_one("#feedback-status", Static)
            assert "Choose a vote first" in str(status.render())
            await pilot.press("plus", "enter")
            await settle(app, pilot)
            assert app.screen is screen and app.results == []  # still open, to retry
            sentence = str(status.render())
            assert "No trace tr-00000000000000000000000000000000" in sentence
            assert status.has_class("-error") and "Traceback" not in sentence
            await pilot.press("escape")
            assert app.results == [None]


# --- sessions, transcript export, resume --------------------------------------------------


async def test_sessions_screen_lists_sessions_and_returns_the_chosen_id(
    mlflow_server, tracking_settings, chat_sessions
) -> None:
    experiment_id, ids = chat_sessions
    async with TrackingClient(tracking_settings, mlflow_server.url) as client:
        app = Host()
        async with app.run_test(size=(160, 40)) as pilot:
            screen = SessionsScreen(client, experiment_id)
            app.open(screen)
            await settle(app, pilot)
            table = screen.query_one(DataTable)
            assert [row.value for row in table.rows] == [HOSTILE_SESSION, "sess-a"]  # most recent first
            text = screen_text(app)
            assert "[red]s'\"␛]0;t␇" in text  # the hostile id, literally
            assert "What is Qwen 2.5?" in text and "2 sessions" in text
            await pilot.press("down", "enter")
            await pilot.pause()
    assert app.results == ["sess-a"]


async def test_sessions_screen_exports_a_markdown_transcript(
    mlflow_server, tracking_settings, chat_sessions, tmp_path: Path
) -> None:
    experiment_id, _ = chat_sessions
    async with TrackingClient(tracking_settings, mlflow_server.url) as client:
        app = Host()
        async with app.run_test(size=(160, 40)) as pilot:
            app.open(SessionsScreen(client, experiment_id, export_dir=str(tmp_path)))
            await settle(app, pilot)
            await pilot.press("down", "e")
            await settle(app, pilot)
            path = tmp_path / "session-sess-a.md"
            assert [n.message for n in app._notifications] == [f"Exported session sess-a to {path}."]
    markdown = path.read_text()
    assert markdown.startswith("# Session sess") and "- Turns: 2" in markdown
    assert markdown.index("What is Qwen 2.5?") < markdown.index("And the 0.5b one?")


async def test_export_trace_json_and_failures_in_one_sentence(
    mlflow_server, tracking_settings, chat_sessions, tmp_path: Path
) -> None:
    _, ids = chat_sessions
    trace_id = ids["sess-a"][0]
    async with TrackingClient(tracking_settings, mlflow_server.url) as client:
        exported = await export_trace_json(client, trace_id, directory=str(tmp_path))
        document = json.loads(exported.path.read_text())
        assert exported.ok and exported.sentence == f"Exported trace {trace_id} to {exported.path}."
        assert document["info"]["trace_id"] == trace_id and len(document["data"]["spans"]) == 4
        missing = await export_trace_json(client, "tr-" + "0" * 32, directory=str(tmp_path))
        assert not missing.ok and missing.sentence.startswith("No trace") or "not" in missing.sentence
        blocked = await export_trace_json(client, trace_id, directory=str(tmp_path / "no" / "such"))
        assert not blocked.ok and "does not exist" in blocked.sentence
        hostile = await export_session_markdown(client, _, HOSTILE_SESSION, directory=str(tmp_path))
    assert hostile.ok and hostile.path.parent == tmp_path
    assert hostile.path.name == safe_file_name("session", HOSTILE_SESSION, ".md")
    assert "\x1b" not in hostile.path.name and "/" not in hostile.path.name


async def test_a_session_continues_in_the_chat_pane(mlflow_server, tracking_settings, chat_sessions) -> None:
    experiment_id, ids = chat_sessions
    async with TrackingClient(tracking_settings, mlflow_server.url) as client:
        turns = await session_turns(client, experiment_id, "sess-a")
    session = ChatSession(model="ollama_chat/qwen2.5:0.5b", tracer=None)
    app = Host(lambda: ChatPane(session))
    async with app.run_test(size=(100, 40)) as pilot:
        pane = app.query_one(ChatPane)
        await load_session_into_chat(pane, "sess-a", turns)
        await pilot.pause()
        assert session.session_id == "sess-a"  # the next turn's trace joins the same MLflow session
        assert session.messages_for("Next?") == [
            {"role": "user", "content": "What is Qwen 2.5?"},
            {"role": "assistant", "content": "A model family."},
            {"role": "user", "content": "And the 0.5b one?"},
            {"role": "assistant", "content": "The smallest."},
            {"role": "user", "content": "Next?"},
        ]
        assert [p.prompt for p in pane.log.query(PromptMessage)] == ["What is Qwen 2.5?", "And the 0.5b one?"]
        assert [a.trace_id for a in pane.query(AnswerMessage)] == ids["sess-a"]
        assert pane.answers[-1].markdown_source == "The smallest."
        assert "Continuing session sess-a: 2 earlier turns" in pane.query_one(ChatBanner).sentence
        assert pane.input.history == ["What is Qwen 2.5?", "And the 0.5b one?"]


async def test_resumed_hostile_turns_stay_data() -> None:
    turn = Turn("tr-1", HOSTILE, "# hi\x1b[2J [b]x[/b]", "m", T0 // MS, 10, "OK", TokenUsage(1, 2, 3))
    app = Host(lambda: ChatPane(ChatSession(tracer=None)))
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(ChatPane)
        await load_session_into_chat(pane, HOSTILE_SESSION, [turn])
        await pilot.pause()
        text = screen_text(app)
        assert "[bold red]x[/]" in text and "[b]x[/b]" in text and "␛[2J" in text
        assert "\x1b" not in pane.answers[0].markdown_source


# --- numbers ------------------------------------------------------------------------------


def info(index: int, duration_ms: int | None, tokens: int | None, state: str = "OK") -> TraceInfo:
    usage = TokenUsage(10, tokens, None) if tokens is not None else None
    return TraceInfo(f"tr-{index}", "1", T0 // MS + index * 1000, duration_ms, state, "t", token_usage=usage)


async def test_stats_bar_draws_latency_tokens_and_speed_per_model() -> None:
    infos = [info(2, 2000, 40), info(0, 1000, 20), info(1, 500, None), info(3, None, None, "IN_PROGRESS")]
    trace = chat_turn_trace()
    app = Host(StatsBar)
    async with app.run_test(size=(120, 10)) as pilot:
        bar = app.query_one(StatsBar)
        bar.show(infos, [trace])
        await pilot.pause()
        assert app.query_one("#stats-latency", Sparkline).data == [1000.0, 500.0, 2000.0]  # oldest first
        assert app.query_one("#stats-tokens", Sparkline).data == [30.0, 50.0]
        text = screen_text(app)
        assert "last 2.00s · median 1.00s · max 2.00s" in text
        # 14 tokens over Ollama's 1000 ms eval: generation speed, no "~"; trace-level guesses are "~".
        assert "qwen2.5:0.5b 14.0 (1)" in text and "unknown model ~" in text


async def test_stats_bar_shows_hostile_model_names_literally() -> None:
    app = Host(StatsBar)
    async with app.run_test(size=(160, 10)) as pilot:
        app.query_one(StatsBar).show([], [chat_turn_trace(model_name="[b]m[/b]\x1b[2J")])
        await pilot.pause()
        text = screen_text(app)
        assert "[b]m[/b]␛[2J" in text
        empty = Host(StatsBar)
    async with empty.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        assert "no data yet" not in screen_text(empty)  # not shown before the first show()
        empty.query_one(StatsBar).show([])
        await pilot.pause()
        assert "no data yet" in screen_text(empty) and "no token counts yet" in screen_text(empty)


# --- web link -----------------------------------------------------------------------------


def test_browser_only_where_a_person_would_see_it() -> None:
    assert browser_can_open({"DISPLAY": ":0"}, "linux")
    assert not browser_can_open({"DISPLAY": ":0", "SSH_CONNECTION": "x"}, "linux")
    assert not browser_can_open({}, "linux")  # webbrowser would run a text browser in this terminal
    assert browser_can_open({}, "darwin") and browser_can_open({"BROWSER": "firefox"}, "linux")


async def test_web_link_over_ssh_shows_and_copies_the_url(no_local_clipboard: Path) -> None:
    url = trace_web_url("http://user:pw@mlflow:5000", "7", "tr-abc")
    app = Host()
    opened: list[str] = []
    async with app.run_test(size=(120, 20)) as pilot:
        app.open_url = lambda url, **_: opened.append(url)  # type: ignore[method-assign]
        screen = WebLinkScreen("http://user:pw@mlflow:5000", "7", "tr-abc")
        app.open(screen)
        await settle(app, pilot)
        assert screen.url == url and "pw" not in url
        assert url in "".join(line.strip(" █") for line in screen_text(app).splitlines())
        assert "No browser can open from here" in str(screen.query_one("#web-link-note", Static).render())
        await pilot.press("o", "y")
        await settle(app, pilot)
        assert opened == [] and app.clipboard == url


async def test_web_link_opens_the_browser_where_it_can() -> None:
    app = Host()
    opened: list[str] = []
    async with app.run_test(size=(120, 20)) as pilot:
        app.open_url = lambda url, **_: opened.append(url)  # type: ignore[method-assign]
        app.open(WebLinkScreen("http://mlflow:5000/", "7", "tr-abc", can_open=True))
        await settle(app, pilot)
        assert opened == [trace_web_url("http://mlflow:5000/", "7", "tr-abc")]


def test_feedback_mark_reads_the_vote_in_force() -> None:
    assert feedback_mark(info(0, 1, 1)) == Text("", end="")


# --- the trace viewer alone, in a host app: the pane owns its state --------------------------


class ViewerHost(App[None]):
    """Only the trace viewer, with two trace keys wired as the app wires them."""

    BINDINGS = [Binding("plus", "feedback"), Binding("y", "copy_trace_id")]

    def __init__(self, url: str, experiment: str) -> None:
        super().__init__()
        self.viewer = TraceViewer(
            TrackingSettings(tracking_uri=url, timeout_s=60), experiment, backend=Backend(base_url=url)
        )
        self.said: list[str] = []

    def compose(self) -> ComposeResult:
        yield self.viewer

    def on_mount(self) -> None:
        self.watch(self.viewer, "said", lambda said: self.said.append(said.sentence), init=False)

    def action_feedback(self) -> None:
        trace_keys.give_feedback(self.viewer, self.viewer.highlighted_trace_id)

    def action_copy_trace_id(self) -> None:
        trace_keys.copy_trace_id(self.viewer, self.viewer.highlighted_trace_id)


async def test_the_viewer_works_alone_in_a_host_app(mlflow_server, no_local_clipboard) -> None:
    experiment = new_experiment(mlflow_server)
    trace_id = log_nested_trace(experiment)
    app = ViewerHost(mlflow_server.url, experiment)
    async with app.run_test(size=(120, 40)) as pilot:
        viewer = app.viewer
        await settle(app, pilot)
        for _ in range(200):
            if viewer.spans.shown_trace_id == trace_id:
                break
            await pilot.pause(0.05)
        assert viewer.spans.shown_trace_id == trace_id and viewer.follow
        assert app.said[-1] == f"Experiment {experiment}: 1 traces listed."
        viewer.trace_list.focus()
        await pilot.press("s")  # the viewer's own key
        assert app.query_one("#tree-switcher", ContentSwitcher).current == "sequence"
        await pilot.press("y")
        await settle(app, pilot)
        assert app.clipboard == trace_id
        await pilot.press("plus")
        await settle(app, pilot)
        await pilot.press("plus", "enter")
        await settle(app, pilot)
        assert str(feedback_mark(viewer.trace_list.infos[trace_id])) == "👍"  # the list shows it at once
        info = viewer.trace_list.infos[trace_id]
        assert app.query_one("#stats-latency", Sparkline).data == [float(info.execution_duration_ms)]
    async with TrackingClient(TrackingSettings(tracking_uri=mlflow_server.url), mlflow_server.url) as client:
        assert thumbs(current_feedback(await get_trace_info(client, trace_id))) is True
