"""`tracetui sessions list|show|export`: chat sessions (traces grouped by `mlflow.trace.session`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tracetui.commands import choose_experiment, run_with_client, target_from, tracking_options
from tracetui.visible import make_visible, one_line

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient
    from tracetui.tracking.connection import Backend
    from tracetui.tracking.sessions import SessionSummary
    from tracetui.tracking.transcript import Turn


@click.group("sessions")
def sessions_group() -> None:
    """Chat sessions: traces grouped by their `mlflow.trace.session` metadata."""


@sessions_group.command("list")
@tracking_options
@click.option(
    "--scan",
    type=click.IntRange(min=1),
    default=None,
    help="Group only this many of the newest session traces (default: all, every session complete).",
)
@click.option(
    "--sort",
    "sort_by",
    type=click.Choice(["last", "first", "turns", "duration", "tokens-in", "tokens-out", "errors", "cost"]),
    default="last",
    show_default=True,
    help="Order: largest (or latest) first.",
)
@click.option("--ascending", is_flag=True, help="Smallest (or earliest) first.")
def list_command(
    tracking_uri: str | None, experiment: str | None, scan: int | None, sort_by: str, ascending: bool
) -> None:
    """List the sessions of an experiment with their totals, most recently active first."""
    from tracetui.formatting import date_time as format_time_ms
    from tracetui.formatting import duration_ms as format_duration_ms
    from tracetui.tracking.session_totals import format_cost, sort_sessions
    from tracetui.tracking.sessions import list_sessions

    target = target_from(tracking_uri, experiment)

    async def work(client: TrackingClient, backend: Backend) -> tuple[str, list[SessionSummary]]:
        chosen = await choose_experiment(client, target.experiment)
        return chosen.experiment_id, await list_sessions(client, chosen.experiment_id, max_traces=scan)

    experiment_id, sessions = run_with_client(target, work)
    if not sessions:
        click.echo(f"No sessions in experiment {one_line(experiment_id, 40)}.", err=True)
        return
    sessions = sort_sessions(sessions, sort_by, descending=not ascending)
    any_cost = any(s.cost_usd is not None for s in sessions)
    rows = [
        (
            format_time_ms(s.last_time_ms),
            format_time_ms(s.first_time_ms),
            one_line(s.session_id, 40),
            str(s.trace_count),
            format_duration_ms(s.duration_ms),
            str(s.input_tokens),
            str(s.output_tokens),
            str(s.error_count),
            (format_cost(s.cost_usd) or "–") if any_cost else "–",
            one_line(s.first_prompt, 60),
        )
        for s in sessions
    ]
    # The cost column says once, in its header, when no trace records a cost.
    cost_header = "COST" if any_cost else "COST (none recorded)"
    headers = (
        "LAST ACTIVE", "FIRST", "SESSION", "TURNS", "DURATION", "TOK IN", "TOK OUT", "ERRORS", cost_header,
        "FIRST PROMPT",
    )  # fmt: skip
    numeric = {3, 4, 5, 6, 7, 8}
    fixed = len(headers) - 1
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(fixed)]
    for row in [headers, *rows]:
        cells = [row[i].rjust(widths[i]) if i in numeric else row[i].ljust(widths[i]) for i in range(fixed)]
        click.echo("  ".join([*cells, row[fixed]]).rstrip())


def _turns(tracking_uri: str | None, experiment: str | None, session_id: str) -> tuple[str, str, list[Turn]]:
    from tracetui.tracking.sessions import session_turns

    target = target_from(tracking_uri, experiment)

    async def work(client: TrackingClient, backend: Backend) -> tuple[str, str, list[Turn]]:
        chosen = await choose_experiment(client, target.experiment)
        turns = await session_turns(client, chosen.experiment_id, session_id)
        return chosen.experiment_id, client.base_url, turns

    experiment_id, base_url, turns = run_with_client(target, work)
    if not turns:
        raise click.ClickException(
            f"No session {one_line(session_id, 60)!r} in experiment {one_line(experiment_id, 40)}; "
            "run `tracetui sessions list` to see them."
        )
    return experiment_id, base_url, turns


@sessions_group.command("show")
@tracking_options
@click.argument("session_id")
def show_command(tracking_uri: str | None, experiment: str | None, session_id: str) -> None:
    """Print a session's conversation, oldest turn first."""
    from tracetui.formatting import date_time as format_time_ms

    _, _, turns = _turns(tracking_uri, experiment, session_id)
    for turn in turns:
        click.echo(f"── {format_time_ms(turn.request_time_ms)}  {one_line(turn.trace_id, 64)}")
        click.echo(f"you> {make_visible(turn.prompt)}")
        model = one_line(turn.model or "model", 40)
        click.echo(f"{model}> {make_visible(turn.answer) if turn.answer else '(no answer)'}")
        if turn.error:
            click.echo(f"error: {one_line(turn.error, 200)}")


@sessions_group.command("export")
@tracking_options
@click.argument("session_id")
@click.option(
    "-o", "--output", metavar="FILE.md", required=True, help="Where to write ('-' for standard output)."
)
def export_command(tracking_uri: str | None, experiment: str | None, session_id: str, output: str) -> None:
    """Save a session as a Markdown transcript."""
    from tracetui.commands.export import write_text_file
    from tracetui.tracking.transcript import session_markdown

    experiment_id, base_url, turns = _turns(tracking_uri, experiment, session_id)
    text = session_markdown(session_id, turns, experiment_id=experiment_id, server_url=base_url)
    write_text_file(output, text)
    if output != "-":
        click.echo(
            f"Wrote {len(turns)} turns of session {one_line(session_id, 60)!r} "
            f"to {make_visible(output, keep_newlines=False)}.",
            err=True,
        )
