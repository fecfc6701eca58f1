"""Thumbs up or down on a trace, with an optional comment, stored as an MLflow assessment.

`+` / `-` (or the buttons) choose the vote and move to the comment; Enter sends.
The vote is stored by `tracetui.tracking.feedback.set_feedback` in a worker
(a new vote replaces this person's previous one). Failure stays on the screen
as one sentence, so the person can retry; success closes it with the stored
`Assessment` and one sentence in a notification.

The list's cell for a trace's vote in force is `trace_list.feedback_mark(info)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from tracetui.tracking.errors import TrackingError
from tracetui.tracking.feedback import current_feedback, set_feedback, thumbs
from tracetui.tracking.models import Assessment, TraceInfo
from tracetui.ui.widgets.trace_list import DOWN_MARK, UP_MARK
from tracetui.visible import make_visible, one_line

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient


@dataclass(frozen=True, slots=True)
class FeedbackSent:
    """What the screen is dismissed with after a stored vote."""

    trace_id: str
    assessment: Assessment
    sentence: str


def vote_word(thumbs_up: bool) -> str:
    return "thumbs up" if thumbs_up else "thumbs down"


class FeedbackScreen(ModalScreen[FeedbackSent | None]):
    """Vote on `trace_id`; dismissed with `FeedbackSent`, or None on Escape.

    Pass the trace's `info` when at hand (the list has it): it shows the current
    vote and saves the request that reads it.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Close"),
        Binding("plus,equals_sign", "vote(True)", "Thumbs up"),
        Binding("minus", "vote(False)", "Thumbs down"),
        Binding("ctrl+s", "send", "Send"),
    ]

    DEFAULT_CSS = """
    FeedbackScreen { align: center middle; }
    FeedbackScreen > #feedback-box {
        width: 64; max-width: 100%; height: auto; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    FeedbackScreen #feedback-votes { height: auto; margin: 1 0; }
    FeedbackScreen #feedback-votes Button { width: 1fr; margin: 0 1 0 0; }
    FeedbackScreen Button.-chosen { text-style: bold reverse; }
    FeedbackScreen #feedback-status { height: auto; margin: 1 0 0 0; color: $text-muted; }
    FeedbackScreen #feedback-status.-error { color: $text-error; }
    """

    vote: reactive[bool | None] = reactive(None)
    sending: reactive[bool] = reactive(False)

    def __init__(self, client: TrackingClient, trace_id: str, info: TraceInfo | None = None) -> None:
        super().__init__()
        self.client = client
        self.trace_id = trace_id
        self.info = info
        self.previous = thumbs(current_feedback(info)) if info is not None else None

    def compose(self) -> ComposeResult:
        with Vertical(id="feedback-box"):
            title = Text("Feedback on trace ", style="bold", end="")
            title.append(one_line(self.trace_id, 40))
            yield Static(title)
            if self.previous is not None:
                yield Static(
                    Text(f"Your vote now: {vote_word(self.previous)}. A new vote replaces it.", style="dim")
                )
            with Horizontal(id="feedback-votes"):
                yield Button(f"{UP_MARK} Up  (+)", id="feedback-up", variant="success")
                yield Button(f"{DOWN_MARK} Down  (-)", id="feedback-down", variant="error")
            yield Input(placeholder="Comment (optional) · Enter sends · Esc closes", id="feedback-comment")
            yield Static(Text("Choose + or -, then Enter.", end=""), id="feedback-status")

    def on_mount(self) -> None:
        self.query_one("#feedback-up", Button).focus()

    # -- choosing --------------------------------------------------------------------------

    def action_vote(self, thumbs_up: bool) -> None:
        if self.sending:
            return
        self.vote = thumbs_up
        self.query_one("#feedback-comment", Input).focus()

    def watch_vote(self, vote: bool | None) -> None:
        self.query_one("#feedback-up", Button).set_class(vote is True, "-chosen")
        self.query_one("#feedback-down", Button).set_class(vote is False, "-chosen")
        if vote is not None:
            self._status(f"{vote_word(vote).capitalize()} chosen; Enter sends.")

    @on(Button.Pressed, "#feedback-up")
    def _up(self) -> None:
        self.action_vote(True)

    @on(Button.Pressed, "#feedback-down")
    def _down(self) -> None:
        self.action_vote(False)

    @on(Input.Submitted, "#feedback-comment")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_send()

    # -- sending ---------------------------------------------------------------------------

    def action_send(self) -> None:
        if self.sending:
            return
        if self.vote is None:
            self._status("Choose a vote first: + for thumbs up, - for thumbs down.", error=True)
            return
        comment = self.query_one("#feedback-comment", Input).value
        self.sending = True
        self._status("Sending…")
        self._send(self.vote, comment)

    def watch_sending(self, sending: bool) -> None:
        for widget in self.query("#feedback-votes Button, #feedback-comment"):
            widget.disabled = sending

    @work(exclusive=True, group="feedback", exit_on_error=False)
    async def _send(self, thumbs_up: bool, comment: str) -> None:
        try:
            assessment = await set_feedback(
                self.client, self.trace_id, thumbs_up=thumbs_up, comment=comment or None, info=self.info
            )
        except TrackingError as error:
            self.sending = False
            self._status(str(error), error=True)
            self.query_one("#feedback-comment", Input).focus()
            return
        except Exception as error:  # noqa: BLE001 - a sentence on the screen, not a traceback
            self.sending = False
            self._status(
                f"Storing the feedback failed ({type(error).__name__}): {one_line(str(error), 200)}",
                error=True,
            )
            return
        sentence = f"Stored {vote_word(thumbs_up)} on trace {one_line(self.trace_id, 40)}."
        self.app.notify(sentence, markup=False)
        self.dismiss(FeedbackSent(self.trace_id, assessment, sentence))

    def _status(self, sentence: str, *, error: bool = False) -> None:
        status = self.query_one("#feedback-status", Static)
        status.update(Text(make_visible(sentence), end=""))
        status.set_class(error, "-error")

    def action_cancel(self) -> None:
        if self.sending:
            # The request may still land; closing now would hide whether it did.
            self._status("Still sending; wait for the answer.", error=False)
            return
        self.dismiss(None)
