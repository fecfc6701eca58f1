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
    update = await live.load_older(client)  -> LiveUpdate   # the next page of older traces
    live.more_exist -> bool | None                  # older traces on the server than loaded

Paging back: the first poll loads the newest `initial_limit` traces; `load_older`
asks for the next page below the oldest start loaded so far (keyset on the
indexed start time: `timestamp_ms <= oldest AND request_id NOT IN (ids at it)`),
so traces arriving meanwhile never shift what a page holds, as the server's
offset page tokens would. Only what the person scrolled to is ever loaded.

How new traces are found (facts of MLflow 3.17's server on PostgreSQL):
- A trace's `timestamp_ms` is when it STARTED, and it is logged when it ends, so
  "newer than the last start seen" misses a long trace that ends after newer
  ones were listed. The filter key `trace.end_time_ms` (timestamp_ms +
  execution_time_ms) finds those, but nothing indexes it: alone it makes the
  server compute it for every trace of the experiment (69-75 ms a poll at
  100,000 traces, against 8 ms for an indexed `timestamp_ms` bound). The trace
  table is indexed on (experiment_id, timestamp_ms), so every query here is
  bounded by start time as well:
  * every poll: traces started within `window_ms` (W) of the newest start seen
    that ended at or after the newest end seen less `overlap_ms` (export delay,
    clock skew). This finds new traces (their start is past the cursor) and
    traces that end late but ran shorter than W; the server scans only the
    traces started within W.
  * every `sweep_every`th poll: the same over `sweep_window_ms` (a day) for
    traces that ended since the previous sweep: a trace longer than W shows
    up to `sweep_every` polls late; one longer than a day only if it was seen
    running.
  * running traces: known ones are re-read by id every poll; others are
    looked for (`status = 'IN_PROGRESS'`, started within W, or within the day
    on a sweep) on the first and every `in_progress_every`th poll.
  A trace already known and finished is excluded by id (`request_id NOT IN`),
  so the overlap does not download a busy minute again on every poll. An
  idle poll with nothing in progress is one small request.
- Ordering by end_time_ms is a server error (500), so pages stay in
  `timestamp_ms DESC` order; the server pages by offset, and everything that
  moves while we page ends inside the window and is seen again next poll.

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
DEFAULT_WINDOW_MS = 10 * 60_000  # W: the start-time span every poll scans for late ends
DEFAULT_SWEEP_EVERY = 60  # polls between sweeps for traces longer than W (a minute at 1 s)
LONG_LOOKBACK_MS = 24 * 3600 * 1000  # how far back sweeps (and old servers' long query) look
IDS_PER_QUERY = 100  # trace ids per `request_id IN (…)` filter, to keep the filter short
# Known traces excluded from one query by id. Past this (a flood of traces ending in the
# overlap) the rest are downloaded again rather than making the filter unbounded.
MAX_EXCLUDED_IDS = 200
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
        window_ms: int = DEFAULT_WINDOW_MS,
        sweep_every: int = DEFAULT_SWEEP_EVERY,
        sweep_window_ms: int = LONG_LOOKBACK_MS,
    ) -> None:
        self.experiment_ids = tuple(experiment_ids)
        self.filter_string = (filter_string or "").strip() or None
        self.initial_limit = initial_limit
        self.page_size = page_size
        self.overlap_ms = overlap_ms
        self.in_progress_every = max(1, in_progress_every)
        self.window_ms = window_ms
        self.sweep_every = max(1, sweep_every)
        self.sweep_window_ms = max(window_ms, sweep_window_ms)
        self._by_id: dict[str, TraceInfo] = {}
        self._cursor_ms: int | None = None  # the newest end time seen; None until a trace is
        self._newest_start_ms: int | None = None
        self._swept_to_ms: int | None = None  # the newest end seen at the last sweep
        # Paging back: the oldest start the initial load and pages reached, and the ids loaded
        # at exactly that start (polls may add older traces; they do not move this frontier).
        self._frontier_ms: int | None = None
        self._frontier_ids: set[str] = set()
        self.more_exist: bool | None = None  # None until the first poll says
        self._polls = 0
        self._sorted: list[TraceInfo] | None = None
        self._running: set[str] = set()  # ids of known traces still IN_PROGRESS, re-read each poll

    # --- reading ------------------------------------------------------------------

    @property
    def traces(self) -> list[TraceInfo]:
        """Everything known, newest start first."""
        return list(self._ordered())

    def _ordered(self) -> list[TraceInfo]:
        if self._sorted is None:
            self._sorted = sorted(
                self._by_id.values(), key=lambda info: (-info.request_time_ms, info.trace_id)
            )
        return self._sorted

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
        look_for_running = self._polls % self.in_progress_every == 0
        if self._cursor_ms is None:
            requests += await self._collect(client, self.filter_string, found, limit=self.initial_limit)
            self._move_frontier(found, wanted=self.initial_limit)
            running_since = None if not found else self._start_bound(found, self.sweep_window_ms)
        elif await _has_end_time_filter(client):
            requests += await self._poll_by_end_time(client, found)
            sweep = self._polls % self.sweep_every == 0
            running_since = self._start_bound(found, self.sweep_window_ms if sweep else self.window_ms)
        else:
            requests += await self._poll_by_start_time(client, found)
            running_since = None

        seen = {info.trace_id for info in found}
        unresolved = sorted(self._running - seen)
        for start in range(0, len(unresolved), IDS_PER_QUERY):
            ids = ", ".join(_quote(trace_id) for trace_id in unresolved[start : start + IDS_PER_QUERY])
            requests += await self._collect(client, self._filter(f"trace.request_id IN ({ids})"), found)
        if look_for_running:
            clause = f"trace.status = '{STATE_IN_PROGRESS}'"
            if running_since is not None:
                clause += f" AND trace.timestamp_ms >= {running_since}"
            requests += await self._collect(client, self._filter(clause), found)

        self._polls += 1
        return self._merge(found, requests)

    async def load_older(self, client: TraceSearcher, count: int | None = None) -> LiveUpdate:
        """The next `count` (a page) older traces than the oldest loaded; nothing before the first poll."""
        if self._frontier_ms is None or not self.more_exist:
            return LiveUpdate()
        count = count or self.page_size
        clause = f"trace.timestamp_ms <= {self._frontier_ms}"
        if self._frontier_ids:
            ties = sorted(self._frontier_ids)[:MAX_EXCLUDED_IDS]
            if len(self._frontier_ids) > MAX_EXCLUDED_IDS:
                # More traces share that millisecond than a filter should name: step past it.
                clause = f"trace.timestamp_ms < {self._frontier_ms}"
            else:
                clause += f" AND trace.request_id NOT IN ({', '.join(_quote(i) for i in ties)})"
        found: list[TraceInfo] = []
        requests = await self._collect(client, self._filter(clause), found, limit=count)
        self._move_frontier(found, wanted=count)
        return self._merge(found, requests)

    def _move_frontier(self, page: list[TraceInfo], wanted: int) -> None:
        """After the initial load or a page back: the new oldest start, and whether more exist."""
        self.more_exist = len(page) >= wanted
        if not page:
            return
        oldest = min(info.request_time_ms for info in page)
        at_oldest = {info.trace_id for info in page if info.request_time_ms == oldest}
        if oldest == self._frontier_ms:
            self._frontier_ids |= at_oldest
        else:
            self._frontier_ms, self._frontier_ids = oldest, at_oldest

    def _start_bound(self, found: list[TraceInfo], width_ms: int) -> int | None:
        """The oldest start a bounded query looks at: `width_ms` before the newest start known."""
        newest = max((info.request_time_ms for info in found), default=None)
        if self._newest_start_ms is not None:
            newest = self._newest_start_ms if newest is None else max(newest, self._newest_start_ms)
        return None if newest is None else newest - width_ms

    def _known_finished(self, started_from: int, ended_from: int) -> list[str]:
        """Ids of known, finished traces a query over these bounds would return again, newest end first."""
        matching: list[TraceInfo] = []
        for info in self._ordered():  # newest start first: the walk stops at the window's start
            if info.request_time_ms < started_from:
                break
            if info.state != STATE_IN_PROGRESS and _end_ms(info) >= ended_from:
                matching.append(info)
        matching.sort(key=_end_ms, reverse=True)
        return [info.trace_id for info in matching[:MAX_EXCLUDED_IDS]]

    def _bounded_clause(self, started_from: int, ended_from: int) -> str:
        clause = f"trace.timestamp_ms >= {started_from} AND trace.end_time_ms >= {ended_from}"
        known = self._known_finished(started_from, ended_from)
        if known:
            clause += f" AND trace.request_id NOT IN ({', '.join(_quote(i) for i in known)})"
        return clause

    async def _poll_by_end_time(self, client: TraceSearcher, found: list[TraceInfo]) -> int:
        """Servers with `end_time_ms`: the every-poll window, and on every Nth poll the wide sweep."""
        assert self._cursor_ms is not None and self._newest_start_ms is not None
        newest_start = self._newest_start_ms
        # A trace that starts after the newest start ends after it too: the end bound never
        # passes the newest start, so new traces need no separate query.
        ended_from = min(self._cursor_ms - self.overlap_ms, newest_start)
        requests = await self._collect(
            client, self._filter(self._bounded_clause(newest_start - self.window_ms, ended_from)), found
        )
        if self._polls % self.sweep_every == 0:
            swept_to = self._swept_to_ms if self._swept_to_ms is not None else self._cursor_ms
            clause = self._bounded_clause(
                newest_start - self.sweep_window_ms, min(swept_to - self.overlap_ms, ended_from)
            )
            requests += await self._collect(client, self._filter(clause), found)
            self._swept_to_ms = self._cursor_ms
        return requests

    async def _poll_by_start_time(self, client: TraceSearcher, found: list[TraceInfo]) -> int:
        """Servers before 3.10 (no `end_time_ms`): by start, plus a look for long traces every Nth poll."""
        assert self._cursor_ms is not None
        since = self._cursor_ms - self.overlap_ms
        requests = await self._collect(client, self._filter(f"trace.timestamp_ms >= {since}"), found)
        if self._polls % self.in_progress_every == 0:
            long_clause = (
                f"trace.execution_time_ms >= {self.overlap_ms // 2} AND "
                f"trace.timestamp_ms >= {since - LONG_LOOKBACK_MS}"
            )
            requests += await self._collect(client, self._filter(long_clause), found)
        return requests

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
            if info.state == STATE_IN_PROGRESS:
                self._running.add(trace_id)
            else:
                self._running.discard(trace_id)
        # Unchanged traces count too: the server has what ended up to their end times.
        for info in found:
            end = _end_ms(info)
            if self._cursor_ms is None or end > self._cursor_ms:
                self._cursor_ms = end
            if self._newest_start_ms is None or info.request_time_ms > self._newest_start_ms:
                self._newest_start_ms = info.request_time_ms
        if added or changed:
            self._sorted = None
        return LiveUpdate(added=tuple(added.values()), changed=tuple(changed.values()), requests=requests)
