"""A throw-away PostgreSQL 15 cluster, the store a team's MLflow server runs on.

The machines (and CI) have PostgreSQL 15 installed but not running, and run as root:
`initdb` refuses to run as root, so the cluster is made and started as the
`postgres` user, in a folder of its own under /tmp (pytest's folders are root's
and closed to others), on a free port, with its socket in /tmp.

    with PostgresCluster() as pg:
        uri = pg.create_database("mlflow")   # postgresql+psycopg://postgres@127.0.0.1:PORT/mlflow

Stopping it (`pg_ctl stop -m immediate`) leaves nothing running and removes its folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tracetui.tracking.local_server import free_loopback_port

PG_BIN = Path(os.environ.get("TRACETUI_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"


def postgres_available() -> str | None:
    """Why a cluster cannot be made here, or None when it can."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL is not installed at {PG_BIN} (set TRACETUI_TEST_PG_BIN)."
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser is missing, so initdb cannot run as the postgres user."
    return None


class PostgresCluster:
    """One PostgreSQL cluster in a temporary folder, trusting local connections, on a free port."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tracetui-pg-"))
        self.data_dir = self.root / "pgdata"
        self.log_path = self.root / "postgres.log"
        self.port = free_loopback_port()
        self._started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {(result.stderr or result.stdout).strip()[-500:]}")
        return result

    def start(self) -> PostgresCluster:
        if os.geteuid() == 0:
            shutil.chown(self.root, PG_USER)
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", PG_USER, "--no-sync")
        # fsync off: a throw-away cluster need not survive a power cut, and the disk is shared.
        options = f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.log_path), "-w", "start")
        self._started = True
        return self

    def create_database(self, name: str) -> str:
        """A new database; its SQLAlchemy URI for MLflow (psycopg 3 driver)."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, name)
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{name}"

    def psql(self, database: str, sql: str) -> str:
        """`sql` run by psql; its unaligned output (for tests that look at the store itself)."""
        result = self._run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", database,
            "-At", "-c", sql,
        )  # fmt: skip
        return result.stdout.strip()

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        except RuntimeError:
            pass  # already gone
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class TeamServer:
    """A team's tracking server: `mlflow server --workers 2` on a throw-away PostgreSQL cluster."""

    def __init__(self, root: Path, workers: int = 2) -> None:
        from tracetui.tracking.local_server import LocalMlflowServer

        self.postgres = PostgresCluster()
        self._root = root
        self._workers = workers
        self.mlflow: LocalMlflowServer | None = None
        self._server_class = LocalMlflowServer

    @property
    def url(self) -> str:
        assert self.mlflow is not None
        return self.mlflow.url

    def start(self) -> TeamServer:
        self.postgres.start()
        try:
            self.mlflow = self._server_class(
                self.postgres.create_database("mlflow"),
                artifacts_destination=str(self._root / "artifacts"),
                log_path=self._root / "server.log",
                workers=self._workers,
            )
            self.mlflow.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """The server's whole process group first, then the cluster."""
        try:
            if self.mlflow is not None:
                self.mlflow.stop()
        finally:
            self.postgres.stop()

    def __enter__(self) -> TeamServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
