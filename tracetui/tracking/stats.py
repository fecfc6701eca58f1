"""Numbers over recent traces: latency and token series for sparklines, tokens per second per model.

Tokens per second are measured as precisely as the trace allows:
- "generation": a model span with Ollama's own counters (eval_count over
  eval_duration, prompt evaluation and loading excluded): tracetui's chat traces;
- "call": an LLM span's output tokens over the whole call (a lower bound);
- "trace": a trace summary's output tokens over the whole trace (the loosest).
Pure logic: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracetui.tracking.call_path import HOP_MODEL, explicit_hop_kind, is_llm_span, model_endpoint
from tracetui.tracking.models import STATE_IN_PROGRESS, Span, Trace, TraceInfo

SOURCE_GENERATION = "generation"
SOURCE_CALL = "call"
SOURCE_TRACE = "trace"
UNKNOWN_MODEL = "unknown model"


def _oldest_first(trace_infos: Iterable[TraceInfo]) -> list[TraceInfo]:
    return sorted(trace_infos, key=lambda i: (i.request_time_ms, i.trace_id))


def latency_series(trace_infos: Iterable[TraceInfo]) -> list[float]:
    """Durations in ms of the finished traces, oldest first (a sparkline's values)."""
    return [
        float(info.execution_duration_ms)
        for info in _oldest_first(trace_infos)
        if info.state != STATE_IN_PROGRESS and info.execution_duration_ms is not None
    ]


def token_series(trace_infos: Iterable[TraceInfo], *, which: str = "total") -> list[float]:
    """Tokens per trace ("total", "input" or "output"), oldest first; traces without counts left out."""
    values = []
    for info in _oldest_first(trace_infos):
        usage = info.token_usage
        if usage is None:
            continue
        if which == "input":
            value = usage.input_tokens
        elif which == "output":
            value = usage.output_tokens
        else:
            value = usage.total_tokens
            if value is None and (usage.input_tokens is not None or usage.output_tokens is not None):
                value = (usage.input_tokens or 0) + (usage.output_tokens or 0)
        if value is not None:
            values.append(float(value))
    return values


@dataclass(frozen=True, slots=True)
class ModelSpeed:
    model: str  # raw model tag from the trace: make it visible before showing it
    calls: int
    output_tokens: int
    seconds: float
    sources: tuple[str, ...]  # SOURCE_* that contributed, most precise first

    @property
    def tokens_per_s(self) -> float | None:
        return self.output_tokens / self.seconds if self.seconds > 0 else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _generation_sample(span: Span) -> tuple[int, float] | None:
    tokens = _int(span.attributes.get("ollama.eval_count"))
    eval_ms = _num(span.attributes.get("ollama.eval_duration_ms"))
    if tokens and eval_ms and eval_ms > 0:
        return tokens, eval_ms / 1000
    return None


def trace_samples(trace: Trace) -> list[tuple[str, int, float, str]]:
    """(model, output tokens, seconds, source) for each LLM call of the trace that says."""
    by_id = {span.span_id: span for span in trace.spans}
    samples = []
    measured: set[str] = set()  # spans above a model span that measured the generation
    for span in trace.spans:
        parent = by_id.get(span.parent_id) if span.parent_id else None
        if explicit_hop_kind(span, parent) != HOP_MODEL:
            continue
        sample = _generation_sample(span)
        if sample is None:
            continue
        samples.append((span.name or UNKNOWN_MODEL, *sample, SOURCE_GENERATION))
        ancestor, steps = parent, 0
        while ancestor is not None and ancestor.span_id not in measured and steps < 10_000:
            measured.add(ancestor.span_id)
            ancestor = by_id.get(ancestor.parent_id) if ancestor.parent_id else None
            steps += 1
    for span in trace.spans:
        parent = by_id.get(span.parent_id) if span.parent_id else None
        if not is_llm_span(span) or explicit_hop_kind(span, parent) is not None:
            continue
        usage = span.token_usage
        duration = span.duration_ns
        if span.span_id in measured or usage is None or not usage.output_tokens or not duration:
            continue
        model = model_endpoint(span).model or UNKNOWN_MODEL
        samples.append((model, usage.output_tokens, duration / 1e9, SOURCE_CALL))
    return samples


def model_speeds(
    traces: Sequence[Trace] = (),
    trace_infos: Iterable[TraceInfo] = (),
    *,
    model_of: Mapping[str, str] | None = None,
) -> list[ModelSpeed]:
    """Tokens per second per model, fastest first.

    `traces` (with spans) give per-call numbers; `trace_infos` not among them fall
    back to token usage over duration, under `model_of[trace_id]` when the caller
    knows the model (the chat pane does), else UNKNOWN_MODEL.
    """
    totals: dict[str, list[Any]] = {}

    def add(model: str, tokens: int, seconds: float, source: str) -> None:
        entry = totals.setdefault(model, [0, 0, 0.0, set()])
        entry[0] += 1
        entry[1] += tokens
        entry[2] += seconds
        entry[3].add(source)

    seen = set()
    for trace in traces:
        seen.add(trace.info.trace_id)
        for sample in trace_samples(trace):
            add(*sample)
    for info in trace_infos:
        if info.trace_id in seen or info.token_usage is None:
            continue
        tokens = info.token_usage.output_tokens
        if not tokens or not info.execution_duration_ms or info.state == STATE_IN_PROGRESS:
            continue
        model = (model_of or {}).get(info.trace_id, UNKNOWN_MODEL)
        add(model, tokens, info.execution_duration_ms / 1000, SOURCE_TRACE)
    order = (SOURCE_GENERATION, SOURCE_CALL, SOURCE_TRACE)
    speeds = [
        ModelSpeed(model, calls, tokens, seconds, tuple(s for s in order if s in sources))
        for model, (calls, tokens, seconds, sources) in totals.items()
    ]
    speeds.sort(key=lambda s: (-(s.tokens_per_s or 0.0), s.model))
    return speeds
