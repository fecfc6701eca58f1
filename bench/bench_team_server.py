"""What idle dashboards cost a team's tracking server: MLflow (2 workers) on PostgreSQL 15.

Starts a throw-away PostgreSQL cluster and `mlflow server --workers 2` on it (the test
fixture's classes, tests/postgres_server.py), loads N traces over OTLP (default 100,000:
one every 10 s back from now, every 10th in a session of 5 turns, 5 % ERROR), then
measures the CPU time of the server's and PostgreSQL's processes over the same span of
time in each phase, side by side:

    none        no viewer at all (the server's own idle cost)
    1 viewer    one idle dashboard's poll (LiveTraceList, 1 s) as tracetui polls now
    20 viewers  twenty of them
    1 old poll  one viewer polling as tracetui did before issue 17
                (`trace.end_time_ms >= newest end - 60 s`, `status = 'IN_PROGRESS'` every 10th)

Viewers run as asyncio tasks in this process, each with its own HTTP client; this
process's CPU is not counted. Run as root on a machine with PostgreSQL 15 installed:

    python bench/bench_team_server.py                      # ~10 minutes: ~7 loading, 4 x 60 s
    python bench/bench_team_server.py --traces 5000 --seconds 20    # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the PostgreSQL cluster and the OTLP loader the tests use
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from otlp_traces import TraceSpec, create_experiment, send_traces  # noqa: E402
from postgres_server import TeamServer  # noqa: E402

from tracetui.config import TrackingSettings  # noqa: E402
from tracetui.tracking.client import TrackingClient  # noqa: E402
from tracetui.tracking.live import LiveTraceList  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """utime + stime of one process, in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _processes(server: TeamServer) -> list[int]:
    """The mlflow server's process group and every PostgreSQL process of the cluster."""
    assert server.mlflow is not None and server.mlflow._guard is not None
    group = os.getpgid(server.mlflow._guard.pid)
    postmaster = int((server.postgres.data_dir / "postmaster.pid").read_text().split()[0])
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent, pgrp = int(stat[1]), int(stat[2])
        if pgrp == group or pid == postmaster or parent == postmaster:
            pids.append(pid)
    return pids


def _cpu_total(server: TeamServer) -> float:
    # Processes come and go (PostgreSQL backends per connection): re-listed at each reading.
    return sum(_cpu_s(pid) for pid in _processes(server))


def load(url: str, experiment_id: str, count: int) -> float:
    """Send `count` traces in two parallel streams; seconds it took."""
    now = int(time.time() * 1000)
    specs = [
        TraceSpec(
            now - 5_000 - i * 10_000,
            250 + (i * 37) % 2_000,
            error=i % 20 == 7,
            session=f"session-{i // 50}" if (i // 10) % 10 == 0 else None,
        )
        for i in range(count)
    ]
    started = time.monotonic()
    halves = [specs[0::2], specs[1::2]]
    threads = [threading.Thread(target=send_traces, args=(url, experiment_id, half)) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


async def old_poll(client: TrackingClient, experiment_id: str, stop: asyncio.Event) -> None:
    """The poll before issue 17: by end time alone (no index), running traces every 10th poll."""
    live = LiveTraceList([experiment_id])
    await live.poll(client)
    polls = 0
    while not stop.is_set():
        since = live.cursor_ms - 60_000
        await client.search_traces(
            [experiment_id], filter_string=f"trace.end_time_ms >= {since}", max_results=500
        )
        if polls % 10 == 0:
            await client.search_traces(
                [experiment_id], filter_string="trace.status = 'IN_PROGRESS'", max_results=500
            )
        polls += 1
        await asyncio.sleep(1.0)


async def new_poll(client: TrackingClient, experiment_id: str, stop: asyncio.Event) -> None:
    live = LiveTraceList([experiment_id])
    while not stop.is_set():
        await live.poll(client)
        await asyncio.sleep(1.0)


async def phase(server: TeamServer, experiment_id: str, viewers: int, old: bool, seconds: float) -> float:
    """CPU seconds of the server and PostgreSQL over `seconds` with `viewers` polling."""
    stop = asyncio.Event()
    settings = TrackingSettings(tracking_uri=server.url, timeout_s=60)
    clients = [TrackingClient(settings, server.url) for _ in range(viewers)]
    poll = old_poll if old else new_poll
    tasks = [asyncio.create_task(poll(client, experiment_id, stop)) for client in clients]
    await asyncio.sleep(min(10.0, seconds / 3))  # past each viewer's first load
    before, started = _cpu_total(server), time.monotonic()
    await asyncio.sleep(seconds)
    used, elapsed = _cpu_total(server) - before, time.monotonic() - started
    stop.set()
    await asyncio.gather(*tasks)
    for client in clients:
        await client.aclose()
    return used / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured span of each phase")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-team-"))
    with TeamServer(root) as server:
        experiment_id = create_experiment(server.url, "team")
        took = load(server.url, experiment_id, args.traces)
        print(f"loaded {args.traces:,} traces over OTLP in {took:.0f} s ({args.traces / took:.0f}/s)")
        time.sleep(5)
        rows = []
        for label, viewers, old in (
            ("none", 0, False),
            ("1 viewer", 1, False),
            ("20 viewers", 20, False),
            ("1 old poll", 1, True),
        ):
            share = asyncio.run(phase(server, experiment_id, viewers, old, args.seconds))
            rows.append((label, share))
            print(f"  {label:<11} {share * 100:6.2f} % of a core (server + PostgreSQL)", flush=True)
    baseline = rows[0][1]
    load_avg = os.getloadavg()[0]
    print(f"\n{args.traces:,} traces, {args.seconds:.0f} s per phase, load average {load_avg:.1f}")
    print(f"{'phase':<12}{'CPU % of a core':>16}{'above none':>12}")
    for label, share in rows:
        print(f"{label:<12}{share * 100:>16.2f}{(share - baseline) * 100:>12.2f}")
    one, twenty, old = (rows[i][1] - baseline for i in (1, 2, 3))
    print(f"one viewer: {one * 100:.2f} % of a core (target <= 0.5 %); old poll {old * 100:.2f} %", end="")
    print(f" ({old / one:.1f}x the new)" if one > 0 else "")
    print(f"20 viewers: {twenty * 100:.1f} % of a core (target < 100 %)")


if __name__ == "__main__":
    main()
