"""The details of one span (or derived hop): status, timings, tokens, inputs/outputs, attributes, events.

Everything shown comes from trace data, so every piece goes through
`safe_text` (literal, controls made visible). Long values are cut to
`MAX_CHARS` / `MAX_LINES`; a focusable "show all" line under a cut value (or
`v` for the whole span) opens `FullValueScreen`, a read-only TextArea that
copes with megabytes because it only renders the lines on screen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static, TextArea

from tracetui.formatting import duration
from tracetui.tracking.call_path import DerivedHop
from tracetui.tracking.conversation import span_conversation
from tracetui.tracking.models import STATUS_ERROR, STATUS_OK, Span, Trace
from tracetui.ui.safe_text import safe, safe_content_line, safe_line, truncate
from tracetui.visible import make_visible

MAX_CHARS = 2_000
MAX_LINES = 40
ATTRIBUTE_PREVIEW_CHARS = 300
# Lifted into their own sections, so not repeated among the attributes.
_SHOWN_ELSEWHERE = frozenset({"mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.spanType"})


# --- turning values into text -------------------------------------------------------


def pretty_json(value: Any) -> str:
    """A value as indented JSON; a plain string as itself (its newlines are the point)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):  # circular or absurdly deep: still show something
        return repr(value)


def _utc(ns: int) -> str:
    moment = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


# --- widgets ------------------------------------------------------------------------


class FullValueScreen(ModalScreen[None]):
    """A whole value, read-only, scrollable; Escape or q closes it."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    FullValueScreen { align: center middle; }
    FullValueScreen > Vertical {
        width: 90%; height: 90%; border: round $accent; background: $surface;
    }
    FullValueScreen #full-value-title { width: 1fr; padding: 0 1; text-style: bold; }
    FullValueScreen TextArea { height: 1fr; }
    """

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.value_title = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                safe_content_line(f"{self.value_title} — {len(self.text):,} characters, Esc closes"),
                id="full-value-title",
            )
            # Made visible once; TextArea renders only the lines on screen, so megabytes stay responsive.
            yield TextArea(make_visible(self.text), read_only=True, soft_wrap=False, show_line_numbers=True)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()


class ShowAll(Static, can_focus=True):
    """A "show all" line under a cut value: Enter or a click opens the whole value."""

    BINDINGS = [Binding("enter", "open", "Show all")]
    DEFAULT_CSS = """
    ShowAll { color: $text-accent; text-style: italic; }
    ShowAll:focus { background: $block-cursor-background; color: $block-cursor-foreground; }
    """

    def __init__(self, title: str, text: str) -> None:
        super().__init__(
            Text(f"▸ show all {len(text):,} characters of {make_visible(title, keep_newlines=False)} (Enter)")
        )
        self.value_title = title
        self.text = text

    def action_open(self) -> None:
        self.app.push_screen(FullValueScreen(self.value_title, self.text))

    def on_click(self) -> None:
        self.action_open()


class SpanDetail(VerticalScroll, can_focus=True):
    """Details of the span given to `show_span`; `v` opens the whole span as JSON."""

    BINDINGS = [Binding("v", "view_all", "View whole span")]
    DEFAULT_CSS = """
    SpanDetail { padding: 0 1; }
    SpanDetail > .section-title { text-style: bold; color: $text-accent; margin-top: 1; }
    SpanDetail > .value { width: 1fr; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.item: Span | DerivedHop | None = None
        self.trace: Trace | None = None
        self._pending: tuple[Span | DerivedHop, Trace] | None = None

    # --- public API ---------------------------------------------------------------

    def show_span(self, item: Span | DerivedHop, trace: Trace) -> None:
        """Show `item` of `trace`. Bursts (a held arrow key) coalesce: only the last one is built."""
        scheduled = self._pending is not None
        self._pending = (item, trace)
        if not scheduled:
            self.call_later(self._show_pending)

    def clear_span(self) -> None:
        """Show a hint instead of a span."""
        self._pending = None
        self.item = None
        self.trace = None
        self._replace([Static(Text("Select a span to see its details.", style="dim"))])

    def action_view_all(self) -> None:
        item = self.item
        if item is None:
            return
        if isinstance(item, DerivedHop):
            document: dict[str, Any] = {"derived_from": item.source_span.name, **dict(item.facts)}
        else:
            document = {
                "name": item.name,
                "span_type": item.span_type,
                "status": item.status_code,
                "status_message": item.status_message,
                "inputs": item.inputs,
                "outputs": item.outputs,
                "attributes": dict(item.attributes),
                "events": [
                    {"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": dict(e.attributes)}
                    for e in item.events
                ],
            }
        title = item.title if isinstance(item, DerivedHop) else item.name
        self.app.push_screen(FullValueScreen(title, pretty_json(document)))

    # --- building -----------------------------------------------------------------

    def _show_pending(self) -> None:
        if self._pending is None:
            return
        item, trace = self._pending
        self._pending = None
        self.item, self.trace = item, trace
        widgets = (
            self._derived_widgets(item) if isinstance(item, DerivedHop) else self._span_widgets(item, trace)
        )
        self._replace(widgets)
        self.scroll_home(animate=False)

    def _replace(self, widgets: list[Static]) -> None:
        with self.app.batch_update():
            self.remove_children()
            self.mount_all(widgets)

    @staticmethod
    def _title(text: str) -> Static:
        return Static(Text(text), classes="section-title")

    @staticmethod
    def _value(title: str, text: str, styled: Text | None = None) -> list[Static]:
        """A value cut to MAX_CHARS/MAX_LINES, plus a ShowAll line when something was cut."""
        head, cut = truncate(text, MAX_CHARS, MAX_LINES)
        shown = styled if styled is not None and not cut else safe(head + ("…" if cut else ""))
        widgets: list[Static] = [Static(shown, classes="value")]
        if cut:
            widgets.append(ShowAll(title, text))
        return widgets

    @staticmethod
    def _fields(rows: Sequence[tuple[str, str]]) -> Static:
        """Key: value lines with the values in one column."""
        width = min(24, max((len(key) for key, _ in rows), default=0))
        text = Text()
        for index, (key, value) in enumerate(rows):
            if index:
                text.append("\n")
            text.append_text(safe_line(key, 40, style="bold"))
            text.append(" " * max(1, width + 2 - min(len(key), 40)))
            text.append_text(safe_line(value, ATTRIBUTE_PREVIEW_CHARS))
        return Static(text, classes="value")

    def _io_widgets(self, title: str, value: Any, conversation: list[tuple[str, str]] | None) -> list[Static]:
        widgets = [self._title(title)]
        if value is None and conversation is None:
            return [*widgets, Static(Text("(none)", style="dim"), classes="value")]
        if conversation is None:
            return widgets + self._value(title, pretty_json(value))
        plain = "\n".join(f"{role}: {content}" for role, content in conversation)
        styled = Text()
        for index, (role, content) in enumerate(conversation):
            if index:
                styled.append("\n")
            styled.append_text(safe_line(role, 20, style="bold"))
            styled.append(": ")
            styled.append_text(safe(content))
        return widgets + self._value(title, plain, styled)

    def _header(self, name: str, kind: str, status: Text) -> Static:
        text = Text()
        text.append_text(safe_line(name, 200, style="bold"))
        text.append("\n")
        text.append_text(safe_line(kind, 40))
        text.append("  ")
        text.append_text(status)
        return Static(text, classes="value")

    def _span_widgets(self, span: Span, trace: Trace) -> list[Static]:
        if span.status_code == STATUS_ERROR:
            status = Text("✗ ERROR", style="bold red")
            if span.status_message:
                status.append(": ")
                status.append_text(safe_line(span.status_message, 300))
        elif span.status_code == STATUS_OK:
            status = Text("✓ OK")
        else:
            status = Text(f"· {make_visible(span.status_code, keep_newlines=False)}")
        trace_start = min((s.start_time_ns for s in trace.spans), default=span.start_time_ns)
        timings = [
            ("start", _utc(span.start_time_ns)),
            ("duration", duration(span.duration_ns) if span.end_time_ns else "still running"),
            ("offset in trace", f"+{duration(span.start_time_ns - trace_start)}"),
            ("span id", span.span_id),
        ]
        if span.parent_id:
            timings.append(("parent id", span.parent_id))
        widgets: list[Static] = [
            self._header(span.name, span.span_type, status),
            self._title("Timing"),
            self._fields(timings),
        ]
        if span.token_usage is not None:
            usage = span.token_usage
            widgets += [
                self._title("Tokens"),
                self._fields(
                    [
                        ("input", str(usage.input_tokens) if usage.input_tokens is not None else "?"),
                        ("output", str(usage.output_tokens) if usage.output_tokens is not None else "?"),
                        ("total", str(usage.total_tokens) if usage.total_tokens is not None else "?"),
                    ]
                ),
            ]
        widgets += self._io_widgets("Inputs", span.inputs, span_conversation(span, "inputs"))
        widgets += self._io_widgets("Outputs", span.outputs, span_conversation(span, "outputs"))
        widgets += self._attribute_widgets(span)
        widgets += self._event_widgets(span)
        return widgets

    def _attribute_widgets(self, span: Span) -> list[Static]:
        rows: list[tuple[str, str]] = []
        cut: list[Static] = []
        for key, value in span.attributes.items():
            if key in _SHOWN_ELSEWHERE:
                continue
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            rows.append((key, text))
            if len(text) > ATTRIBUTE_PREVIEW_CHARS or "\n" in text:
                cut.append(ShowAll(f"attribute {key}", pretty_json(value)))
        if not rows:
            return []
        return [self._title(f"Attributes ({len(rows)})"), self._fields(rows), *cut]

    def _event_widgets(self, span: Span) -> list[Static]:
        if not span.events:
            return []
        widgets: list[Static] = [self._title(f"Events ({len(span.events)})")]
        for event in span.events:
            offset = f"+{duration(max(0, event.time_unix_nano - span.start_time_ns))}"
            attributes = dict(event.attributes)
            line = Text()
            if event.name == "exception":
                line.append("✗ exception ", style="bold red")
                line.append(f"{offset}  ")
                line.append_text(safe_line(str(attributes.pop("exception.type", "")), 200, style="bold"))
                line.append(": ")
                line.append_text(safe_line(str(attributes.pop("exception.message", "")), 500))
                widgets.append(Static(line, classes="value"))
                stacktrace = attributes.pop("exception.stacktrace", None)
                if stacktrace:
                    widgets += self._value("stack trace", str(stacktrace))
            else:
                line.append_text(safe_line(event.name, 200, style="bold"))
                line.append(f"  {offset}")
                widgets.append(Static(line, classes="value"))
            if attributes:
                widgets.append(
                    self._fields(
                        [
                            (k, v if isinstance(v, str) else json.dumps(v, default=str))
                            for k, v in attributes.items()
                        ]
                    )
                )
        return widgets

    def _derived_widgets(self, hop: DerivedHop) -> list[Static]:
        kind = "Ollama server (derived hop)" if hop.kind == "ollama" else "model generation (derived hop)"
        note = Text("Derived from the attributes of LLM span ", style="italic")
        note.append_text(safe_line(hop.source_span.name, 80, style="bold italic"))
        note.append(
            ": the trace has no span of its own for this hop, so its times are the LLM span's.",
            style="italic",
        )
        return [
            self._header(
                hop.title,
                kind,
                Text("✗ ERROR", style="bold red")
                if hop.source_span.status_code == STATUS_ERROR
                else Text("✓ OK"),
            ),
            Static(note, classes="value"),
            self._title("Known"),
            self._fields(list(hop.facts)),
            self._title("Timing"),
            self._fields([("start", _utc(hop.start_time_ns)), ("duration", duration(hop.duration_ns))]),
        ]
