"""Logging in the way MLflow does, against MLflow's real basic-auth app (and a recording fake for tokens).

- MLFLOW_TRACKING_USERNAME/PASSWORD work in the TUI (rows appear) and the CLI;
- a wrong password is one sentence naming the user and the URL, and the TUI backs
  off instead of hammering the server;
- MLFLOW_TRACKING_TOKEN is sent as a bearer token;
- an experiment the user is denied says "permission denied", and does not stop the
  TUI from choosing one the user may read;
- no password or token ever shows up in anything printed, shown or written.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import AUTH_ADMIN_PASSWORD, AUTH_ADMIN_USER
from fault_servers import FaultServer
from test_app import leave_prompt, wait_for
from trace_factory import log_many_traces, use_server

from tracetui.config import tracking_settings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.connection import Backend
from tracetui.ui.app import TraceTuiApp, make_app
from tracetui.ui.widgets.status_bar import CONNECTED, DISCONNECTED, STOPPED

USER = "alice"
PASSWORD = "alice-Pw-only-in-tests-7731"  # MLflow wants at least 12 characters
WRONG_PASSWORD = "wrong-Pw-never-shown-4242"
TOKEN = "tok-Secret-never-shown-9c1e"
SECRETS = (PASSWORD, WRONG_PASSWORD, TOKEN, AUTH_ADMIN_PASSWORD)
CLI_TIMEOUT_S = 120  # bounds a hang; measures nothing


@dataclass(frozen=True)
class AuthWorld:
    url: str
    open_experiment: str
    denied_experiment: str
    open_trace_ids: list[str]


def _admin() -> httpx.Client:
    return httpx.Client(auth=(AUTH_ADMIN_USER, AUTH_ADMIN_PASSWORD), timeout=30)


@pytest.fixture(scope="module")
def world(mlflow_auth_server: Any) -> Iterator[AuthWorld]:
    """alice may read one experiment (default READ) and is denied another (a DENY grant)."""
    url = mlflow_auth_server.url
    suffix = uuid.uuid4().hex[:8]
    open_name, denied_name = f"auth-open-{suffix}", f"auth-denied-{suffix}"
    with _admin() as admin:
        created = admin.post(
            f"{url}/api/2.0/mlflow/users/create", json={"username": USER, "password": PASSWORD}
        )
        assert created.status_code == 200 or "already exists" in created.text, created.text
        denied_id = admin.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": denied_name}).json()[
            "experiment_id"
        ]
        granted = admin.post(
            f"{url}/api/3.0/mlflow/users/permissions/grant",
            json={
                "username": USER,
                "resource_type": "experiment",
                "resource_id": denied_id,
                "permission": "DENY",
            },
        )
        assert granted.status_code == 200, granted.text
    # The mlflow client in this process logs as admin; restore the environment afterwards.
    saved = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    os.environ["MLFLOW_TRACKING_USERNAME"] = AUTH_ADMIN_USER
    os.environ["MLFLOW_TRACKING_PASSWORD"] = AUTH_ADMIN_PASSWORD
    try:
        use_server(url)
        open_ids = log_many_traces(open_name, 2, name="authorised")
        # The newest trace on the server is one alice may not read.
        log_many_traces(denied_name, 1, name="secret")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield AuthWorld(url, open_name, denied_name, open_ids)


def _env(**variables: str) -> dict[str, str]:
    """The login variables as a person would export them."""
    names = {
        "username": "MLFLOW_TRACKING_USERNAME",
        "password": "MLFLOW_TRACKING_PASSWORD",
        "token": "MLFLOW_TRACKING_TOKEN",
    }
    return {names[key]: value for key, value in variables.items()}


def _app(url: str, env: dict[str, str], experiment: str | None, **options: Any) -> TraceTuiApp:
    settings = tracking_settings(url, env=env)
    return make_app(
        settings, experiment, None, None, None, Backend(base_url=url), poll_interval_s=0.2, **options
    )


def run_cli(args: list[str], env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    """`python -m tracetui ARGS` with only the variables given (plus what Python needs), in `home`."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MLFLOW_") and key not in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")
    }
    clean.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local"))
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "tracetui", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=home,
        timeout=CLI_TIMEOUT_S,
    )


def screen_text(app: TraceTuiApp) -> str:
    """Everything on screen now: the SVG screenshot holds every visible character."""
    return app.export_screenshot() + app.status.render().plain


# --- right and wrong credentials ---------------------------------------------------------


async def test_tui_with_right_credentials_lists_the_traces(world: AuthWorld) -> None:
    app = _app(world.url, _env(username=USER, password=PASSWORD), world.open_experiment)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(
            pilot, lambda: set(world.open_trace_ids) <= set(app.viewer.trace_list.infos), "the rows"
        )
        assert app.status.connection == CONNECTED


async def test_tui_without_experiment_skips_the_denied_one(world: AuthWorld) -> None:
    """The newest trace is in an experiment alice is denied: the app opens one she may read."""
    app = _app(world.url, _env(username=USER, password=PASSWORD), None)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: app.viewer.experiment is not None, "an experiment to be chosen")
        assert app.viewer.experiment.name != world.denied_experiment
        await wait_for(pilot, lambda: app.status.connection == CONNECTED, "the first poll")


def test_cli_with_right_credentials_lists_the_traces(world: AuthWorld, tmp_path: Path) -> None:
    done = run_cli(
        ["traces", "list", "--tracking-uri", world.url, "-e", world.open_experiment],
        _env(username=USER, password=PASSWORD),
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    for trace_id in world.open_trace_ids:
        assert trace_id in done.stdout


def test_cli_wrong_password_is_one_sentence(world: AuthWorld, tmp_path: Path) -> None:
    done = run_cli(
        ["traces", "list", "--tracking-uri", world.url, "-e", world.open_experiment],
        _env(username=USER, password=WRONG_PASSWORD),
        tmp_path,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Authentication failed for user {USER} at {world.url}; "
        "check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."
    ]
    assert done.stdout == ""


async def test_tui_wrong_password_is_stated_once_and_not_retried(world: AuthWorld) -> None:
    """A wrong password: one sentence, no retries on a back-off clock ("disconnected"); r asks again."""
    settings = tracking_settings(world.url, env=_env(username=USER, password=WRONG_PASSWORD))
    client = TrackingClient(settings, world.url)
    app = _app(world.url, _env(username=USER, password=WRONG_PASSWORD), world.open_experiment, client=client)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: app.status.connection == STOPPED, "the login to fail")
        started, first_count = time.monotonic(), client.requests_made
        while time.monotonic() - started < 3.0:
            await pilot.pause(0.1)
        later_count = client.requests_made
        status = app.status.render().plain
        await leave_prompt(pilot)
        await pilot.press("r")  # the person asks again (say, after an admin fixed something)
        await wait_for(pilot, lambda: client.requests_made > later_count, "the asked-for retry")
    await client.aclose()
    assert f"Authentication failed for user {USER} at {world.url}" in status
    assert "login refused, not retrying" in status and "disconnected" not in status
    assert later_count == first_count, f"{later_count - first_count} requests while stopped"
    assert WRONG_PASSWORD not in status


# --- bearer token --------------------------------------------------------------------------


async def test_token_is_sent_as_bearer_by_cli_and_tui(tmp_path: Path) -> None:
    with FaultServer("401") as server:
        done = run_cli(["experiments", "--tracking-uri", server.url], _env(token=TOKEN), tmp_path)
        assert done.returncode == 1
        assert "rejected MLFLOW_TRACKING_TOKEN" in done.stderr and TOKEN not in done.stderr
        assert server.requests and all(r.get("Authorization") == f"Bearer {TOKEN}" for r in server.requests)

        cli_requests = server.request_count
        app = _app(server.url, _env(token=TOKEN), None)
        async with app.run_test(size=(120, 32)) as pilot:
            await wait_for(pilot, lambda: server.request_count > cli_requests, "the TUI's first request")
            await wait_for(
                pilot, lambda: "rejected MLFLOW_TRACKING_TOKEN" in app.status.sentence, "the sentence"
            )
            assert TOKEN not in screen_text(app)
        assert all(r.get("Authorization") == f"Bearer {TOKEN}" for r in server.requests[cli_requests:])


# --- permission denied -------------------------------------------------------------------


def test_cli_denied_experiment_says_permission_denied(world: AuthWorld, tmp_path: Path) -> None:
    done = run_cli(
        ["traces", "list", "--tracking-uri", world.url, "-e", world.denied_experiment],
        _env(username=USER, password=PASSWORD),
        tmp_path,
    )
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"Permission denied: user {USER} may not read experiment")
    assert world.url in line and PASSWORD not in line


async def test_tui_denied_experiment_says_permission_denied(world: AuthWorld) -> None:
    app = _app(world.url, _env(username=USER, password=PASSWORD), world.denied_experiment)
    async with app.run_test(size=(80, 24)) as pilot:  # no chat prompt at 80 columns to take keys
        await wait_for(pilot, lambda: app.status.sentence.startswith("Permission denied"), "the sentence")
        assert f"user {USER}" in app.status.sentence
        await pilot.press("question_mark")  # still answering keys
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert app.is_running


# --- secrets stay secret ---------------------------------------------------------------


def _files_text(root: Path) -> str:
    chunks = []
    for path in root.rglob("*"):
        if path.is_file():
            chunks.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)


async def test_credentials_never_appear_anywhere(
    world: AuthWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every CLI command and the TUI, with right, wrong and token credentials: nothing shows a secret."""
    printed: list[str] = []
    right = _env(username=USER, password=PASSWORD)
    runs = [
        (right, ["traces", "list", "--json", "-e", world.open_experiment]),
        (right, ["traces", "show", world.open_trace_ids[0]]),
        (right, ["traces", "show", "--json", world.open_trace_ids[0]]),
        (right, ["traces", "list", "-e", world.denied_experiment]),
        (_env(username=USER, password=WRONG_PASSWORD), ["traces", "list", "-e", world.open_experiment]),
        (_env(username=USER, password=PASSWORD, token=TOKEN), ["experiments"]),
    ]
    for login, command in runs:
        done = run_cli([*command, "--tracking-uri", world.url], login, tmp_path)
        printed += [done.stdout, done.stderr]
    # The URL itself may carry the password too (http://user:pw@host): it is redacted everywhere.
    host_url = world.url.replace("http://", f"http://{USER}:{PASSWORD}@")
    done = run_cli(["traces", "list", "--tracking-uri", host_url, "-e", world.open_experiment], {}, tmp_path)
    printed += [done.stdout, done.stderr]
    assert any(world.open_trace_ids[0] in text for text in printed)  # the commands did work

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    logins = [right, _env(username=USER, password=WRONG_PASSWORD), _env(token=TOKEN)]
    for login in logins:
        app = _app(world.url, login, world.open_experiment)
        async with app.run_test(size=(120, 32)) as pilot:
            await wait_for(
                pilot,
                lambda app=app: app.status.connection in (CONNECTED, DISCONNECTED, STOPPED),
                "the first answer",
            )
            await pilot.pause(0.5)
            printed.append(screen_text(app))
            printed.append(repr(app.settings))
    printed.append(_files_text(tmp_path))
    everything = "\n".join(printed)
    for secret in SECRETS:
        assert secret not in everything
