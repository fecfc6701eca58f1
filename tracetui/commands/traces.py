"""`tracetui traces list|show|tail`: MLflow traces from the shell.

Everything printed that came from a trace goes through `make_visible`/`one_line`
(escape and control characters shown, never sent raw); JSON output escapes all
non-ASCII, so it is safe on a terminal too.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import click

from tracetui.commands import Target, choose_experiment, run_with_client, target_from, tracking_options
from tracetui.formatting import date_time, token_pair, trace_duration
from tracetui.formatting import duration as format_duration
from tracetui.visible import make_visible, one_line

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient
    from tracetui.tracking.connection import Backend
    from tracetui.tracking.models import Span, Trace, TraceInfo
    from tracetui.tracking.summaries import TraceSummary

# MLflow answers at most 500 traces per search page.
MAX_PAGE = 500
NAME_WIDTH = 24
MODEL_WIDTH = 24
MAX_INDENT_DEPTH = 32  # deeper spans show their depth instead of ever more spaces


# --- formatting ---------------------------------------------------------------------


# Into a pipe, the request preview gets a fixed width rather than the terminal's leftovers.
PIPE_PREVIEW_WIDTH = 80


def _preview_width(used: int) -> int:
    if not sys.stdout.isatty():
        return PIPE_PREVIEW_WIDTH
    return max(20, shutil.get_terminal_size((120, 24)).columns - used)


TABLE_HEADERS = ("TIME", "TRACE ID", "NAME", "MODEL", "STATE", "DURATION", "TOKENS", "REQUEST")


def trace_rows(
    trace_infos: list[TraceInfo], summaries: dict[str, TraceSummary | None] | None = None
) -> list[tuple[str, ...]]:
    """One row of safe, single-line cells per trace (the request preview not yet cut).
    `summaries` (names and models read from the spans) fill the name and model columns."""
    from tracetui.tracking.summaries import UNKNOWN, list_name, model_label

    summaries = summaries or {}
    return [
        (
            date_time(info.request_time_ms),
            one_line(info.trace_id, 64),
            one_line(list_name(info, summaries.get(info.trace_id) or UNKNOWN), NAME_WIDTH),
            one_line(model_label(summaries.get(info.trace_id)) or "-", MODEL_WIDTH),
            one_line(info.state, 16),
            trace_duration(info.execution_duration_ms),
            (token_pair(info.token_usage) or "-"),
            info.request_preview,
        )
        for info in trace_infos
    ]


# Rows printed one at a time (tail) cannot measure each other: give them fixed columns.
TAIL_WIDTHS = (19, 35, NAME_WIDTH, 14, 11, 8, 11)


def format_table(
    rows: list[tuple[str, ...]],
    *,
    headers: bool = True,
    min_widths: tuple[int, ...] = (0,) * 7,
) -> list[str]:
    """Aligned columns; the last column (the request preview) fills what is left of the width."""
    all_rows = [TABLE_HEADERS, *rows] if headers else rows
    if not all_rows:
        return []
    fixed = len(TABLE_HEADERS) - 1
    widths = [max(min_widths[i], *(len(row[i]) for row in all_rows)) for i in range(fixed)]
    preview_width = _preview_width(sum(widths) + 2 * fixed)
    right_aligned = {5}  # durations line up on their unit
    lines = []
    for index, row in enumerate(all_rows):
        cells = [
            row[i].rjust(widths[i]) if i in right_aligned else row[i].ljust(widths[i]) for i in range(fixed)
        ]
        last = row[fixed] if headers and index == 0 else one_line(row[fixed], preview_width)
        lines.append("  ".join([*cells, last]).rstrip())
    return lines


def trace_info_json(info: TraceInfo) -> dict[str, Any]:
    """A trace summary as plain JSON (tracetui's own shape: MLflow's CLI prints full traces here)."""
    document = asdict(info)
    document["assessments"] = [asdict(a) for a in info.assessments]
    return document


def dump_json(document: Any) -> str:
    # ensure_ascii: every control, bidi or other non-ASCII character is written as \uXXXX,
    # so trace data cannot act on a terminal. Indent only for a person: the compact form
    # is several times faster to write for a 10,000-span trace.
    indent = 2 if sys.stdout.isatty() else None
    return json.dumps(document, ensure_ascii=True, indent=indent, default=str)


def _walk(trace: Trace) -> Iterator[tuple[int, Span]]:
    """Spans depth-first in start order, with their depth; iterative, as traces can nest 10,000 deep."""
    children = trace.children_by_parent()
    stack = [(0, span) for span in reversed(children.get(None, []))]
    while stack:
        depth, span = stack.pop()
        yield depth, span
        stack.extend((depth + 1, child) for child in reversed(children.get(span.span_id, [])))


def format_span_line(depth: int, span: Span) -> str:
    indent = "  " * min(depth, MAX_INDENT_DEPTH)
    if depth > MAX_INDENT_DEPTH:
        indent += f"[depth {depth}] "
    duration = span.duration_ns
    parts = [
        f"{indent}{one_line(span.name or '-', 80)} ({one_line(span.span_type, 24)})",
        format_duration(duration),
    ]
    if span.token_usage is not None:
        parts.append(f"{token_pair(span.token_usage) or '-'} tok")
    if span.status_code == "ERROR":
        message = one_line(span.status_message, 120)
        parts.append(f"ERROR: {message}" if message else "ERROR")
    return "  ".join(parts)


def format_trace_tree(trace: Trace) -> list[str]:
    from tracetui.tracking.summaries import list_name, model_label, summarize

    info = trace.info
    summary = summarize(trace)
    parts = [
        one_line(info.trace_id, 64),
        one_line(list_name(info, summary), 80),
        one_line(info.state, 16),
        trace_duration(info.execution_duration_ms),
        date_time(info.request_time_ms),
    ]
    if summary.models:
        parts.append(one_line(model_label(summary), 80))
    if info.token_usage is not None:
        parts.append(f"{token_pair(info.token_usage) or '-'} tok")
    parts.append(f"{len(trace.spans)} spans")
    return ["  ".join(parts), *(format_span_line(depth, span) for depth, span in _walk(trace))]


# --- commands -----------------------------------------------------------------------


@click.group("traces")
def traces_group() -> None:
    """List, inspect and follow the traces of an MLflow experiment."""


@traces_group.command("list")
@tracking_options
@click.option(
    "--filter", "filter_string", metavar="EXPR", help="MLflow search filter, e.g. \"status = 'ERROR'\"."
)
@click.option(
    "--max",
    "max_results",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="How many traces, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(
    tracking_uri: str | None,
    experiment: str | None,
    filter_string: str | None,
    max_results: int,
    as_json: bool,
) -> None:
    """List the newest traces of an experiment."""
    target = target_from(tracking_uri, experiment)

    async def work(client: TrackingClient, backend: Backend) -> tuple[str, list[TraceInfo], dict[str, Any]]:
        chosen = await choose_experiment(client, target.experiment)
        infos = [
            info
            async for info in client.iter_trace_infos(
                [chosen.experiment_id], filter_string=filter_string or None, limit=max_results
            )
        ]
        summaries = {} if as_json else await _summaries(client, infos)
        return chosen.experiment_id, infos, summaries

    experiment_id, infos, summaries = run_with_client(target, work)
    if as_json:
        click.echo(dump_json({"experiment_id": experiment_id, "traces": [trace_info_json(i) for i in infos]}))
        return
    if not infos:
        click.echo(f"No traces in experiment {one_line(experiment_id, 40)}.", err=True)
        return
    for line in format_table(trace_rows(infos, summaries)):
        click.echo(line)


async def _summaries(client: TrackingClient, infos: list[TraceInfo]) -> dict[str, TraceSummary | None]:
    """Names and models from the spans of the listed traces (search results do not say which model)."""
    from tracetui.tracking.summaries import SummaryCache, fetch_summaries

    cache = SummaryCache()
    wanted = cache.wanted(infos)
    cache.put(await fetch_summaries(client, wanted))
    return {info.trace_id: cache.get(info.trace_id) for info in infos}


@traces_group.command("show")
@tracking_options
@click.argument("trace_id")
@click.option("--json", "as_json", is_flag=True, help="Print the document `mlflow traces get` prints.")
@click.option("--tree", "as_tree", is_flag=True, help="Print the span tree with durations (the default).")
@click.option(
    "--span",
    "span_key",
    metavar="NAME_OR_ID",
    help="Print this span's detail (timing, conversation or inputs/outputs, attributes, events).",
)
def show_command(
    tracking_uri: str | None,
    experiment: str | None,
    trace_id: str,
    as_json: bool,
    as_tree: bool,
    span_key: str | None,
) -> None:
    """Show one trace: its span tree, or the same JSON as `mlflow traces get --trace-id`."""
    if sum((as_json, as_tree, span_key is not None)) > 1:
        raise click.UsageError("Choose one of --json, --tree and --span.")
    target = target_from(tracking_uri, experiment)

    if as_json:
        from tracetui.tracking.export import mlflow_cli_document

        async def fetch_json(client: TrackingClient, backend: Backend) -> dict[str, Any]:
            return await mlflow_cli_document(client, trace_id)

        click.echo(dump_json(run_with_client(target, fetch_json)))
        return

    async def fetch(client: TrackingClient, backend: Backend) -> Trace:
        return await client.get_trace(trace_id)

    trace = run_with_client(target, fetch)
    if span_key is None:
        click.echo("\n".join(format_trace_tree(trace)))
        return
    from tracetui.tracking.span_text import find_spans, span_detail_lines

    spans = find_spans(trace, span_key)
    if not spans:
        raise click.ClickException(
            f"Trace {one_line(trace_id, 64)} has no span named or with id {one_line(span_key, 80)!r}."
        )
    for number, span in enumerate(spans):
        if number:
            click.echo("")
        click.echo("\n".join(span_detail_lines(trace, span)))


@traces_group.command("tail")
@tracking_options
@click.option(
    "--filter", "filter_string", metavar="EXPR", help="MLflow search filter for the traces to follow."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between polls.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
def tail_command(
    tracking_uri: str | None,
    experiment: str | None,
    filter_string: str | None,
    interval: float,
    as_json: bool,
) -> None:
    """Print each new trace as it finishes, until Ctrl-C."""
    target = target_from(tracking_uri, experiment)
    try:
        run_with_client(
            target, lambda client, backend: _follow(client, backend, target, filter_string, interval, as_json)
        )
    except KeyboardInterrupt:
        # Ctrl-C is how a person stops following: a normal end, not an error.
        pass


# Failures worth waiting out while following (a server restarting), with a growing pause.
MAX_RETRY_PAUSE_S = 10.0


async def _follow(
    client: TrackingClient,
    backend: Backend,
    target: Target,
    filter_string: str | None,
    interval: float,
    as_json: bool,
) -> None:
    from tracetui.tracking.errors import BadResponse, ServerTimeout, ServerUnreachable
    from tracetui.tracking.live import LiveTraceList
    from tracetui.tracking.models import STATE_IN_PROGRESS

    chosen = await choose_experiment(client, target.experiment)
    live = LiveTraceList([chosen.experiment_id], filter_string=filter_string or None)
    first = await live.poll(client)
    # What already finished before we started is history, not news.
    printed = {info.trace_id for info in first.added if info.state != STATE_IN_PROGRESS}
    click.echo(
        f"Following experiment {one_line(chosen.name, 60)!r} (id {one_line(chosen.experiment_id, 20)}) "
        f"on {backend.describe()}; press Ctrl-C to stop.",
        err=True,
    )
    pause = interval
    failing = False
    while True:
        await asyncio.sleep(pause)
        try:
            update = await live.poll(client)
        except (ServerUnreachable, ServerTimeout, BadResponse) as error:
            if not failing:
                click.echo(f"{make_visible(str(error), keep_newlines=False)} Still trying…", err=True)
            failing = True
            pause = min(MAX_RETRY_PAUSE_S, pause * 2)
            continue
        if failing:
            click.echo("The tracking server answers again.", err=True)
        failing, pause = False, interval
        finished = [
            info
            for info in (*update.added, *update.changed)
            if info.state != STATE_IN_PROGRESS and info.trace_id not in printed
        ]
        finished.sort(key=lambda info: info.request_time_ms)
        summaries = {} if as_json else await _summaries(client, finished)
        for info in finished:
            printed.add(info.trace_id)
            if as_json:
                click.echo(json.dumps(trace_info_json(info), ensure_ascii=True, default=str))
            else:
                rows = trace_rows([info], summaries)
                for line in format_table(rows, headers=False, min_widths=TAIL_WIDTHS):
                    click.echo(line)


def _add_commands_from_other_modules() -> None:
    """`traces mermaid|feedback|export` live in their own modules (each imports only click here)."""
    from tracetui.commands.export import export_command
    from tracetui.commands.feedback import feedback_command
    from tracetui.commands.mermaid import mermaid_command

    for command in (mermaid_command, feedback_command, export_command):
        traces_group.add_command(command)


_add_commands_from_other_modules()
