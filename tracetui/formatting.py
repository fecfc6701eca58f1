"""How durations, times and token counts read, everywhere: the CLI, the panes, the sequence view, transcripts.

One convention per context:
- `duration(ns)` in tables, trees and lists, compact: 850µs, 312ms, 1.24s, 12.3s, 2m05s, 1h02m;
  "…" while a trace or span is still running.
- `duration(ns, spaced=True)` inside sentences and labels (sequence arrows, facts, transcripts):
  "312 ms", "1.24 s"; the caller says what an unknown duration reads as.
- `clock_time` in the live list (HH:MM:SS today, the date before), `date_time` where a moment
  must be exact (the CLI, transcripts), `day_time` in short listings (sessions).
- `token_pair(usage)`: "36→24" ("?" for a missing side), "" without counts.

Text in one line goes through `tracetui.visible.one_line` (the one sanitiser). No Textual or
Rich here: the CLI and the tracking layer use this too.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Protocol


class Counts(Protocol):
    """Token counts as MLflow records them (tracking.models.TokenUsage is one)."""

    input_tokens: int | None
    output_tokens: int | None


RUNNING = "…"  # a duration that is not over yet


def duration(ns: int | float | None, *, spaced: bool = False, unknown: str = RUNNING) -> str:
    """A duration a person reads at a glance (see the module's conventions)."""
    if ns is None:
        return unknown
    gap = " " if spaced else ""
    seconds = ns / 1e9
    if seconds < 0.001:
        return f"{ns / 1e3:.0f}{gap}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.0f}{gap}ms"
    if seconds < 10:
        return f"{seconds:.2f}{gap}s"
    if seconds < 60:
        return f"{seconds:.1f}{gap}s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def duration_ms(ms: int | float | None, *, spaced: bool = False, unknown: str = RUNNING) -> str:
    """`duration` for a value in milliseconds (MLflow keeps a trace's duration in whole ms)."""
    return duration(None if ms is None else ms * 1_000_000, spaced=spaced, unknown=unknown)


def trace_duration(duration_ms_value: int | None) -> str:
    """A trace's duration: MLflow stores whole milliseconds, so 0 means "under one"."""
    return "<1ms" if duration_ms_value == 0 else duration_ms(duration_ms_value)


def _moment(timestamp_ms: int, tz: tzinfo | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(timestamp_ms / 1000, tz=tz)
    except (OverflowError, OSError, ValueError):
        return None


def clock_time(timestamp_ms: int, tz: tzinfo | None, now: datetime) -> str:
    """HH:MM:SS for today (in `tz`), otherwise the date: a list covers days, not only now."""
    moment = _moment(timestamp_ms, tz)
    if moment is None:
        return "?"
    if moment.date() == now.astimezone(tz).date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%b %d").replace(" 0", "  ")


def date_time(timestamp_ms: int, tz: tzinfo | None = None) -> str:
    """To the second, as a person reads a log: local time, or in `tz` (named when it is UTC)."""
    moment = _moment(timestamp_ms, tz)
    if moment is None:
        return f"@{timestamp_ms}ms"
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text} UTC" if tz is timezone.utc else text


def day_time(timestamp_ms: int, tz: tzinfo | None) -> str:
    """Day and minute, for listings of things that last longer than a moment (sessions)."""
    moment = _moment(timestamp_ms, tz)
    return "?" if moment is None else moment.strftime("%b %d %H:%M")


def token_pair(usage: Counts | None) -> str:
    """Tokens in → out ("?" for a side not recorded); "" when nothing was counted."""
    if usage is None or (usage.input_tokens is None and usage.output_tokens is None):
        return ""
    tokens_in = "?" if usage.input_tokens is None else str(usage.input_tokens)
    tokens_out = "?" if usage.output_tokens is None else str(usage.output_tokens)
    return f"{tokens_in}→{tokens_out}"
