"""A trace as a sequence diagram: Python program -> litellm -> Ollama -> model, and MLflow.

`build_sequence(trace)` turns the spans of one trace into participants and
messages (call and return arrows) in time order, each with the latency of its
hop. The app's own chat traces name every hop with the span attribute
`tracetui.hop`; traces of other programs (plain `mlflow.litellm.autolog()`)
have only the LLM span, so the Ollama and model participants are derived from
its attributes (see call_path) and their arrows carry the LLM span's timings,
marked `derived`. The trace reaches MLflow when it ends: a last arrow
"log trace" from the program to MLflow.

Two renderings, both safe for untrusted span names:
- `to_mermaid(diagram)`: Mermaid `sequenceDiagram` text; every character that
  could end a statement or open markup is written as a Mermaid entity (#59;).
- `to_text_lines(diagram)`: plain lines for a terminal, a column per
  participant; control characters made visible (the UI wraps them in Text).

Pure logic: no I/O, no Textual or Rich.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracetui.formatting import duration
from tracetui.tracking.call_path import (
    ATTR_HOP,
    HOP_MODEL,
    HOP_OLLAMA,
    HOP_SETUP,
    derived_hops,
    explicit_hop_kind,
    first_chunk_offset_ns,
    http_call_label,
    http_status_label,
    is_llm_span,
    model_endpoint,
    ollama_hosts_in,
    ollama_title,
)
from tracetui.tracking.conventions import is_http_client_span
from tracetui.tracking.models import STATUS_ERROR, Span, TokenUsage, Trace
from tracetui.visible import one_line

# Participant kinds, in the left-to-right order they are drawn.
KIND_PYTHON = "python"
KIND_CLIENT = "client"  # litellm, or another client library's LLM span
KIND_OLLAMA = "ollama"
KIND_MODEL = "model"
KIND_MLFLOW = "mlflow"
_KIND_ORDER = {KIND_PYTHON: 0, KIND_CLIENT: 1, KIND_OLLAMA: 2, KIND_MODEL: 3, KIND_MLFLOW: 4}

CALL = "call"
RETURN = "return"

MAX_CALLS = 50  # LLM calls drawn; an agent with thousands of calls gets a note instead
LABEL_CHARS = 48  # longest label kept (untrusted names are cut here)
PARTICIPANT_CHARS = 32


@dataclass(frozen=True, slots=True)
class Participant:
    kind: str  # KIND_*
    label: str  # one line, controls visible, at most PARTICIPANT_CHARS


@dataclass(frozen=True, slots=True)
class Message:
    """One arrow. `source`/`target` index `SequenceDiagram.participants`."""

    source: int
    target: int
    kind: str  # CALL or RETURN
    label: str  # one line, controls visible, at most LABEL_CHARS
    offset_ns: int  # when, from the trace's start
    duration_ns: int | None  # the hop's latency this arrow reports, when known
    derived: bool = False  # timings borrowed from the LLM span (no span of its own)
    error: bool = False


@dataclass(frozen=True, slots=True)
class SequenceDiagram:
    trace_id: str
    participants: tuple[Participant, ...]
    messages: tuple[Message, ...]
    omitted_calls: int = 0  # LLM calls beyond MAX_CALLS, not drawn


# --- building ------------------------------------------------------------------------


def _clean(text: Any, width: int = LABEL_CHARS) -> str:
    return one_line(str(text), width)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _ms_attr_ns(span: Span, key: str) -> int | None:
    value = _number(span.attributes.get(key))
    return None if value is None or value < 0 else int(value * 1e6)


def _usage(span: Span) -> TokenUsage | None:
    if span.token_usage is not None:
        return span.token_usage
    outputs = span.outputs if isinstance(span.outputs, Mapping) else {}
    usage = outputs.get("usage")
    if isinstance(usage, Mapping) and isinstance(usage.get("completion_tokens"), int):
        return TokenUsage(output_tokens=usage["completion_tokens"])
    return None


def _is_litellm(span: Span) -> bool:
    return (
        span.attributes.get(ATTR_HOP) == "litellm"
        or span.name.lower().startswith("litellm")
        or "call_type" in span.attributes
    )


class _Builder:
    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.groups = trace.children_by_parent()
        self.by_id = {span.span_id: span for span in trace.spans}
        starts = [span.start_time_ns for span in trace.spans]
        self.origin_ns = min(starts) if starts else trace.info.request_time_ms * 1_000_000
        self.participants: list[Participant] = []
        self.index: dict[tuple[str, str], int] = {}
        self.messages: list[Message] = []
        self.ollama_hosts = ollama_hosts_in(trace)

    def participant(self, kind: str, label: str) -> int:
        key = (kind, label)
        if key not in self.index:
            self.index[key] = len(self.participants)
            self.participants.append(Participant(kind, label))
        return self.index[key]

    def add(
        self,
        source: int,
        target: int,
        kind: str,
        label: str,
        at_ns: int,
        duration_ns: int | None,
        *,
        derived: bool = False,
        error: bool = False,
    ) -> None:
        self.messages.append(
            Message(
                source,
                target,
                kind,
                _clean(label),
                max(0, at_ns - self.origin_ns),
                duration_ns,
                derived,
                error,
            )
        )

    def _has_llm_ancestor(self, span: Span) -> bool:
        parent_id, steps = span.parent_id, 0
        while parent_id is not None and parent_id in self.by_id and steps < 10_000:
            parent = self.by_id[parent_id]
            if is_llm_span(parent) and self._hop_kind(parent) is None:
                return True
            parent_id, steps = parent.parent_id, steps + 1
        return False

    def _hop_kind(self, span: Span) -> str | None:
        parent = self.by_id.get(span.parent_id) if span.parent_id else None
        return explicit_hop_kind(span, parent)

    def llm_calls(self) -> list[Span]:
        """The outermost LLM spans that are not themselves an explicit Ollama/model hop."""
        calls = [
            span
            for span in self.trace.spans
            if is_llm_span(span) and self._hop_kind(span) is None and not self._has_llm_ancestor(span)
        ]
        return sorted(calls, key=lambda span: span.start_time_ns)

    def setup_spans(self) -> list[Span]:
        """Spans of the program's own preparation before calling the model (`tracetui.hop` = setup)."""
        spans = [span for span in self.trace.spans if span.attributes.get(ATTR_HOP) == HOP_SETUP]
        return sorted(spans, key=lambda span: span.start_time_ns)

    def _explicit_child(self, span: Span, kind: str) -> Span | None:
        return next(
            (c for c in self.groups.get(span.span_id, []) if explicit_hop_kind(c, span) == kind), None
        )

    def add_call(self, python: int, llm: Span) -> None:
        endpoint = model_endpoint(llm, ollama_hosts=self.ollama_hosts)
        model = endpoint.model or "model"
        failed = llm.status_code == STATUS_ERROR
        client_label = "litellm" if _is_litellm(llm) else _clean(llm.name, PARTICIPANT_CHARS)
        client = self.participant(KIND_CLIENT, client_label)
        call_type = llm.attributes.get("call_type")
        verb = call_type if isinstance(call_type, str) and call_type else "completion"
        self.add(python, client, CALL, f"{verb}({model})", llm.start_time_ns, None)

        ollama_span = self._explicit_child(llm, HOP_OLLAMA)
        if ollama_span is not None:
            self._explicit_hops(client, ollama_span, llm)
        else:
            self._derived_hops(client, llm)

        chunk = first_chunk_offset_ns(llm)
        if chunk is not None and ollama_span is None:
            self.add(client, python, RETURN, "first chunk", llm.start_time_ns + chunk, chunk)
        usage = _usage(llm)
        answer = "error" if failed else "answer"
        if failed and llm.status_message:
            answer = f"error: {llm.status_message}"
        elif usage is not None and usage.output_tokens is not None:
            answer = f"answer, {usage.output_tokens} tok"
        end = llm.end_time_ns if llm.end_time_ns is not None else llm.start_time_ns
        self.add(client, python, RETURN, answer, end, llm.duration_ns, error=failed)

    def _explicit_hops(self, client: int, ollama_span: Span, llm: Span) -> None:
        # A real HTTP client span (OpenTelemetry instrumentation) is named by its method only.
        http = is_http_client_span(ollama_span)
        title = ollama_title(ollama_span) if http else ollama_span.name
        ollama = self.participant(KIND_OLLAMA, _clean(title, PARTICIPANT_CHARS))
        attributes = ollama_span.attributes
        method = attributes.get("http.request.method") or "POST"
        path = attributes.get("ollama.endpoint") or ""
        call = http_call_label(ollama_span) if http else f"{method} {path}".strip()
        self.add(client, ollama, CALL, call, ollama_span.start_time_ns, None)
        model_span = self._explicit_child(ollama_span, HOP_MODEL)
        if model_span is None and http:
            self._derived_model_below(ollama, ollama_span, llm)
        if model_span is not None:
            model = self.participant(KIND_MODEL, _clean(model_span.name, PARTICIPANT_CHARS))
            prompt_tokens = attributes_int(model_span.attributes, "ollama.prompt_eval_count")
            label = f"generate, {prompt_tokens} tok in" if prompt_tokens is not None else "generate"
            self.add(ollama, model, CALL, label, model_span.start_time_ns, None)
            ttft = _ms_attr_ns(model_span, "time_to_first_token_ms")
            if ttft is not None:
                self.add(model, ollama, RETURN, "first token", model_span.start_time_ns + ttft, ttft)
            out = attributes_int(model_span.attributes, "ollama.eval_count")
            speed = _number(model_span.attributes.get("tokens_per_second"))
            parts = ["done"]
            if out is not None:
                parts.append(f"{out} tok")
            if speed is not None:
                parts.append(f"{speed:.1f} tok/s")
            end = model_span.end_time_ns or model_span.start_time_ns
            self.add(
                model,
                ollama,
                RETURN,
                ", ".join(parts),
                end,
                model_span.duration_ns,
                error=model_span.status_code == STATUS_ERROR,
            )
        first_line = _ms_attr_ns(ollama_span, "time_to_first_line_ms")
        if first_line is not None and model_span is None:
            self.add(ollama, client, RETURN, "first line", ollama_span.start_time_ns + first_line, first_line)
        label = http_status_label(ollama_span)
        end = ollama_span.end_time_ns or ollama_span.start_time_ns
        failed = ollama_span.status_code == STATUS_ERROR
        self.add(ollama, client, RETURN, label, end, ollama_span.duration_ns, error=failed)

    def _derived_model_below(self, ollama: int, http_span: Span, llm: Span) -> None:
        """The model behind a real HTTP span to Ollama, derived from the LLM span above it."""
        children = self.groups.get(http_span.span_id, [])
        for hop in derived_hops(http_span, children, parent=llm, ollama_hosts=self.ollama_hosts):
            model = self.participant(KIND_MODEL, _clean(hop.title, PARTICIPANT_CHARS))
            self.add(ollama, model, CALL, "generate", hop.start_time_ns, None, derived=True)
            failed = llm.status_code == STATUS_ERROR
            end = hop.end_time_ns or hop.start_time_ns
            label = "error" if failed else "done"
            self.add(model, ollama, RETURN, label, end, hop.duration_ns, derived=True, error=failed)

    def _derived_hops(self, client: int, llm: Span) -> None:
        hops = derived_hops(llm, self.groups.get(llm.span_id, []), ollama_hosts=self.ollama_hosts)
        endpoint = model_endpoint(llm, ollama_hosts=self.ollama_hosts)
        failed = llm.status_code == STATUS_ERROR
        end = llm.end_time_ns if llm.end_time_ns is not None else llm.start_time_ns
        chain = [client]
        for hop in hops:
            kind = KIND_OLLAMA if hop.kind == HOP_OLLAMA else KIND_MODEL
            chain.append(self.participant(kind, _clean(hop.title, PARTICIPANT_CHARS)))
        for depth in range(1, len(chain)):
            hop = hops[depth - 1]
            if hop.kind == HOP_OLLAMA:
                path = ""
                if endpoint.api_base and "/api/" in endpoint.api_base:
                    path = "/api/" + endpoint.api_base.split("/api/", 1)[1]
                label = f"POST {path}".strip()
            else:
                label = "generate"
            self.add(chain[depth - 1], chain[depth], CALL, label, llm.start_time_ns, None, derived=True)
        for depth in range(len(chain) - 1, 0, -1):
            hop = hops[depth - 1]
            label = "error" if failed else ("done" if hop.kind == HOP_MODEL else "response")
            self.add(
                chain[depth],
                chain[depth - 1],
                RETURN,
                label,
                end,
                llm.duration_ns,
                derived=True,
                error=failed,
            )


def attributes_int(attributes: Mapping[str, Any], key: str) -> int | None:
    value = attributes.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def build_sequence(trace: Trace, *, max_calls: int = MAX_CALLS) -> SequenceDiagram:
    """The sequence diagram of one trace (pure). A trace without LLM spans still shows
    the program and its "log trace" arrow to MLflow."""
    builder = _Builder(trace)
    python = builder.participant(KIND_PYTHON, "Python program")
    for load in builder.setup_spans():  # e.g. litellm's first import: a gap the diagram names
        litellm = builder.participant(KIND_CLIENT, "litellm")
        builder.add(python, litellm, CALL, load.name, load.start_time_ns, load.duration_ns)
    calls = builder.llm_calls()
    for llm in calls[:max_calls]:
        builder.add_call(python, llm)

    mlflow = builder.participant(KIND_MLFLOW, "MLflow")
    ends = [span.end_time_ns for span in trace.spans if span.end_time_ns is not None]
    info_end = trace.info.end_time_ms
    end_ns = max(ends) if ends else (info_end * 1_000_000 if info_end is not None else builder.origin_ns)
    spans = len(trace.spans)
    builder.add(python, mlflow, CALL, f"log trace ({spans} span{'s' if spans != 1 else ''})", end_ns, None)

    # Draw participants left to right by kind; remap the message indices to match.
    order = sorted(
        range(len(builder.participants)), key=lambda i: (_KIND_ORDER[builder.participants[i].kind], i)
    )
    new_index = {old: new for new, old in enumerate(order)}
    messages = tuple(
        Message(
            new_index[m.source],
            new_index[m.target],
            m.kind,
            m.label,
            m.offset_ns,
            m.duration_ns,
            m.derived,
            m.error,
        )
        for m in builder.messages
    )
    return SequenceDiagram(
        trace_id=trace.info.trace_id,
        participants=tuple(builder.participants[i] for i in order),
        messages=messages,
        omitted_calls=max(0, len(calls) - max_calls),
    )


# --- rendering ------------------------------------------------------------------------


def message_text(message: Message) -> str:
    """The arrow's label with its latency: "HTTP 200, 880 ms"; "~" marks a derived timing."""
    if message.duration_ns is None:
        return message.label
    latency = duration(message.duration_ns, spaced=True, unknown="?")
    return f"{message.label}, {'~' if message.derived else ''}{latency}"


# Characters Mermaid may give a meaning to (';' ends a statement, '#' starts an entity,
# '%%' a comment, '<' HTML, ':' separates a message) are written as entities.
_MERMAID_SAFE = frozenset(" .,_/()-~")


def mermaid_escape(text: str) -> str:
    """Untrusted text as a Mermaid label: letters, digits and a few inert marks stay,
    everything else becomes a numeric entity (#60; for '<'), on one line."""
    flat = one_line(text, 200)
    return "".join(ch if ch.isalnum() or ch in _MERMAID_SAFE else f"#{ord(ch)};" for ch in flat)


def to_mermaid(diagram: SequenceDiagram) -> str:
    """Mermaid `sequenceDiagram` text; participants get fixed ids P0, P1, … and escaped labels."""
    lines = ["sequenceDiagram"]
    for index, participant in enumerate(diagram.participants):
        lines.append(f"    participant P{index} as {mermaid_escape(participant.label)}")
    for message in diagram.messages:
        arrow = "->>" if message.kind == CALL else "-->>"
        if message.error:
            arrow = "-x" if message.kind == CALL else "--x"
        text = message_text(message)
        lines.append(f"    P{message.source}{arrow}P{message.target}: {mermaid_escape(text)}")
    if diagram.omitted_calls:
        lines.append(f"    Note over P0: {diagram.omitted_calls} more LLM calls not shown")
    return "\n".join(lines) + "\n"


TIME_WIDTH = 10  # "+12.345s" and padding
MIN_GAP = 12


def _offset_text(offset_ns: int) -> str:
    return f"+{offset_ns / 1e9:.3f}s"


def _layout(labels: Sequence[str], spans: Sequence[tuple[int, int, int]]) -> list[int]:
    """Column centres: neighbours' labels never touch, and each message's text fits
    between its two columns (`spans` are (low, high, text length))."""
    gaps = [
        max(MIN_GAP, (len(labels[i]) + 1) // 2 + (len(labels[i + 1]) + 1) // 2 + 3)
        for i in range(len(labels) - 1)
    ]
    for low, high, length in sorted(spans, key=lambda s: s[1] - s[0]):
        need = length + 4
        have = sum(gaps[low:high])
        if have < need:
            gaps[high - 1] += need - have
    first = TIME_WIDTH + (len(labels[0]) + 1) // 2 if labels else TIME_WIDTH
    centres = [first]
    for gap in gaps:
        centres.append(centres[-1] + gap)
    return centres


def to_text_lines(diagram: SequenceDiagram) -> list[str]:
    """The diagram as plain lines for a terminal: a header of participants, then for each
    message its time and label on one line and its arrow on the next."""
    labels = [p.label for p in diagram.participants]
    if not labels:
        return []
    texts = [message_text(m) for m in diagram.messages]
    spans = [
        (min(m.source, m.target), max(m.source, m.target), len(text))
        for m, text in zip(diagram.messages, texts, strict=True)
        if m.source != m.target
    ]
    centres = _layout(labels, spans)
    width = centres[-1] + (len(labels[-1]) + 1) // 2 + 1

    def blank() -> list[str]:
        row = [" "] * width
        for x in centres:
            row[x] = "│"
        return row

    header = [" "] * width
    for label, x in zip(labels, centres, strict=True):
        start = max(0, x - len(label) // 2)
        header[start : start + len(label)] = list(label)
    lines = ["".join(header).rstrip(), "".join(blank()).rstrip()]
    for message, text in zip(diagram.messages, texts, strict=True):
        low, high = sorted((centres[message.source], centres[message.target]))
        label_row = blank()
        label_row[: TIME_WIDTH - 1] = list(_offset_text(message.offset_ns).ljust(TIME_WIDTH - 1))
        label_row[low + 2 : low + 2 + len(text)] = list(text)
        arrow_row = blank()
        line = "─" if message.kind == CALL else "╌"
        for x in range(low + 1, high):
            arrow_row[x] = line
        if message.target > message.source:
            arrow_row[high - 1] = "✗" if message.error else "▶"
        else:
            arrow_row[low + 1] = "✗" if message.error else "◀"
        lines.append("".join(label_row).rstrip())
        lines.append("".join(arrow_row).rstrip())
    if diagram.omitted_calls:
        lines.append(f"… {diagram.omitted_calls} more LLM calls not shown")
    return lines
