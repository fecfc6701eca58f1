"""The chat pane in a one-widget host app: real ChatSession, real litellm, real HTTP to the fake Ollama.

Tracing is off (the session has no tracer) except where a test is about the
trace: then the real `TurnTracer` writes to the real `mlflow server` fixture, or
to a closed port for "the tracking server is down".
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable
from typing import Any

import pytest
from fake_ollama import HOSTILE_ANSWER, FakeAnswer, FakeOllama
from textual.app import App, ComposeResult
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import OptionList

from tracetui.chat.session import ChatSession
from tracetui.chat.trace_writer import TurnTracer
from tracetui.config import TrackingSettings
from tracetui.ui.messages import ShowTrace
from tracetui.ui.screens.model_picker import ModelPicker
from tracetui.ui.widgets.chat_message import AnswerMessage, ChatBanner, PromptMessage, footer_text
from tracetui.ui.widgets.chat_pane import ChatPane, PromptInput

pytest_plugins = ["fake_ollama"]

MODEL = "ollama_chat/qwen2.5"


class ChatHost(App[None]):
    """Only the chat pane, and a record of what it tells the app."""

    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session
        self.shown_traces: list[str] = []
        self.finished: list[ChatPane.TurnFinished] = []

    def compose(self) -> ComposeResult:
        yield ChatPane(self.session)

    def on_mount(self) -> None:
        self.pane.focus_input()

    @property
    def pane(self) -> ChatPane:
        return self.query_one(ChatPane)

    def on_show_trace(self, message: ShowTrace) -> None:
        self.shown_traces.append(message.trace_id)

    def on_chat_pane_turn_finished(self, message: ChatPane.TurnFinished) -> None:
        self.finished.append(message)


def closed_port_url() -> str:
    """An address where nothing listens: bind a port, then let it go."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def wait_for(pilot: Pilot, condition: Callable[[], bool], what: str, limit_s: float = 60.0) -> None:
    """Let the app run until `condition` holds (a generous bound against a hang, not a speed test)."""
    for _ in range(int(limit_s / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def ask(pilot: Pilot, prompt: str) -> None:
    pilot.app.query_one(PromptInput).value = prompt
    await pilot.press("enter")


async def ask_and_finish(pilot: Pilot, prompt: str) -> AnswerMessage:
    host = pilot.app
    assert isinstance(host, ChatHost)
    before = len(host.finished)
    await ask(pilot, prompt)
    await wait_for(pilot, lambda: len(host.finished) > before, "the turn to finish")
    answer = host.pane.answers[-1]
    # A long answer's last segments may take a few frames more (at most 4 ms of drawing a frame).
    await wait_for(pilot, lambda: answer.body.drawn or not answer.body.display, "the answer to be drawn")
    return answer


def screen_text(app: App) -> str:
    """What the terminal would show, as plain text (every cell of the current screen)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def markdown_source(answer: AnswerMessage) -> str:
    return answer.markdown_source


@pytest.fixture
def session(fake_ollama: FakeOllama) -> ChatSession:
    return ChatSession(model=MODEL, ollama_url=fake_ollama.url)


async def test_streams_the_whole_answer_as_markdown(fake_ollama: FakeOllama, session: ChatSession) -> None:
    text = "# Qwen\n\nQwen 2.5 is a **family** of models:\n\n- small\n- large\n\n```python\nprint(1)\n```\n"
    fake_ollama.script(text)
    app = ChatHost(session)
    async with app.run_test(size=(100, 40)) as pilot:
        assert app.focused is app.query_one(PromptInput)
        answer = await ask_and_finish(pilot, "What is Qwen?")
        assert markdown_source(answer) == text
        shown = screen_text(app)
        assert "What is Qwen?" in shown
        assert "family" in shown and "**" not in shown  # rendered as Markdown, not raw
        assert "print(1)" in shown
        result = app.finished[-1].result
        assert result.ok and result.answer == text
        assert "not traced: Tracing is off" in str(answer.footer.render())
        assert not app.pane.answering
        assert app.query_one(PromptInput).value == ""


async def test_a_long_answer_streams_into_segments_split_between_blocks(
    fake_ollama: FakeOllama, session: ChatSession
) -> None:
    # Long enough for several segments; the fences hold blank lines, which must not split them.
    section = "## Part {n}\n\nSome **text** for part {n}.\n\n```python\nx = {n}\n\ny = {n}\n```\n\n"
    text = "".join(section.format(n=n) for n in range(50))
    fake_ollama.script(FakeAnswer.of_text(text, fast=True))
    app = ChatHost(session)
    async with app.run_test(size=(100, 40)) as pilot:
        answer = await ask_and_finish(pilot, "long please")
        segments = answer.body.segments
        assert len(segments) >= 2
        assert answer.markdown_source == "".join(segments) == text
        for segment in segments:  # each segment is whole blocks: fences open and close inside it
            assert segment.count("```") % 2 == 0
            assert segment.startswith(("## Part ", "Some ", "```python\nx"))
        assert not answer.body.children  # one widget, however long the answer
        assert "x = 49" in screen_text(app)


async def test_esc_stops_and_keeps_the_partial_answer(fake_ollama: FakeOllama, session: ChatSession) -> None:
    fake_ollama.script(FakeAnswer.of_tokens(400, token_delay_s=0.05))
    app = ChatHost(session)
    async with app.run_test(size=(100, 40)) as pilot:
        await ask(pilot, "Count slowly")
        pane = app.pane
        await wait_for(pilot, lambda: "w3 " in (session.current_turn.answer_so_far or ""), "a few tokens")
        assert pane.answering
        await pilot.press("escape")
        await wait_for(pilot, lambda: bool(app.finished), "the stopped turn to finish")
        await pilot.pause()
        result = app.finished[-1].result
        assert result.cancelled
        assert result.answer.startswith("w0 w1 w2 w3 ")
        assert "w399" not in result.answer
        answer = pane.answers[-1]
        assert markdown_source(answer) == result.answer
        assert "w3" in screen_text(app)
        assert str(answer.footer.render()).startswith("stopped")
        assert not pane.answering
        # The conversation goes on: the next prompt is answered.
        fake_ollama.script("Next answer.")
        answer = await ask_and_finish(pilot, "Again")
        assert markdown_source(answer) == "Next answer."


async def test_up_and_down_recall_earlier_prompts(fake_ollama: FakeOllama, session: ChatSession) -> None:
    app = ChatHost(session)
    async with app.run_test(size=(100, 40)) as pilot:
        await ask_and_finish(pilot, "first question")
        await ask_and_finish(pilot, "second question")
        prompt_input = app.query_one(PromptInput)
        prompt_input.focus()
        await pilot.press(*"draft")
        await pilot.press("up")
        assert prompt_input.value == "second question"
        await pilot.press("up")
        assert prompt_input.value == "first question"
        await pilot.press("up")  # stays at the oldest
        assert prompt_input.value == "first question"
        await pilot.press("down")
        assert prompt_input.value == "second question"
        await pilot.press("down")  # past the newest: the draft comes back
        assert prompt_input.value == "draft"
        # A recalled prompt is sent again as it is.
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: len(app.finished) == 3, "the recalled prompt's answer")
        assert [p.prompt for p in app.query(PromptMessage)][-1] == "second question"


async def test_unknown_model_says_ollama_pull(fake_ollama: FakeOllama) -> None:
    session = ChatSession(model="ollama_chat/llama9:70b", ollama_url=fake_ollama.url)
    app = ChatHost(session)
    async with app.run_test(size=(100, 40)) as pilot:
        answer = await ask_and_finish(pilot, "hello")
        banner = answer.query_one("#answer-error", ChatBanner)
        assert "ollama pull llama9:70b" in banner.sentence
        assert "ollama pull llama9:70b" in screen_text(app)
        assert "Traceback" not in screen_text(app)


async def test_ollama_down_says_ollama_serve() -> None:
    session = ChatSession(model=MODEL, ollama_url=closed_port_url())
    app = ChatHost(session)
    async with app.run_test(size=(100, 40)) as pilot:
        answer = await ask_and_finish(pilot, "hello")
        banner = answer.query_one("#answer-error", ChatBanner)
        assert "ollama serve" in banner.sentence
        assert "ollama serve" in screen_text(app)
        assert "Traceback" not in screen_text(app)


async def test_error_mid_stream_keeps_partial_answer_and_shows_error(
    fake_ollama: FakeOllama, session: ChatSession
) -> None:
    fake_ollama.script(
        FakeAnswer.of_text("Part one of the answer and then", error_after=4, error_message="GPU fell over")
    )
    app = ChatHost(session)
    async with app.run_test(size=(100, 40)) as pilot:
        answer = await ask_and_finish(pilot, "hello")
        assert markdown_source(answer) == "Part one of the"
        banner = answer.query_one("#answer-error", ChatBanner)
        assert "GPU fell over" in banner.sentence
        shown = screen_text(app)
        assert "Part one of the" in shown and "GPU fell over" in shown
        assert "Traceback" not in shown


async def test_markup_and_escapes_in_an_answer_show_literally(
    fake_ollama: FakeOllama, session: ChatSession
) -> None:
    fake_ollama.script(HOSTILE_ANSWER)
    app = ChatHost(session)
    async with app.run_test(size=(160, 48)) as pilot:
        await ask_and_finish(pilot, "[bold]prompt markup[/bold] \x1b[2J")
        shown = screen_text(app)
        assert "\x1b" not in shown and "\x07" not in shown and "\x00" not in shown
        assert "␛" in shown and "␇" in shown  # the escapes are visible stand-ins
        assert "[bold red]not bold[/]" in shown  # Rich markup is text, not style
        assert "[link=https://evil.example]click[/link]" in shown
        assert "<script>alert(1)</script>" in shown
        assert "[bold]prompt markup[/bold] ␛[2J" in shown  # the prompt too


async def test_show_trace_posts_the_turns_trace_id(
    fake_ollama: FakeOllama, tracking_settings: TrackingSettings
) -> None:
    # A generous timeout: several test runs share this machine's two cores.
    tracer = TurnTracer(dataclasses.replace(tracking_settings, timeout_s=60.0), "chat-pane-tests")
    session = ChatSession(model=MODEL, ollama_url=fake_ollama.url, tracer=tracer)
    app = ChatHost(session)
    async with app.run_test(size=(100, 40)) as pilot:
        answer = await ask_and_finish(pilot, "trace me")
        result = app.finished[-1].result
        assert result.traced and result.trace_id, result.not_traced_reason
        assert result.trace_id in str(answer.footer.render())
        await pilot.press("ctrl+t")  # from the input: the latest answer's trace
        await pilot.pause()
        answer.focus()
        await pilot.press("t")  # on the focused answer
        await pilot.pause()
        assert app.shown_traces == [result.trace_id, result.trace_id]
    tracer.close()


async def test_tracking_server_down_still_answers_and_says_not_traced(
    fake_ollama: FakeOllama, session: ChatSession
) -> None:
    session.tracer = TurnTracer(TrackingSettings(tracking_uri=closed_port_url(), timeout_s=2.0))
    fake_ollama.script("The answer still arrives.")
    app = ChatHost(session)
    async with app.run_test(size=(100, 40)) as pilot:
        answer = await ask_and_finish(pilot, "hello")
        assert markdown_source(answer) == "The answer still arrives."
        # Said once, under the answer: why it is not traced (this tracer keeps no outbox).
        footer = str(answer.footer.render())
        assert footer.startswith("not traced: The MLflow tracking server at ") and "not reachable" in footer
        assert not answer.query(ChatBanner) and screen_text(app).count("not reachable") == 1
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.shown_traces == []


async def test_model_picker_lists_ollama_models_and_sets_the_session_model(
    fake_ollama: FakeOllama, session: ChatSession
) -> None:
    app = ChatHost(session)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPicker), "the picker")
        options = app.screen.query_one(OptionList)
        await wait_for(pilot, lambda: options.option_count == 2, "the model list")
        assert options.highlighted == 0  # the current model, qwen2.5 = qwen2.5:latest
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ModelPicker), "the picker to close")
        assert session.model == "ollama_chat/qwen2.5:0.5b"
        assert "qwen2.5:0.5b" in screen_text(app)
        answer = await ask_and_finish(pilot, "hi")
        assert fake_ollama.chat_requests()[-1]["model"] == "qwen2.5:0.5b"
        assert answer.model == "ollama_chat/qwen2.5:0.5b"


# -- snapshots -----------------------------------------------------------------------------

SNAPSHOT_ANSWER = (
    "## Qwen 2.5\n\n"
    "A family of open models from **Alibaba**, from `0.5b` to `72b`:\n\n"
    "- small ones run on a laptop\n"
    "- `[bold]` stays literal\n\n"
    "```python\nfrom litellm import completion\n```\n"
)


def _pin_numbers(answer: AnswerMessage) -> None:
    """The footer's trace id and speed come from a random id and the clock; pin them for a stable image."""
    result = answer.result
    assert result is not None and result.generation is not None
    pinned = dataclasses.replace(
        result,
        trace_id="tr-0123456789abcdef0123456789abcdef",
        traced=True,
        duration_ms=1240.0,
        generation=dataclasses.replace(result.generation, eval_ms=1228.0),
    )
    answer.footer.update(Content(footer_text(pinned)))


def _snapshot_app(fake_ollama: FakeOllama) -> ChatHost:
    fake_ollama.script(SNAPSHOT_ANSWER)
    return ChatHost(ChatSession(model=MODEL, ollama_url=fake_ollama.url))


async def _converse(pilot: Pilot) -> None:
    prompt_input = pilot.app.query_one(PromptInput)
    prompt_input.cursor_blink = False
    answer = await ask_and_finish(pilot, "Explain Qwen 2.5 in [bold]three[/bold] lines")
    _pin_numbers(answer)
    await pilot.press(*"next question")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_snapshot_conversation(snap_compare: Any, fake_ollama: FakeOllama, size: tuple[int, int]) -> None:
    assert snap_compare(_snapshot_app(fake_ollama), terminal_size=size, run_before=_converse)


async def test_the_prompt_is_free_while_a_turns_trace_is_still_being_written(
    fake_ollama: FakeOllama, tracking_settings: TrackingSettings
) -> None:
    """A cold server can take seconds to take the first trace: the answer is whole, the next may be asked."""
    import threading

    writer = TurnTracer(dataclasses.replace(tracking_settings, timeout_s=60.0), "chat-pane-slow-trace")
    gate = threading.Event()

    def slow_writer(record: Any) -> str:  # the real writer, after the gate opens
        gate.wait(60)
        return writer(record)

    session = ChatSession(model=MODEL, ollama_url=fake_ollama.url, tracer=slow_writer)
    fake_ollama.script("First, whole.", "Second, whole.")
    app = ChatHost(session)
    try:
        async with app.run_test(size=(100, 40)) as pilot:
            await ask(pilot, "first?")
            await wait_for(
                pilot, lambda: bool(app.pane.answers) and app.pane.answers[0].body.drawn, "the text"
            )
            first = app.pane.answers[0]
            await wait_for(pilot, lambda: not app.pane.answering, "the prompt to be free")
            assert first.result is None and markdown_source(first) == "First, whole."  # trace still pending
            await ask(pilot, "second?")  # accepted while the first trace waits
            await wait_for(pilot, lambda: len(app.pane.answers) == 2, "the second answer")
            gate.set()
            await wait_for(pilot, lambda: len(app.finished) == 2, "both turns to finish")
            assert first.result is not None and first.result.traced, first.result
            assert f"trace {first.result.trace_id}" in str(first.footer.render())
            assert markdown_source(app.pane.answers[1]) == "Second, whole."
    finally:
        gate.set()
        writer.close()
