"""`tracetui traces export TRACE_ID -o FILE`: a trace as the JSON `mlflow traces get` prints."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracetui.commands import run_with_client, target_from, tracking_options
from tracetui.visible import make_visible

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient
    from tracetui.tracking.connection import Backend


def write_text_file(path: str, text: str) -> None:
    """Write `text` to `path` ("-" is stdout) whole or not at all, or fail with one sentence.

    The text goes to a temporary file beside the target first, so an interrupted
    export never leaves half a file where a good one was.
    """
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(path)
    shown = make_visible(str(target), keep_newlines=False)
    try:
        directory = target.parent if str(target.parent) else Path(".")
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temp_name, target)
        except BaseException:
            os.unlink(temp_name)
            raise
    except IsADirectoryError:
        raise click.ClickException(f"{shown} is a directory; give a file name.") from None
    except FileNotFoundError:
        raise click.ClickException(f"The folder of {shown} does not exist; create it first.") from None
    except PermissionError:
        raise click.ClickException(f"No permission to write {shown}; choose another place.") from None
    except OSError as error:
        reason = make_visible(error.strerror or type(error).__name__, keep_newlines=False)
        raise click.ClickException(f"Could not write {shown} ({reason}).") from None


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
