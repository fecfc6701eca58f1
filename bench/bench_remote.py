"""Remote use, measured: what an SSH session and a flaky server cost.

    python bench/bench_remote.py [--idle-s 60] [--silent-s 20]

1. Bytes written to the terminal per idle minute: `python -m tracetui` in a
   pseudo-terminal (80x24) against a real `mlflow server` holding a few traces;
   after the first rows and 10 s of settling, every byte written during
   `--idle-s` seconds with nothing changing is counted (TERM=xterm-256color, and
   TERM=linux with NO_COLOR=1).
2. Time to recover after the server returns: the app polls a real server (1 s
   interval, back-off doubling to 30 s), the server is killed (SIGKILL) and
   started again on the same port; measured from the server answering /health
   to the app's next successful poll, next to the outage and the back-off delay
   the app had reached.
3. The UI's largest stall while the server is silent: the app runs headless
   against a proxy in front of the real server; the proxy then stops answering
   (connections accepted, no reply) for `--silent-s` seconds. A 20 ms timer in
   the app records how late it fires (event-loop lag); the largest lag is
   compared with the same span while the server answers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fault_servers import FaultServer, kill_server  # noqa: E402
from pty_app import PtyApp, terminal_env  # noqa: E402

from tracetui.config import TrackingSettings  # noqa: E402
from tracetui.tracking.connection import Backend  # noqa: E402
from tracetui.tracking.local_server import LocalMlflowServer  # noqa: E402


def idle_bytes_per_minute(url: str, experiment: str, term: str, idle_s: float, **env: str) -> float:
    app = PtyApp(["--tracking-uri", url, "--experiment", experiment], terminal_env(term, **env))
    try:
        if not app.wait_for(b"chat_turn", 120):
            raise SystemExit(f"no rows appeared under TERM={term}")
        time.sleep(10)  # let start-up settle (first fetches, the tree, the detail)
        start = time.monotonic()
        time.sleep(idle_s)
        written = app.bytes_between(start, start + idle_s)
        app.send(b"q")
        app.wait_exit(30)
    finally:
        app.close()
    return written * 60.0 / idle_s


async def _lag_while(app, seconds: float) -> float:  # noqa: ANN001 - a TraceTuiApp
    """The largest lateness of a 20 ms timer over `seconds`, in ms."""
    worst = 0.0
    last = time.monotonic()

    def tick() -> None:
        nonlocal worst, last
        now = time.monotonic()
        worst = max(worst, now - last - 0.02)
        last = now

    timer = app.set_interval(0.02, tick)
    await asyncio.sleep(seconds)
    timer.stop()
    return worst * 1000


async def stall_while_silent(url: str, experiment: str, silent_s: float) -> tuple[float, float, str]:
    from tracetui.ui.app import make_app

    with FaultServer("forward", forward_to=url) as proxy:
        settings = TrackingSettings(tracking_uri=proxy.url)
        app = make_app(settings, experiment, None, None, None, Backend(base_url=proxy.url))
        async with app.run_test(size=(80, 24)) as pilot:
            deadline = time.monotonic() + 120
            while app.viewer.trace_list.row_count == 0 and time.monotonic() < deadline:
                await pilot.pause(0.1)
            await pilot.pause(3)
            healthy_ms = await _lag_while(app, silent_s)
            proxy.mode = "hang"
            silent_ms = await _lag_while(app, silent_s)
            sentence = app.status.sentence
            proxy.mode = "forward"
    return healthy_ms, silent_ms, sentence


async def recovery(server: LocalMlflowServer, experiment: str) -> tuple[float, float, float]:
    """(outage s, back-off delay reached s, recovery s after /health answers again)."""
    from tracetui.ui.app import make_app
    from tracetui.ui.widgets.status_bar import CONNECTED, DISCONNECTED

    settings = TrackingSettings(tracking_uri=server.url)
    app = make_app(settings, experiment, None, None, None, Backend(base_url=server.url))
    async with app.run_test(size=(80, 24)) as pilot:
        while app.viewer.trace_list.row_count == 0:
            await pilot.pause(0.1)
        down_at = time.monotonic()
        await asyncio.to_thread(kill_server, server)
        while app.status.connection != DISCONNECTED:
            await pilot.pause(0.05)
        await asyncio.to_thread(server.start)
        healthy_at = time.monotonic()
        delay = app.status.retry_in_s or 0.0
        while app.status.connection != CONNECTED:
            await pilot.pause(0.02)
        return healthy_at - down_at, delay, time.monotonic() - healthy_at


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle-s", type=float, default=60.0)
    parser.add_argument("--silent-s", type=float, default=20.0)
    options = parser.parse_args()

    import os

    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from trace_factory import log_error_trace, log_nested_trace

    root = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    server = LocalMlflowServer(f"sqlite:///{root / 'mlflow.db'}", artifacts_destination=str(root / "art"))
    server.start()
    try:
        experiment = f"bench-remote-{uuid.uuid4().hex[:6]}"
        log_error_trace(experiment, tracking_uri=server.url)
        for _ in range(3):
            log_nested_trace(experiment, tracking_uri=server.url)

        rows: list[tuple[str, str]] = []
        for term, env in (("xterm-256color", {}), ("linux", {"NO_COLOR": "1"})):
            per_minute = idle_bytes_per_minute(server.url, experiment, term, options.idle_s, **env)
            label = f"TERM={term}" + (" NO_COLOR=1" if env else "")
            rows.append((f"idle bytes/min, 80x24, {label}", f"{per_minute:,.0f} B"))
            print(rows[-1], flush=True)

        healthy_ms, silent_ms, sentence = asyncio.run(
            stall_while_silent(server.url, experiment, options.silent_s)
        )
        rows.append(
            (f"largest UI stall, server answering ({options.silent_s:.0f} s)", f"{healthy_ms:.0f} ms")
        )
        rows.append((f"largest UI stall, server silent ({options.silent_s:.0f} s)", f"{silent_ms:.0f} ms"))
        print(rows[-2:], "|", sentence, flush=True)

        outage_s, delay_s, recover_s = asyncio.run(recovery(server, experiment))
        rows.append(("outage (kill to /health again)", f"{outage_s:.1f} s"))
        rows.append(("back-off delay reached during it", f"{delay_s:.0f} s"))
        rows.append(("recovery after the server returns", f"{recover_s:.1f} s"))
    finally:
        server.stop()

    width = max(len(name) for name, _ in rows)
    print(f"\n{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
