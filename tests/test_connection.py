"""What tracetui talks to: a server URI is used as is, anything else gets an embedded server,
and that server is stopped on exit and on Ctrl-C with nothing left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracetui.config import TrackingSettings
from tracetui.tracking.connection import Backend, resolve_backend, store_uri_for
from tracetui.tracking.errors import TrackingError
from tracetui.tracking.server_guard import _group_members

# --- which store, without starting anything ------------------------------------------


def test_no_uri_means_the_store_mlflow_server_would_use(tmp_path: Path) -> None:
    assert store_uri_for(TrackingSettings(None), tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    (tmp_path / "mlruns").mkdir()
    assert store_uri_for(TrackingSettings(None), tmp_path) == (tmp_path / "mlruns").resolve().as_uri()


@pytest.mark.parametrize("uri", ["http://127.0.0.1:5000", "https://mlflow.example.com/prefix/"])
def test_a_server_uri_is_used_directly_and_starts_nothing(uri: str) -> None:
    assert store_uri_for(TrackingSettings(uri)) is None
    backend = resolve_backend(TrackingSettings(uri))
    assert backend.local_server is None
    assert backend.base_url == uri.rstrip("/")
    backend.close()  # a no-op for a remote server


@pytest.mark.parametrize(
    "uri",
    ["file:./mlruns", "sqlite:///x.db", "sqlite:////abs/x.db", "postgresql+psycopg2://u:p@db/mlflow"],
)
def test_a_store_uri_is_served_as_given(uri: str) -> None:
    assert store_uri_for(TrackingSettings(uri)) == uri


def test_a_plain_folder_becomes_a_file_store(tmp_path: Path) -> None:
    assert store_uri_for(TrackingSettings("mlruns"), tmp_path) == (tmp_path / "mlruns").as_uri()


@pytest.mark.parametrize("uri", ["databricks", "databricks-uc", "ftp://host/x"])
def test_a_uri_tracetui_cannot_use_is_one_sentence(uri: str) -> None:
    with pytest.raises(TrackingError) as caught:
        store_uri_for(TrackingSettings(uri))
    assert "tracking" in str(caught.value) and "\n" not in str(caught.value)


def test_describe_never_shows_credentials() -> None:
    backend = Backend(base_url="https://alice:s3cret@mlflow.example.com:8443")
    assert "s3cret" not in backend.describe()
    assert "mlflow.example.com:8443" in backend.describe()


# --- the embedded server, through the real CLI -----------------------------------------


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(name, None)
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return env


def _processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains `text`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as stat:
                state = stat.read().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if text in command and state != "Z":
            found.append(int(entry))
    return found


def _wait_for_line(stream, needle: str, timeout_s: float = 120) -> str:  # noqa: ANN001
    """Read lines until one contains `needle` (the subprocess is killed by the caller on failure)."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} never appeared; got {seen!r}")


def test_no_uri_starts_a_local_server_over_the_cwd_store_and_stops_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tracetui", "traces", "list"],
        cwd=tmp_path,
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    store = f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert result.returncode == 0, result.stderr
    assert f"Starting a local MLflow server over {store}" in result.stderr
    assert (tmp_path / "mlflow.db").is_file()  # the server really used the cwd store
    assert "No traces" in result.stderr and "Traceback" not in result.stderr
    assert _processes_mentioning(str(tmp_path.resolve())) == []


def test_ctrl_c_while_following_stops_the_local_server(tmp_path: Path) -> None:
    tail = subprocess.Popen(
        [sys.executable, "-m", "tracetui", "traces", "tail", "--interval", "0.2"],
        cwd=tmp_path,
        env=_cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_line(tail.stderr, "press Ctrl-C to stop")
        server_pids = _processes_mentioning(str(tmp_path.resolve()))
        assert server_pids != []  # the server is there…
        # …in a group led by the guard, with uvicorn and the job consumers whose
        # command lines do not name the store.
        groups = {os.getpgid(pid) for pid in server_pids}
        assert sum(len(_group_members(group)) for group in groups) > len(server_pids) - len(groups)
        tail.send_signal(signal.SIGINT)
        _, stderr = tail.communicate(timeout=60)
    finally:
        tail.kill()
    assert tail.returncode == 0
    assert "Traceback" not in stderr
    assert _processes_mentioning(str(tmp_path.resolve())) == []  # …and gone once tail returned
    assert all(_group_members(group) == [] for group in groups)


def test_ctrl_c_while_the_local_server_starts_leaves_nothing_running(tmp_path: Path) -> None:
    listing = subprocess.Popen(
        [sys.executable, "-m", "tracetui", "traces", "list"],
        cwd=tmp_path,
        env=_cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_line(listing.stderr, "Starting a local MLflow server")
        time.sleep(1.0)  # let the guard start mlflow, so there is something to stop
        listing.send_signal(signal.SIGINT)
        _, stderr = listing.communicate(timeout=60)
    finally:
        listing.kill()
    assert listing.returncode == 130
    assert "Interrupted." in stderr and "Traceback" not in stderr
    assert _processes_mentioning(str(tmp_path.resolve())) == []
