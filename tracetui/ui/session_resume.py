"""Continue an earlier chat session in the chat pane.

The app reads the session's turns (`tracking.sessions.session_turns`, in a
worker) and calls `load_session_into_chat`. The pane then shows the earlier
prompts and answers, the model sees them as history, and the next turn is
traced under the same `mlflow.trace.session`, because the ChatSession takes
the session's id (its traces carry `ChatSession.session_id` as that metadata).

Only the pane's and the session's public parts are used (`action_clear`,
`log`, `answers`, `input.remember`, `ChatSession.session_id/history`).
"""

from __future__ import annotations

from collections.abc import Sequence

from tracetui.chat.session import TurnResult
from tracetui.tracking.transcript import Turn, turns_to_messages
from tracetui.ui.widgets.chat_message import AnswerMessage, ChatBanner, PromptMessage
from tracetui.ui.widgets.chat_pane import ChatPane
from tracetui.visible import make_visible, one_line


def turn_result(turn: Turn, fallback_model: str) -> TurnResult:
    """A finished turn read back from its trace, in the shape the answer footer shows."""
    usage = turn.token_usage
    return TurnResult(
        prompt=turn.prompt,
        answer=turn.answer,
        model=turn.model or fallback_model,
        trace_id=turn.trace_id,
        traced=True,
        error=turn.error,
        input_tokens=usage.input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
        duration_ms=float(turn.duration_ms or 0),
    )


async def load_session_into_chat(pane: ChatPane, session_id: str, turns: Sequence[Turn]) -> None:
    """Replace the pane's conversation with the session's `turns` (oldest first) and continue it."""
    pane.action_clear()  # stops a streaming answer, forgets the old history, empties the log
    session = pane.session
    session.session_id = session_id
    session.history[:] = turns_to_messages(turns)
    answers = [AnswerMessage(turn.model or session.model) for turn in turns]
    widgets: list[PromptMessage | AnswerMessage | ChatBanner] = []
    for turn, answer in zip(turns, answers, strict=True):
        widgets += [PromptMessage(turn.prompt), answer]
    cut = sum(1 for turn in turns if not turn.complete)
    note = f"Continuing session {one_line(session_id, 40)}: {len(turns)} earlier turns, which the model sees."
    if cut:
        note += f" {cut} of them come from MLflow's previews and may be cut short."
    widgets.append(ChatBanner(note, error=False))
    await pane.log.mount_all(widgets)
    for turn, answer in zip(turns, answers, strict=True):
        # A model's text is data: controls become visible before Markdown sees them.
        answer.body.append(make_visible(turn.answer))
        answer.body.finish()
        answer.show_result(turn_result(turn, session.model))
        pane.answers.append(answer)
        pane.input.remember(turn.prompt)
    pane.log.scroll_end(animate=False)
