"""What a session adds up to, and the orders sessions can be listed in.

The totals themselves are summed in `sessions.group_sessions` from each turn's
trace info (duration, tokens, state and cost): no span is read. Cost is MLflow's
own: the trace metadata `mlflow.trace.cost` (a JSON object in US dollars with
`total_cost`), which MLflow's client writes when spans record `mlflow.llm.cost`
(servers from 3.10 price known models themselves). A trace without it has no
cost, which is not the same as costing nothing: a session whose traces record
none has cost None. Pure: no I/O, no Textual or Rich.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from tracetui.tracking.models import TraceInfo

METADATA_COST = "mlflow.trace.cost"


def trace_cost(info: TraceInfo) -> float | None:
    """The trace's total cost in US dollars as MLflow recorded it; None when it records none."""
    raw = info.metadata.get(METADATA_COST)
    if not raw:
        return None
    try:
        value: Any = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, dict):
        return None
    total = value.get("total_cost")
    if isinstance(total, (int, float)):
        return float(total)
    parts = [value.get(key) for key in ("input_cost", "output_cost")]
    numbers = [part for part in parts if isinstance(part, (int, float))]
    return float(sum(numbers)) if numbers else None


def total_cost(infos: Iterable[TraceInfo]) -> tuple[float | None, int]:
    """The summed cost of the traces that record one (None if none does), and how many do."""
    costs = [cost for cost in map(trace_cost, infos) if cost is not None]
    return (sum(costs) if costs else None), len(costs)


class SessionTotals(Protocol):
    """What sorting needs of a session (sessions.SessionSummary has it; sessions.py imports this module)."""

    session_id: str
    trace_count: int
    first_time_ms: int
    last_time_ms: int
    error_count: int
    input_tokens: int
    output_tokens: int
    duration_ms: int
    cost_usd: float | None


Session = TypeVar("Session", bound=SessionTotals)

# name -> (what it sorts by, in words; the key); largest or latest first by default
SESSION_SORTS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "last": ("last turn", lambda s: s.last_time_ms),
    "first": ("first turn", lambda s: s.first_time_ms),
    "turns": ("turns", lambda s: s.trace_count),
    "duration": ("total duration", lambda s: s.duration_ms),
    "tokens-in": ("tokens in", lambda s: s.input_tokens),
    "tokens-out": ("tokens out", lambda s: s.output_tokens),
    "errors": ("errors", lambda s: s.error_count),
    "cost": ("cost", lambda s: -1.0 if s.cost_usd is None else s.cost_usd),
}


def sort_sessions(
    summaries: Iterable[Session], by: str = "last", *, descending: bool = True
) -> list[Session]:
    """Sessions ordered by one of SESSION_SORTS (ties: most recently active first)."""
    if by not in SESSION_SORTS:
        raise ValueError(f"Sessions sort by one of {', '.join(SESSION_SORTS)}, not {by!r}.")
    key = SESSION_SORTS[by][1]
    by_recent = sorted(summaries, key=lambda s: (s.last_time_ms, s.session_id), reverse=True)
    return sorted(by_recent, key=key, reverse=descending)


def format_cost(cost_usd: float | None) -> str:
    """$0.0123 (four decimals under a dollar, else cents); "" for no recorded cost."""
    if cost_usd is None:
        return ""
    return f"${cost_usd:.4f}" if cost_usd < 1 else f"${cost_usd:,.2f}"
