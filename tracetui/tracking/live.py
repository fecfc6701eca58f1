"""Incremental live list of an experiment's traces.

CONTRACT (pinned):

    live = LiveTraceList(experiment_ids: Sequence[str], filter_string: str | None = None,
                         initial_limit: int = 500)
    update = await live.poll(client)  -> LiveUpdate
        LiveUpdate.added:   tuple[TraceInfo, ...]   # never seen before
        LiveUpdate.changed: tuple[TraceInfo, ...]   # seen before, now different (state, duration,
                                                    # tags, metadata, assessments)
        LiveUpdate.requests: int                    # HTTP requests this poll made
    live.traces -> list[TraceInfo]                  # everything known, newest start first
    live.get(trace_id) -> TraceInfo | None

How new traces are found (facts of MLflow 3.17's server):
- A trace's `timestamp_ms` is when it STARTED, and it is logged when it ends, so
  "newer than the last start seen" misses a long trace that ends after newer
  ones were listed. The search filter accepts `trace.end_time_ms`
  (= timestamp_ms + execution_time_ms), so each poll asks for traces that ENDED
  at or after the newest end seen, minus an overlap for export delay and clock
  skew. (Ordering by end_time_ms is a server error, 500, so pages stay in
  `timestamp_ms DESC` order; the server pages by offset, and everything that
  moves while we page ends inside the window and is seen again next poll.)
- Spans are exported as they finish, so a trace exists IN_PROGRESS while its
  root runs, with end_time = its first span's start: possibly older than the
  window. Known in-progress traces are re-read by id every poll, and a
  `status = 'IN_PROGRESS'` query runs on the first and every Nth poll to
  discover others. An idle poll with nothing in progress is one request.

Servers before 3.10 have no `end_time_ms` filter key (3.5 answers "Invalid attribute
key 'end_time_ms'"; see compat.py). There each poll asks for traces that STARTED at
or after the same bound, which finds every trace shorter than half the overlap; a
trace that ran longer is found by a second query on the Nth poll, for traces of at
least that duration started within LONG_LOOKBACK_MS (a day). Only a trace that ran
for more than a day without ever being seen in progress can be missed there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tracetui.tracking.models import STATE_IN_PROGRESS, TraceInfo, TracePage

DEFAULT_OVERLAP_MS = 60_000
DEFAULT_PAGE_SIZE = 500
DEFAULT_IN_PROGRESS_EVERY = 10
LONG_LOOKBACK_MS = 24 * 3600 * 1000
IDS_PER_QUERY = 100  # trace ids per `request_id IN (…)` filter, to keep the filter short
_ORDER = ("timestamp_ms DESC",)


class TraceSearcher(Protocol):
    """The part of `TrackingClient` the live list uses."""

    async def search_traces(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = _ORDER,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> TracePage: ...


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    added: tuple[TraceInfo, ...] = ()
    changed: tuple[TraceInfo, ...] = ()
    requests: int = 0


def _end_ms(info: TraceInfo) -> int:
    # As the server computes end_time_ms: a missing duration counts as zero.
    return info.request_time_ms + (info.execution_duration_ms or 0)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def _has_end_time_filter(client: TraceSearcher) -> bool:
    """Whether the server's search knows `trace.end_time_ms` (a client without `capabilities`: yes)."""
    capabilities = getattr(client, "capabilities", None)
    if capabilities is None:
        return True
    return bool((await capabilities()).end_time_filter)


class LiveTraceList:
    """Everything known about the traces of some experiments, kept fresh by `poll`."""

    def __init__(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        initial_limit: int = 500,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        overlap_ms: int = DEFAULT_OVERLAP_MS,
        in_progress_every: int = DEFAULT_IN_PROGRESS_EVERY,
    ) -> None:
        self.experiment_ids = tuple(experiment_ids)
        self.filter_string = (filter_string or "").strip() or None
        self.initial_limit = initial_limit
        self.page_size = page_size
        self.overlap_ms = overlap_ms
        self.in_progress_every = max(1, in_progress_every)
        self._by_id: dict[str, TraceInfo] = {}
        self._cursor_ms: int | None = None  # the newest end time seen; None until a trace is
        self._polls = 0
        self._sorted: list[TraceInfo] | None = None

    # --- reading ------------------------------------------------------------------

    @property
    def traces(self) -> list[TraceInfo]:
        """Everything known, newest start first."""
        if self._sorted is None:
            self._sorted = sorted(
                self._by_id.values(), key=lambda info: (-info.request_time_ms, info.trace_id)
            )
        return list(self._sorted)

    def get(self, trace_id: str) -> TraceInfo | None:
        return self._by_id.get(trace_id)

    @property
    def cursor_ms(self) -> int | None:
        """The newest end time seen (server clock); polls look back `overlap_ms` from it."""
        return self._cursor_ms

    # --- polling ----------------------------------------------------------------------

    def _filter(self, clause: str) -> str:
        # MLflow's filter grammar has AND only, no parentheses or OR.
        return f"{self.filter_string} AND {clause}" if self.filter_string else clause

    async def _collect(
        self,
        client: TraceSearcher,
        filter_string: str | None,
        found: list[TraceInfo],
        limit: int | None = None,
    ) -> int:
        """Follow pages into `found`; returns the number of requests made."""
        requests = 0
        token: str | None = None
        wanted = limit
        while True:
            size = self.page_size if wanted is None else min(self.page_size, wanted)
            page = await client.search_traces(
                self.experiment_ids,
                filter_string=filter_string,
                order_by=_ORDER,
                max_results=size,
                page_token=token,
            )
            requests += 1
            found.extend(page.trace_infos)
            if wanted is not None:
                wanted -= len(page.trace_infos)
                if wanted <= 0:
                    return requests
            token = page.next_page_token
            if not token or not page.trace_infos:
                return requests

    async def poll(self, client: TraceSearcher) -> LiveUpdate:
        """One round trip (or a few) to the server; nothing changes if a request fails."""
        found: list[TraceInfo] = []
        requests = 0
        if self._cursor_ms is None:
            requests += await self._collect(client, self.filter_string, found, limit=self.initial_limit)
        elif await _has_end_time_filter(client):
            since = self._cursor_ms - self.overlap_ms
            requests += await self._collect(client, self._filter(f"trace.end_time_ms >= {since}"), found)
        else:
            since = self._cursor_ms - self.overlap_ms
            requests += await self._collect(client, self._filter(f"trace.timestamp_ms >= {since}"), found)
            if self._polls % self.in_progress_every == 0:
                long_clause = (
                    f"trace.execution_time_ms >= {self.overlap_ms // 2} AND "
                    f"trace.timestamp_ms >= {since - LONG_LOOKBACK_MS}"
                )
                requests += await self._collect(client, self._filter(long_clause), found)

        seen = {info.trace_id for info in found}
        unresolved = [
            trace_id
            for trace_id, info in self._by_id.items()
            if info.state == STATE_IN_PROGRESS and trace_id not in seen
        ]
        for start in range(0, len(unresolved), IDS_PER_QUERY):
            ids = ", ".join(_quote(trace_id) for trace_id in unresolved[start : start + IDS_PER_QUERY])
            requests += await self._collect(client, self._filter(f"trace.request_id IN ({ids})"), found)
        if self._polls % self.in_progress_every == 0:
            requests += await self._collect(
                client, self._filter(f"trace.status = '{STATE_IN_PROGRESS}'"), found
            )

        self._polls += 1
        return self._merge(found, requests)

    def _merge(self, found: list[TraceInfo], requests: int) -> LiveUpdate:
        added: dict[str, TraceInfo] = {}
        changed: dict[str, TraceInfo] = {}
        for info in found:
            trace_id = info.trace_id
            known = self._by_id.get(trace_id)
            if known is None:
                added[trace_id] = info
            elif known != info:
                if trace_id in added:
                    added[trace_id] = info  # new this poll, read twice: still just "added"
                else:
                    changed[trace_id] = info
            else:
                continue
            self._by_id[trace_id] = info
        # Unchanged traces count too: the server has what ended up to their end times.
        for info in found:
            end = _end_ms(info)
            if self._cursor_ms is None or end > self._cursor_ms:
                self._cursor_ms = end
        if added or changed:
            self._sorted = None
        return LiveUpdate(added=tuple(added.values()), changed=tuple(changed.values()), requests=requests)
