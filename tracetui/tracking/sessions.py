"""Chat sessions: traces grouped by the trace metadata `mlflow.trace.session`.

MLflow 3.17.2 has no REST endpoint that lists sessions, so they are grouped
from a trace search. Filters tried on the real server:

    metadata.`mlflow.trace.session` IS NOT NULL    every trace that has a session
    metadata.`mlflow.trace.session` = 'abc'         one session

MLflow's filter strings cannot escape a quote inside a literal (neither '' nor
\\' work) but accept either quote character, so an id with a single quote is
written in double quotes; an id holding both is matched on this side instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracetui.tracking.errors import TraceNotFound, TraceNotReady
from tracetui.tracking.models import METADATA_SESSION, STATE_ERROR, STATE_IN_PROGRESS, TraceInfo
from tracetui.tracking.session_totals import total_cost
from tracetui.tracking.transcript import Turn, turn_from_info, turn_from_trace

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient

HAS_SESSION_FILTER = f"metadata.`{METADATA_SESSION}` IS NOT NULL"
PAGES_PER_UPDATE = 8  # while listing every session, a regrouped list is handed out this often
MAX_SESSION_TRACES = 1000
PAGE_OF_INFOS = 500  # the server's largest search page
FETCH_CONCURRENCY = 4  # full traces read at once for a transcript: kind to a small server


@dataclass(frozen=True, slots=True)
class SessionSummary:
    session_id: str
    trace_count: int
    first_time_ms: int
    last_time_ms: int
    latest_trace_id: str
    first_prompt: str  # from the first trace's preview; raw: make it visible before showing it
    error_count: int = 0
    in_progress_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    duration_ms: int = 0  # the finished turns' durations, summed
    cost_usd: float | None = None  # summed over the turns that record one (session_totals.py)
    costed_turns: int = 0  # how many turns record a cost


def session_filter(session_id: str) -> str | None:
    """The search filter for one session, or None when MLflow cannot express it."""
    key = f"metadata.`{METADATA_SESSION}`"
    if "'" not in session_id:
        return f"{key} = '{session_id}'"
    if '"' not in session_id:
        return f'{key} = "{session_id}"'
    return None


def group_sessions(trace_infos: Iterable[TraceInfo]) -> list[SessionSummary]:
    """Sessions of these traces, the most recently active first (pure)."""
    groups: dict[str, list[TraceInfo]] = {}
    for info in trace_infos:
        if info.session_id:
            groups.setdefault(info.session_id, []).append(info)
    summaries = []
    for session_id, infos in groups.items():
        infos.sort(key=lambda i: (i.request_time_ms, i.trace_id))
        usage = [i.token_usage for i in infos if i.token_usage is not None]
        cost_usd, costed_turns = total_cost(infos)
        summaries.append(
            SessionSummary(
                session_id=session_id,
                trace_count=len(infos),
                first_time_ms=infos[0].request_time_ms,
                last_time_ms=infos[-1].request_time_ms,
                latest_trace_id=infos[-1].trace_id,
                first_prompt=turn_from_info(infos[0]).prompt,
                error_count=sum(1 for i in infos if i.state == STATE_ERROR),
                in_progress_count=sum(1 for i in infos if i.state == STATE_IN_PROGRESS),
                input_tokens=sum(u.input_tokens or 0 for u in usage),
                output_tokens=sum(u.output_tokens or 0 for u in usage),
                duration_ms=sum(i.execution_duration_ms or 0 for i in infos),
                cost_usd=cost_usd,
                costed_turns=costed_turns,
            )
        )
    summaries.sort(key=lambda s: (s.last_time_ms, s.session_id), reverse=True)
    return summaries


async def list_sessions(
    client: TrackingClient, experiment_id: str, *, max_traces: int | None = None
) -> list[SessionSummary]:
    """Every session of the experiment (or those among the newest `max_traces` session traces),
    most recent first: each with all its turns when `max_traces` is None."""
    return group_sessions(await _session_infos(client, experiment_id, max_traces))


async def stream_sessions(
    client: TrackingClient, experiment_id: str
) -> AsyncIterator[tuple[list[SessionSummary], bool]]:
    """(sessions so far, complete?) after the first page of session traces, every few pages
    after it, and once at the end: a screen shows the first rows at once and says when the
    list is complete. Only a session trace's info is read (one search page = 500 of them);
    a trace read twice (the server pages by offset while traces arrive) counts once.
    """
    filter_string = HAS_SESSION_FILTER if (await client.capabilities()).metadata_filters else None
    infos: dict[str, TraceInfo] = {}
    pages_read = 0
    read_in_page = 0
    async for info in client.iter_trace_infos([experiment_id], filter_string=filter_string):
        if info.session_id:
            infos[info.trace_id] = info
        read_in_page += 1
        if read_in_page == PAGE_OF_INFOS:
            read_in_page, pages_read = 0, pages_read + 1
            if pages_read % PAGES_PER_UPDATE == 1:
                yield group_sessions(infos.values()), False
    yield group_sessions(infos.values()), True


async def _session_infos(client: TrackingClient, experiment_id: str, limit: int | None) -> list[TraceInfo]:
    """The newest traces with a session; older servers have no `IS NOT NULL`: all, then kept here."""
    filter_string = HAS_SESSION_FILTER if (await client.capabilities()).metadata_filters else None
    return [
        info
        async for info in client.iter_trace_infos([experiment_id], filter_string=filter_string, limit=limit)
        if info.session_id
    ]


async def session_trace_infos(
    client: TrackingClient, experiment_id: str, session_id: str, *, limit: int = MAX_SESSION_TRACES
) -> list[TraceInfo]:
    """The session's traces in time order, oldest first; [] for an unknown session."""
    exact = session_filter(session_id)
    if not (await client.capabilities()).metadata_filters:
        infos = [
            info
            for info in await _session_infos(client, experiment_id, None)
            if info.session_id == session_id
        ]
        infos.sort(key=lambda info: info.request_time_ms)
        return infos[:limit]
    infos = [
        info
        async for info in client.iter_trace_infos(
            [experiment_id],
            filter_string=exact or HAS_SESSION_FILTER,
            order_by=("timestamp_ms ASC",),
            limit=limit if exact else None,
        )
        if info.session_id == session_id
    ]
    return infos[:limit]


async def session_turns(
    client: TrackingClient,
    experiment_id: str,
    session_id: str,
    *,
    limit: int = MAX_SESSION_TRACES,
    full_text: bool = True,
) -> list[Turn]:
    """The session's conversation, oldest turn first.

    With `full_text` each trace is read whole (a few at a time) so long prompts
    and answers are not cut; a trace still being exported, or deleted meanwhile,
    falls back to its previews. Without it, previews only: one search, no more.
    """
    infos = await session_trace_infos(client, experiment_id, session_id, limit=limit)
    if not full_text:
        return [turn_from_info(info) for info in infos]
    gate = asyncio.Semaphore(FETCH_CONCURRENCY)

    async def read(info: TraceInfo) -> Turn:
        if info.state == STATE_IN_PROGRESS:
            return turn_from_info(info)
        async with gate:
            try:
                return turn_from_trace(await client.get_trace(info.trace_id))
            except (TraceNotReady, TraceNotFound):
                return turn_from_info(info)

    return list(await asyncio.gather(*(read(info) for info in infos)))
