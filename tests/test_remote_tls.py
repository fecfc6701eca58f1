"""https with a self-signed certificate, through a TLS endpoint in front of the real server.

By default the certificate is not trusted and both the CLI and the TUI say so in
one sentence that names the two ways out; MLFLOW_TRACKING_SERVER_CERT_PATH and
MLFLOW_TRACKING_INSECURE_TLS each make it work; a CA bundle path that cannot be
read is a sentence too, not a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_app import wait_for
from test_remote_auth import run_cli
from trace_factory import log_many_traces, use_server

from tracetui.config import tracking_settings
from tracetui.tracking.connection import Backend
from tracetui.ui.app import TraceTuiApp, make_app
from tracetui.ui.widgets.status_bar import CONNECTED, STOPPED

UNTRUSTED = "is not trusted; set MLFLOW_TRACKING_SERVER_CERT_PATH to its CA bundle"


@pytest.fixture(scope="module")
def tls_world(mlflow_server: Any, mlflow_tls: tuple[str, Path]) -> Iterator[tuple[str, Path, str, list[str]]]:
    """(https URL, CA cert, experiment name, trace ids), the traces logged over plain http."""
    import uuid

    use_server(mlflow_server.url)
    experiment = f"tls-{uuid.uuid4().hex[:8]}"
    trace_ids = log_many_traces(experiment, 2, name="over-tls")
    url, cert_path = mlflow_tls
    yield url, cert_path, experiment, trace_ids


def _app(url: str, env: dict[str, str], experiment: str) -> TraceTuiApp:
    settings = tracking_settings(url, env=env)
    return make_app(settings, experiment, None, None, None, Backend(base_url=url), poll_interval_s=0.2)


def test_cli_untrusted_certificate_then_cert_path_then_insecure(tls_world: Any, tmp_path: Path) -> None:
    url, cert_path, experiment, trace_ids = tls_world
    args = ["traces", "list", "--tracking-uri", url, "-e", experiment]

    refused = run_cli(args, {}, tmp_path)
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith(f"The TLS certificate of {url} {UNTRUSTED}")
    assert "MLFLOW_TRACKING_INSECURE_TLS=true" in line

    for env in (
        {"MLFLOW_TRACKING_SERVER_CERT_PATH": str(cert_path)},
        {"MLFLOW_TRACKING_INSECURE_TLS": "true"},
    ):
        done = run_cli(args, env, tmp_path)
        assert done.returncode == 0, (env, done.stderr)
        assert all(trace_id in done.stdout for trace_id in trace_ids)

    missing = run_cli(args, {"MLFLOW_TRACKING_SERVER_CERT_PATH": str(tmp_path / "nope.pem")}, tmp_path)
    assert missing.returncode == 1
    (line,) = missing.stderr.strip().splitlines()
    assert "nope.pem" in line and "MLFLOW_TRACKING_SERVER_CERT_PATH" in line


async def test_tui_untrusted_certificate_is_a_sentence_on_the_status_line(tls_world: Any) -> None:
    url, _, experiment, _ = tls_world
    app = _app(url, {}, experiment)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: app.status.connection == STOPPED, "the handshake to fail")
        await wait_for(pilot, lambda: app.status.sentence.startswith(f"The TLS certificate of {url}"), "why")
        assert app.status.sentence.startswith(f"The TLS certificate of {url} {UNTRUSTED}")
        assert "certificate not trusted, not retrying" in app.status.render().plain  # waiting cannot mend it
        assert app.viewer.trace_list.row_count == 0


@pytest.mark.parametrize("how", ["cert_path", "insecure"])
async def test_tui_lists_traces_with_cert_path_or_insecure(tls_world: Any, how: str) -> None:
    url, cert_path, experiment, trace_ids = tls_world
    env = (
        {"MLFLOW_TRACKING_SERVER_CERT_PATH": str(cert_path)}
        if how == "cert_path"
        else {"MLFLOW_TRACKING_INSECURE_TLS": "1"}
    )
    app = _app(url, env, experiment)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(
            pilot, lambda: set(trace_ids) <= set(app.viewer.trace_list.infos), "the rows over https"
        )
        assert app.status.connection == CONNECTED


async def test_tui_unreadable_ca_bundle_is_a_sentence_not_a_crash(tls_world: Any, tmp_path: Path) -> None:
    url, _, experiment, _ = tls_world
    app = _app(url, {"MLFLOW_TRACKING_SERVER_CERT_PATH": str(tmp_path / "missing.pem")}, experiment)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "missing.pem" in app.status.sentence, "the sentence")
        assert "MLFLOW_TRACKING_SERVER_CERT_PATH" in app.status.sentence
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen" and app.is_running
