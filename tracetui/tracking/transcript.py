"""The turns of a conversation read back from traces, and a session as a Markdown transcript.

A turn is (prompt, answer) plus what is known about it. It is reconstructed
from the root span's inputs/outputs (`{"prompt": …}` / `{"answer": …}` for
tracetui's chat turns, other keys for other programs) or else from the LLM
span's chat messages; `turn_from_info` does the same from a trace summary's
previews (cheap, but MLflow cuts previews, so `complete` is False).

The Markdown is safe to open anywhere: model and trace text goes into fenced
code blocks whose fence is longer than any backtick run in the text (so it can
neither close the block nor be read as HTML), inline values are escaped, and
control characters are made visible.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timezone
from typing import Any

from tracetui.formatting import date_time, duration_ms, token_pair
from tracetui.tracking.call_path import is_llm_span, model_endpoint
from tracetui.tracking.models import STATE_ERROR, STATUS_ERROR, Span, TokenUsage, Trace, TraceInfo
from tracetui.visible import make_visible, one_line

UTC = timezone.utc  # transcripts name their times in UTC: they are read anywhere
IN_PROGRESS = "in progress"

# Keys programs commonly use for the question and the answer of a turn, in preference order.
PROMPT_KEYS = ("prompt", "question", "query", "input", "message", "text", "content")
ANSWER_KEYS = ("answer", "output", "response", "result", "text", "content")


@dataclass(frozen=True, slots=True)
class Turn:
    trace_id: str
    prompt: str  # raw text from the trace: make it visible before showing it
    answer: str
    model: str | None
    request_time_ms: int
    duration_ms: int | None
    state: str
    token_usage: TokenUsage | None = None
    error: str | None = None
    complete: bool = True  # False when read from previews MLflow may have cut


# --- reading text out of span values ----------------------------------------------------


def _content_text(content: Any) -> str | None:
    """An OpenAI-style message content: a string, or a list of parts with text."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, (str, bytes)):
        texts = [
            part.get("text")
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return "\n".join(texts) if texts else None
    return None


def _pick(value: Any, keys: Sequence[str]) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in keys:
            text = _content_text(value.get(key))
            if text is not None:
                return text
        if len(value) == 1:
            only = next(iter(value.values()))
            if isinstance(only, str):
                return only
    return None


def _last_user_message(messages: Any) -> str | None:
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
        return None
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return None


def _choice_text(outputs: Any) -> str | None:
    if not isinstance(outputs, Mapping):
        return None
    choices = outputs.get("choices")
    if isinstance(choices, Sequence) and not isinstance(choices, str) and choices:
        first = choices[0]
        if isinstance(first, Mapping):
            message = first.get("message")
            if isinstance(message, Mapping):
                return _content_text(message.get("content"))
            return _content_text(first.get("text"))
    return None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _llm_spans(trace: Trace) -> list[Span]:
    return sorted((s for s in trace.spans if is_llm_span(s)), key=lambda s: s.start_time_ns)


def turn_from_trace(trace: Trace) -> Turn:
    """The turn one trace records (any program's trace; best effort for odd shapes)."""
    info = trace.info
    roots = trace.roots()
    root = roots[0] if roots else None
    llms = _llm_spans(trace)
    first_llm = llms[0] if llms else None
    last_llm = llms[-1] if llms else None

    prompt = _pick(root.inputs, PROMPT_KEYS) if root is not None else None
    if prompt is None and first_llm is not None and isinstance(first_llm.inputs, Mapping):
        prompt = _last_user_message(first_llm.inputs.get("messages"))
    if prompt is None:
        prompt = _as_text(root.inputs if root is not None else None)

    answer = _pick(root.outputs, ANSWER_KEYS) if root is not None else None
    if answer is None and last_llm is not None:
        answer = _choice_text(last_llm.outputs)
    if answer is None:
        answer = _as_text(root.outputs if root is not None else None)

    error = None
    failed = next((s for s in trace.spans if s.status_code == STATUS_ERROR and s.status_message), None)
    if failed is not None:
        error = failed.status_message
    elif info.state == STATE_ERROR:
        error = "the trace ended in an error"
    return Turn(
        trace_id=info.trace_id,
        prompt=prompt,
        answer=answer,
        model=model_endpoint(first_llm).model if first_llm is not None else None,
        request_time_ms=info.request_time_ms,
        duration_ms=info.execution_duration_ms,
        state=info.state,
        token_usage=info.token_usage,
        error=error,
    )


def _preview_value(preview: str) -> Any:
    try:
        return json.loads(preview)
    except ValueError:
        return preview  # cut mid-JSON, or plain text


def turn_from_info(info: TraceInfo, model: str | None = None) -> Turn:
    """A turn from a trace summary's request/response previews (no spans needed)."""
    prompt = _pick(_preview_value(info.request_preview), PROMPT_KEYS)
    answer = _pick(_preview_value(info.response_preview), ANSWER_KEYS)
    return Turn(
        trace_id=info.trace_id,
        prompt=prompt if prompt is not None else info.request_preview,
        answer=answer if answer is not None else info.response_preview,
        model=model,
        request_time_ms=info.request_time_ms,
        duration_ms=info.execution_duration_ms,
        state=info.state,
        token_usage=info.token_usage,
        error="the trace ended in an error" if info.state == STATE_ERROR else None,
        complete=False,
    )


def turns_to_messages(turns: Iterable[Turn]) -> list[dict[str, str]]:
    """Chat history to continue the conversation: user/assistant messages, oldest first.

    Turns that failed without an answer are left out (the model never said anything).
    """
    messages: list[dict[str, str]] = []
    for turn in turns:
        if not turn.answer:
            continue
        messages.append({"role": "user", "content": turn.prompt})
        messages.append({"role": "assistant", "content": turn.answer})
    return messages


# --- Markdown ----------------------------------------------------------------------------

# Only what has a meaning mid-line: every inline value follows a fixed prefix ("- Trace: "),
# so line-start marks (#, -, +, 1.) cannot take effect.
_MD_PUNCTUATION = set("\\`*_[]!|~")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def markdown_inline(text: str, width: int = 200) -> str:
    """Untrusted text for a Markdown line: one line, controls visible, HTML and
    Markdown punctuation escaped so it is shown literally."""
    out = []
    for ch in one_line(text, width):
        if ch in _HTML:
            out.append(_HTML[ch])
        elif ch in _MD_PUNCTUATION:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def markdown_block(text: str) -> str:
    """Untrusted text as a fenced code block that nothing inside can close."""
    body = make_visible(text, keep_newlines=True)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def session_markdown(
    session_id: str,
    turns: Sequence[Turn],
    *,
    experiment_id: str | None = None,
    server_url: str | None = None,
) -> str:
    """A session as a Markdown transcript: a header, then each turn with its trace id,
    time, model, duration and tokens, the prompt and the answer."""
    lines = [f"# Session {markdown_inline(session_id)}", ""]
    if server_url:
        lines.append(f"- Tracking server: {markdown_inline(server_url)}")
    if experiment_id is not None:
        lines.append(f"- Experiment: {markdown_inline(experiment_id)}")
    lines.append(f"- Turns: {len(turns)}")
    if turns:
        first, last = (date_time(t.request_time_ms, UTC) for t in (turns[0], turns[-1]))
        lines.append(f"- From {first} to {last}")
    models = sorted({t.model for t in turns if t.model})
    if models:
        lines.append(f"- Model: {', '.join(markdown_inline(m, 80) for m in models)}")
    lines.append("")
    for number, turn in enumerate(turns, start=1):
        lines += [f"## Turn {number}", ""]
        lines.append(f"- Trace: {markdown_inline(turn.trace_id, 80)}")
        lines.append(f"- Time: {date_time(turn.request_time_ms, UTC)}")
        if turn.model:
            lines.append(f"- Model: {markdown_inline(turn.model, 80)}")
        details = [
            f"Duration: {duration_ms(turn.duration_ms, spaced=True, unknown=IN_PROGRESS)}",
            f"State: {markdown_inline(turn.state, 20)}",
        ]
        tokens = token_pair(turn.token_usage)
        if tokens:
            details.append(f"Tokens: {tokens}")
        lines.append("- " + ", ".join(details))
        if turn.error:
            lines.append(f"- Error: {markdown_inline(turn.error, 300)}")
        if not turn.complete:
            lines.append("- Text from MLflow's previews, which may be cut short")
        lines += ["", "**Prompt**", "", markdown_block(turn.prompt), ""]
        lines += ["**Answer**", "", markdown_block(turn.answer) if turn.answer else "_(no answer)_", ""]
    return "\n".join(lines)
