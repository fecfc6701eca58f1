"""A trace's name and models for the list, from its summary and, where that is not enough, its spans.

MLflow's search returns trace infos only. Traces logged by MLflow's own clients
carry a name tag (`mlflow.traceName`); traces sent over OTLP do not (MLflow keeps
the resource's `service.name` as a tag), and no trace info says which model
answered: that is in the LLM spans (`mlflow.llm.model`, `gen_ai.response.model`,
…). So the list fetches the spans of the rows it shows, once per finished trace,
a few at a time (`fetch_summaries`), and keeps what it learnt (`SummaryCache`);
the live poll itself never fetches spans, so its cost does not change.

Pure logic and one async helper over the tracking client; no Textual or Rich.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracetui.tracking.call_path import explicit_hop_kind, is_llm_span, model_endpoint
from tracetui.tracking.conventions import SERVICE_NAME_TAG
from tracetui.tracking.errors import ServerTimeout, ServerUnreachable, TraceNotReady, TrackingError
from tracetui.tracking.models import STATE_IN_PROGRESS, Trace, TraceInfo

if TYPE_CHECKING:
    from tracetui.tracking.client import TrackingClient

# Spans are not fetched for a trace bigger than this (MLflow's own size metadata): a 10,000-span
# trace is megabytes, too much to learn a name and a model.
MAX_SUMMARY_BYTES = 1_000_000
FETCH_CONCURRENCY = 4
CACHE_LIMIT = 5_000
UNNAMED = "(unnamed)"
PENDING = "…"  # not known yet: the spans are being fetched

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
_ID_LIKE = re.compile(
    r"(tr-)?[0-9a-f]{16,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """What the spans told: the root span's name and the models of the LLM calls, in call order."""

    root_name: str | None
    models: tuple[str, ...] = ()


UNKNOWN = TraceSummary(None)  # spans not fetched (too large, or the fetch failed)


def says_nothing(name: str | None) -> bool:
    """Empty, a bare HTTP method ("POST"), or an id: not a name a person can tell traces apart by."""
    stripped = (name or "").strip()
    return not stripped or stripped.upper() in _HTTP_METHODS or _ID_LIKE.fullmatch(stripped) is not None


def trace_models(trace: Trace) -> tuple[str, ...]:
    """The distinct models the trace's LLM calls name (the answering model where known), in call order."""
    by_id = {span.span_id: span for span in trace.spans}
    models: list[str] = []
    for span in sorted(trace.spans, key=lambda s: s.start_time_ns):
        if not is_llm_span(span):
            continue
        parent = by_id.get(span.parent_id) if span.parent_id else None
        if explicit_hop_kind(span, parent) is not None and span.name in models:
            continue  # tracetui's own model span repeats its LLM call's model
        model = model_endpoint(span).model
        if model and model not in models:
            models.append(model)
    return tuple(models)


def summarize(trace: Trace) -> TraceSummary:
    roots = trace.roots()
    return TraceSummary(roots[0].name if roots else None, trace_models(trace))


def list_name(info: TraceInfo, summary: TraceSummary | None = None) -> str:
    """The name a list shows: the name tag, else the root span's name (with the program's
    service.name when the root's name says nothing), else the service name; never a bare id.
    PENDING while the spans that may name it are not fetched yet."""
    if not says_nothing(info.name):
        return info.name
    service = info.tags.get(SERVICE_NAME_TAG) or ""
    root = (summary.root_name or "").strip() if summary is not None else ""
    if root and not says_nothing(root):
        return root
    if service:
        return f"{service}: {root}" if root and not _ID_LIKE.fullmatch(root) else service
    if summary is None:
        return PENDING
    return root if root.upper() in _HTTP_METHODS else UNNAMED


def model_label(summary: TraceSummary | None) -> str:
    return ", ".join(summary.models) if summary is not None else ""


def worth_fetching(info: TraceInfo) -> bool:
    """Finished, and small enough that its spans are cheap to read."""
    if info.state == STATE_IN_PROGRESS:
        return False
    size = info.metadata.get("mlflow.trace.sizeBytes")
    return not (size and size.isdigit() and int(size) > MAX_SUMMARY_BYTES)


class SummaryCache:
    """Summaries by trace id (the most recent CACHE_LIMIT), and which are being fetched."""

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        self.limit = limit
        self._known: OrderedDict[str, TraceSummary] = OrderedDict()
        self._fetching: set[str] = set()

    def get(self, trace_id: str) -> TraceSummary | None:
        return self._known.get(trace_id)

    def wanted(self, infos: Iterable[TraceInfo]) -> list[str]:
        """Ids to fetch among `infos` (not known, not being fetched); marks them as being fetched.
        A trace not worth fetching is settled at once as UNKNOWN."""
        ids = []
        for info in infos:
            trace_id = info.trace_id
            if trace_id in self._known or trace_id in self._fetching or info.state == STATE_IN_PROGRESS:
                continue
            if not worth_fetching(info):
                self.put({trace_id: UNKNOWN})
                continue
            self._fetching.add(trace_id)
            ids.append(trace_id)
        return ids

    def put(self, summaries: Mapping[str, TraceSummary | None]) -> None:
        """Store fetched summaries; None means "not ready yet": it may be asked for again."""
        for trace_id, summary in summaries.items():
            self._fetching.discard(trace_id)
            if summary is None:
                continue
            self._known[trace_id] = summary
            self._known.move_to_end(trace_id)
        while len(self._known) > self.limit:
            self._known.popitem(last=False)

    def forget_fetching(self, trace_ids: Iterable[str]) -> None:
        """A fetch that failed as a whole (the server went away): these may be asked for again."""
        self._fetching.difference_update(trace_ids)


async def fetch_summaries(
    client: TrackingClient, trace_ids: Iterable[str], *, concurrency: int = FETCH_CONCURRENCY
) -> dict[str, TraceSummary | None]:
    """Each trace's summary, a few requests at a time. A trace not fully exported yet (or a server
    that did not answer) maps to None: ask again later; one the server cannot give maps to UNKNOWN."""
    gate = asyncio.Semaphore(concurrency)

    async def one(trace_id: str) -> tuple[str, TraceSummary | None]:
        async with gate:
            try:
                return trace_id, summarize(await client.get_trace(trace_id))
            except (TraceNotReady, ServerUnreachable, ServerTimeout):
                return trace_id, None  # worth asking again later
            except TrackingError:
                return trace_id, UNKNOWN

    return dict(await asyncio.gather(*(one(trace_id) for trace_id in trace_ids)))


def model_of(cache: SummaryCache, trace_ids: Iterable[str]) -> dict[str, str]:
    """Trace id -> its models as one label, for grouping tokens per second by model."""
    labels = {}
    for trace_id in trace_ids:
        label = model_label(cache.get(trace_id))
        if label:
            labels[trace_id] = label
    return labels
