"""One convention per context for durations, times and token counts (tracetui/formatting.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from tracetui.formatting import (
    clock_time,
    date_time,
    day_time,
    duration,
    duration_ms,
    token_pair,
    trace_duration,
)
from tracetui.tracking.models import TokenUsage

MS = 1_000_000


def test_compact_durations_for_tables_and_trees() -> None:
    cases = (None, 850_000, 312 * MS, 1_240 * MS, 12_300 * MS, 125_000 * MS, 3_720_000 * MS)
    assert [duration(ns) for ns in cases] == ["…", "850µs", "312ms", "1.24s", "12.3s", "2m05s", "1h02m"]
    assert duration_ms(320) == "320ms" and duration_ms(0.35) == "350µs"


def test_spaced_durations_for_sentences_say_what_unknown_means() -> None:
    assert duration(12 * MS, spaced=True) == "12 ms"
    assert duration(1_240 * MS, spaced=True) == "1.24 s"
    assert duration(None, spaced=True, unknown="?") == "?"
    assert duration_ms(None, spaced=True, unknown="in progress") == "in progress"


def test_a_trace_of_zero_whole_milliseconds_took_under_one() -> None:
    assert trace_duration(0) == "<1ms" and trace_duration(None) == "…" and trace_duration(1240) == "1.24s"


@given(st.integers(min_value=0, max_value=10**15))
def test_a_duration_is_short_and_never_empty(ns: int) -> None:
    text = duration(ns)
    assert 0 < len(text) <= 7 and " " not in text  # fits the list's duration column


def test_times_per_context() -> None:
    now = datetime(2026, 1, 15, 14, 40, tzinfo=timezone.utc)
    today = int(datetime(2026, 1, 15, 14, 35, 12, tzinfo=timezone.utc).timestamp() * 1000)
    before = int((now - timedelta(days=3)).timestamp() * 1000)
    assert clock_time(today, timezone.utc, now) == "14:35:12"
    assert clock_time(before, timezone.utc, now) == "Jan 12"
    assert date_time(today, timezone.utc) == "2026-01-15 14:35:12 UTC"
    assert day_time(today, timezone.utc) == "Jan 15 14:35"
    assert date_time(10**20) == f"@{10**20}ms"  # out of range: said, not raised


def test_token_pairs() -> None:
    assert token_pair(TokenUsage(26, 14, 40)) == "26→14"
    assert token_pair(TokenUsage(None, 14, None)) == "?→14"
    assert token_pair(TokenUsage(None, None, None)) == "" and token_pair(None) == ""
