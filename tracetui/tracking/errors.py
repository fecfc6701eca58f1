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
    """Base of every tracking-layer failure. `str()` is a sentence for a person.

    `retry_helps` says whether asking again later may succeed without anyone changing
    anything (a server restarting, a time-out). Where it is False (a refused login, an
    experiment or API that is not there, an untrusted certificate), a poller states the
    problem and waits for the person instead of retrying on a back-off clock.
    """

    retry_helps = True

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


class ServerUnreachable(TrackingError):
    """Nothing accepts connections at the tracking URI."""


class ServerTimeout(TrackingError):
    """The server accepted the connection but did not answer in time."""


class TlsError(TrackingError):
    """The TLS handshake failed (self-signed or unknown certificate)."""

    retry_helps = False


class AuthenticationFailed(TrackingError):
    """401: wrong or missing credentials."""

    retry_helps = False


class PermissionDenied(TrackingError):
    """403: the user may not read this resource."""

    retry_helps = False


class ExperimentNotFound(TrackingError):
    retry_helps = False


class TraceNotFound(TrackingError):
    pass


class TraceNotReady(TrackingError):
    """MLflow has the trace's info but not all its spans yet ("not fully exported yet")."""


class InvalidFilter(TrackingError):
    """The server rejected a search filter or order (400 INVALID_PARAMETER_VALUE)."""


class BadResponse(TrackingError):
    """The server answered with something that is not MLflow's JSON (a proxy page, a 500)."""


class NoTrackingApi(BadResponse):
    """404 where an MLflow API should be: not a tracking server's URL, or a server without that API."""

    retry_helps = False


class LocalServerError(TrackingError):
    """The embedded local MLflow server failed to start."""


def failure_sentence(error: BaseException | None) -> str:
    """One sentence for any failure of a background task: a tracking error already is one."""
    if error is None:
        return "A background task failed."
    if isinstance(error, TrackingError):
        return str(error)
    from tracetui.visible import one_line

    return f"Unexpected {type(error).__name__}: {one_line(str(error), 200)}"
