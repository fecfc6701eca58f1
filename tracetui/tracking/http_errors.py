"""Failures of MLflow's REST API as sentences a person can act on: the client's error mapping.

`transport_error` maps what went wrong before an answer (TLS, time-outs, refused
connections, a connection cut), `status_error` an answer that is not a success
(MLflow's own `{"error_code", "message"}`, a 401/403, a proxy's HTML page, a 404
where no MLflow API is). Each returns a `TrackingError` subclass whose `str()`
names the server (redacted: never credentials) and what to do.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import httpx

from tracetui.config import TrackingSettings
from tracetui.tracking.errors import (
    AuthenticationFailed,
    BadResponse,
    InvalidFilter,
    NoTrackingApi,
    PermissionDenied,
    ServerTimeout,
    ServerUnreachable,
    TlsError,
    TrackingError,
)
from tracetui.visible import one_line

CONNECT_TIMEOUT_S = 5.0
MAX_MESSAGE_CHARS = 200

NotFound = Callable[[str], TrackingError]


def causes(error: BaseException) -> list[BaseException]:
    chain = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def who(settings: TrackingSettings) -> str:
    """Who asked, for a sentence about permissions (never a secret)."""
    if settings.username:
        return f"user {settings.username}"
    return "the configured token" if settings.token else "anonymous access"


def transport_error(error: httpx.HTTPError, url: str, settings: TrackingSettings) -> TrackingError:
    """A failure before any answer (TLS, time-out, refused, cut) as a sentence naming `url`."""
    chain = causes(error)
    if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in chain) or (
        "CERTIFICATE_VERIFY_FAILED" in str(error)
    ):
        return TlsError(
            f"The TLS certificate of {url} is not trusted; set "
            "MLFLOW_TRACKING_SERVER_CERT_PATH to its CA bundle, or "
            "MLFLOW_TRACKING_INSECURE_TLS=true to skip the check."
        )
    if any(isinstance(cause, ssl.SSLError) for cause in chain):
        return TlsError(
            f"The TLS handshake with {url} failed ({one_line(str(error), 80, clause=True)}); "
            "check that the URL's scheme (http or https) matches the server."
        )
    if isinstance(error, httpx.ConnectTimeout):
        return ServerTimeout(
            f"The MLflow tracking server at {url} did not accept a connection within "
            f"{CONNECT_TIMEOUT_S:g} s; check the address and any firewall."
        )
    if isinstance(error, httpx.TimeoutException):
        return ServerTimeout(
            f"The MLflow tracking server at {url} did not answer within "
            f"{settings.timeout_s:g} s; it may be overloaded, try again."
        )
    if isinstance(error, httpx.ConnectError):
        if any(isinstance(cause, ConnectionRefusedError) for cause in chain) or (
            "refused" in str(error).lower()
        ):
            reason = "connection refused. Is it running?"
        elif (
            "name or service not known" in str(error).lower()
            or "getaddrinfo" in str(error).lower()
            or "nodename" in str(error).lower()
        ):
            reason = "the host name is unknown. Check MLFLOW_TRACKING_URI."
        else:
            reason = f"{one_line(str(error), 80, clause=True) or 'connection failed'}. Is it running?"
        return ServerUnreachable(f"Cannot reach the MLflow tracking server at {url}: {reason}")
    if isinstance(error, httpx.RemoteProtocolError):
        return BadResponse(
            f"The MLflow tracking server at {url} broke off its answer "
            f"({one_line(str(error), 80, clause=True)}); is a proxy in the way?"
        )
    if isinstance(error, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return ServerUnreachable(
            f"{url} is not a usable tracking server URL; use http://host:port or https://…"
        )
    return ServerUnreachable(
        f"Lost the connection to the MLflow tracking server at {url} "
        f"({one_line(str(error), 80, clause=True) or type(error).__name__}); try again."
    )


def status_error(
    response: httpx.Response,
    body: Any,
    what: str,
    not_found: NotFound | None,
    search: bool,
    url: str,
    settings: TrackingSettings,
) -> TrackingError:
    """An answer that is not a success as a sentence: MLflow's own error, a 401/403, a proxy page."""
    status = response.status_code
    mlflow_error = isinstance(body, dict) and "error_code" in body
    code = str(body.get("error_code")) if mlflow_error else ""
    message = one_line(str(body.get("message", "")), MAX_MESSAGE_CHARS, clause=True) if mlflow_error else ""
    if status == 401:
        if settings.username:
            return AuthenticationFailed(
                f"Authentication failed for user {settings.username} at {url}; "
                "check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."
            )
        if settings.token:
            return AuthenticationFailed(
                f"The MLflow tracking server at {url} rejected MLFLOW_TRACKING_TOKEN; check that it is valid."
            )
        return AuthenticationFailed(
            f"The MLflow tracking server at {url} requires a login; set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)."
        )
    if status == 403:
        return PermissionDenied(
            f"Permission denied: {who(settings)} may not {what} at {url}; ask the server's admin for access."
        )
    if mlflow_error and code == "RESOURCE_DOES_NOT_EXIST" and not_found is not None:
        return not_found(message)
    if search and mlflow_error and code == "INVALID_PARAMETER_VALUE":
        return InvalidFilter(f"The server rejected the trace search: {message}.")
    if mlflow_error and status < 500:
        return BadResponse(f"The MLflow tracking server at {url} refused to {what}: {message}.")
    if mlflow_error:
        return BadResponse(
            f"The MLflow tracking server at {url} failed to {what} (HTTP {status}: {message})."
        )
    if status == 404:
        return NoTrackingApi(
            f"There is no MLflow API at {url} (HTTP 404); is this the tracking server's URL?"
        )
    return BadResponse(
        f"The MLflow tracking server at {url} failed to {what} (HTTP {status}{describe_body(response)})."
    )


def describe_body(response: httpx.Response) -> str:
    """A few words on a body that is not MLflow's JSON (a proxy's HTML page)."""
    content_type = response.headers.get("content-type", "")
    if "html" in content_type or response.content.lstrip()[:1] == b"<":
        return ", an HTML page: is a proxy in the way?"
    return ""
