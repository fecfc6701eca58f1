"""Settings resolved from the command line and the environment conventions users already have.

MLflow's variables (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME/_PASSWORD,
MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_INSECURE_TLS,
MLFLOW_TRACKING_SERVER_CERT_PATH, MLFLOW_EXPERIMENT_NAME/_ID) and Ollama's
(OLLAMA_API_BASE for litellm, OLLAMA_HOST for Ollama itself) mean here what
they mean there. An explicit command-line value always wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_OLLAMA_URL = "http://localhost:11434"
DEFAULT_MODEL = "ollama_chat/qwen2.5"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class TrackingSettings:
    """How to reach the MLflow tracking server."""

    tracking_uri: str | None  # None: start an embedded local server
    username: str | None = None
    password: str | None = None
    token: str | None = None  # sent as a bearer token
    insecure_tls: bool = False  # MLFLOW_TRACKING_INSECURE_TLS: skip certificate checks
    cert_path: str | None = None  # MLFLOW_TRACKING_SERVER_CERT_PATH: a CA bundle to trust
    timeout_s: float = 10.0

    def __repr__(self) -> str:  # never print credentials, even in a debugger or a log
        return (
            f"TrackingSettings(tracking_uri={self.tracking_uri!r}, "
            f"username={self.username!r}, password={'***' if self.password else None}, "
            f"token={'***' if self.token else None}, insecure_tls={self.insecure_tls}, "
            f"cert_path={self.cert_path!r})"
        )

    @property
    def is_server_uri(self) -> bool:
        """True when the URI names an HTTP server rather than a store (file:, sqlite:, a path)."""
        return bool(self.tracking_uri) and self.tracking_uri.startswith(("http://", "https://"))


def tracking_settings(
    tracking_uri: str | None = None,
    env: Mapping[str, str] | None = None,
) -> TrackingSettings:
    env = os.environ if env is None else env
    uri = tracking_uri or env.get("MLFLOW_TRACKING_URI") or None
    return TrackingSettings(
        tracking_uri=uri,
        username=env.get("MLFLOW_TRACKING_USERNAME") or None,
        password=env.get("MLFLOW_TRACKING_PASSWORD") or None,
        token=env.get("MLFLOW_TRACKING_TOKEN") or None,
        insecure_tls=_truthy(env.get("MLFLOW_TRACKING_INSECURE_TLS")),
        cert_path=env.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None,
    )


def experiment_selector(experiment: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The experiment the user asked for, as a name or an id, or None for "choose for me"."""
    env = os.environ if env is None else env
    return experiment or env.get("MLFLOW_EXPERIMENT_ID") or env.get("MLFLOW_EXPERIMENT_NAME") or None


def normalise_ollama_url(value: str) -> str:
    """OLLAMA_HOST often has no scheme or port ("0.0.0.0:11434", "myhost"); make it a URL.

    As in Ollama's own client: without a scheme the port defaults to 11434; with
    one, the scheme's own port applies (a URL is taken as written).
    """
    value = value.strip().rstrip("/")
    has_scheme = "://" in value
    if not has_scheme:
        value = "http://" + value
    scheme, rest = value.split("://", 1)
    host, slash, path = rest.partition("/")
    if host.startswith("0.0.0.0"):
        # 0.0.0.0 is where Ollama listens, not an address to connect to.
        host = "127.0.0.1" + host[len("0.0.0.0") :]
    has_port = ":" in host.rsplit("]", 1)[-1]
    if not has_scheme and not has_port:
        host += ":11434"
    return f"{scheme}://{host}{slash}{path}"


def ollama_url(explicit: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """--ollama-url, else OLLAMA_API_BASE, else OLLAMA_HOST, else http://localhost:11434."""
    env = os.environ if env is None else env
    for value in (explicit, env.get("OLLAMA_API_BASE"), env.get("OLLAMA_HOST")):
        if value and value.strip():
            return normalise_ollama_url(value)
    return DEFAULT_OLLAMA_URL
