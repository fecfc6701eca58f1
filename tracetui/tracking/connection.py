"""Which MLflow server to talk to, given the tracking URI the user configured.

Three cases, as `mlflow` itself understands a tracking URI:
- an http(s) URI names a running tracking server: talk to it directly;
- no URI at all: start a local server over the store `mlflow server` would use
  in the current folder (./mlruns if present, else sqlite:///mlflow.db);
- a store URI (file:./mlruns, sqlite:///x.db, postgresql://…, a plain path):
  start a local server over that store, since a store has no REST API.

Starting a local server blocks for about ten seconds; the TUI calls
`resolve_backend` from a thread worker, the CLI says what it is waiting for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tracetui.config import TrackingSettings
from tracetui.tracking.errors import LocalServerError, TrackingError, redact_url
from tracetui.tracking.local_server import (
    DEFAULT_START_TIMEOUT_S,
    LocalMlflowServer,
    default_store_uri,
    store_uri_from_tracking_uri,
)

# Database schemes SQLAlchemy (and so `mlflow server --backend-store-uri`) accepts.
_DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
# Tracking URIs that name a hosted service with no plain MLflow REST API tracetui can use.
_UNSUPPORTED_SCHEMES = ("databricks", "databricks-uc", "uc")


@dataclass
class Backend:
    """The MLflow server tracetui talks to, and the local server it started for that, if any."""

    base_url: str  # as configured (may hold user:password@); never print it, use describe()
    local_server: LocalMlflowServer | None = None
    store_uri: str | None = None  # the store a local server serves

    def describe(self) -> str:
        """One line for a status bar or a log: where the traces come from, without credentials."""
        if self.local_server is None:
            return f"MLflow at {redact_url(self.base_url)}"
        return f"local MLflow at {self.base_url} over {redact_url(self.store_uri or '?')}"

    @property
    def outbox_server(self) -> str:
        """How the outbox names this server: a local server by its store (its port changes every run)."""
        return self.store_uri if self.local_server is not None and self.store_uri else self.base_url

    def close(self) -> None:
        """Stop the local server, if one was started (idempotent; remote servers are left alone)."""
        if self.local_server is not None:
            self.local_server.stop()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def store_uri_for(settings: TrackingSettings, cwd: Path | None = None) -> str | None:
    """The backend store a local server must serve, or None when the URI is a server.

    Raises TrackingError for a URI tracetui cannot use at all.
    """
    uri = (settings.tracking_uri or "").strip()
    if not uri:
        return default_store_uri(cwd)
    if settings.is_server_uri:
        return None
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if uri.split(":", 1)[0].lower() in _UNSUPPORTED_SCHEMES:  # MLflow reads bare "databricks" too
        raise TrackingError(
            f"The tracking URI {redact_url(uri)!r} names a hosted service; "
            "tracetui needs the http(s) address of an MLflow tracking server."
        )
    base_scheme = scheme.split("+", 1)[0]  # postgresql+psycopg2, mysql+pymysql, …
    if "://" in uri and base_scheme not in (*_DATABASE_SCHEMES, "file"):
        raise TrackingError(
            f"The tracking URI {redact_url(uri)!r} is not an http(s) server, a database or a folder; "
            "set --tracking-uri or MLFLOW_TRACKING_URI to e.g. http://localhost:5000."
        )
    if cwd is not None and scheme not in (*_DATABASE_SCHEMES, "file") and not Path(uri).is_absolute():
        uri = str(cwd / uri)  # a relative folder is relative to the folder asked for
    return store_uri_from_tracking_uri(uri)


def outbox_server(settings: TrackingSettings, cwd: Path | None = None) -> str:
    """How the outbox names the configured server before it is reached: `Backend.outbox_server`."""
    try:
        store_uri = store_uri_for(settings, cwd)
    except TrackingError:
        store_uri = None  # tracing will not work there at all; the name only has to be stable
    return store_uri or (settings.tracking_uri or "").strip().rstrip("/")


def resolve_backend(
    settings: TrackingSettings,
    *,
    cwd: Path | None = None,
    on_starting: Callable[[str], None] | None = None,
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
) -> Backend:
    """The server to talk to; starts (and waits for) a local one when the URI is not a server.

    `on_starting(store_uri)` is called once before a local server starts, so the
    caller can tell the user why it waits. Raises TrackingError with a sentence.
    """
    store_uri = store_uri_for(settings, cwd)
    if store_uri is None:
        return Backend(base_url=(settings.tracking_uri or "").strip().rstrip("/"))
    server = LocalMlflowServer(store_uri)
    if on_starting is not None:
        on_starting(redact_url(store_uri))
    try:
        server.start(timeout_s=start_timeout_s)
    except LocalServerError:
        raise
    except BaseException:
        # Ctrl-C (or anything else) while waiting: do not leave a half-started server behind.
        server.stop()
        raise
    return Backend(base_url=server.url, local_server=server, store_uri=store_uri)
