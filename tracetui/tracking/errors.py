"""Typed failures of the tracking layer, each carrying one sentence a person can act on.

`str(error)` is that sentence. It never contains credentials: URLs are passed
through `redact_url` before they are put in a message.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

# "scheme://user:password@" anywhere in a text, e.g. inside a library's error message.
_USERINFO_IN_TEXT = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


def redact_url(url: str) -> str:
    """The URL without any user:password@ part, safe to show or log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def redact_text(text: str) -> str:
    """`text` with the user:password@ part of every URL in it removed."""
    return _USERINFO_IN_TEXT.sub(r"\g<scheme>", text)


class TrackingError(Exception):
    """Base of every tracking-layer failure. `str()` is a sentence for a person."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


class ServerUnreachable(TrackingError):
    """Nothing accepts connections at the tracking URI."""


class ServerTimeout(TrackingError):
    """The server accepted the connection but did not answer in time."""


class TlsError(TrackingError):
    """The TLS handshake failed (self-signed or unknown certificate)."""


class AuthenticationFailed(TrackingError):
    """401: wrong or missing credentials."""


class PermissionDenied(TrackingError):
    """403: the user may not read this resource."""


class ExperimentNotFound(TrackingError):
    pass


class TraceNotFound(TrackingError):
    pass


class TraceNotReady(TrackingError):
    """MLflow has the trace's info but not all its spans yet ("not fully exported yet")."""


class InvalidFilter(TrackingError):
    """The server rejected a search filter or order (400 INVALID_PARAMETER_VALUE)."""


class BadResponse(TrackingError):
    """The server answered with something that is not MLflow's JSON (a proxy page, a 500)."""


class LocalServerError(TrackingError):
    """The embedded local MLflow server failed to start."""
