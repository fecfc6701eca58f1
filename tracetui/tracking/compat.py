"""What an MLflow tracking server can do, found once per connection.

MLflow's trace API changed under the same URLs (measured against real servers):

    version        search                         one trace's spans          live filter key
    < 2.14         no traces at all
    2.14 - 3.4     GET /api/2.0/mlflow/traces     the trace's artifact       timestamp_ms
                   (writes: v2 start/end trace + artifact; no assessments, no /api/3.0 at all)
    3.5 - 3.9      POST /api/3.0/…/traces/search  the trace's artifact (*)   timestamp_ms
    3.10 and on    POST /api/3.0/…/traces/search  GET /api/3.0/…/traces/get  end_time_ms

    (*) 3.5 routes /api/3.0/mlflow/traces/{id}, so /traces/get reads "get" as a trace id.

`/version` says which one a server is; where a range is not settled by the
version (3.2-3.4, 3.6-3.9) one cheap probe each settles it. Anything that is
not a version answer gets one more look (the experiment list) to tell an MLflow
server behind a proxy from a URL that is not MLflow at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tracetui.tracking.errors import TrackingError

if TYPE_CHECKING:
    import httpx


class Asker(Protocol):
    """What `detect` needs of a client (TrackingClient is one): asked, not imported, so no circle."""

    @property
    def base_url(self) -> str: ...

    async def raw_request(self, method: str, path: str, **kwargs: Any) -> httpx.Response: ...

    def raise_for_answer(self, response: httpx.Response, what: str) -> None: ...


VERSION_PATH = "/version"
_VERSION = re.compile(r"\s*(\d+)\.(\d+)(?:\.(\d+))?")
_EMPTY_TRACE_ID = "tr-00000000000000000000000000000000"


class UnsupportedServer(TrackingError):
    """The URL answers, but not as an MLflow server that has traces: retrying cannot help."""

    retry_helps = False


@dataclass(frozen=True, slots=True)
class ServerCapabilities:
    """The trace API one server has. `version` is None when /version did not say."""

    version: tuple[int, int, int] | None
    v3_search: bool = True  # POST /api/3.0/mlflow/traces/search
    v3_get: bool = True  # GET /api/3.0/mlflow/traces/get (else spans come from the artifact)
    v3_info: bool = True  # GET /api/3.0/mlflow/traces/{id} (else /api/2.0/mlflow/traces/{id}/info)
    end_time_filter: bool = True  # the search filter knows trace.end_time_ms
    otlp: bool = True  # POST /v1/traces takes spans
    v3_start: bool = True  # POST /api/3.0/mlflow/traces (StartTraceV3)
    assessments: bool = True  # /api/3.0/mlflow/traces/{id}/assessments
    span_kind: bool = True  # `mlflow traces get` of this version prints each span's "kind"
    metadata_filters: bool = True  # the search filter knows `metadata.x IS NOT NULL` (3.5.1's not)
    span_links: bool = True  # … and each span's "links" (3.5.1's does not)

    @property
    def version_text(self) -> str:
        return "an unknown version" if self.version is None else ".".join(map(str, self.version))

    @property
    def spans_from_artifact(self) -> bool:
        return not self.v3_get


NEWEST = ServerCapabilities(version=None)


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.match(text)
    if match is None or len(text) > 100:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def capabilities_for(version: tuple[int, int, int]) -> ServerCapabilities:
    """What a server of `version` has, where the version settles it (else the newer answer)."""
    v3 = version >= (3, 5, 0)  # 3.1.4 has no /api/3.0 trace route at all
    return ServerCapabilities(
        version=version,
        v3_search=v3,
        v3_get=version >= (3, 10, 0),
        v3_info=v3,
        end_time_filter=version >= (3, 10, 0),
        otlp=v3,
        v3_start=v3,
        assessments=v3,
        span_kind=version >= (3, 18, 0),
        span_links=version >= (3, 10, 0),
        metadata_filters=version >= (3, 10, 0),
    )


def unsupported_version(version: tuple[int, int, int], url: str) -> str | None:
    """The sentence for a server too old to have traces (MLflow before 2.14), else None."""
    if version >= (2, 14, 0):
        return None
    return (
        f"The MLflow server at {url} is version {'.'.join(map(str, version))}, older than 2.14, "
        "and has no traces; upgrade it to 2.14 or later."
    )


async def _probe_missing(client: Asker, method: str, path: str, **kwargs: Any) -> bool:
    """True when the server has no route for `path` (HTTP 404 with ENDPOINT_NOT_FOUND or no JSON)."""
    response = await client.raw_request(method, path, **kwargs)
    if response.status_code != 404:
        return False
    try:
        body = response.json()
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    return body.get("error_code") in (None, "ENDPOINT_NOT_FOUND") or "'get' not found" in str(
        body.get("message", "")
    )


async def detect(client: Asker) -> ServerCapabilities:
    """Ask `client`'s server what it can do: /version, plus a probe only where that is not enough."""
    response = await client.raw_request("GET", VERSION_PATH)
    version = parse_version(response.text) if response.status_code == 200 else None
    if response.status_code in (401, 403) or response.status_code >= 500:
        client.raise_for_answer(response, "tell its version")
    if version is None:
        # A proxy may hide /version; the experiment list says whether MLflow is behind the URL.
        probe = await client.raw_request(
            "GET", "/api/2.0/mlflow/experiments/search", params={"max_results": 1}
        )
        if probe.status_code == 404:
            raise UnsupportedServer(
                f"{client.base_url} is not an MLflow tracking server (no MLflow API answers there); "
                "check MLFLOW_TRACKING_URI."
            )
        # Anything else (an error, a proxy's page) is said by the request that needs the API.
        return NEWEST
    too_old = unsupported_version(version, client.base_url)
    if too_old:
        raise UnsupportedServer(too_old)
    capabilities = capabilities_for(version)
    if (3, 2, 0) <= version < (3, 5, 0):
        v3_search = not await _probe_missing(
            client,
            "POST",
            "/api/3.0/mlflow/traces/search",
            json={"locations": [], "max_results": 1},
        )
        capabilities = _replace(
            capabilities,
            v3_search=v3_search,
            v3_info=v3_search,
            v3_start=v3_search,
            assessments=v3_search,
            otlp=v3_search,
        )
    if (3, 6, 0) <= version < (3, 10, 0):
        v3_get = not await _probe_missing(
            client, "GET", "/api/3.0/mlflow/traces/get", params={"trace_id": _EMPTY_TRACE_ID}
        )
        capabilities = _replace(capabilities, v3_get=v3_get, end_time_filter=v3_get)
    return capabilities


def _replace(capabilities: ServerCapabilities, **changes: bool) -> ServerCapabilities:
    from dataclasses import replace

    return replace(capabilities, **changes)
