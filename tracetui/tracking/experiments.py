"""Questions the app asks about experiments: which one has the newest trace, how many traces each has.

No Textual here: plain async functions over a TrackingClient, run from the app's workers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracetui.tracking.counts import server_trace_count
from tracetui.tracking.models import Experiment

# Told each page's running total while counting by paging, where the server cannot count.
CountProgress = Callable[[int], None]

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


async def count_traces(
    client: Any, experiment_id: str, progress: CountProgress | None = None, *, page_size: int = _PAGE
) -> int:
    """The exact number of traces in the experiment: the server's count where it has one (MLflow
    3.x's trace metrics), else counted page by page: `progress` is told 0 before the first page
    and the running total after each page but the last, so a caller can say "counting…"."""
    counted = await server_trace_count(client, [experiment_id])
    if counted is not None:
        return counted
    count = 0
    token: str | None = None
    if progress is not None:
        progress(count)
    while True:
        page = await client.search_traces([experiment_id], max_results=page_size, page_token=token)
        count += len(page.trace_infos)
        token = page.next_page_token
        if not token:
            return count
        if progress is not None:
            progress(count)
