"""A trace's spans as its artifact `traces.json`, written where the server says.

Servers before 3.10 serve a trace's spans from this file, not from their database
(see tracetui.tracking.compat): their own clients upload it after starting the trace,
with the v2 API (2.14-3.4) or StartTraceV3 (3.5-3.9). The server tags the trace with
`mlflow.artifactLocation`; this module writes the file there, in the span schema that
version's own client uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

ARTIFACTS_PATH = "/api/2.0/mlflow-artifacts/artifacts"
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
TRACE_DATA_FILE = "traces.json"

Request = Callable[..., httpx.Response]


class ArtifactNotWritable(Exception):
    """The server keeps trace data where tracetui cannot write it; the message says where."""


def upload_artifact(request: Request, location: str | None, content: bytes) -> None:
    """Write `traces.json` where the server said the trace's artifacts go.

    `mlflow-artifacts:` goes through the server's artifact proxy (the default since
    MLflow 2.0); a local path is written directly, as MLflow's own client does when
    the server's artifact root is a folder on this machine; anything else raises
    ArtifactNotWritable. `request(method, path, what, **kwargs)` returns only a
    successful response and raises for any other.
    """
    if not location:
        raise ArtifactNotWritable("gave the trace no artifact location for its spans")
    parts = urlsplit(location)
    if parts.scheme == "mlflow-artifacts":
        # The path is the artifact's place under the server's proxy; a netloc, where given,
        # names the same server, reached here by the URL tracetui was given.
        path = quote(unquote(parts.path).strip("/"))
        request(
            "PUT",
            f"{ARTIFACTS_PATH}/{path}/{TRACE_DATA_FILE}",
            "the spans",
            content=content,
            headers={"Content-Type": "application/json"},
        )
        return
    if parts.scheme in ("", "file") and parts.path.startswith("/"):
        folder = Path(unquote(parts.path))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / TRACE_DATA_FILE).write_bytes(content)
        except OSError as error:
            raise ArtifactNotWritable(f"keeps trace data in {folder}, which is not writable here") from error
        return
    raise ArtifactNotWritable(f"keeps trace data at {location}, which tracetui cannot write to")


# -- the spans document each version's client uploads ------------------------------------------


def spans_document(trace: Any, server_major: int) -> bytes:
    """`traces.json` as that version's own client writes it.

    MLflow 2.x clients write their span schema (`context`, `parent_id`, hex ids with
    `0x`, `start_time`, `status_code`) plus the root's request and response; 3.x
    clients (3.1 among them, even over the v2 API) the OTLP-like one of
    `Span.to_dict()`. Attribute values are MLflow's JSON text in both.
    """
    spans = trace.data.spans
    if server_major >= 3:
        document: dict[str, Any] = {"spans": [_span_v3(span) for span in spans]}
    else:
        root = spans[0]._span.attributes
        document = {
            "spans": [_span_v2(span) for span in spans],
            "request": root.get("mlflow.spanInputs"),
            "response": root.get("mlflow.spanOutputs"),
        }
    return json.dumps(document, ensure_ascii=False, default=str).encode()


def _span_v3(span: Any) -> dict[str, Any]:
    document = span.to_dict()
    if not document.get("links"):
        document.pop("links", None)  # 3.1's Span.to_dict() has no empty "links"
    return document


def _span_v2(span: Any) -> dict[str, Any]:
    otel = span._span
    parent = otel.parent
    return {
        "name": span.name,
        "context": {
            "span_id": f"0x{otel.context.span_id:016x}",
            "trace_id": f"0x{otel.context.trace_id:032x}",
        },
        "parent_id": f"0x{parent.span_id:016x}" if parent is not None else None,
        "start_time": span.start_time_ns,
        "end_time": span.end_time_ns,
        "status_code": span.status.status_code.value,
        "status_message": span.status.description,
        "attributes": dict(otel.attributes),
        "events": [
            {"name": event.name, "timestamp": event.timestamp, "attributes": event.attributes}
            for event in span.events
        ],
    }
