"""An async httpx client for MLflow's tracking REST API.

Every failure is raised as a `TrackingError` subclass whose message is one
sentence a person can act on; nothing else escapes (no httpx errors, no
KeyError on odd JSON).

CONTRACT (pinned; the UI, CLI and live poller are written against it):

    client = TrackingClient(settings: TrackingSettings, base_url: str)   # never raises; a bad
                                    # CA bundle path fails each request with TlsError instead
    async with client: ...                      # or await client.aclose()
    await client.health() -> None               # GET /health, raises on failure
    await client.list_experiments() -> list[Experiment]           # all pages, active only
    await client.get_experiment(experiment_id: str) -> Experiment
    await client.get_experiment_by_name(name: str) -> Experiment
    await client.resolve_experiment(name_or_id: str) -> Experiment  # id first, then name
    await client.search_traces(experiment_ids: Sequence[str], *, filter_string: str | None = None,
                               order_by: Sequence[str] = ("timestamp_ms DESC",),
                               max_results: int = 100, page_token: str | None = None) -> TracePage
    await client.iter_trace_infos(experiment_ids, *, filter_string=None, order_by=...,
                                  limit: int | None = None) -> AsyncIterator[TraceInfo]  # follows pages
    await client.get_trace_json(trace_id: str) -> dict    # the raw {"trace": {...}} document
    await client.get_trace(trace_id: str) -> Trace         # decoded
    client.base_url -> str (redacted: no credentials)

Additions beyond the contract (all optional keywords):
    TrackingClient(..., event_hooks=...)   # httpx event hooks, e.g. to count requests
    get_trace_json / get_trace(trace_id, allow_partial=True)  # spans of an unfinished trace
    client.requests_made -> int            # HTTP requests sent so far (the poll cost)
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import httpx

from tracetui.config import TrackingSettings
from tracetui.gc_policy import collection_paused
from tracetui.tracking import legacy
from tracetui.tracking.compat import ServerCapabilities, detect
from tracetui.tracking.decode import (
    decode_experiment,
    decode_trace,
    decode_trace_page,
)
from tracetui.tracking.errors import (
    BadResponse,
    ExperimentNotFound,
    TlsError,
    TraceNotFound,
    TraceNotReady,
    TrackingError,
    redact_url,
)
from tracetui.tracking.http_errors import (
    CONNECT_TIMEOUT_S,
    NotFound,
    describe_body,
    status_error,
    transport_error,
)
from tracetui.tracking.models import Experiment, Trace, TraceInfo, TracePage
from tracetui.visible import one_line

SEARCH_TRACES_PATH = "/api/3.0/mlflow/traces/search"
# A whole trace can take the server a long time to build: a 50,001-span trace (29 MB) took
# 12.95 s to start arriving from MLflow 3.17 on PostgreSQL. Its read waits this long; every
# other request keeps the settings' time-out, and every connection CONNECT_TIMEOUT_S.
TRACE_READ_TIMEOUT_S = 300.0
GET_TRACE_PATH = "/api/3.0/mlflow/traces/get"
SEARCH_EXPERIMENTS_PATH = "/api/2.0/mlflow/experiments/search"
GET_EXPERIMENT_PATH = "/api/2.0/mlflow/experiments/get"
GET_EXPERIMENT_BY_NAME_PATH = "/api/2.0/mlflow/experiments/get-by-name"
# Servers before 3.5 (see compat.py): v2 search, info by id, spans in the trace's artifact.
SEARCH_TRACES_V2_PATH = "/api/2.0/mlflow/traces"
TRACE_INFO_V2_PATH = "/api/2.0/mlflow/traces/{trace_id}/info"
TRACE_INFO_V3_PATH = "/api/3.0/mlflow/traces/{trace_id}"
TRACE_ARTIFACT_PATH = "/ajax-api/2.0/mlflow/get-trace-artifact"

MAX_TRACE_PAGE = 500  # the server rejects max_results above this with 400
EXPERIMENT_PAGE = 1000
# Bodies above this size are parsed and decoded in a thread so the event loop (and the
# UI on it) keeps running while a 10,000-span trace is read, with automatic garbage
# collection paused (see tracetui/gc_policy.py: it tripled the parse time of a 6 MB trace).
THREAD_PARSE_BYTES = 512 * 1024

_NOT_READY = "not fully exported yet"
_DEFAULT_ORDER = ("timestamp_ms DESC",)


def _tls_context(settings: TrackingSettings) -> ssl.SSLContext | bool:
    if settings.insecure_tls:
        return False
    if settings.cert_path:
        try:
            return ssl.create_default_context(cafile=settings.cert_path)
        except (OSError, ssl.SSLError) as error:
            raise TlsError(
                f"Cannot load the CA bundle {settings.cert_path} named by "
                f"MLFLOW_TRACKING_SERVER_CERT_PATH ({one_line(str(error), 80, clause=True)}); "
                "point it at a readable PEM file."
            ) from None
    return True


T = TypeVar("T")


def _as_is(body: dict[str, Any]) -> dict[str, Any]:
    return body


def _paused(decode: Callable[[dict[str, Any]], T], body: dict[str, Any]) -> T:
    with collection_paused():
        return decode(body)


class TrackingClient:
    """One connection pool to one MLflow server; reuse it (each poll costs one request)."""

    def __init__(
        self,
        settings: TrackingSettings,
        base_url: str,
        *,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        self._settings = settings
        self._raw_base_url = base_url.rstrip("/")
        self._base_url = redact_url(self._raw_base_url)
        self.requests_made = 0
        headers = {"Accept": "application/json", "User-Agent": "tracetui"}
        auth: httpx.BasicAuth | None = None
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        elif settings.username is not None or settings.password is not None:
            auth = httpx.BasicAuth(settings.username or "", settings.password or "")
        hooks: dict[str, list[Callable[..., Any]]] = {
            "request": [self._count_request],
            "response": [],
        }
        for name, callbacks in (event_hooks or {}).items():
            hooks.setdefault(name, []).extend(callbacks)
        # A CA bundle that cannot be read fails every request, not the constructor: callers
        # (the TUI builds its client in a message handler) then meet it where they already
        # turn TrackingErrors into sentences.
        self._setup_error: TlsError | None = None
        try:
            verify = _tls_context(settings)
        except TlsError as error:
            verify, self._setup_error = True, error
        self._capabilities: ServerCapabilities | None = None
        self._capabilities_lock = asyncio.Lock()
        self._http = httpx.AsyncClient(
            base_url=self._raw_base_url,
            headers=headers,
            auth=auth,
            verify=verify,
            timeout=httpx.Timeout(settings.timeout_s, connect=CONNECT_TIMEOUT_S),
            event_hooks=hooks,
            follow_redirects=True,
        )

    async def _count_request(self, request: httpx.Request) -> None:
        self.requests_made += 1

    def _check_setup(self) -> None:
        if self._setup_error is not None:
            raise TlsError(self._setup_error.sentence)

    @property
    def base_url(self) -> str:
        """The server URL without credentials, safe to show."""
        return self._base_url

    async def __aenter__(self) -> TrackingClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _parse(self, response: httpx.Response, what: str) -> Any:
        """The body as JSON; None for an error answer that is not JSON. Also runs in a worker thread."""
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError):
            if 200 <= response.status_code < 300:
                raise BadResponse(
                    f"The MLflow tracking server at {self._base_url} answered the request to "
                    f"{what} with something that is not MLflow's JSON"
                    f"{describe_body(response) or ' (cut short?)'}."
                ) from None
            return None

    def _read(
        self,
        response: httpx.Response,
        what: str,
        not_found: NotFound | None,
        search: bool,
        decode: Callable[[dict[str, Any]], T],
    ) -> T:
        body = self._parse(response, what)
        if not response.is_success:
            raise status_error(response, body, what, not_found, search, self._base_url, self._settings)
        if not isinstance(body, dict):
            raise BadResponse(
                f"The MLflow tracking server at {self._base_url} answered the request to {what} "
                "with JSON that is not an object."
            )
        return decode(body)

    def _read_paused(self, *args: Any) -> Any:
        # The JSON document lives only inside `_read` when `decode` turns it into something
        # smaller, so reference counting frees it before collection comes back on (else the
        # first collection after the pause walks its million objects: ~75 ms for 10,000 spans).
        with collection_paused():
            return self._read(*args)

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        not_found: NotFound | None = None,
        search: bool = False,
    ) -> dict[str, Any]:
        """The JSON object answered, for endpoints this client has no method for (feedback's assessments).

        Errors become TrackingErrors with a sentence (`what` names the request in it).
        """
        return await self.request_decoded(
            method,
            path,
            what=what,
            decode=_as_is,
            params=params,
            json_body=json_body,
            not_found=not_found,
            search=search,
        )

    async def request_decoded(
        self,
        method: str,
        path: str,
        *,
        what: str,
        decode: Callable[[dict[str, Any]], T],
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        not_found: NotFound | None = None,
        search: bool = False,
        read_timeout_s: float | None = None,
    ) -> T:
        """`decode` of the JSON object answered; `read_timeout_s` for answers a server builds slowly.

        A body over THREAD_PARSE_BYTES is parsed and decoded in one worker thread with garbage
        collection paused, so only what `decode` makes comes back to the event loop; a small
        one is parsed and decoded on the loop.
        """
        self._check_setup()
        settings, timeout = self._settings, httpx.USE_CLIENT_DEFAULT
        if read_timeout_s is not None and read_timeout_s > settings.timeout_s:
            # Only the wait for the answer grows; a server that does not accept a
            # connection is still told within CONNECT_TIMEOUT_S.
            settings = replace(settings, timeout_s=read_timeout_s)
            timeout = httpx.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S)
        try:
            response = await self._http.request(method, path, params=params, json=json_body, timeout=timeout)
        except httpx.HTTPError as error:
            raise transport_error(error, self._base_url, settings) from None
        if len(response.content) > THREAD_PARSE_BYTES:
            return await asyncio.to_thread(self._read_paused, response, what, not_found, search, decode)
        return self._read(response, what, not_found, search, decode)

    # --- endpoints -----------------------------------------------------------------

    async def health(self) -> None:
        """Raises unless something answers 2xx at /health."""
        self._check_setup()
        try:
            response = await self._http.get("/health")
        except httpx.HTTPError as error:
            raise transport_error(error, self._base_url, self._settings) from None
        if not response.is_success:
            body = self._parse(response, "report its health")
            raise status_error(
                response, body, "report its health", None, False, self._base_url, self._settings
            )

    async def raw_request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, its answer as it came (any status); transport failures are TrackingErrors."""
        self._check_setup()
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise transport_error(error, self._base_url, self._settings) from None

    def raise_for_answer(self, response: httpx.Response, what: str) -> None:
        """Raises the TrackingError for an unsuccessful `response` (e.g. 401, 500)."""
        if not response.is_success:
            body = self._parse(response, what)
            raise status_error(response, body, what, None, False, self._base_url, self._settings)

    async def capabilities(self) -> ServerCapabilities:
        """What this server's trace API can do, asked once per client (see compat.py)."""
        async with self._capabilities_lock:
            if self._capabilities is None:
                self._capabilities = await detect(self)
            return self._capabilities

    async def list_experiments(self) -> list[Experiment]:
        experiments: list[Experiment] = []
        page_token: str | None = None
        while True:
            params: dict[str, Any] = {"max_results": EXPERIMENT_PAGE, "view_type": "ACTIVE_ONLY"}
            if page_token:
                params["page_token"] = page_token
            body = await self.request_json(
                "GET", SEARCH_EXPERIMENTS_PATH, params=params, what="list experiments"
            )
            items = body.get("experiments") or []
            if not isinstance(items, list):
                raise BadResponse("The tracking server sent an experiment list that is not a list.")
            experiments.extend(decode_experiment(item) for item in items)
            page_token = body.get("next_page_token") or None
            if not page_token:
                return experiments

    def _experiment_not_found(self, label: str) -> NotFound:
        return lambda _message: ExperimentNotFound(
            f"No experiment {label} on {self._base_url}; run `tracetui experiments` to list them."
        )

    async def get_experiment(self, experiment_id: str) -> Experiment:
        label = f"with id {experiment_id}"
        if not experiment_id.isdigit():
            raise self._experiment_not_found(label)("")
        body = await self.request_json(
            "GET",
            GET_EXPERIMENT_PATH,
            params={"experiment_id": experiment_id},
            what=f"read experiment {experiment_id}",
            not_found=self._experiment_not_found(label),
        )
        return decode_experiment(body.get("experiment"))

    async def get_experiment_by_name(self, name: str) -> Experiment:
        body = await self.request_json(
            "GET",
            GET_EXPERIMENT_BY_NAME_PATH,
            params={"experiment_name": name},
            what=f"read experiment {name!r}",
            not_found=self._experiment_not_found(f"named {name!r}"),
        )
        return decode_experiment(body.get("experiment"))

    async def resolve_experiment(self, name_or_id: str) -> Experiment:
        """An experiment by id when `name_or_id` is one, else (or if no such id) by name."""
        if name_or_id.isdigit():
            try:
                return await self.get_experiment(name_or_id)
            except ExperimentNotFound:
                pass  # names can be digits too
        try:
            return await self.get_experiment_by_name(name_or_id)
        except ExperimentNotFound:
            raise ExperimentNotFound(
                f"No experiment with the name or id {name_or_id!r} on {self._base_url}; "
                "run `tracetui experiments` to list them."
            ) from None

    async def search_traces(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = _DEFAULT_ORDER,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> TracePage:
        body: dict[str, Any] = {
            "locations": [
                {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": eid}}
                for eid in experiment_ids
            ],
            "max_results": max(1, min(int(max_results), MAX_TRACE_PAGE)),
            "order_by": list(order_by),
        }
        if not (await self.capabilities()).v3_search:
            return await self._search_traces_v2(body, filter_string, page_token)
        if filter_string:
            body["filter"] = filter_string
        if page_token:
            body["page_token"] = page_token
        response = await self.request_json(
            "POST", SEARCH_TRACES_PATH, json_body=body, what="search traces", search=True
        )
        return decode_trace_page(response)

    async def _search_traces_v2(
        self, body: dict[str, Any], filter_string: str | None, page_token: str | None
    ) -> TracePage:
        params: list[tuple[str, Any]] = [
            ("experiment_ids", location["mlflow_experiment"]["experiment_id"])
            for location in body["locations"]
        ]
        params += [("max_results", body["max_results"])]
        params += [("order_by", order) for order in body["order_by"]]
        if filter_string:
            params.append(("filter", filter_string))
        if page_token:
            params.append(("page_token", page_token))
        response = await self.request_json(
            "GET", SEARCH_TRACES_V2_PATH, params=params, what="search traces", search=True
        )
        return decode_trace_page(legacy.trace_page_v3(response))

    async def iter_trace_infos(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = _DEFAULT_ORDER,
        limit: int | None = None,
        page_size: int = MAX_TRACE_PAGE,
    ) -> AsyncIterator[TraceInfo]:
        """Every matching trace info, following pages, at most `limit` of them."""
        yielded = 0
        page_token: str | None = None
        while limit is None or yielded < limit:
            size = page_size if limit is None else min(page_size, limit - yielded)
            page = await self.search_traces(
                experiment_ids,
                filter_string=filter_string,
                order_by=order_by,
                max_results=size,
                page_token=page_token,
            )
            for info in page.trace_infos:
                yield info
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
            page_token = page.next_page_token
            if not page_token or not page.trace_infos:
                return

    def _trace_not_found(self, trace_id: str) -> NotFound:
        def error(message: str) -> TrackingError:
            if _NOT_READY in message:
                return TraceNotReady(
                    f"Trace {trace_id} is still being exported to {self._base_url}; "
                    "try again in a few seconds."
                )
            return TraceNotFound(f"No trace {trace_id} on {self._base_url}; it may have been deleted.")

        return error

    def _trace_document(self, body: dict[str, Any], trace_id: str) -> dict[str, Any]:
        if not isinstance(body.get("trace"), dict):
            raise BadResponse(
                f"The MLflow tracking server at {self._base_url} answered without the trace "
                f"{trace_id}; is it an MLflow 3 server?"
            )
        return body

    async def _get_trace_body(
        self, trace_id: str, allow_partial: bool, decode: Callable[[dict[str, Any]], T]
    ) -> T:
        """`decode` of the trace's `/traces/get`-shaped document, off the event loop when it is large."""
        if (await self.capabilities()).spans_from_artifact:
            body = await self._artifact_trace_body(trace_id, allow_partial)
            if len(body["trace"]["spans"]) > 500:
                return await asyncio.to_thread(_paused, decode, body)
            return decode(body)
        params = {"trace_id": trace_id}
        if allow_partial:
            params["allow_partial"] = "true"
        return await self.request_decoded(
            "GET",
            GET_TRACE_PATH,
            params=params,
            what=f"read trace {trace_id}",
            not_found=self._trace_not_found(trace_id),
            decode=decode,
            read_timeout_s=TRACE_READ_TIMEOUT_S,
        )

    async def trace_info_json(self, trace_id: str) -> dict[str, Any]:
        """One trace's v3 `trace_info` without its spans, on any server version."""
        capabilities = await self.capabilities()
        if capabilities.v3_info:
            body = await self.request_json(
                "GET",
                TRACE_INFO_V3_PATH.format(trace_id=trace_id),
                what=f"read trace {trace_id}",
                not_found=self._trace_not_found(trace_id),
            )
            info = (body.get("trace") or {}).get("trace_info")
        else:
            body = await self.request_json(
                "GET",
                TRACE_INFO_V2_PATH.format(trace_id=trace_id),
                what=f"read trace {trace_id}",
                not_found=self._trace_not_found(trace_id),
            )
            info = legacy.trace_info_v3(body["trace_info"]) if "trace_info" in body else None
        if not isinstance(info, dict):
            raise BadResponse(
                f"The MLflow tracking server at {self._base_url} answered without the trace {trace_id}."
            )
        return info

    async def _artifact_trace_body(self, trace_id: str, allow_partial: bool) -> dict[str, Any]:
        """Info and artifact spans as one `/traces/get`-shaped document (servers before 3.10)."""
        info = await self.trace_info_json(trace_id)
        response = await self.raw_request(
            "GET",
            TRACE_ARTIFACT_PATH,
            params={"request_id": trace_id},
            timeout=httpx.Timeout(
                max(self._settings.timeout_s, TRACE_READ_TIMEOUT_S), connect=CONNECT_TIMEOUT_S
            ),
        )
        if response.is_success:
            spans = await asyncio.to_thread(legacy.artifact_spans, response.content)
        elif response.status_code < 500 and response.status_code not in (401, 403):
            # A 2.x trace gets its artifact when it ends; until then it has none.
            if not allow_partial and info.get("state") != "IN_PROGRESS":
                body = self._parse(response, f"read trace {trace_id}")
                raise status_error(
                    response, body, f"read trace {trace_id}", None, False, self._base_url, self._settings
                )
            if not allow_partial:
                raise TraceNotReady(
                    f"Trace {trace_id} is still running on {self._base_url}; try again in a few seconds."
                )
            spans = []
        else:
            self.raise_for_answer(response, f"read trace {trace_id}")
            spans = []
        return legacy.trace_document(info, spans)

    async def get_trace_json(self, trace_id: str, *, allow_partial: bool = False) -> dict[str, Any]:
        """The raw `{"trace": {"trace_info": …, "spans": […]}}` document."""
        return await self._get_trace_body(
            trace_id, allow_partial, lambda body: self._trace_document(body, trace_id)
        )

    async def get_trace(self, trace_id: str, *, allow_partial: bool = False) -> Trace:
        """The decoded trace; a large one is parsed and decoded in one thread hop."""
        return await self._get_trace_body(
            trace_id, allow_partial, lambda body: decode_trace(self._trace_document(body, trace_id))
        )
