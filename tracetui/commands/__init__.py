"""Plumbing shared by the CLI's subcommands: the common options, the backend and client
lifecycle, and the choice of experiment.

Nothing heavy is imported at module level (no httpx, mlflow, textual or litellm),
so `tracetui --help` stays fast; the tracking client is imported when a command runs.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tracetui.config import TrackingSettings, experiment_selector, tracking_settings

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient
    from tracetui.tracking.connection import Backend
    from tracetui.tracking.models import Experiment

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# Where the group-level --tracking-uri/--experiment are kept for the subcommands.
_META_URI = "tracetui.tracking_uri"
_META_EXPERIMENT = "tracetui.experiment"
DEFAULT_EXPERIMENT_ID = "0"  # MLflow's "Default" experiment


def tracking_options(func: F) -> F:
    """Add --tracking-uri and --experiment; both default to MLflow's environment variables."""
    func = click.option(
        "--experiment",
        "-e",
        metavar="NAME|ID",
        default=None,
        help="Experiment name or id (default: $MLFLOW_EXPERIMENT_ID / $MLFLOW_EXPERIMENT_NAME, "
        "else the experiment with the newest trace).",
    )(func)
    func = click.option(
        "--tracking-uri",
        metavar="URI",
        default=None,
        help="MLflow tracking server URL, or a store (sqlite:///x.db, file:./mlruns, a folder) "
        "to serve locally (default: $MLFLOW_TRACKING_URI, else ./mlruns or ./mlflow.db).",
    )(func)
    return func


def remember_group_options(ctx: click.Context, tracking_uri: str | None, experiment: str | None) -> None:
    """Keep the group's options, so `tracetui --tracking-uri X traces list` works like
    `tracetui traces list --tracking-uri X`."""
    ctx.meta[_META_URI] = tracking_uri
    ctx.meta[_META_EXPERIMENT] = experiment


@dataclass(frozen=True)
class Target:
    """What a command was asked to talk to."""

    settings: TrackingSettings
    experiment: str | None  # a name or an id; None: choose the experiment with the newest trace


def target_from(tracking_uri: str | None, experiment: str | None) -> Target:
    """Command-line values win over the group's, which win over the environment."""
    ctx = click.get_current_context()
    uri = tracking_uri or ctx.meta.get(_META_URI)
    selector = experiment or ctx.meta.get(_META_EXPERIMENT)
    return Target(settings=tracking_settings(uri), experiment=experiment_selector(selector))


def open_backend(settings: TrackingSettings) -> Backend:
    """Resolve the backend, saying on stderr why we wait when a local server has to start."""
    from tracetui.tracking.connection import resolve_backend

    def tell_user(store_uri: str) -> None:
        click.echo(f"Starting a local MLflow server over {store_uri} …", err=True)

    return resolve_backend(settings, on_starting=tell_user)


def run_with_client(
    target: Target,
    work: Callable[[TrackingClient, Backend], Awaitable[T]],
) -> T:
    """Run `work(client, backend)` on an event loop; the backend is closed afterwards, even on Ctrl-C."""
    import asyncio  # here, not at the top: `tracetui --help` has no use for it

    from tracetui.tracking.client import TrackingClient

    async def main(backend: Backend) -> T:
        async with TrackingClient(target.settings, backend.base_url) as client:
            return await work(client, backend)

    with _sigterm_as_interrupt():
        backend = open_backend(target.settings)
        try:
            return asyncio.run(main(backend))
        finally:
            backend.close()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM unwinds like Ctrl-C, so an embedded server is stopped
    by the `finally` above rather than later by its guard."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def choose_experiment(client: TrackingClient, selector: str | None) -> Experiment:
    """The experiment named by `selector`, else the one with the newest trace, else "Default"."""
    if selector:
        return await client.resolve_experiment(selector)
    experiments = await client.list_experiments()
    if not experiments:
        return await client.get_experiment(DEFAULT_EXPERIMENT_ID)
    newest = await _experiment_of_newest_trace(client, [e.experiment_id for e in experiments])
    by_id = {e.experiment_id: e for e in experiments}
    if newest is not None and newest in by_id:
        return by_id[newest]
    return by_id.get(DEFAULT_EXPERIMENT_ID, experiments[0])


def watched_experiment_id(target: Target, backend: Backend) -> str | None:
    """The experiment the dashboard would open with no --experiment: the one with the newest trace.

    None when the server cannot be asked now; the trace writer then says why, after the answer.
    """
    import asyncio

    from tracetui.tracking.client import TrackingClient
    from tracetui.tracking.errors import TrackingError

    async def pick() -> str:
        async with TrackingClient(target.settings, backend.base_url) as client:
            return (await choose_experiment(client, None)).experiment_id

    try:
        return asyncio.run(pick())
    except TrackingError:
        return None


# A trace search names its experiments in the request; keep each request a reasonable size.
_EXPERIMENTS_PER_SEARCH = 100


async def _experiment_of_newest_trace(client: TrackingClient, experiment_ids: Sequence[str]) -> str | None:
    newest: tuple[int, str] | None = None
    for start in range(0, len(experiment_ids), _EXPERIMENTS_PER_SEARCH):
        chunk = experiment_ids[start : start + _EXPERIMENTS_PER_SEARCH]
        page = await client.search_traces(chunk, order_by=("timestamp_ms DESC",), max_results=1)
        for info in page.trace_infos:
            if newest is None or info.request_time_ms > newest[0]:
                newest = (info.request_time_ms, info.experiment_id)
    return None if newest is None else newest[1]


def dump_json(document: Any) -> str:
    # ensure_ascii: every control, bidi or other non-ASCII character is written as \uXXXX,
    # so trace data cannot act on a terminal. Indent only for a person: the compact form
    # is several times faster to write for a 10,000-span trace.
    indent = 2 if sys.stdout.isatty() else None
    return json.dumps(document, ensure_ascii=True, indent=indent, default=str)
