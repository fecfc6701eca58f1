"""Plain dataclasses for what MLflow's tracking server returns.

Everything the UI and the CLI show is built from these; they carry already
decoded values (hex ids, integers, parsed JSON) so no consumer re-parses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Trace states as MLflow 3 reports them in `trace_info.state`.
STATE_OK = "OK"
STATE_ERROR = "ERROR"
STATE_IN_PROGRESS = "IN_PROGRESS"
STATE_UNSPECIFIED = "STATE_UNSPECIFIED"

# Span status codes, shortened from OTLP's STATUS_CODE_OK / _ERROR / _UNSET.
STATUS_OK = "OK"
STATUS_ERROR = "ERROR"
STATUS_UNSET = "UNSET"

# Trace metadata keys MLflow itself writes.
METADATA_TOKEN_USAGE = "mlflow.trace.tokenUsage"
METADATA_SESSION = "mlflow.trace.session"
METADATA_USER = "mlflow.trace.user"
TAG_TRACE_NAME = "mlflow.traceName"


def elapsed_ns(start_ns: int, end_ns: int | None) -> int | None:
    """From start to end; None while it has not ended, never negative (clocks of two processes)."""
    if end_ns is None:
        return None
    return max(0, end_ns - start_ns)


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: str
    name: str
    lifecycle_stage: str = "active"
    last_update_time_ms: int | None = None
    creation_time_ms: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """Feedback or an expectation attached to a trace (MLflow assessments)."""

    assessment_id: str
    name: str
    value: Any
    rationale: str | None = None
    source_type: str | None = None
    source_id: str | None = None
    create_time_ms: int | None = None
    kind: str = "feedback"  # "feedback" or "expectation"


@dataclass(frozen=True, slots=True)
class TraceInfo:
    """One row of a trace search: everything known about a trace but its spans."""

    trace_id: str
    experiment_id: str
    request_time_ms: int  # when the trace started (not when it was logged)
    execution_duration_ms: int | None  # None while in progress
    state: str
    name: str
    request_preview: str = ""
    response_preview: str = ""
    token_usage: TokenUsage | None = None
    session_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    assessments: tuple[Assessment, ...] = ()

    @property
    def end_time_ms(self) -> int | None:
        if self.execution_duration_ms is None:
            return None
        return self.request_time_ms + self.execution_duration_ms


@dataclass(frozen=True, slots=True)
class SpanEvent:
    name: str
    time_unix_nano: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Span:
    """One span, decoded from MLflow's OTLP JSON.

    `attributes` holds every attribute as a Python value; `inputs`, `outputs`
    and `span_type` are lifted out of MLflow's own `mlflow.span*` attributes.
    """

    span_id: str  # 16 hex digits
    parent_id: str | None  # None for a root span
    trace_id: str  # 32 hex digits (the OTLP id, not MLflow's tr-… id)
    name: str
    span_type: str  # LLM, CHAIN, TOOL, … or UNKNOWN
    start_time_ns: int
    end_time_ns: int | None
    status_code: str  # STATUS_OK, STATUS_ERROR or STATUS_UNSET
    status_message: str = ""
    inputs: Any = None
    outputs: Any = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[SpanEvent, ...] = ()
    token_usage: TokenUsage | None = None

    @property
    def duration_ns(self) -> int | None:
        return elapsed_ns(self.start_time_ns, self.end_time_ns)


@dataclass(frozen=True, slots=True)
class Trace:
    info: TraceInfo
    spans: tuple[Span, ...]

    def children_by_parent(self) -> dict[str | None, list[Span]]:
        """Spans grouped by parent id, each group in start-time order.

        A span whose parent is missing from the trace is treated as a root, so
        a partly exported trace still shows every span it has.
        """
        known = {span.span_id for span in self.spans}
        groups: dict[str | None, list[Span]] = {}
        for span in self.spans:
            parent = span.parent_id if span.parent_id in known else None
            groups.setdefault(parent, []).append(span)
        for group in groups.values():
            group.sort(key=lambda s: s.start_time_ns)
        return groups

    def roots(self) -> list[Span]:
        return self.children_by_parent().get(None, [])


@dataclass(frozen=True, slots=True)
class TracePage:
    trace_infos: tuple[TraceInfo, ...]
    next_page_token: str | None = None
