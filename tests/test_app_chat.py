# ruff: noqa: F811 - pytest fixtures imported from trace_factory are test parameters
"""The chat pane inside the dashboard: real app, real MLflow server, real litellm to the fake Ollama.

No timed assertions: every wait is a loop on a condition with a generous bound.
"""

from __future__ import annotations

from typing import Any

from fake_ollama import FakeOllama
from test_app import WAIT_S, tree_trace_id, wait_for
from trace_factory import (  # noqa: F401 - trace_server and experiment_name are fixtures
    experiment_name,
    log_nested_trace,
    trace_server,
)

from tracetui.config import TrackingSettings
from tracetui.tracking.connection import Backend
from tracetui.ui.app import TraceTuiApp, make_app
from tracetui.ui.widgets.chat_pane import PromptInput

pytest_plugins = ["fake_ollama"]

ANSWER = "Qwen 2.5 is a family of open models."


def chat_app(url: str, experiment: str | None, ollama_url: str, poll_interval_s: float = 0.2) -> TraceTuiApp:
    return make_app(
        TrackingSettings(tracking_uri=url, timeout_s=120),
        experiment,
        None,
        "ollama_chat/qwen2.5:0.5b",
        ollama_url,
        Backend(base_url=url),
        poll_interval_s=poll_interval_s,
    )


async def ask(pilot: Any, prompt: str) -> Any:
    """Type `prompt` into the chat, send it, and wait for the answer to finish; the AnswerMessage."""
    app: TraceTuiApp = pilot.app
    before = len(app.chat_pane.answers)
    await pilot.press(*prompt, "enter")
    await wait_for(pilot, lambda: len(app.chat_pane.answers) > before, "the answer to start")
    answer = app.chat_pane.answers[-1]
    await wait_for(pilot, lambda: answer.result is not None, "the answer to finish", WAIT_S)
    return answer


async def test_the_prompt_has_focus_and_letters_are_typed_not_commands(
    trace_server: str, experiment_name: str, fake_ollama: FakeOllama
) -> None:
    log_nested_trace(experiment_name)
    app = chat_app(trace_server, experiment_name, fake_ollama.url)
    async with app.run_test(size=(160, 48)) as pilot:
        assert isinstance(app.focused, PromptInput)
        await wait_for(pilot, lambda: app.viewer.trace_list.row_count == 1, "the row")
        await pilot.press("q", "e", "f", "p", "z", "c", "question_mark", "slash")
        assert app.chat_pane.input.value == "qefpzc?/"
        assert app.is_running and app.screen is app.screen_stack[0]  # no help, no switcher
        assert app.viewer.follow and not app.viewer.paused and app.screen.maximized is None and app.chat_shown


async def test_a_turn_is_traced_into_the_watched_experiment_listed_at_once_and_ctrl_t_opens_it(
    trace_server: str, experiment_name: str, fake_ollama: FakeOllama
) -> None:
    older = log_nested_trace(experiment_name, prompt="before the chat")
    fake_ollama.script(ANSWER)
    # Polling every hour: the turn's trace can only appear through the poll its end triggers.
    app = chat_app(trace_server, experiment_name, fake_ollama.url, poll_interval_s=3600)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: older in app.viewer.trace_list.infos, "the list")
        answer = await ask(pilot, "What is Qwen 2.5?")
        assert answer.result.ok, answer.result
        trace_id = answer.result.trace_id
        assert trace_id is not None, answer.result.not_traced_reason
        assert fake_ollama.chat_requests()[-1]["model"] == "qwen2.5:0.5b"  # --model reached the session
        await wait_for(pilot, lambda: trace_id in app.viewer.trace_list.infos, "the turn's trace in the list")
        assert app.viewer.trace_list.infos[trace_id].experiment_id == app.viewer.experiment.experiment_id
        app.viewer.follow = app.status.follow = False  # so only ctrl+t can bring the turn's trace back
        await pilot.press("escape", "k", "j")  # leave the prompt, move to the older row
        await wait_for(pilot, lambda: tree_trace_id(app) == older, "the older trace")
        app.chat_pane.input.focus()
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: tree_trace_id(app) == trace_id, "ctrl+t to open the turn's trace")
        assert app.viewer.trace_list.highlighted_trace_id == trace_id
        names = {span.name for span in app.viewer.span_tree.trace.spans}
        assert "chat_turn" in names and "litellm-acompletion" in names


async def test_the_chat_answers_while_the_tracking_server_is_down_and_the_turn_waits(
    fake_ollama: FakeOllama,
) -> None:
    from tracetui.tracking.local_server import free_loopback_port

    url = f"http://127.0.0.1:{free_loopback_port()}"
    fake_ollama.script(ANSWER)
    app = chat_app(url, "anything", fake_ollama.url)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: "Cannot reach" in app.status.sentence, "the server to be found down")
        answer = await ask(pilot, "hello")
        assert answer.result.answer == ANSWER and answer.result.error is None
        assert answer.result.trace_id is None and answer.result.queued
        footer = str(answer.footer.render())
        assert footer.startswith("waiting to be traced (1 in the outbox)") and "Traceback" not in footer
        assert answer.result.not_traced_reason.startswith(f"Cannot reach the MLflow tracking server at {url}")
        await wait_for(pilot, lambda: app.status.turns_waiting == 1, "the status line's count")
        assert "⏳ 1 turn waiting to be traced" in app.status.render().plain


async def test_at_80x24_the_chat_starts_hidden_and_c_shows_it(
    trace_server: str, experiment_name: str, fake_ollama: FakeOllama
) -> None:
    log_nested_trace(experiment_name)
    app = chat_app(trace_server, experiment_name, fake_ollama.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.viewer.trace_list.row_count == 1, "the row")
        assert not app.chat_pane.display and app.focused is app.viewer.trace_list
        assert app.viewer.trace_list.region.height >= 8  # room for rows, not a sliver
        await pilot.press("c")  # the chat takes the viewer's place, full width
        await pilot.pause()
        assert app.chat_pane.display and isinstance(app.focused, PromptInput)
        assert app.chat_pane.region.width == 80 and not app.viewer.trace_list.region
        await pilot.press("escape")  # and Esc gives the viewer back
        await pilot.pause()
        assert not app.chat_pane.display and app.focused is app.viewer.trace_list
        assert app.viewer.trace_list.region.width > 0


async def test_the_palette_offers_the_chat_commands(trace_server: str, fake_ollama: FakeOllama) -> None:
    app = chat_app(trace_server, None, fake_ollama.url)
    async with app.run_test(size=(160, 48)):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Chat: pick model", "Chat: open last trace", "Show / hide chat"} <= titles
