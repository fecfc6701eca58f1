"""Settings follow MLflow's and Ollama's own environment conventions."""

from __future__ import annotations

import pytest

from tracetui.config import (
    DEFAULT_OLLAMA_URL,
    experiment_selector,
    normalise_ollama_url,
    ollama_url,
    tracking_settings,
)


def test_tracking_settings_from_mlflow_environment() -> None:
    env = {
        "MLFLOW_TRACKING_URI": "https://mlflow.example:5000",
        "MLFLOW_TRACKING_USERNAME": "alice",
        "MLFLOW_TRACKING_PASSWORD": "pw",
        "MLFLOW_TRACKING_TOKEN": "tok",
        "MLFLOW_TRACKING_INSECURE_TLS": "true",
        "MLFLOW_TRACKING_SERVER_CERT_PATH": "/etc/ca.pem",
    }
    settings = tracking_settings(env=env)
    assert settings.tracking_uri == "https://mlflow.example:5000"
    assert (settings.username, settings.password, settings.token) == ("alice", "pw", "tok")
    assert settings.insecure_tls is True
    assert settings.cert_path == "/etc/ca.pem"
    assert settings.is_server_uri


def test_command_line_uri_wins_and_no_uri_means_embedded() -> None:
    env = {"MLFLOW_TRACKING_URI": "http://env:5000"}
    assert tracking_settings("http://cli:5000", env=env).tracking_uri == "http://cli:5000"
    assert tracking_settings(env={}).tracking_uri is None
    assert not tracking_settings("sqlite:///mlflow.db", env={}).is_server_uri


def test_settings_repr_hides_credentials() -> None:
    settings = tracking_settings(env={"MLFLOW_TRACKING_PASSWORD": "hunter2", "MLFLOW_TRACKING_TOKEN": "t0k"})
    assert "hunter2" not in repr(settings) and "t0k" not in repr(settings)


def test_experiment_selector_prefers_command_line_then_id_then_name() -> None:
    env = {"MLFLOW_EXPERIMENT_ID": "7", "MLFLOW_EXPERIMENT_NAME": "chat"}
    assert experiment_selector("mine", env=env) == "mine"
    assert experiment_selector(None, env=env) == "7"
    assert experiment_selector(None, env={"MLFLOW_EXPERIMENT_NAME": "chat"}) == "chat"
    assert experiment_selector(None, env={}) is None


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("0.0.0.0:11434", "http://127.0.0.1:11434"),
        ("myhost", "http://myhost:11434"),
        ("myhost:8080", "http://myhost:8080"),
        ("https://ollama.example/", "https://ollama.example"),
        ("http://0.0.0.0:11434", "http://127.0.0.1:11434"),
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("[::1]", "http://[::1]:11434"),
        ("[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_ollama_host_values_become_urls(raw: str, url: str) -> None:
    assert normalise_ollama_url(raw) == url


def test_ollama_url_precedence() -> None:
    env = {"OLLAMA_API_BASE": "http://api-base:1", "OLLAMA_HOST": "host:2"}
    assert ollama_url("http://flag:3", env=env) == "http://flag:3"
    assert ollama_url(None, env=env) == "http://api-base:1"
    assert ollama_url(None, env={"OLLAMA_HOST": "host:2"}) == "http://host:2"
    assert ollama_url(None, env={}) == DEFAULT_OLLAMA_URL
