"""`tracetui traces feedback TRACE_ID --up|--down [--comment TEXT]`: vote on a trace.

The vote is an MLflow assessment (see tracetui.tracking.feedback), so MLflow's
web UI shows it too; a second vote by the same person replaces the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tracetui.commands import run_with_client, target_from, tracking_options
from tracetui.visible import one_line

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient
    from tracetui.tracking.connection import Backend
    from tracetui.tracking.models import Assessment


@click.command("feedback")
@tracking_options
@click.argument("trace_id")
@click.option("--up/--down", "thumbs_up", default=None, help="Thumbs up or thumbs down.")
@click.option("--comment", metavar="TEXT", default=None, help="Why (stored as the rationale).")
@click.option("--user", "source_id", metavar="NAME", default=None, help="Who votes (default: your login).")
def feedback_command(
    tracking_uri: str | None,
    experiment: str | None,
    trace_id: str,
    thumbs_up: bool | None,
    comment: str | None,
    source_id: str | None,
) -> None:
    """Give a trace a thumbs up or down, stored as MLflow feedback."""
    if thumbs_up is None:
        raise click.UsageError("Say --up or --down.")
    from tracetui.tracking.feedback import set_feedback

    target = target_from(tracking_uri, experiment)

    async def vote(client: TrackingClient, backend: Backend) -> Assessment:
        return await set_feedback(client, trace_id, thumbs_up=thumbs_up, comment=comment, source_id=source_id)

    created = run_with_client(target, vote)
    verdict = "thumbs up" if thumbs_up else "thumbs down"
    click.echo(
        f"Recorded {verdict} on {one_line(trace_id, 64)} (assessment {one_line(created.assessment_id, 64)})."
    )
