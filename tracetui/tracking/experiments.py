"""Questions the app asks about experiments: which one has the newest trace, how many traces each has.

No Textual here: plain async functions over a TrackingClient, run from the app's workers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from tracetui.tracking.counts import server_trace_count
from tracetui.tracking.models import Experiment


@dataclass(frozen=True, slots=True)
class ExperimentSummary:
    """One experiment with its trace count, for the experiment switcher."""

    experiment: Experiment
    trace_count: int | None  # None when counting failed
    count_is_lower_bound: bool = False  # True when counting stopped at a cap ("1000+")


COUNT_CAP = 1000  # counting beyond this pages through too much; show "1000+"
_PAGE = 500  # the server's largest page


async def experiment_with_newest_trace(client: Any) -> Experiment:
    """The experiment holding the most recent trace; the default experiment when there are no traces.

    One search over every experiment at once, newest first, one result.
    """
    experiments = list(await client.list_experiments())
    if not experiments:
        return await client.get_experiment("0")
    page = await client.search_traces(
        [e.experiment_id for e in experiments], order_by=("timestamp_ms DESC",), max_results=1
    )
    if page.trace_infos:
        newest_id = page.trace_infos[0].experiment_id
        for experiment in experiments:
            if experiment.experiment_id == newest_id:
                return experiment
    for experiment in experiments:
        if experiment.experiment_id == "0":
            return experiment
    return experiments[0]


async def count_traces(client: Any, experiment_id: str, cap: int | None = COUNT_CAP) -> tuple[int, bool]:
    """(count, is_lower_bound): the server's count where it has one, else pages through trace
    infos, stopping at `cap` (never with None)."""
    counter = getattr(client, "count_traces", None)
    if counter is not None:
        return int(await counter(experiment_id)), False
    counted = await server_trace_count(client, [experiment_id])
    if counted is not None:
        return counted, False
    count = 0
    token: str | None = None
    while True:
        page = await client.search_traces([experiment_id], max_results=_PAGE, page_token=token)
        count += len(page.trace_infos)
        token = page.next_page_token
        if not token:
            return count, False
        if cap is not None and count >= cap:
            return count, True


async def experiment_summaries(client: Any) -> list[ExperimentSummary]:
    """Every active experiment with its trace count, most recently updated first."""
    experiments = list(await client.list_experiments())
    experiments.sort(key=lambda e: e.last_update_time_ms or 0, reverse=True)
    # A few counts at a time: the server has one worker, and the list should not starve the poller.
    limit = asyncio.Semaphore(4)

    async def summarise(experiment: Experiment) -> ExperimentSummary:
        async with limit:
            try:
                count, lower_bound = await count_traces(client, experiment.experiment_id)
            except Exception:  # one failing count must not hide the experiment
                return ExperimentSummary(experiment, None)
        return ExperimentSummary(experiment, count, lower_bound)

    return list(await asyncio.gather(*(summarise(e) for e in experiments)))
