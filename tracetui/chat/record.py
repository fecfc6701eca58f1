"""A finished chat turn as plain data: everything needed to build its trace, later or again.

`TurnRecord` is what the session hands to a trace writer. It is JSON-able
(`to_dict` / `from_dict`) so an on-disk outbox can keep records while the
tracking server is down and replay them; the trace id is chosen when the turn
starts, so a replay writes the same trace, not a second one.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from tracetui.chat.wire import WireRecord

NS_PER_MS = 1_000_000


def new_trace_id() -> str:
    """An MLflow v3 trace id: "tr-" and the 32 hex digits of the OpenTelemetry trace id."""
    return "tr-" + uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class GenerationStats:
    """What Ollama's final `done: true` line says about the model's run (nanoseconds → ms)."""

    model_tag: str | None
    done_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    total_ms: float | None
    load_ms: float | None
    prompt_eval_ms: float | None
    eval_ms: float | None

    @property
    def time_to_first_token_ms(self) -> float | None:
        """Model load plus prompt evaluation: when the first output token could exist."""
        if self.load_ms is None and self.prompt_eval_ms is None:
            return None
        return (self.load_ms or 0.0) + (self.prompt_eval_ms or 0.0)

    @property
    def tokens_per_s(self) -> float | None:
        if not self.output_tokens or not self.eval_ms:
            return None
        return self.output_tokens / (self.eval_ms / 1000.0)

    @classmethod
    def from_done_line(cls, done: dict[str, Any] | None) -> GenerationStats | None:
        if not done:
            return None

        def count(key: str) -> int | None:
            value = done.get(key)
            return value if isinstance(value, int) else None

        def millis(key: str) -> float | None:
            value = done.get(key)
            return value / NS_PER_MS if isinstance(value, (int, float)) else None

        return cls(
            model_tag=done.get("model") if isinstance(done.get("model"), str) else None,
            done_reason=done.get("done_reason") if isinstance(done.get("done_reason"), str) else None,
            input_tokens=count("prompt_eval_count"),
            output_tokens=count("eval_count"),
            total_ms=millis("total_duration"),
            load_ms=millis("load_duration"),
            prompt_eval_ms=millis("prompt_eval_duration"),
            eval_ms=millis("eval_duration"),
        )


@dataclass
class TurnRecord:
    """One turn, start to end. Times are wall-clock nanoseconds since the epoch."""

    trace_id: str
    session_id: str
    prompt: str
    model: str  # the litellm model string, e.g. "ollama_chat/qwen2.5"
    messages: list[dict[str, Any]]  # exactly what was sent, system prompt and history included
    params: dict[str, Any]  # temperature, max_tokens … as given to litellm
    api_base: str | None
    start_ns: int
    end_ns: int = 0
    answer: str = ""
    # litellm's first import in this process, when this turn had to wait for it (seconds).
    load_start_ns: int | None = None
    load_end_ns: int | None = None
    call_start_ns: int | None = None  # litellm called (after its import on the first turn)
    first_delta_ns: int | None = None  # first text the program saw
    finish_reason: str | None = None
    input_tokens: int | None = None  # as litellm reported them
    output_tokens: int | None = None
    cancelled: bool = False
    error: str | None = None  # the sentence shown to the user
    exception_type: str | None = None  # the exception litellm raised, if any
    exception_message: str | None = None
    wire: WireRecord | None = None  # the HTTP exchange with Ollama, when it is Ollama
    turn_index: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def generation(self) -> GenerationStats | None:
        return GenerationStats.from_done_line(self.wire.done_line if self.wire else None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["wire"] = self.wire.to_dict() if self.wire else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnRecord:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if values.get("wire") is not None:
            values["wire"] = WireRecord.from_dict(values["wire"])
        return cls(**values)
