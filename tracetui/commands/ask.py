"""`tracetui ask PROMPT`: one traced question, headless.

The answer streams to stdout (control and escape characters made visible: it is
a model's text, not commands for the terminal); the trace id goes to stderr.
Failures are one sentence on stderr and exit code 1. When the tracking server
cannot be reached the answer is still given, the turn waits in the outbox
(tracetui/chat/outbox.py), and stderr says so; it is sent with the next turn traced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from typing import TYPE_CHECKING

import click

from tracetui.commands import open_backend, target_from, tracking_options, watched_experiment_id
from tracetui.visible import make_visible

if TYPE_CHECKING:
    from tracetui.chat.outbox_tracer import OutboxTracer
    from tracetui.chat.session import ChatSession, TurnResult
    from tracetui.commands import Target
    from tracetui.tracking.connection import Backend


@click.command("ask")
@click.argument("prompt")
@click.option("--model", "-m", metavar="MODEL", help="litellm model (default: ollama_chat/qwen2.5).")
@click.option("--system", metavar="TEXT", help="A system prompt.")
@click.option("--temperature", type=float, help="Sampling temperature.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Stop after this many tokens.")
@click.option(
    "--ollama-url",
    metavar="URL",
    help="Ollama's address (default: $OLLAMA_API_BASE, $OLLAMA_HOST, else http://localhost:11434).",
)
@click.option("--no-trace", is_flag=True, help="Do not write a trace.")
@tracking_options
def ask_command(
    prompt: str,
    model: str | None,
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    ollama_url: str | None,
    no_trace: bool,
    tracking_uri: str | None,
    experiment: str | None,
) -> None:
    """Ask the model one question, stream the answer, and trace the turn in MLflow."""
    from tracetui.chat.session import ChatOptions, ChatSession
    from tracetui.config import DEFAULT_MODEL

    session = ChatSession(
        model=model or DEFAULT_MODEL,
        system_prompt=system,
        options=ChatOptions(temperature=temperature, max_tokens=max_tokens),
        ollama_url=ollama_url,
    )
    backend: Backend | None = None
    try:
        if not no_trace:
            backend, session.tracer, warning = _tracer_for(target_from(tracking_uri, experiment))
            if warning:
                click.echo(warning, err=True)
        result = asyncio.run(_ask(session, prompt))
    finally:
        if session.tracer is not None:
            session.tracer.close()
        if backend is not None:
            backend.close()

    if result.traced:
        click.echo(f"trace: {result.trace_id}", err=True)
        delivery = getattr(session.tracer, "last_delivery", None)
        earlier = delivery.delivered - (result.trace_id in delivery.delivered_ids) if delivery else 0
        if earlier:
            click.echo(f"Also traced {earlier} earlier turn(s) that were waiting.", err=True)
    elif not no_trace and result.not_traced_reason and session.tracer is not None:
        click.echo(make_visible(result.not_traced_reason, keep_newlines=False), err=True)
    if result.error:
        click.echo(make_visible(result.error, keep_newlines=False), err=True)
        sys.exit(1)


async def _ask(session: ChatSession, prompt: str) -> TurnResult:
    out = sys.stdout

    def show(delta: str) -> None:
        out.write(make_visible(delta))
        out.flush()

    try:
        result = await session.ask(prompt, on_delta=show)
    finally:
        await session.aclose()
    if result.answer and not result.answer.endswith("\n"):
        out.write("\n")
        out.flush()
    return result


def _tracer_for(target: Target) -> tuple[Backend | None, OutboxTracer | None, str | None]:
    """The trace writer for the configured server (starting a local one if needed).

    Returns (backend to close, tracer or None, a sentence to show when tracing is off).
    """
    from tracetui.chat.outbox_tracer import with_outbox
    from tracetui.chat.trace_writer import TurnTracer
    from tracetui.tracking.errors import TrackingError

    try:
        backend = open_backend(target.settings)
    except TrackingError as error:
        return None, None, f"{error} The answer will not be traced."
    settings = dataclasses.replace(target.settings, tracking_uri=backend.base_url)
    if target.experiment and target.experiment.isdigit() and _missing_id(target, backend):
        from tracetui.tracking.errors import ExperimentNotFound

        backend.close()
        raise ExperimentNotFound(
            f"There is no experiment with id {target.experiment} on {backend.describe()}, and an id "
            "cannot be created; give an existing id (tracetui experiments lists them) or a name to create."
        )
    experiment = target.experiment or watched_experiment_id(target, backend)
    return backend, with_outbox(TurnTracer(settings, experiment), server=backend.outbox_server), None


def _missing_id(target: Target, backend: Backend) -> bool:
    """Digits that are neither an experiment id nor a name on the server (asked before the model is)."""
    from tracetui.tracking.client import TrackingClient
    from tracetui.tracking.errors import ExperimentNotFound, TrackingError

    async def resolve() -> None:
        async with TrackingClient(target.settings, backend.base_url) as client:
            await client.resolve_experiment(str(target.experiment))

    try:
        asyncio.run(resolve())
    except ExperimentNotFound:
        return True
    except TrackingError:
        return False  # unreachable now: the turn waits in the outbox, which says why
    return False
