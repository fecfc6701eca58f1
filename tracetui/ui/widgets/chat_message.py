"""One exchange of the chat as widgets: the prompt, the streamed answer, its footer and banners.

Everything shown here came from a person or a model, so it is data: the prompt
and every sentence are `Content` built from plain strings (never markup), and
the answer is Markdown whose text went through `make_visible` first, so escape
and control characters show as ␛-style stand-ins instead of reaching the terminal.
"""

from __future__ import annotations

import dataclasses

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from tracetui.chat.ollama import ollama_model_tag
from tracetui.chat.session import TurnResult
from tracetui.ui.messages import ShowTrace
from tracetui.ui.safe_text import safe_content
from tracetui.ui.widgets.answer_view import AnswerView


def model_label(litellm_model: str) -> str:
    """'ollama_chat/qwen2.5' -> 'qwen2.5'; other providers keep their full model string."""
    return ollama_model_tag(litellm_model) or litellm_model


def footer_text(result: TurnResult) -> str:
    """The line under a finished answer: trace (or why not), tokens, speed, time."""
    parts: list[str] = []
    if result.cancelled:
        parts.append("stopped")
    if result.trace_id is not None:
        parts.append(f"trace {result.trace_id}")
    elif result.queued:  # why it waits is on the status line, for every waiting turn at once
        parts.append(f"waiting to be traced ({result.waiting} in the outbox)")
    else:
        parts.append(f"not traced: {result.not_traced_reason or 'the turn was not traced.'}")
    if result.input_tokens is not None or result.output_tokens is not None:
        tokens_in = "?" if result.input_tokens is None else str(result.input_tokens)
        tokens_out = "?" if result.output_tokens is None else str(result.output_tokens)
        parts.append(f"{tokens_in}→{tokens_out} tok")
    speed = tokens_per_s(result)
    if speed is not None:
        parts.append(f"{speed:.1f} tok/s")
    parts.append(f"{result.duration_ms / 1000:.1f} s")
    return " · ".join(parts)


def tokens_per_s(result: TurnResult) -> float | None:
    """Ollama's own generation speed when its done line arrived, else tokens over the turn's time."""
    if result.generation is not None and result.generation.tokens_per_s is not None:
        return result.generation.tokens_per_s
    if result.output_tokens and result.duration_ms > 0:
        return result.output_tokens / (result.duration_ms / 1000)
    return None


class ChatBanner(Static):
    """One sentence for a person: an error (red) or a note (yellow). Never markup-parsed."""

    DEFAULT_CSS = """
    ChatBanner {
        padding: 0 1;
        margin: 0 0 1 0;
        width: 1fr;
        height: auto;
    }
    ChatBanner.-error { background: $error 20%; color: $text-error; border-left: thick $error; }
    ChatBanner.-note { background: $warning 15%; color: $text-warning; border-left: thick $warning; }
    """

    def __init__(self, sentence: str, *, error: bool = True, id: str | None = None) -> None:
        super().__init__(safe_content(sentence), id=id, classes="-error" if error else "-note")
        self.sentence = sentence


class PromptMessage(Static):
    """What the person asked, shown literally."""

    DEFAULT_CSS = """
    PromptMessage {
        padding: 0 1;
        margin: 0 0 1 0;
        background: $boost;
        height: auto;
    }
    """

    def __init__(self, prompt: str) -> None:
        super().__init__(Content.styled("you› ", "bold $accent") + safe_content(prompt))
        self.prompt = prompt


class AnswerMessage(Vertical, can_focus=True):
    """A model's answer: streamed into Markdown, then a footer with its trace and numbers.

    Focus it and press `t` to open the turn's trace in the trace list.
    """

    BINDINGS = [Binding("t", "show_trace", "Open trace")]

    DEFAULT_CSS = """
    AnswerMessage {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 1;
        border-left: blank;
    }
    /* No background change on focus: the answer's lines are drawn once, on the plain one. */
    AnswerMessage:focus { border-left: thick $accent; }
    AnswerMessage > .answer-model { color: $text-accent; text-style: bold; }
    AnswerMessage > .answer-body { height: auto; }
    AnswerMessage > .answer-footer { color: $text-muted; }
    AnswerMessage > ChatBanner { margin: 0; }
    """

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model
        self.result: TurnResult | None = None
        self.body = AnswerView(classes="answer-body")  # `append` streamed text, then `finish`
        self.footer = Static(Content.styled("…", "dim"), classes="answer-footer")

    @property
    def markdown_source(self) -> str:
        """The Markdown shown (the answer with controls made visible)."""
        return self.body.source

    @property
    def trace_id(self) -> str | None:
        return self.result.trace_id if self.result is not None else None

    def compose(self) -> ComposeResult:
        yield Static(Content(model_label(self.model)), classes="answer-model")
        yield self.body
        yield self.footer

    def show_result(self, result: TurnResult) -> None:
        """Fill the footer and add the banner a failed or empty turn calls for."""
        self.result = result
        self.footer.update(Content(footer_text(result)))
        banners: list[ChatBanner] = []
        if result.error is not None:
            banners.append(ChatBanner(result.error, error=True, id="answer-error"))
        elif result.cancelled and not result.answer:
            banners.append(ChatBanner("Stopped before any text arrived.", error=False))
        # What happened to the trace is said once, in the footer: its id, "waiting", or why not.
        if banners:
            self.mount_all(banners, before=self.footer)
        if not result.answer and result.error is not None:
            self.body.display = False

    def mark_traced(self, trace_id: str) -> None:
        """The turn waited in the outbox and is now traced as `trace_id`: its footer shows it.

        (Servers before 3.5 choose the id themselves, so it may differ from `queued_trace_id`.)
        """
        result = self.result
        if result is None or result.queued_trace_id is None:
            return
        self.result = dataclasses.replace(
            result, trace_id=trace_id, traced=True, queued=False, not_traced_reason=None
        )
        self.footer.update(Content(footer_text(self.result)))

    def action_show_trace(self) -> None:
        if self.trace_id is not None:
            self.post_message(ShowTrace(self.trace_id))
        elif self.result is not None:
            self.notify(self.result.not_traced_reason or "This turn was not traced.", severity="warning")
        else:
            self.notify("The answer is still arriving; its trace comes when it ends.")
