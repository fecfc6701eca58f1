"""Write a turn's trace to an MLflow tracking server, synchronously, or say why not.

The writer asks the server once what it can do (tracetui.tracking.compat, as the
reading side does) and writes the way that version's own client does:
- 3.10 and later: spans to `POST /v1/traces` (OTLP protobuf), then the trace info to
  `POST /api/3.0/mlflow/traces`, in the order MLflow's own exporter uses;
- 3.5-3.9: the same, plus the spans as the trace's artifact (tracetui.chat.trace_artifact),
  the only place those versions read a trace's spans from;
- 2.14-3.4 (no /api/3.0 traces, no OTLP): the v2 trace API plus the span artifact
  (tracetui.chat.v2_trace_api).
Each write either succeeds or raises `TraceNotLogged` with a sentence, so a turn is
never silently lost. `TurnTracer(record) -> trace_id` is the seam an on-disk
outbox can replay records through: from 3.5 on the trace keeps the record's id, so a
replay rewrites the same trace; before 3.5 the server chooses the id and a replay
finds the trace it started by a tag (v2_trace_api). Everything comes from the
`TrackingSettings` given; no global MLflow state is touched.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tracetui.chat import v2_trace_api as v2
from tracetui.chat.record import TurnRecord
from tracetui.chat.trace_artifact import (
    ARTIFACT_LOCATION_TAG,
    ArtifactNotWritable,
    spans_document,
    upload_artifact,
)
from tracetui.chat.tracing import build_trace
from tracetui.config import TrackingSettings
from tracetui.tracking.compat import ServerCapabilities
from tracetui.tracking.errors import TrackingError, redact_url
from tracetui.visible import one_line

# Why a write failed, so an outbox knows whether trying again later can help.
UNREACHABLE = "unreachable"  # no connection, or no answer in time: retry when the server is back
SERVER_ERROR = "server_error"  # HTTP 5xx (a restarting server, a proxy): retry later
AUTH = "auth"  # HTTP 401/403: retry only with other credentials
REJECTED = "rejected"  # any other refusal (e.g. 400 for this record): retrying will not help
NO_EXPERIMENT = "no_experiment"  # an experiment id that does not exist (an id cannot be created)
RETRYABLE = frozenset({UNREACHABLE, SERVER_ERROR})
KEPT = frozenset({*RETRYABLE, AUTH, NO_EXPERIMENT})  # a turn failing so waits in the outbox


class TraceNotLogged(Exception):
    """The turn's trace could not be written. `str()` is a sentence for a person; `kind` says why."""

    def __init__(self, sentence: str, kind: str = REJECTED) -> None:
        super().__init__(sentence)
        self.kind = kind


def _server_says(response: httpx.Response) -> str:
    """MLflow's own reason for a refusal (`{"message": …}`), shortened, or nothing."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(message, str) or not message.strip():
        return ""
    return f": {one_line(message, 160)}"


def _kind_of_status(status_code: int) -> str:
    return SERVER_ERROR if status_code >= 500 else REJECTED


class TurnTracer:
    """Writes turns as traces to one experiment of one MLflow server. Thread-safe; sync.

    `tracer(record) -> trace_id` is the whole interface (a `TurnSink`). The
    settings come from tracetui.config; nothing global is configured.
    """

    def __init__(self, settings: TrackingSettings, experiment: str | None = None) -> None:
        if not settings.is_server_uri:
            raise ValueError("TurnTracer needs an http(s) tracking server URI.")
        self.settings = settings
        self.base_url = str(settings.tracking_uri).rstrip("/")
        self.experiment = experiment
        self._experiment_id: str | None = None
        self._capabilities: ServerCapabilities | None = None
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None

    @property
    def shown_url(self) -> str:
        return redact_url(self.base_url)

    def _http(self) -> httpx.Client:
        if self._client is None:
            s = self.settings
            auth = httpx.BasicAuth(s.username, s.password or "") if s.username else None
            headers = {"Authorization": f"Bearer {s.token}"} if s.token and not auth else {}
            verify: bool | str = False if s.insecure_tls else (s.cert_path or True)
            self._client = httpx.Client(
                base_url=self.base_url,
                auth=auth,
                headers=headers,
                verify=verify,
                # A cold server's first span write imports a lot (measured here, on a loaded
                # machine: 20-60 s). It runs in a thread after the answer, so waiting is cheap;
                # a server that is down still fails at once on connect.
                timeout=httpx.Timeout(s.timeout_s, read=max(120.0, s.timeout_s)),
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http().request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise self._unreachable(timed_out=True) from exc
        except httpx.HTTPError as exc:
            raise self._unreachable(timed_out=False) from exc
        if response.status_code in (401, 403):
            raise self._credentials_refused(response.status_code)
        return response

    def _unreachable(self, *, timed_out: bool) -> TraceNotLogged:
        what = "did not answer in time" if timed_out else "is not reachable"
        return TraceNotLogged(
            f"The MLflow tracking server at {self.shown_url} {what}, so this turn was not traced.",
            UNREACHABLE,
        )

    def _credentials_refused(self, status_code: int) -> TraceNotLogged:
        return TraceNotLogged(
            f"The MLflow tracking server at {self.shown_url} refused the credentials "
            f"(HTTP {status_code}), so this turn was not traced.",
            AUTH,
        )

    def _checked(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        """`_request`, where any answer but a success is a TraceNotLogged naming `what` was refused."""
        response = self._request(method, path, **kwargs)
        if not response.is_success:
            raise TraceNotLogged(
                f"The MLflow tracking server at {self.shown_url} refused {what} "
                f"(HTTP {response.status_code}{_server_says(response)}), so this turn was not traced.",
                _kind_of_status(response.status_code),
            )
        return response

    def capabilities(self) -> ServerCapabilities:
        """What the server's trace API can do, asked once per writer (compat.detect, as readers do)."""
        with self._lock:
            if self._capabilities is None:
                self._capabilities = self._detect()
            return self._capabilities

    def _detect(self) -> ServerCapabilities:
        from tracetui.tracking.client import TrackingClient
        from tracetui.tracking.compat import detect

        async def ask() -> ServerCapabilities:
            async with TrackingClient(self.settings, self.base_url) as client:
                return await detect(client)

        # Its own thread: the caller's may be running an event loop (asyncio.run would refuse).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracetui-detect") as pool:
            try:
                return pool.submit(asyncio.run, ask()).result()
            except TrackingError as error:
                raise self._detection_failed(error) from error

    def _detection_failed(self, error: TrackingError) -> TraceNotLogged:
        """The reading client's failure as the writer's own sentence and outbox kind."""
        from tracetui.tracking.errors import (
            AuthenticationFailed,
            PermissionDenied,
            ServerTimeout,
            ServerUnreachable,
        )

        if isinstance(error, (ServerUnreachable, ServerTimeout)):
            return self._unreachable(timed_out=isinstance(error, ServerTimeout))
        if isinstance(error, (AuthenticationFailed, PermissionDenied)):
            return self._credentials_refused(401 if isinstance(error, AuthenticationFailed) else 403)
        return TraceNotLogged(
            f"{str(error).rstrip('.')}, so this turn was not traced.",
            SERVER_ERROR if error.retry_helps else REJECTED,
        )

    def experiment_id(self) -> str:
        """The id of the experiment to trace into, created by name if it does not exist yet."""
        with self._lock:
            if self._experiment_id is None:
                self._experiment_id = self._resolve_experiment()
            return self._experiment_id

    def _resolve_experiment(self) -> str:
        """An id that exists, else a name (found, or created as `mlflow.set_experiment` does).

        Digits name an id first; digits that are neither an id nor a name cannot be
        created (MLflow chooses ids), so the turn waits for a person to fix the choice.
        """
        wanted = self.experiment or "Default"
        if wanted.isdigit():
            got = self._request("GET", "/api/2.0/mlflow/experiments/get", params={"experiment_id": wanted})
            if got.status_code == 200:
                return wanted
        got = self._request(
            "GET", "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": wanted}
        )
        if got.status_code == 200:
            return str(got.json()["experiment"]["experiment_id"])
        if wanted.isdigit():
            raise TraceNotLogged(
                f"There is no experiment with id {wanted} on {self.shown_url}, and an id cannot be "
                "created; choose an existing experiment or give a name to create, "
                "so this turn was not traced.",
                NO_EXPERIMENT,
            )
        created = self._request("POST", "/api/2.0/mlflow/experiments/create", json={"name": wanted})
        if created.status_code == 200:
            return str(created.json()["experiment_id"])
        raise TraceNotLogged(
            f"Experiment {wanted} could not be found or created on {self.shown_url} "
            f"(HTTP {created.status_code}), so this turn was not traced.",
            _kind_of_status(created.status_code),
        )

    def __call__(self, record: TurnRecord) -> str:
        return self.log(record)

    def log(self, record: TurnRecord) -> str:
        """Write the turn's trace; return its id, or raise TraceNotLogged."""
        capabilities = self.capabilities()
        experiment_id = self.experiment_id()
        try:
            if not (capabilities.otlp and capabilities.v3_start):
                # 2.14-3.4: the v2 trace API and the span artifact, as their own clients write.
                major = capabilities.version[0] if capabilities.version else 3
                return v2.write_turn(self._checked, experiment_id, record, major)
            trace = build_trace(record, experiment_id)
            self._log_spans(experiment_id, trace)
            info = self._start_trace(trace)
            if capabilities.spans_from_artifact:
                # 3.5-3.9 read a trace's spans from its artifact only, as their clients upload it.
                location = (info.get("tags") or {}).get(ARTIFACT_LOCATION_TAG)
                upload_artifact(self._checked, location, spans_document(trace, 3))
            return trace.info.trace_id
        except ArtifactNotWritable as error:
            raise TraceNotLogged(
                f"The MLflow tracking server at {self.shown_url} {error}, so this turn's spans were not "
                "traced; run it with --serve-artifacts (MLflow's default) so they go through it.",
                REJECTED,
            ) from None

    def _log_spans(self, experiment_id: str, trace: Any) -> None:
        from mlflow.tracing.utils.otlp import resource_to_otel_proto
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        spans = trace.data.spans
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.CopyFrom(resource_to_otel_proto(getattr(spans[0]._span, "resource", None)))
        resource_spans.scope_spans.add().spans.extend(span.to_otel_proto() for span in spans)
        response = self._request(
            "POST",
            "/v1/traces",
            content=request.SerializeToString(),
            headers={
                "Content-Type": "application/x-protobuf",
                "x-mlflow-experiment-id": experiment_id,
            },
        )
        if response.status_code != 200:
            raise TraceNotLogged(
                f"The MLflow tracking server at {self.shown_url} refused the spans "
                f"(HTTP {response.status_code}{_server_says(response)}), so this turn was not traced.",
                _kind_of_status(response.status_code),
            )

    def _start_trace(self, trace: Any) -> dict[str, Any]:
        """StartTraceV3 with the trace's info; the v3 trace info the server answers with."""
        from mlflow.entities import Trace, TraceData
        from mlflow.protos.service_pb2 import StartTraceV3
        from mlflow.utils.proto_json_utils import message_to_json

        body = message_to_json(StartTraceV3(trace=Trace(trace.info, TraceData([])).to_proto()))
        response = self._request(
            "POST",
            "/api/3.0/mlflow/traces",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise TraceNotLogged(
                f"The MLflow tracking server at {self.shown_url} refused the trace "
                f"(HTTP {response.status_code}{_server_says(response)}), so this turn was not traced.",
                _kind_of_status(response.status_code),
            )
        return (response.json().get("trace") or {}).get("trace_info") or {}
