"""The embedded MLflow server's footprint, as tracetui starts it and with MLflow's job runner on.

    python bench/bench_server.py [--settle-s 30]

tracetui starts `mlflow server` with MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false unless the user
set it (tracetui/tracking/local_server.py). Each variant is started once, in turn: the time to
answer /health, then after `--settle-s` the processes in its group, their resident memory
(summed, so shared pages count more than once) and the CPU they used since the start, and the
time to stop the whole group. The ratios are the job runner's cost.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracetui.tracking.local_server import LocalMlflowServer  # noqa: E402
from tracetui.tracking.server_guard import _group_members  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def group_usage(pgid: int) -> tuple[int, float, float]:
    """Processes, resident MB (summed) and CPU seconds (user + system) of a process group."""
    count, rss_mb, cpu_s = 0, 0.0, 0.0
    for pid in [pgid, *_group_members(pgid)]:
        try:
            with open(f"/proc/{pid}/stat") as stat_file:
                fields = stat_file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        count += 1
        cpu_s += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
        rss_mb += int(fields[21]) * PAGE / 1e6
    return count, rss_mb, cpu_s


def one(jobs: bool, settle_s: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tracetui-bench-server-") as folder:
        server = LocalMlflowServer(
            f"sqlite:///{folder}/mlflow.db",
            artifacts_destination=f"{folder}/artifacts",
            extra_env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true" if jobs else "false"},
        )
        started = time.perf_counter()
        server.start()
        ready = time.perf_counter() - started
        time.sleep(settle_s)
        assert server._guard is not None
        count, rss_mb, cpu_s = group_usage(server._guard.pid)
        stopping = time.perf_counter()
        server.stop()
        stop_s = time.perf_counter() - stopping
    return {"ready": ready, "processes": count, "rss": rss_mb, "cpu": cpu_s, "stop": stop_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle-s", type=float, default=30.0)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ours = one(False, args.settle_s)
    theirs = one(True, args.settle_s)
    rows = [
        ("answers /health", "ready", "s"),
        ("processes", "processes", ""),
        (f"resident memory after {args.settle_s:.0f} s (summed)", "rss", "MB"),
        ("CPU used by then", "cpu", "s"),
        ("stop (whole group)", "stop", "s"),
    ]
    print(f"{'':40} {'tracetui':>10} {'job runner on':>14} {'ratio':>7}")
    for label, key, unit in rows:
        ratio = theirs[key] / ours[key] if ours[key] else float("nan")
        print(f"{label:40} {ours[key]:9.1f}{unit:<1} {theirs[key]:13.1f}{unit:<1} {ratio:6.1f}x")


if __name__ == "__main__":
    main()
