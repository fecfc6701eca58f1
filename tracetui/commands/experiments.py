"""`tracetui experiments`: the experiments on the tracking server, to pick one for --experiment."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from tracetui.commands import run_with_client, target_from, tracking_options
from tracetui.formatting import date_time as format_time_ms
from tracetui.visible import one_line

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient
    from tracetui.tracking.connection import Backend
    from tracetui.tracking.models import Experiment


@click.command("experiments")
@tracking_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def experiments_command(tracking_uri: str | None, experiment: str | None, as_json: bool) -> None:
    """List the active experiments (id, name, last update)."""
    target = target_from(tracking_uri, experiment)

    async def work(client: TrackingClient, backend: Backend) -> list[Experiment]:
        return await client.list_experiments()

    experiments = run_with_client(target, work)
    if as_json:
        documents = [{**asdict(e), "tags": dict(e.tags)} for e in experiments]
        click.echo(json.dumps({"experiments": documents}, ensure_ascii=True))
        return
    rows = [
        (
            one_line(e.experiment_id, 24),
            "-" if e.last_update_time_ms is None else format_time_ms(e.last_update_time_ms),
            one_line(e.name, 100),
        )
        for e in experiments
    ]
    id_width = max([2, *(len(row[0]) for row in rows)])
    click.echo(f"{'ID'.ljust(id_width)}  {'LAST UPDATE'.ljust(19)}  NAME")
    for experiment_id, updated, name in rows:
        click.echo(f"{experiment_id.ljust(id_width)}  {updated.ljust(19)}  {name}")
