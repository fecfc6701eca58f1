"""Runs a command in its own process group and kills the whole group when its parent goes away.

`mlflow server` starts uvicorn plus several job-consumer processes; stopping
only the first leaves the rest behind. The guard is the group's leader: it
starts the command, then waits for its standard input to close — which
happens when tracetui stops it, exits, or is killed, even by SIGKILL — and
then stops every process in its group (TERM, a grace period, then KILL).

Usage: python -m tracetui.tracking.server_guard GRACE_SECONDS -- COMMAND...
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time


def _group_members(pgid: int) -> list[int]:
    """Processes in our group other than ourselves (Linux /proc; elsewhere assume none)."""
    members = []
    me = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat_file:
                stat = stat_file.read().decode("ascii", "replace")
        except OSError:
            continue
        # The command name may hold spaces or parentheses: parse after the last ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def _stop_group(grace_s: float) -> None:
    pgid = os.getpgid(0)
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _group_members(pgid):
            return
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)  # ends the guard too, which is what we want now


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: server_guard GRACE_SECONDS -- COMMAND...", file=sys.stderr)
        return 2
    grace_s = float(argv[0])
    if os.getpgid(0) != os.getpid():
        os.setpgid(0, 0)
    child = subprocess.Popen(argv[2:], stdin=subprocess.DEVNULL)
    # Only now ignore TERM/INT: the child must keep the default dispositions,
    # and the guard must survive the TERM it sends to its own group.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    parent_gone = threading.Event()

    def watch_stdin() -> None:
        # os.read, not sys.stdin: a buffered reader in a daemon thread aborts
        # interpreter shutdown ("could not acquire lock for <stdin>").
        try:
            while os.read(0, 1024):
                pass
        except OSError:
            pass
        parent_gone.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    while not parent_gone.is_set() and child.poll() is None:
        parent_gone.wait(0.2)
    code = child.poll()
    _stop_group(grace_s)
    return 0 if code is None else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
