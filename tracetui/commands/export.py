"""`tracetui traces export TRACE_ID -o FILE`: a trace as the JSON `mlflow traces get` prints."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from tracetui.commands import run_with_client, target_from, tracking_options
from tracetui.visible import make_visible

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient
    from tracetui.tracking.connection import Backend


def write_text_file(path: str, text: str) -> None:
    """Write `text` to `path` ("-" is stdout) whole or not at all, or fail with one sentence."""
    from tracetui.files import NotWritten
    from tracetui.files import write_text_file as write_whole

    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        write_whole(path, text)
    except NotWritten as error:
        raise click.ClickException(str(error)) from None


@click.command("export")
@tracking_options
@click.argument("trace_id")
@click.option(
    "-o",
    "--output",
    "output",
    metavar="FILE",
    required=True,
    help="Where to write the JSON ('-' for standard output).",
)
def export_command(tracking_uri: str | None, experiment: str | None, trace_id: str, output: str) -> None:
    """Save a trace as MLflow JSON (the document `mlflow traces get --trace-id` prints)."""
    from tracetui.tracking.export import mlflow_cli_document

    target = target_from(tracking_uri, experiment)

    async def fetch(client: TrackingClient, backend: Backend) -> dict[str, Any]:
        return await mlflow_cli_document(client, trace_id)

    document = run_with_client(target, fetch)
    # ASCII-only JSON: the file is safe to `cat` even when the trace holds escape sequences.
    write_text_file(output, json.dumps(document, ensure_ascii=True, indent=2) + "\n")
    if output != "-":
        click.echo(
            f"Wrote trace {make_visible(trace_id, keep_newlines=False)} "
            f"to {make_visible(output, keep_newlines=False)}.",
            err=True,
        )
