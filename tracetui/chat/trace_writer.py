"""Write a turn's trace to an MLflow tracking server, synchronously, or say why not.

Spans go to `POST /v1/traces` (OTLP protobuf), then the trace info to
`POST /api/3.0/mlflow/traces`, in the order MLflow's own exporter uses. Each
write either succeeds or raises `TraceNotLogged` with a sentence, so a turn is
never silently lost. `TurnTracer(record) -> trace_id` is the seam an on-disk
outbox can replay records through (the record keeps its trace id, so a replay
rewrites the same trace instead of adding one). Everything comes from the
`TrackingSettings` given; no global MLflow state is touched.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from tracetui.chat.record import TurnRecord
from tracetui.chat.tracing import build_trace
from tracetui.config import TrackingSettings
from tracetui.tracking.errors import redact_url
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
            raise TraceNotLogged(
                f"The MLflow tracking server at {self.shown_url} did not answer in time, "
                "so this turn was not traced.",
                UNREACHABLE,
            ) from exc
        except httpx.HTTPError as exc:
            raise TraceNotLogged(
                f"The MLflow tracking server at {self.shown_url} is not reachable, "
                "so this turn was not traced.",
                UNREACHABLE,
            ) from exc
        if response.status_code in (401, 403):
            raise TraceNotLogged(
                f"The MLflow tracking server at {self.shown_url} refused the credentials "
                f"(HTTP {response.status_code}), so this turn was not traced.",
                AUTH,
            )
        return response

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
        experiment_id = self.experiment_id()
        trace = build_trace(record, experiment_id)
        self._log_spans(experiment_id, trace)
        self._start_trace(trace)
        return trace.info.trace_id

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

    def _start_trace(self, trace: Any) -> None:
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
