"""The embedded MLflow server: started when no tracking server is configured,
or when the tracking URI names a store (file:, sqlite:, a path) rather than a server.

The server runs under `server_guard`, so the whole process group is stopped
when tracetui stops it, exits, or dies — nothing is left running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tracetui.tracking.errors import LocalServerError

# mlflow server answers /health after about 10 s on these machines; allow a slow disk.
DEFAULT_START_TIMEOUT_S = 90.0
DEFAULT_STOP_GRACE_S = 20.0


def default_store_uri(cwd: Path | None = None) -> str:
    """The store `mlflow server` itself would use in this folder: ./mlruns if present, else sqlite."""
    cwd = Path.cwd() if cwd is None else cwd
    if (cwd / "mlruns").is_dir():
        return (cwd / "mlruns").resolve().as_uri()
    return f"sqlite:///{(cwd / 'mlflow.db').resolve()}"


def store_uri_from_tracking_uri(tracking_uri: str) -> str:
    """A store-like tracking URI as a backend store URI: a bare path becomes a file: URI."""
    if "://" in tracking_uri or tracking_uri.startswith(("sqlite:", "file:")):
        return tracking_uri
    return Path(tracking_uri).resolve().as_uri()


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalMlflowServer:
    """A `mlflow server` on a free loopback port over one backend store."""

    def __init__(
        self,
        backend_store_uri: str,
        *,
        port: int | None = None,
        artifacts_destination: str | None = None,
        app_name: str | None = None,
        extra_env: dict[str, str] | None = None,
        log_path: Path | None = None,
        workers: int = 1,
    ) -> None:
        self.backend_store_uri = backend_store_uri
        self.port = port or free_loopback_port()
        self.artifacts_destination = artifacts_destination
        self.app_name = app_name  # "basic-auth" for MLflow's authentication app
        self.extra_env = dict(extra_env or {})
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="tracetui-mlflow-", suffix=".log")[1])
        self.workers = workers  # a team's server on PostgreSQL runs several
        self._guard: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._guard is not None and self._guard.poll() is None

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--workers", str(self.workers),
            "--backend-store-uri", self.backend_store_uri,
        ]  # fmt: skip
        if self.artifacts_destination:
            cmd += ["--artifacts-destination", self.artifacts_destination]
        if self.app_name:
            cmd += ["--app-name", self.app_name]
        return cmd

    def environment(self) -> dict[str, str]:
        """This process's environment minus the client's tracking URI, plus the server's defaults."""
        env = dict(os.environ)
        # The server imports litellm, which otherwise retries a price-map download for ~7 s.
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        # Off unless the user turns it on: MLflow's job runner (server-side scorers and
        # optimizers, nothing a trace viewer's server runs) starts seven huey consumers, each
        # importing MLflow: seven more processes of ~380 MB resident that take both cores for
        # ~30 s after the server answers, and make stopping it take 5-20 s instead of ~2 s.
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        # A tracking URI meant for the client must not leak into the server.
        env.pop("MLFLOW_TRACKING_URI", None)
        env.update(self.extra_env)
        return env

    def start(
        self,
        timeout_s: float = DEFAULT_START_TIMEOUT_S,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        """Start the server and wait until /health answers. Raises LocalServerError with a sentence."""
        env = self.environment()
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        try:
            self._guard = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tracetui.tracking.server_guard",
                    str(DEFAULT_STOP_GRACE_S),
                    "--",
                    *self.command(),
                ],  # fmt: skip
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        except OSError as error:
            raise LocalServerError(f"Could not start a local MLflow server: {error}.") from error
        finally:
            log.close()
        started = time.monotonic()
        while True:
            waited = time.monotonic() - started
            if self._guard.poll() is not None:
                raise LocalServerError(
                    f"The local MLflow server exited while starting ({self._last_log_line()}); "
                    f"see {self.log_path}."
                )
            if self._healthy():
                return
            if waited > timeout_s:
                self.stop()
                raise LocalServerError(
                    f"The local MLflow server did not answer within {timeout_s:.0f} s; see {self.log_path}."
                )
            if on_wait is not None:
                on_wait(waited)
            time.sleep(0.25)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _last_log_line(self) -> str:
        try:
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if line]
        except OSError:
            return "no log"
        # The most useful line is the last exception message, not the last line of a traceback.
        errors = [line.strip() for line in lines if "Error:" in line or "Exception:" in line]
        if errors:
            return errors[-1][:300]
        return lines[-1].strip()[:200] if lines else "no output"

    def stop(self, timeout_s: float = DEFAULT_STOP_GRACE_S + 10) -> None:
        """Stop the server and every process it started; idempotent."""
        guard, self._guard = self._guard, None
        if guard is None:
            return
        try:
            if guard.stdin is not None:
                guard.stdin.close()  # the guard's signal to stop the group
            guard.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
        finally:
            try:
                os.killpg(guard.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            guard.wait()

    def __enter__(self) -> LocalMlflowServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
