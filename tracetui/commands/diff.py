"""`tracetui traces diff A B`: two traces compared span by span, as text or JSON.

The alignment is tracetui/tracking/trace_diff.py's; this module only prints it.
Everything printed from a trace goes through `one_line` / `make_visible`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from tracetui.commands import dump_json, run_with_client, target_from, tracking_options
from tracetui.formatting import duration as format_duration
from tracetui.visible import one_line

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient
    from tracetui.tracking.connection import Backend
    from tracetui.tracking.models import Trace
    from tracetui.tracking.trace_diff import AlignedSpan

# The first column of a row: in both, only in A, only in B, status changed.
MARKS = {"both": " ", "left": "-", "right": "+"}
STATUS_CHANGED_MARK = "!"
MAX_INDENT_DEPTH = 16


def _ms(duration_ns: int | None) -> str:
    return format_duration(duration_ns)


def signed_ms(delta_ns: int | None) -> str:
    """+200ms, -1.20s, 0ms; "" when either side has no duration."""
    if delta_ns is None:
        return ""
    if delta_ns == 0:
        return "0ms"
    return ("+" if delta_ns > 0 else "-") + _ms(abs(delta_ns))


def _tokens(pair: tuple[int | None, int | None]) -> str:
    tokens_in, tokens_out = pair
    if tokens_in is None and tokens_out is None:
        return ""
    return f"{'?' if tokens_in is None else tokens_in}→{'?' if tokens_out is None else tokens_out}"


def _signed(number: int | None) -> str:
    return "?" if number is None else f"{number:+d}"


def _tokens_delta(row: AlignedSpan) -> str:
    delta = row.tokens_delta()
    if delta == (None, None):
        return ""
    return f"{_signed(delta[0])}→{_signed(delta[1])}"


def diff_rows(rows: list[AlignedSpan]) -> list[list[str]]:
    table = []
    for row in rows:
        mark = STATUS_CHANGED_MARK if row.status_changed else MARKS[row.side]
        indent = "  " * min(row.depth, MAX_INDENT_DEPTH)
        name = one_line(row.name, 60)
        if row.side != "both":
            name += f" (only in {'A' if row.side == 'left' else 'B'})"
        if row.status_changed:
            name += f" ({row.left.status_code}→{row.right.status_code})"  # type: ignore[union-attr]
        table.append(
            [
                f"{mark} {indent}{name}",
                _ms(row.left.duration_ns) if row.left else "",
                _ms(row.right.duration_ns) if row.right else "",
                signed_ms(row.duration_delta_ns),
                _tokens(row.tokens("left")),
                _tokens(row.tokens("right")),
                _tokens_delta(row),
            ]
        )
    return table


def aligned_columns(rows: list[list[str]]) -> list[str]:
    """The first column left-aligned, the numbers right-aligned, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            [row[0].ljust(widths[0]), *(cell.rjust(widths[i + 1]) for i, cell in enumerate(row[1:]))]
        ).rstrip()
        for row in rows
    ]


def io_lines(title: str, left_value: Any, right_value: Any) -> list[str]:
    """Two values side by side when they differ (`~` marks a differing line); nothing when equal."""
    from tracetui.tracking.trace_diff import io_diff
    from tracetui.visible import make_visible

    lines = io_diff(left_value, right_value)
    if not any(line.changed for line in lines):
        return []
    width = max((len(line.left or "") for line in lines), default=0)
    width = min(max(width, 10), 60)
    out = [f"{title} differ (A | B):"]
    for line in lines:
        left = make_visible(line.left or "", keep_newlines=False)[:width]
        right = make_visible(line.right or "", keep_newlines=False)
        out.append(f"{'~' if line.changed else ' '} {left:<{width}} | {right}")
    return out


def diff_text(left: Trace, right: Trace) -> list[str]:
    from tracetui.tracking.trace_diff import align_traces, summarize_diff

    rows = align_traces(left, right)
    summary = summarize_diff(left, right, rows)
    lines = []
    for label, trace in (("A", left), ("B", right)):
        info = trace.info
        duration = None if info.execution_duration_ms is None else info.execution_duration_ms * 1_000_000
        lines.append(
            f"{label}  {one_line(info.trace_id, 64)}  {one_line(info.name, 60)}  {one_line(info.state, 16)}  "
            f"{_ms(duration)}  {len(trace.spans)} spans"
        )
    delta = (
        None
        if summary.duration_left_ns is None or summary.duration_right_ns is None
        else summary.duration_right_ns - summary.duration_left_ns
    )
    lines.append(
        f"{summary.rows} spans aligned by path: {summary.only_left} only in A, "
        f"{summary.only_right} only in B, {summary.status_changes} status changes; "
        f"duration {_ms(summary.duration_left_ns)} → "
        f"{_ms(summary.duration_right_ns)} ({signed_ms(delta) or '?'})"
    )
    lines.append("")
    headers = ["  span", "A", "B", "Δ", "tokens A", "tokens B", "Δ tokens"]
    lines += aligned_columns([headers, *diff_rows(rows)])
    if rows and rows[0].side == "both":
        root = rows[0]
        for title, which in (("Inputs", "inputs"), ("Outputs", "outputs")):
            found = io_lines(
                f"{title} of {one_line(root.name, 60)}", getattr(root.left, which), getattr(root.right, which)
            )
            if found:
                lines += ["", *found]
    return lines


@click.command("diff")
@tracking_options
@click.argument("trace_a")
@click.argument("trace_b")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def diff_command(
    tracking_uri: str | None, experiment: str | None, trace_a: str, trace_b: str, as_json: bool
) -> None:
    """Compare two traces span by span: durations, tokens, status, spans only in one of them."""
    target = target_from(tracking_uri, experiment)

    async def fetch(client: TrackingClient, backend: Backend) -> tuple[Trace, Trace]:
        return await client.get_trace(trace_a), await client.get_trace(trace_b)

    left, right = run_with_client(target, fetch)
    if as_json:
        from tracetui.tracking.trace_diff import diff_document

        click.echo(dump_json(diff_document(left, right)))
        return
    click.echo("\n".join(diff_text(left, right)))
