"""`tracetui outbox list|retry`: chat turns waiting to be traced, and those a server refused.

Turns wait in the outbox (tracetui/chat/outbox.py) while their server is down,
refuses the credentials, or their experiment is not known yet; a turn a server
refused for good is kept beside them as `.rejected`, with the reason. `list`
shows all of them for every server; `retry` sends those of the configured server
again, refused ones included (after the cause was fixed).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

from tracetui.commands import open_backend, target_from, tracking_options, watched_experiment_id
from tracetui.visible import one_line

if TYPE_CHECKING:
    from tracetui.chat.outbox_listing import OutboxFolder
    from tracetui.commands import Target
    from tracetui.tracking.connection import Backend


@click.group("outbox")
def outbox_group() -> None:
    """Chat turns waiting to be traced, and those a tracking server refused."""


@outbox_group.command("list")
def list_command() -> None:
    """Every outbox with its waiting and refused turns, and why each refused one was refused."""
    from tracetui.chat.outbox import state_dir
    from tracetui.chat.outbox_listing import outbox_folders, refused_turns

    folders = outbox_folders()
    if not folders:
        click.echo(f"Nothing waits to be traced (outbox: {state_dir() / 'outbox'}).")
        return
    for folder in folders:
        click.echo(f"{one_line(folder.where, 200)}: {folder.waiting} waiting, {folder.refused} refused")
        for turn in refused_turns(folder.folder):
            click.echo(f"  refused {turn.trace_id}  {one_line(turn.prompt, 60)!r}")
            click.echo(f"    because {one_line(turn.reason, 300)}")
    click.echo("`tracetui outbox retry` sends the turns of the configured server again.", err=True)


@outbox_group.command("retry")
@tracking_options
def retry_command(tracking_uri: str | None, experiment: str | None) -> None:
    """Send the configured server's waiting and refused turns again."""
    from tracetui.chat.outbox_listing import outbox_folders
    from tracetui.tracking.connection import outbox_server
    from tracetui.tracking.errors import redact_url

    target = target_from(tracking_uri, experiment)
    server = redact_url(outbox_server(target.settings).rstrip("/"))
    folders = [folder for folder in outbox_folders() if folder.server == server]
    others = sum(folder.waiting + folder.refused for folder in outbox_folders() if folder.server != server)
    if not folders:
        elsewhere = f"; {others} wait for other servers (tracetui outbox list)" if others else ""
        click.echo(f"Nothing waits to be traced on {server}{elsewhere}.")
        return
    backend = open_backend(target.settings)
    still_waiting = 0
    try:
        for folder in folders:
            still_waiting += _send(folder, target, backend)
    finally:
        backend.close()
    if still_waiting:
        raise click.exceptions.Exit(1)


def _send(folder: OutboxFolder, target: Target, backend: Backend) -> int:
    """Send one outbox's turns (refused ones again); how many still wait. Says what happened."""
    from tracetui.chat.trace_writer import TurnTracer

    outbox = folder.outbox()
    requeued = outbox.retry_rejected()
    destination = folder.experiment
    if folder.unresolved and not destination:
        destination = target.experiment or watched_experiment_id(target, backend)
    settings = dataclasses.replace(target.settings, tracking_uri=backend.base_url)
    tracer = TurnTracer(settings, destination)
    try:
        delivery = outbox.deliver(tracer)
    finally:
        tracer.close()
    again = f" ({requeued} refused before)" if requeued else ""
    click.echo(
        f"{one_line(folder.where, 200)}: {delivery.delivered} traced{again}, {delivery.waiting} waiting"
    )
    if delivery.sentence:
        click.echo(one_line(delivery.sentence, 4000), err=True)
    return delivery.waiting + len(outbox.rejected())
