"""The chat pane: a scrolling conversation, a prompt input with history, streaming Markdown answers.

The answer streams in a worker on the app's loop: it iterates the chat layer's
`ChatTurn` and appends each delta (made visible first) to the answer's
`AnswerView`, which only redraws the segment still streaming on the next frame,
so the whole answer is never re-parsed per chunk and typing stays responsive.
When the stream ends — normally, stopped with Esc, or by an error — the view is
finished in `finally`, which closes anything left open (an unclosed fence).

Messages for the app: `ChatPane.ShowTrace` (the same class as
`tracetui.ui.messages.ShowTrace`, handled by `on_show_trace`) and
`ChatPane.TurnFinished` (a turn ended; its trace may now be in the list) and
`ChatPane.TurnsWaiting` (how many turns wait in the outbox to be traced, after a
turn or a delivery; `delivered` > 0 means traces just arrived on the server).
The app calls `deliver_waiting()` from its poll loop while the server answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from tracetui.chat.ollama import OllamaClient
from tracetui.chat.session import ChatSession, ChatTurn, TurnResult
from tracetui.gc_policy import freeze_heap, release_heap  # why and where: see tracetui/gc_policy.py
from tracetui.ui import messages
from tracetui.ui.screens.model_picker import ModelPicker
from tracetui.ui.widgets.answer_render import load_highlighting
from tracetui.ui.widgets.chat_message import AnswerMessage, ChatBanner, PromptMessage, model_label
from tracetui.visible import make_visible, one_line

SessionSource = ChatSession | Callable[[], ChatSession]


class PromptInput(Input):
    """The prompt line. Up/Down walk through earlier prompts; the text being typed is kept."""

    BINDINGS = [
        Binding("up", "history_previous", "Previous prompt", show=False),
        Binding("down", "history_next", "Next prompt", show=False),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.history: list[str] = []
        self._history_index: int | None = None  # None: editing a new prompt, not recalling
        self._draft = ""

    def remember(self, prompt: str) -> None:
        if not self.history or self.history[-1] != prompt:
            self.history.append(prompt)
        self._history_index = None
        self._draft = ""

    def action_history_previous(self) -> None:
        if not self.history:
            return
        if self._history_index is None:
            self._draft = self.value
            self._history_index = len(self.history) - 1
        elif self._history_index > 0:
            self._history_index -= 1
        self._show(self.history[self._history_index])

    def action_history_next(self) -> None:
        if self._history_index is None:
            return
        if self._history_index < len(self.history) - 1:
            self._history_index += 1
            self._show(self.history[self._history_index])
        else:
            self._history_index = None
            self._show(self._draft)

    def _show(self, text: str) -> None:
        self.value = text
        self.cursor_position = len(text)


class ChatPane(Vertical):
    """Chat with a model: type, Enter, watch the answer stream; Esc stops it.

    `session` is a `ChatSession` or a function making one (called on first use).
    `ollama` lists models for the picker (default: a client for the session's Ollama).
    """

    ShowTrace = messages.ShowTrace  # one class, so the app has a single `on_show_trace`
    ALLOW_MAXIMIZE = True  # the app's `z` zooms the chat pane like the others

    @dataclass
    class TurnFinished(Message):
        """A turn ended (answered, stopped or failed); `result.trace_id` is its trace, if any."""

        result: TurnResult

    @dataclass
    class TurnsWaiting(Message):
        """`count` turns wait on disk to be traced, `delivered` were just sent, `sentence`: why some wait."""

        count: int
        delivered: int = 0
        sentence: str | None = None

    BINDINGS = [
        Binding("escape", "stop", "Stop answer"),
        Binding("ctrl+t", "show_trace", "Open trace"),
        Binding("ctrl+o", "pick_model", "Model"),
    ]

    DEFAULT_CSS = """
    ChatPane { height: 1fr; }
    ChatPane > #chat-model { height: 1; padding: 0 1; color: $text-muted; }
    ChatPane > #chat-log { height: 1fr; padding: 0 1 0 0; }
    ChatPane > #chat-input.-answering { border: tall $warning 60%; }
    """

    answering: reactive[bool] = reactive(False)
    turns_waiting: reactive[int] = reactive(0)  # in the outbox, shown on the model line

    def __init__(
        self,
        session: SessionSource,
        *,
        ollama: OllamaClient | None = None,
        name: str | None = None,
        id: str | None = "chat",
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._session_source = session
        self._session: ChatSession | None = session if isinstance(session, ChatSession) else None
        self._ollama = ollama
        self._turn: ChatTurn | None = None
        self.answers: list[AnswerMessage] = []

    # -- parts -----------------------------------------------------------------------------

    @property
    def session(self) -> ChatSession:
        if self._session is None:
            factory = self._session_source
            assert callable(factory)
            self._session = factory()
        return self._session

    @property
    def ollama(self) -> OllamaClient:
        if self._ollama is None:
            self._ollama = OllamaClient(self.session.ollama_url)
        return self._ollama

    @property
    def input(self) -> PromptInput:
        return self.query_one("#chat-input", PromptInput)

    @property
    def log(self) -> VerticalScroll:  # type: ignore[override]  # Widget.log is Textual's logger
        return self.query_one("#chat-log", VerticalScroll)

    def compose(self) -> ComposeResult:
        yield Static(id="chat-model")
        yield VerticalScroll(id="chat-log", can_focus=False)
        yield PromptInput(id="chat-input", placeholder=self._placeholder())

    def on_mount(self) -> None:
        self._show_model()

    def focus_input(self) -> None:
        self.input.focus()

    def _placeholder(self) -> str:
        if self.answering:
            return "Answer streaming… Esc stops it"
        return "Ask something · Enter send · ↑ history · ctrl+o model"

    def _show_model(self) -> None:
        label = model_label(self.session.model)
        line = Content.assemble(("model ", "dim"), (make_visible(label, keep_newlines=False), "bold"))
        if self.turns_waiting:
            turns = f"{self.turns_waiting} turn{'' if self.turns_waiting == 1 else 's'}"
            line = Content.assemble(line, ("  ⏳ ", ""), (f"{turns} waiting to be traced", "$warning"))
        self.query_one("#chat-model", Static).update(line)

    def watch_turns_waiting(self) -> None:
        if self.is_mounted:
            self._show_model()

    def pending_count(self) -> int:
        """Turns waiting in the outbox of the session's trace writer (0 without one). Cheap."""
        count = getattr(self.session.tracer, "pending_count", None)
        return count() if count is not None else 0

    @work(thread=True, exclusive=True, group="outbox", exit_on_error=False)
    def deliver_waiting(self) -> None:
        """Send the turns waiting in the outbox (a thread: it writes over HTTP), when there are any."""
        deliver = getattr(self.session.tracer, "deliver_pending", None)
        # The dashboard's sink also sends what waits for other experiments of the same server.
        can_send = getattr(self.session.tracer, "can_send", None)
        if deliver is None or not (can_send() if can_send is not None else self.pending_count()):
            return
        delivery = deliver()
        self.post_message(self.TurnsWaiting(self.pending_count(), delivery.delivered, delivery.sentence))

    def on_chat_pane_turns_waiting(self, message: TurnsWaiting) -> None:
        self.turns_waiting = message.count  # the message goes on to the app (status bar, poll now)
        self._show_delivered()

    def _show_delivered(self) -> None:
        """Answers that waited in the outbox and are traced now show their trace id."""
        delivered = getattr(self.session.tracer, "delivered_ids", None)
        if not delivered:
            return
        for answer in self.answers:
            if answer.result is not None and answer.result.queued_trace_id in delivered:
                answer.mark_traced()

    def watch_answering(self, answering: bool) -> None:
        if self.is_mounted:
            # On the input only: a class on the pane restyles every block of every answer
            # (measured: 2.3 s with one long answer on screen).
            self.input.set_class(answering, "-answering")
            self.input.placeholder = self._placeholder()

    # -- sending ---------------------------------------------------------------------------

    @on(Input.Submitted, "#chat-input")
    async def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        prompt = event.value.strip()
        if not prompt:
            return
        if self.answering:
            self.app.bell()
            self.notify("An answer is still streaming; press Esc to stop it first.", severity="warning")
            return
        await self.send(prompt)

    async def send(self, prompt: str) -> AnswerMessage:
        """Show `prompt`, start its answer streaming, and return the answer's widget."""
        self.input.remember(prompt)
        self.input.clear()
        answer = AnswerMessage(self.session.model)
        await self.log.mount_all([PromptMessage(prompt), answer])
        self.log.anchor()  # follow the bottom while the answer grows (until the user scrolls up)
        self.answers.append(answer)
        self.answering = True
        self._stream_answer(prompt, answer)
        return answer

    @work(exclusive=True, group="chat", exit_on_error=False)
    async def _stream_answer(self, prompt: str, answer: AnswerMessage) -> TurnResult:
        # The turn starts at Enter: on first use it loads litellm (a span of its trace) while
        # the highlighter loads here, both in threads.
        turn = self._turn = self.session.start_turn(prompt)
        await asyncio.to_thread(load_highlighting)
        freeze_heap()
        try:
            async for delta in turn:
                # A model's text is data: escapes and controls become visible before Markdown sees them.
                # Appending is cheap: the next frame draws what changed, however many deltas came.
                if answer.body.append(make_visible(delta)):
                    freeze_heap()  # a segment finished: its objects live on (tracetui/gc_policy.py)
        finally:
            answer.body.finish()  # the rest, an unclosed fence included, is drawn as the last segment
        result = await turn.result()
        freeze_heap()  # also freezes what the trace writer imported (mlflow, opentelemetry)
        answer.show_result(result)
        self._turn = None
        self.answering = False
        self.post_message(self.TurnFinished(result))
        self._show_delivered()  # a traced turn first sends the turns waiting before it
        waiting = self.pending_count()  # the outbox's count
        if waiting or self.turns_waiting:
            self.post_message(self.TurnsWaiting(waiting))
        return result

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "chat":
            return
        if event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            if self._turn is not None:
                self._turn.cancel()
            self._turn = None
            self.answering = False
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            sentence = f"The chat failed unexpectedly ({type(error).__name__}): {one_line(str(error))}"
            self.log.mount(ChatBanner(sentence, error=True))

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.answering  # otherwise Esc goes on to the app's own bindings
        return True

    def action_stop(self) -> None:
        """Stop the streaming answer; the text that arrived stays, and the turn is still traced."""
        if self._turn is not None:
            self._turn.cancel()

    def action_show_trace(self) -> None:
        """Open the trace of the focused answer, else of the latest answer that has one."""
        focused = self.screen.focused
        if isinstance(focused, AnswerMessage) and focused in self.answers:
            focused.action_show_trace()
            return
        for answer in reversed(self.answers):
            if answer.trace_id is not None:
                self.post_message(self.ShowTrace(answer.trace_id))
                return
        if self.answers and self.answers[-1].result is not None:
            self.answers[-1].action_show_trace()  # says why there is no trace
        else:
            self.notify("No traced answer yet.")

    def action_pick_model(self) -> None:
        self.app.push_screen(ModelPicker(self.ollama, self.session.model), self._model_chosen)

    def _model_chosen(self, model: str | None) -> None:
        if model is None or model == self.session.model:
            return
        self.set_model(model)

    def set_model(self, model: str) -> None:
        """Use `model` (a litellm model string) from the next turn on."""
        self.session.model = model
        self._show_model()

    def action_clear(self) -> None:
        """Forget the conversation (the model no longer sees it) and empty the pane."""
        if self.answering:
            self.action_stop()
        self.session.clear()
        self.answers.clear()
        self.log.remove_children()
        release_heap()  # the removed answers were frozen; let the collector reclaim them

    def system_commands(self) -> Iterable[SystemCommand]:
        """Entries for the command palette; the app yields them from `get_system_commands`."""
        yield SystemCommand("Chat: pick model", "Choose the model from Ollama's list", self.action_pick_model)
        yield SystemCommand(
            "Chat: open last trace", "Open the latest answer's trace in the list", self.action_show_trace
        )
        yield SystemCommand("Chat: clear conversation", "Start over with an empty history", self.action_clear)
