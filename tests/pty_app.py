"""Run `python -m tracetui` in a pseudo-terminal, as over SSH: every byte it writes is kept.

Used by tests/test_terminal_safety.py (no escape from trace data reaches the
terminal; usable at 80x24 with a plain TERM) and bench/bench_remote.py (bytes
written per idle minute).
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Mapping


class PtyApp:
    """`python -m tracetui ARGS` on a pty of `columns` x `lines`, its output read in a thread."""

    def __init__(
        self,
        args: list[str],
        env: Mapping[str, str],
        *,
        columns: int = 80,
        lines: int = 24,
        cwd: str | None = None,
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.master = master
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tracetui", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.output = bytearray()
        self.chunks: list[tuple[float, int]] = []  # (monotonic time, bytes) of each read
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO once the child has closed the pty
                return
            if not data:
                return
            with self._lock:
                self.output += data
                self.chunks.append((time.monotonic(), len(data)))

    def snapshot(self) -> bytes:
        with self._lock:
            return bytes(self.output)

    def bytes_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(size for when, size in self.chunks if start <= when < end)

    def wait_for(self, needle: bytes, timeout_s: float = 90.0, since: int = 0) -> bool:
        """True once `needle` was written (after byte offset `since`); False after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if needle in self.snapshot()[since:]:
                return True
            if self.process.poll() is not None:
                return needle in self.snapshot()[since:]
            time.sleep(0.05)
        return False

    def send(self, keys: bytes, pause_s: float = 0.3) -> None:
        os.write(self.master, keys)
        time.sleep(pause_s)

    def wait_exit(self, timeout_s: float = 60.0) -> int | None:
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        """Stop the app if it still runs (TERM, then KILL), and release the pty."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        try:
            os.close(self.master)
        except OSError:
            pass


def terminal_env(term: str, **extra: str) -> dict[str, str]:
    """This process's environment with a terminal type, and nothing that points at a real server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") and k != "NO_COLOR"}
    env.update(TERM=term, COLUMNS="", LINES="", LITELLM_LOCAL_MODEL_COST_MAP="True", **extra)
    env.pop("COLUMNS")
    env.pop("LINES")
    return env
