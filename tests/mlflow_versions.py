"""Other MLflow versions, each in its own virtual environment cached outside the clone.

`ensure_venvs()` installs every version that is missing (in parallel, one thread each) and
returns each version's python. A venv counts as installed only once its `.installed` marker
holds the exact requirements it was built from, so an interrupted install is redone and a
second run installs nothing. An install failure raises: the run fails, it never skips.

Run as a script (`python tests/mlflow_versions.py`) to install them ahead of a test run.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tracetui.tracking.local_server import LocalMlflowServer

CACHE_ROOT = Path(os.environ.get("TRACETUI_TEST_CACHE", Path.home() / ".cache" / "tracetui-tests"))


@dataclass(frozen=True)
class MlflowVersion:
    version: str
    # pip install steps, in order; each is one `pip install` command line's arguments.
    steps: tuple[tuple[str, ...], ...]

    @property
    def venv(self) -> Path:
        return CACHE_ROOT / f"mlflow-{self.version}"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def mlflow(self) -> Path:
        return self.venv / "bin" / "mlflow"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


# What the full `mlflow` 3.x package adds to mlflow-skinny (its Requires-Dist), for 3.18.
_SERVER_DEPENDENCIES = (
    "Flask-CORS<7",
    "Flask<4",
    "aiohttp<4",
    "alembic<2,!=1.10.0",
    "cryptography>=43,<51",
    "docker>=4,<8",
    "graphene<4",
    "gunicorn<27",
    "huey>=2.5.4,<4",
    "matplotlib<4",
    "numpy<3",
    "pandas<4",
    "pyarrow>=4,<26",
    "scikit-learn<2",
    "scipy<2",
    "skops<1",
    "sqlalchemy>=1.4,<3",
)

VERSIONS: dict[str, MlflowVersion] = {
    # 2.22 stands for 2.14-2.21 (same trace endpoints). Its server fails on SQLAlchemy 2.1
    # (FallbackAsyncAdaptedQueuePool), its client writes no traces with OpenTelemetry >= 1.34,
    # and it imports pkg_resources (gone from setuptools 81).
    "2.22.5": MlflowVersion(
        "2.22.5",
        (
            (
                "mlflow==2.22.5",
                "sqlalchemy<2.1",
                "opentelemetry-api<1.34",
                "opentelemetry-sdk<1.34",
                "setuptools<81",
            ),
        ),
    ),
    # 3.1 logs its traces through the v2 API (ids without "tr-") and, like 3.5, fails on
    # SQLAlchemy 2.1; OpenTelemetry >= 1.36 silently stops its client writing traces.
    "3.1.4": MlflowVersion(
        "3.1.4",
        (("mlflow==3.1.4", "sqlalchemy<2.1", "opentelemetry-api<1.36", "opentelemetry-sdk<1.36"),),
    ),
    # 3.5's server fails on SQLAlchemy 2.1 too.
    "3.5.1": MlflowVersion("3.5.1", (("mlflow==3.5.1", "sqlalchemy<2.1"),)),
    # mlflow==3.18.0 does not resolve (mlflow-tracing 3.18.0 is not on the index); the
    # skinny package plus mlflow itself without its dependency list gives a working server.
    "3.18.0": MlflowVersion(
        "3.18.0",
        (
            ("mlflow-skinny==3.18.0", *_SERVER_DEPENDENCIES),
            ("--no-deps", "mlflow==3.18.0"),
        ),
    ),
}


def _marker_text(version: MlflowVersion) -> str:
    return "\n".join(" ".join(step) for step in version.steps) + "\n"


def _installed(version: MlflowVersion) -> bool:
    marker = version.venv / ".installed"
    return marker.is_file() and marker.read_text() == _marker_text(version) and version.mlflow.exists()


def _run(command: list[str], log: Path) -> None:
    with log.open("a") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = log.read_text()[-3000:]
        raise RuntimeError(
            f"Installing MLflow failed: {' '.join(command)} (exit {result.returncode})\n{tail}"
        )


def ensure_venv(version: MlflowVersion) -> Path:
    """The python of `version`'s venv, installed first if the cache does not hold it."""
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with (CACHE_ROOT / f".mlflow-{version.version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(version):
            return version.python
        shutil.rmtree(version.venv, ignore_errors=True)
        log = CACHE_ROOT / f"mlflow-{version.version}.log"
        log.write_text("")
        started = time.monotonic()
        _run([sys.executable, "-m", "venv", str(version.venv)], log)
        pip = [str(version.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        for step in version.steps:
            _run([*pip, *step], log)
        with log.open("a") as out:
            out.write(f"installed in {time.monotonic() - started:.0f} s\n")
        (version.venv / ".installed").write_text(_marker_text(version))
        return version.python


def ensure_venvs(names: Iterable[str] = tuple(VERSIONS)) -> dict[str, Path]:
    """Every named version's python, the missing ones installed in parallel."""
    wanted = [VERSIONS[name] for name in names]
    with ThreadPoolExecutor(max_workers=len(wanted) or 1) as pool:
        pythons = list(pool.map(ensure_venv, wanted))
    return {version.version: python for version, python in zip(wanted, pythons, strict=True)}


if __name__ == "__main__":
    started = time.monotonic()
    for name, python in ensure_venvs(sys.argv[1:] or tuple(VERSIONS)).items():
        print(name, python)
    print(f"{time.monotonic() - started:.0f} s")


class VersionServer(LocalMlflowServer):
    """`mlflow server` run by another version's python, under tracetui's process-group guard."""

    def __init__(self, version: MlflowVersion, root: Path) -> None:
        super().__init__(
            f"sqlite:///{root / 'mlflow.db'}",
            artifacts_destination=str(root / "artifacts"),
            log_path=root / "server.log",
        )
        self.version = version

    def command(self) -> list[str]:
        return [str(self.version.python), *super().command()[1:]]
