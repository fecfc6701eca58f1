"""Numbers you can see: sparklines of latency and tokens over the recent traces, tokens/s per model.

Fed with the trace infos the live list already holds (no request of its own),
plus, when the app has them, full traces for per-call speeds. The numbers come
from `tracetui.tracking.stats`; this widget only draws them. Model names are
untrusted (they come from traces) and are shown as plain, visible text.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from tracetui.formatting import duration_ms
from tracetui.tracking.models import Trace, TraceInfo
from tracetui.tracking.stats import ModelSpeed, latency_series, model_speeds, token_series
from tracetui.visible import one_line

RECENT_TRACES = 120  # points per sparkline: about one per cell on a wide terminal
MODELS_SHOWN = 4
LABEL_WIDTH = 9


def series_summary(values: Sequence[float], unit: str) -> str:
    """A line like: last 1.24s · median 0.98s · max 3.10s (or "no data yet")."""
    if not values:
        return "no data yet"
    show = duration_ms if unit == "ms" else (lambda v: f"{v:.0f}")
    return f"last {show(values[-1])} · median {show(statistics.median(values))} · max {show(max(values))}"


def speeds_text(speeds: Sequence[ModelSpeed]) -> Text:
    """One line: "tok/s  qwen2.5:0.5b 14.0 (3) · llama3 9.1 (1)"; the source marks "~" when loose."""
    line = Text(no_wrap=True, end="")
    line.append("tok/s".ljust(LABEL_WIDTH), style="bold")
    shown = [speed for speed in speeds if speed.tokens_per_s is not None][:MODELS_SHOWN]
    if not shown:
        line.append("no token counts yet", style="dim")
        return line
    for number, speed in enumerate(shown):
        if number:
            line.append(" · ", style="dim")
        line.append(one_line(speed.model, 32))
        # "~" when only whole-trace or whole-call times were there: a lower bound, not generation speed.
        loose = "generation" not in speed.sources
        line.append(f" {'~' if loose else ''}{speed.tokens_per_s:.1f}", style="bold")
        line.append(f" ({speed.calls})", style="dim")
    hidden = len([s for s in speeds if s.tokens_per_s is not None]) - len(shown)
    if hidden > 0:
        line.append(f" · +{hidden} more", style="dim")
    return line


class StatsBar(Vertical):
    """Three lines: latency sparkline, tokens sparkline, tokens per second per model.

    `show(trace_infos, traces=(), model_of=None)` redraws from the recent traces.
    """

    DEFAULT_CSS = """
    StatsBar { height: auto; padding: 0 1; }
    StatsBar > Horizontal { height: 1; }
    StatsBar .stats-label { width: 9; text-style: bold; }
    StatsBar Sparkline { width: 1fr; min-width: 8; }
    StatsBar .stats-summary { width: auto; padding: 0 0 0 1; color: $text-muted; }
    StatsBar #stats-tokens > .sparkline--max-color { color: $success; }
    StatsBar #stats-tokens > .sparkline--min-color { color: $success 30%; }
    StatsBar #stats-speeds { height: 1; }
    """

    def __init__(self, *, id: str | None = "stats", classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.latencies_ms: list[float] = []
        self.tokens: list[float] = []
        self.speeds: list[ModelSpeed] = []

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static("latency", classes="stats-label")
            yield Sparkline([], id="stats-latency")
            yield Static("", id="stats-latency-summary", classes="stats-summary")
        with Horizontal():
            yield Static("tokens", classes="stats-label")
            yield Sparkline([], id="stats-tokens")
            yield Static("", id="stats-tokens-summary", classes="stats-summary")
        yield Static(speeds_text([]), id="stats-speeds")

    def show(
        self,
        trace_infos: Iterable[TraceInfo],
        traces: Sequence[Trace] = (),
        *,
        model_of: Mapping[str, str] | None = None,
    ) -> None:
        """Redraw from these traces; only the newest RECENT_TRACES count for the sparklines."""
        infos = sorted(trace_infos, key=lambda i: (i.request_time_ms, i.trace_id))[-RECENT_TRACES:]
        self.latencies_ms = latency_series(infos)
        self.tokens = token_series(infos)
        self.speeds = model_speeds(traces, infos, model_of=model_of)
        self.query_one("#stats-latency", Sparkline).data = self.latencies_ms
        self.query_one("#stats-tokens", Sparkline).data = self.tokens
        self.query_one("#stats-latency-summary", Static).update(
            Text(series_summary(self.latencies_ms, "ms"), end="")
        )
        self.query_one("#stats-tokens-summary", Static).update(
            Text(series_summary(self.tokens, "tok"), end="")
        )
        self.query_one("#stats-speeds", Static).update(speeds_text(self.speeds))
