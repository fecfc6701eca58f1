"""Shared fixtures: a real `mlflow server` on a temporary sqlite store, started once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracetui.config import TrackingSettings
from tracetui.tracking.local_server import LocalMlflowServer

# Nothing in the tests may reach for the internet or a user's real server.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.pop("MLFLOW_TRACKING_URI", None)
# Log traces synchronously in fixtures: the async exporter drops traces when its queue fills.
os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMlflowServer]:
    """A real MLflow tracking server (sqlite, one worker) for the whole test session."""
    root: Path = tmp_path_factory.mktemp("mlflow")
    server = LocalMlflowServer(
        f"sqlite:///{root / 'mlflow.db'}",
        artifacts_destination=str(root / "artifacts"),
        log_path=root / "server.log",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tracking_settings(mlflow_server: LocalMlflowServer) -> TrackingSettings:
    return TrackingSettings(tracking_uri=mlflow_server.url)
