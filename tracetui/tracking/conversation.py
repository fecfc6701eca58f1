"""A span's inputs or outputs as a conversation, whatever convention wrote the messages.

Shapes read (each message becomes one `(role, text)` line):
- MLflow's and OpenAI's chat messages: `[{role, content}]`, `{"messages": […]}`,
  a completion `{"choices": [{"message": …}]}`; content a string or a list of
  parts with text; an assistant's `tool_calls`, a tool's `tool_call_id`.
- OpenTelemetry GenAI's `parts` format (gen_ai.input.messages /
  gen_ai.output.messages, which MLflow keeps as the span's inputs/outputs):
  `[{role, parts: [{type: text|tool_call|tool_call_response|reasoning|…}]}]`,
  and gen_ai.system_instructions (a list of parts) as a system line first.
- The older event-based form: span events gen_ai.system/user/assistant/tool.message
  and gen_ai.choice, with a `content` attribute (JSON or text).
- OpenInference's flattened attributes llm.input_messages.N.message.role /
  .content / .contents.M.message_content.text / .tool_calls.M.tool_call.function.*.

A part or message this module cannot read is shown as its compact JSON, never as
an empty line. Returns None when the value is not a conversation at all (the
caller shows the raw value). Pure: no Textual or Rich.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tracetui.tracking.models import Span

Line = tuple[str, str]  # (role, text): raw trace text, made visible by whoever shows it

SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
_GENAI_MESSAGE_KEYS = {"inputs": "gen_ai.input.messages", "outputs": "gen_ai.output.messages"}
_OPENINFERENCE_PREFIX = {"inputs": "llm.input_messages.", "outputs": "llm.output_messages."}
_EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_CHOICE_EVENT = "gen_ai.choice"


def _compact(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        return repr(value)


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


# --- one part, one message -------------------------------------------------------------


def _tool_call_text(name: Any, arguments: Any, call_id: Any = None) -> str:
    args = arguments if isinstance(arguments, str) else _compact(arguments) if arguments is not None else ""
    ident = f" [{call_id}]" if isinstance(call_id, str) and call_id else ""
    return f"→ tool call {name}({args}){ident}"


def part_text(part: Any) -> str:
    """One content part (GenAI `parts` or OpenAI content parts) as text."""
    if isinstance(part, str):
        return part
    if not isinstance(part, Mapping):
        return _compact(part)
    kind = part.get("type")
    if kind in ("text", "input_text", "output_text", None) and isinstance(part.get("text"), str):
        return part["text"]
    if kind == "text" and isinstance(part.get("content"), str):
        return part["content"]
    if kind == "reasoning" and isinstance(part.get("content"), str):
        return f"(reasoning) {part['content']}"
    if kind == "tool_call":
        return _tool_call_text(part.get("name"), part.get("arguments"), part.get("id"))
    if kind in ("tool_call_response", "tool_call_result"):
        result = part.get("response", part.get("result"))
        ident = part.get("id")
        head = f"← tool result [{ident}]" if isinstance(ident, str) and ident else "← tool result"
        return f"{head}: {result if isinstance(result, str) else _compact(result)}"
    return _compact(part)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if _is_list(content):
        return "\n".join(part_text(part) for part in content)
    return _compact(content)


def message_line(message: Mapping[str, Any]) -> Line:
    """One chat message (OpenAI, MLflow or GenAI `parts`) as a line; unreadable → its JSON."""
    role = message.get("role")
    role = role if isinstance(role, str) else "?"
    pieces: list[str] = []
    if _is_list(message.get("parts")):
        pieces += [part_text(part) for part in message["parts"]]
    content = message.get("content")
    if content not in (None, "", []):
        pieces.append(_content_text(content))
    for call in message.get("tool_calls") or []:
        if isinstance(call, Mapping):
            function = call.get("function") if isinstance(call.get("function"), Mapping) else call
            pieces.append(_tool_call_text(function.get("name"), function.get("arguments"), call.get("id")))
    if isinstance(message.get("tool_call_id"), str) and pieces:
        pieces[0] = f"[{message['tool_call_id']}] {pieces[0]}"
    text = "\n".join(piece for piece in pieces if piece)
    if not text:
        rest = {k: v for k, v in message.items() if k != "role"}
        text = _compact(rest) if rest else "(empty)"
    return role, text


def _is_message(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("role"), str)


def messages_lines(value: Any) -> list[Line] | None:
    """The lines of a message list, a {"messages": …} request or an OpenAI completion; else None."""
    value = _maybe_json(value)
    if isinstance(value, Mapping):
        if _is_list(value.get("messages")):
            value = value["messages"]
        elif _is_list(value.get("choices")):
            value = [c.get("message") for c in value["choices"] if isinstance(c, Mapping)]
        elif _is_message(value):
            value = [value]
        else:
            return None
    if not _is_list(value) or not value or not all(_is_message(m) for m in value):
        return None
    return [message_line(m) for m in value]


# --- other places the messages can be ----------------------------------------------------


def system_instruction_lines(span: Span) -> list[Line]:
    value = _maybe_json(span.attributes.get(SYSTEM_INSTRUCTIONS))
    if value is None:
        return []
    parts = value if _is_list(value) else [value]
    text = "\n".join(part_text(part) for part in parts)
    return [("system", text)] if text else []


_OI_KEY = re.compile(r"(\d+)\.message\.(.+)")


def openinference_lines(attributes: Mapping[str, Any], prefix: str) -> list[Line] | None:
    """Messages flattened as `prefix`N.message.role / .content / .contents.M… / .tool_calls.M…"""
    messages: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if not key.startswith(prefix):
            continue
        match = _OI_KEY.fullmatch(key[len(prefix) :])
        if match is None:
            continue
        messages.setdefault(int(match.group(1)), {})[match.group(2)] = value
    if not messages:
        return None
    lines = []
    for index in sorted(messages):
        fields = messages[index]
        pieces = []
        if isinstance(fields.get("content"), str):
            pieces.append(fields["content"])
        contents = sorted(k for k in fields if k.startswith("contents."))
        pieces += [str(fields[k]) for k in contents if k.endswith(".message_content.text")]
        calls: dict[str, dict[str, Any]] = {}
        for key in fields:
            found = re.fullmatch(r"tool_calls\.(\d+)\.tool_call\.(.+)", key)
            if found:
                calls.setdefault(found.group(1), {})[found.group(2)] = fields[key]
        for number in sorted(calls, key=int):
            call = calls[number]
            pieces.append(
                _tool_call_text(call.get("function.name"), call.get("function.arguments"), call.get("id"))
            )
        if isinstance(fields.get("tool_call_id"), str) and pieces:
            pieces[0] = f"[{fields['tool_call_id']}] {pieces[0]}"
        text = "\n".join(p for p in pieces if p) or _compact(fields)
        role = fields.get("role")
        lines.append((role if isinstance(role, str) else "?", text))
    return lines


def event_lines(span: Span, which: str) -> list[Line] | None:
    """The older GenAI form: one span event per message (inputs) or per choice (outputs)."""
    lines = []
    for event in span.events:
        attributes = event.attributes
        if which == "inputs" and event.name in _EVENT_ROLES:
            role = _EVENT_ROLES[event.name]
        elif which == "outputs" and event.name == _CHOICE_EVENT:
            message = _maybe_json(attributes.get("message"))
            if _is_message(message):
                lines.append(message_line(message))
                continue
            role = attributes.get("role") if isinstance(attributes.get("role"), str) else "assistant"
        else:
            continue
        content = _maybe_json(attributes.get("content", attributes.get("gen_ai.event.content")))
        if _is_message(content):
            lines.append(message_line(content))
        elif content is not None:
            lines.append((role, _content_text(content)))
        else:
            lines.append((role, _compact(dict(attributes)) if attributes else "(no content recorded)"))
    return lines or None


def span_conversation(span: Span, which: str) -> list[Line] | None:
    """The span's inputs (`which="inputs"`) or outputs as conversation lines, or None.

    MLflow's inputs/outputs first; then, for spans MLflow did not translate, the
    GenAI attributes, OpenInference's flattened attributes and the GenAI events.
    System instructions (kept apart by the GenAI conventions) open the inputs.
    """
    value = span.inputs if which == "inputs" else span.outputs
    lines = messages_lines(value)
    if lines is None:
        lines = messages_lines(span.attributes.get(_GENAI_MESSAGE_KEYS[which]))
    if lines is None:
        lines = openinference_lines(span.attributes, _OPENINFERENCE_PREFIX[which])
    if lines is None:
        lines = event_lines(span, which)
    if which == "inputs":
        system = system_instruction_lines(span)
        if system and (lines is None or lines[:1] != system):
            lines = system + (lines or [])
    return lines
