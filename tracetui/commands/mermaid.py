"""`tracetui traces mermaid TRACE_ID`: a trace's call sequence as Mermaid `sequenceDiagram` text.

Paste the output into any Mermaid renderer (GitHub Markdown, mermaid.live).
Span names are escaped by `tracetui.tracking.sequence.mermaid_escape`, so a
hostile name cannot end a statement or inject markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tracetui.commands import run_with_client, target_from, tracking_options

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient
    from tracetui.tracking.connection import Backend
    from tracetui.tracking.models import Trace


@click.command("mermaid")
@tracking_options
@click.argument("trace_id")
@click.option("--text", "as_text", is_flag=True, help="Draw it for the terminal instead of Mermaid.")
def mermaid_command(tracking_uri: str | None, experiment: str | None, trace_id: str, as_text: bool) -> None:
    """Print a trace's sequence diagram (program, litellm, Ollama, model, MLflow) as Mermaid."""
    from tracetui.tracking.sequence import build_sequence, to_mermaid, to_text_lines

    target = target_from(tracking_uri, experiment)

    async def fetch(client: TrackingClient, backend: Backend) -> Trace:
        return await client.get_trace(trace_id)

    diagram = build_sequence(run_with_client(target, fetch))
    if as_text:
        click.echo("\n".join(to_text_lines(diagram)))
    else:
        click.echo(to_mermaid(diagram), nl=False)
