"""`tracetui experiments`: the experiments on the tracking server, to pick one for --experiment."""

from __future__ import annotations

import json
import sys
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
    """List the active experiments (id, traces, last update, name)."""
    target = target_from(tracking_uri, experiment)

    async def work(client: TrackingClient, backend: Backend) -> list[tuple[Experiment, int]]:
        from tracetui.tracking.experiments import count_traces

        experiments = await client.list_experiments()
        # Exact: the server counts where it can (MLflow 3.x), else every page is counted,
        # which takes a while on a large experiment: say so once, on stderr (stdout stays the table).
        said: list[bool] = []

        def counting(counted: int) -> None:
            if not said:
                said.append(True)
                click.echo(
                    "counting… this server cannot count traces, so tracetui pages through them", err=True
                )
                sys.stderr.flush()

        return [(e, await count_traces(client, e.experiment_id, counting)) for e in experiments]

    counted = run_with_client(target, work)
    if as_json:
        documents = [{**asdict(e), "tags": dict(e.tags), "trace_count": count} for e, count in counted]
        click.echo(json.dumps({"experiments": documents}, ensure_ascii=True))
        return
    rows = [
        (
            one_line(e.experiment_id, 24),
            f"{count:,}",
            "-" if e.last_update_time_ms is None else format_time_ms(e.last_update_time_ms),
            one_line(e.name, 100),
        )
        for e, count in counted
    ]
    id_width = max([2, *(len(row[0]) for row in rows)])
    count_width = max([6, *(len(row[1]) for row in rows)])
    click.echo(f"{'ID'.ljust(id_width)}  {'TRACES'.rjust(count_width)}  {'LAST UPDATE'.ljust(19)}  NAME")
    for experiment_id, count, updated, name in rows:
        click.echo(
            f"{experiment_id.ljust(id_width)}  {count.rjust(count_width)}  {updated.ljust(19)}  {name}"
        )
