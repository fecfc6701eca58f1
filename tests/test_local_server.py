"""The embedded server: the store it picks, and that stopping it leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tracetui.tracking.local_server import LocalMlflowServer, default_store_uri
from tracetui.tracking.server_guard import _group_members


def test_default_store_is_sqlite_without_mlruns(tmp_path: Path) -> None:
    assert default_store_uri(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"


def test_default_store_is_mlruns_when_present(tmp_path: Path) -> None:
    (tmp_path / "mlruns").mkdir()
    assert default_store_uri(tmp_path) == (tmp_path / "mlruns").resolve().as_uri()


def test_fixture_server_answers_health(mlflow_server: LocalMlflowServer) -> None:
    assert httpx.get(f"{mlflow_server.url}/health", timeout=5).status_code == 200


def test_parent_killed_leaves_no_server_behind(tmp_path: Path) -> None:
    """SIGKILL the program that started the server: the guard still stops every process."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from tracetui.tracking.local_server import LocalMlflowServer
        server = LocalMlflowServer("sqlite:///{tmp_path / "db.sqlite"}",
                                   artifacts_destination="{tmp_path / "art"}")
        server.start()
        print(server._guard.pid, server.port, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    line = parent.stdout.readline()
    guard_pid, port = (int(x) for x in line.split())
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    assert len(_group_members(guard_pid)) >= 1  # mlflow server and its uvicorn
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and (_group_members(guard_pid) or _alive(guard_pid)):
        time.sleep(0.5)
    assert _group_members(guard_pid) == []
    assert not _alive(guard_pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is not running.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def test_the_embedded_server_runs_no_job_consumers(mlflow_server: LocalMlflowServer) -> None:
    """MLflow's job runner (seven huey consumers importing MLflow) stays off: it only stores traces."""
    assert mlflow_server._guard is not None
    commands = [_command_line(pid) for pid in _group_members(mlflow_server._guard.pid)]
    assert any("mlflow" in command and "server" in command for command in commands)  # the listing sees it
    assert [c for c in commands if "huey" in c or "_job_runner" in c] == []


def test_a_job_runner_the_user_asked_for_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server = LocalMlflowServer(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert server.environment()["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "true")
    assert server.environment()["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "true"


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
