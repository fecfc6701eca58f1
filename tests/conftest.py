"""Shared fixtures: a real `mlflow server` on a temporary sqlite store, started once per session."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tracetui.config import TrackingSettings
from tracetui.tracking.local_server import LocalMlflowServer

# Nothing in the tests may reach for the internet or a user's real server.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.pop("MLFLOW_TRACKING_URI", None)
# Log traces synchronously in fixtures: the async exporter drops traces when its queue fills.
os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
# The chat outbox and clipboard fallbacks write state; keep it out of the real home folder.
os.environ["TRACETUI_STATE_DIR"] = tempfile.mkdtemp(prefix="tracetui-state-")
os.environ["XDG_STATE_HOME"] = os.environ["TRACETUI_STATE_DIR"]
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="tracetui-cache-")
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="tracetui-config-")


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own outbox: a turn one test leaves waiting must not be sent, or counted, by another."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("TRACETUI_STATE_DIR", str(state))
    # Saved views and each experiment's last filter (tracetui/saved_views.py) are per test too.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(state / "config"))
    return state


@contextmanager
def running_server(root: Path, **options: Any) -> Iterator[LocalMlflowServer]:
    """A real `mlflow server` over a sqlite store in `root`, stopped (whole process group) on exit."""
    server = LocalMlflowServer(
        f"sqlite:///{root / 'mlflow.db'}",
        artifacts_destination=str(root / "artifacts"),
        log_path=root / "server.log",
        **options,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMlflowServer]:
    """A real MLflow tracking server (sqlite, one worker) for the whole test session."""
    with running_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture(scope="session")
def tracking_settings(mlflow_server: LocalMlflowServer) -> TrackingSettings:
    return TrackingSettings(tracking_uri=mlflow_server.url)


AUTH_ADMIN_USER = "admin"
AUTH_ADMIN_PASSWORD = "s3cret-Admin-pw-4-tests"


@pytest.fixture(scope="session")
def mlflow_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMlflowServer]:
    """A real MLflow server running MLflow's basic-auth app (admin: AUTH_ADMIN_USER/PASSWORD)."""
    root: Path = tmp_path_factory.mktemp("mlflow-auth")
    config = root / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{root / 'basic_auth.db'}\n"
        f"admin_username = {AUTH_ADMIN_USER}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    with running_server(
        root,
        app_name="basic-auth",
        extra_env={
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_AUTH_ADMIN_PASSWORD": AUTH_ADMIN_PASSWORD,
            # The auth app refuses to start without a fixed key for CSRF protection.
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "tracetui-tests-only",
        },
    ) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_tls(mlflow_server: LocalMlflowServer, tmp_path_factory: pytest.TempPathFactory):
    """(https URL, CA certificate path) of a self-signed TLS endpoint in front of the real server."""
    from tls_proxy import TlsProxy, write_self_signed_cert

    cert_path, key_path = write_self_signed_cert(tmp_path_factory.mktemp("tls"))
    proxy = TlsProxy(mlflow_server.port, cert_path, key_path).start()
    try:
        yield proxy.url, cert_path
    finally:
        proxy.stop()


@pytest.fixture(scope="session")
def team_server(tmp_path_factory: pytest.TempPathFactory):
    """MLflow with two workers on a throw-away PostgreSQL 15 cluster, for the whole session."""
    from postgres_server import TeamServer, postgres_available

    missing = postgres_available()
    if missing:
        pytest.fail(missing)
    with TeamServer(tmp_path_factory.mktemp("team-server")) as server:
        yield server
