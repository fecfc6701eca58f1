"""tracetui's tracking path against MLflow's own tools, side by side, on one server in one run.

    python bench/bench_tracking.py [--runs N]

Starts its own `mlflow server` on a temporary sqlite store, logs the data itself
(synchronously: the async exporter drops traces), then measures:

  (a) `tracetui traces list --json --max 100` vs `mlflow traces search --output json`
      on a 100-trace experiment (subprocess wall time, median of N runs);
  (b) a 10,000-span trace: `tracetui traces show --json` vs `mlflow traces get`
      (subprocesses), and in-process the raw HTTP transfer vs our fetch + decode + print
      vs `MlflowClient.get_trace`;
  (c) one idle poll of `LiveTraceList` on a 5,000-trace experiment: requests and client CPU;
  (d) peak memory (max RSS) of the subprocesses.

It prints a table with the numbers, the ratios and PASS/MISS per target. These
are measurements, not tests: run on a quiet machine for numbers worth quoting.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
os.environ.pop("MLFLOW_TRACKING_URI", None)

import httpx  # noqa: E402
import mlflow  # noqa: E402
from mlflow.entities import Span as MlflowSpan  # noqa: E402
from mlflow.tracing.client import TracingClient  # noqa: E402

from tracetui.config import TrackingSettings  # noqa: E402
from tracetui.tracking.client import TrackingClient  # noqa: E402
from tracetui.tracking.export import to_mlflow_cli_document  # noqa: E402
from tracetui.tracking.live import LiveTraceList  # noqa: E402
from tracetui.tracking.local_server import LocalMlflowServer  # noqa: E402

LIST_TRACES = 100
LARGE_SPANS = 10_000
POLL_TRACES = 5_000
SPANS_PER_BATCH = 1_000
# An experiment that has been in use for a while: a trace every 2 s over the last ~3 hours.
POLL_SPACING_MS = 2_000


# --- logging the data ------------------------------------------------------------------


def _span_dict(
    trace_bytes: bytes,
    span_id: bytes,
    parent: bytes | None,
    name: str,
    start_ns: int,
    end_ns: int,
    span_type: str,
    inputs: Any,
    outputs: Any,
) -> dict[str, Any]:
    return {
        "trace_id": base64.b64encode(trace_bytes).decode(),
        "span_id": base64.b64encode(span_id).decode(),
        "parent_span_id": base64.b64encode(parent).decode() if parent else None,
        "name": name,
        "start_time_unix_nano": start_ns,
        "end_time_unix_nano": end_ns,
        "events": [],
        "status": {"code": "STATUS_CODE_OK", "message": ""},
        "attributes": {
            "mlflow.traceRequestId": json.dumps("tr-" + trace_bytes.hex()),
            "mlflow.spanType": json.dumps(span_type),
            "mlflow.spanInputs": json.dumps(inputs),
            "mlflow.spanOutputs": json.dumps(outputs),
        },
        "links": [],
    }


def log_chat_like_traces(experiment_id: str, count: int) -> None:
    """`count` two-span traces through the fluent API (as a traced program would), 8 at a time."""

    mlflow.set_experiment(experiment_id=experiment_id)  # process-wide: the threads log there too

    def one(index: int) -> None:
        with mlflow.start_span("chat_turn", span_type="CHAIN") as root:
            root.set_inputs({"prompt": f"Question number {index}?"})
            with mlflow.start_span("litellm-completion", span_type="LLM") as llm:
                llm.set_inputs({"messages": [{"role": "user", "content": f"Question number {index}?"}]})
                llm.set_attributes(
                    {"mlflow.chat.tokenUsage": {"input_tokens": 20, "output_tokens": 12, "total_tokens": 32}}
                )
                llm.set_outputs({"content": "An answer."})
            root.set_outputs({"answer": "An answer."})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(count)))


def log_one_span_traces(experiment_id: str, count: int, spacing_ms: int) -> None:
    """`count` one-span traces, `spacing_ms` apart and ending now, sent in OTLP batches
    (through the fluent API one by one, 5,000 traces would take minutes)."""
    first = time.time_ns() - count * spacing_ms * 1_000_000
    spans = [
        MlflowSpan.from_dict(
            _span_dict(
                secrets.token_bytes(16),
                secrets.token_bytes(8),
                None,
                "quick",
                first + i * spacing_ms * 1_000_000,
                first + i * spacing_ms * 1_000_000 + 500_000,
                "CHAIN",
                {"index": i},
                {"ok": True},
            )
        )
        for i in range(count)
    ]
    client = TracingClient()
    batches = [spans[i : i + SPANS_PER_BATCH] for i in range(0, count, SPANS_PER_BATCH)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda batch: client.log_spans(experiment_id, batch), batches))


def log_large_trace(experiment_id: str, span_count: int) -> str:
    """One trace: a root with `span_count` children (children first; the root ends it)."""
    trace_bytes, root_id, now = secrets.token_bytes(16), secrets.token_bytes(8), time.time_ns()
    children = [
        MlflowSpan.from_dict(
            _span_dict(
                trace_bytes,
                secrets.token_bytes(8),
                root_id,
                f"step-{i}",
                now + i * 1000,
                now + i * 1000 + 500,
                "TOOL",
                {"index": i},
                {"value": i * 2},
            )
        )
        for i in range(span_count)
    ]
    root = MlflowSpan.from_dict(
        _span_dict(
            trace_bytes,
            root_id,
            None,
            "large",
            now,
            now + span_count * 1000 + 1000,
            "CHAIN",
            {"children": span_count},
            {"done": True},
        )
    )
    client = TracingClient()
    for start in range(0, span_count, SPANS_PER_BATCH * 2):
        client.log_spans(experiment_id, children[start : start + SPANS_PER_BATCH * 2])
    client.log_spans(experiment_id, [root])
    return "tr-" + trace_bytes.hex()


# --- measuring -------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    max_rss_kb: int
    stdout: bytes


# Runs the command and reports its wall time and max RSS. A child inherits the max RSS
# of the process it was forked or vforked from (Linux keeps it across exec), and this
# benchmark holds ~200 MB (mlflow is imported here): so a ~10 MB Python starts the
# command, and the number is the command's own.
_SPAWNER = """
import json, os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(report, "w") as out:
    json.dump([wall, usage.ru_maxrss, os.waitstatus_to_exitcode(status)], out)
"""


def run_measured(command: list[str], env: dict[str, str]) -> Run:
    """Run a command; its wall time and peak memory, as measured by `_SPAWNER`."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        report = Path(tmp) / "report.json"
        spawner = [sys.executable, "-c", _SPAWNER, str(report), *command]
        actions = [(os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        pid = os.posix_spawn(sys.executable, spawner, env, file_actions=actions)
        os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        try:
            wall, max_rss_kb, code = json.loads(report.read_text())
        except (OSError, ValueError):
            code = -1
        if code != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{err.read().decode(errors='replace')[-3000:]}")
        return Run(wall, max_rss_kb, out.read())


@dataclass
class Measured:
    median_s: float
    max_rss_kb: int
    stdout: bytes


def compare_commands(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, Measured]:
    """Median wall time of each command, run round-robin so a change in machine load hits all alike."""
    for command in commands.values():
        run_measured(command, env)  # warm-up: page cache, .pyc files, server caches
    results: dict[str, list[Run]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, command in commands.items():
            results[label].append(run_measured(command, env))
    measured = {}
    for label, label_runs in results.items():
        print(f"  {label}: " + ", ".join(f"{r.wall_s:.2f}" for r in label_runs) + " s", flush=True)
        measured[label] = Measured(
            statistics.median(r.wall_s for r in label_runs),
            max(r.max_rss_kb for r in label_runs),
            label_runs[-1].stdout,
        )
    return measured


def compare_calls(calls: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median time of each in-process call, round-robin like `compare_commands`."""
    for call in calls.values():
        call()  # warm-up
    times: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(runs):
        for label, call in calls.items():
            start = time.perf_counter()
            call()
            times[label].append(time.perf_counter() - start)
    for label, label_times in times.items():
        print(f"  {label}: " + ", ".join(f"{t:.3f}" for t in label_times) + " s", flush=True)
    return {label: statistics.median(label_times) for label, label_times in times.items()}


@dataclass
class Row:
    measure: str
    ours: str
    theirs: str
    ratio: str
    target: str
    verdict: str


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(rows: list[Row]) -> None:
    headers = Row("measure", "tracetui", "reference", "ratio", "target", "")
    cells = [
        [getattr(r, f) for f in ("measure", "ours", "theirs", "ratio", "target", "verdict")]
        for r in (headers, *rows)
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(6)]
    for index, row in enumerate(cells):
        print(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            print("-+-".join("-" * w for w in widths))


# --- the benchmark -----------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument(
        "--burst",
        action="store_true",
        help="log the 5,000 polled traces 1 ms apart (a burst) instead of 2 s apart over hours",
    )
    args = parser.parse_args()
    tracetui_cli = shutil.which("tracetui") or sys.exit("the tracetui script is not installed")
    mlflow_cli = shutil.which("mlflow") or sys.exit("the mlflow script is not installed")

    root = Path(tempfile.mkdtemp(prefix="tracetui-bench-"))
    server = LocalMlflowServer(
        f"sqlite:///{root / 'mlflow.db'}",
        artifacts_destination=str(root / "artifacts"),
        log_path=root / "server.log",
    )
    print(f"Starting mlflow server over {root / 'mlflow.db'} …", flush=True)
    server.start()
    try:
        return run_bench(server.url, tracetui_cli, mlflow_cli, args.runs, args.burst)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def run_bench(url: str, tracetui_cli: str, mlflow_cli: str, runs: int, burst: bool) -> int:
    mlflow.set_tracking_uri(url)
    env = {**os.environ, "MLFLOW_TRACKING_URI": url}
    rows: list[Row] = []

    started = time.perf_counter()
    list_exp = mlflow.create_experiment("bench-list-100")
    log_chat_like_traces(list_exp, LIST_TRACES)
    large_exp = mlflow.create_experiment("bench-large-trace")
    large_trace = log_large_trace(large_exp, LARGE_SPANS)
    poll_exp = mlflow.create_experiment("bench-poll-5000")
    log_one_span_traces(poll_exp, POLL_TRACES, spacing_ms=1 if burst else POLL_SPACING_MS)
    logged_s = time.perf_counter() - started
    print(
        f"Logged {LIST_TRACES} + {POLL_TRACES} traces and one {LARGE_SPANS + 1}-span trace "
        f"in {logged_s:.1f} s.",
        flush=True,
    )

    # (a) listing 100 traces
    print("(a) list 100 traces, subprocess wall time:", flush=True)
    search = [
        mlflow_cli,
        "traces",
        "search",
        "--experiment-id",
        list_exp,
        "--max-results",
        "100",
        "--output",
        "json",
    ]
    listed = compare_commands(
        {
            "tracetui traces list --json --max 100": [
                tracetui_cli,
                "traces",
                "list",
                "--json",
                "--max",
                "100",
                "--tracking-uri",
                url,
                "--experiment",
                list_exp,
            ],
            "mlflow traces search --no-include-spans": [*search, "--no-include-spans"],
            "mlflow traces search (default: with spans)": search,
        },
        env,
        runs,
    )
    ours_list, infos_list, full_list = listed.values()
    assert len(json.loads(ours_list.stdout)["traces"]) == LIST_TRACES
    assert len(json.loads(infos_list.stdout)["traces"]) == LIST_TRACES
    ratio = infos_list.median_s / ours_list.median_s
    rows.append(
        Row(
            "(a) list 100 traces --json vs mlflow traces search --no-include-spans (same data)",
            f"{ours_list.median_s:.2f} s",
            f"{infos_list.median_s:.2f} s",
            f"{ratio:.1f}x faster",
            ">= 5x",
            verdict(ratio >= 5),
        )
    )
    ratio_full = full_list.median_s / ours_list.median_s
    rows.append(
        Row(
            "(a) ... vs mlflow traces search (default: also fetches each trace's spans)",
            f"{ours_list.median_s:.2f} s",
            f"{full_list.median_s:.2f} s",
            f"{ratio_full:.1f}x faster",
            "(info)",
            "",
        )
    )

    # (b) one 10,001-span trace
    print(f"(b) the {LARGE_SPANS + 1}-span trace {large_trace}:", flush=True)
    shown = compare_commands(
        {
            "tracetui traces show --json": [
                tracetui_cli,
                "traces",
                "show",
                "--json",
                large_trace,
                "--tracking-uri",
                url,
            ],
            "mlflow traces get": [mlflow_cli, "traces", "get", "--trace-id", large_trace],
        },
        env,
        max(3, runs // 2),
    )
    ours_show, theirs_show = shown.values()
    same = json.loads(ours_show.stdout) == json.loads(theirs_show.stdout)
    ratio = theirs_show.median_s / ours_show.median_s
    rows.append(
        Row(
            f"(b) show --json vs mlflow traces get, {LARGE_SPANS + 1} spans (subprocesses)",
            f"{ours_show.median_s:.2f} s",
            f"{theirs_show.median_s:.2f} s",
            f"{ratio:.1f}x faster",
            "(info)",
            "same JSON" if same else "JSON DIFFERS",
        )
    )

    get_url = f"{url}/api/3.0/mlflow/traces/get"
    settings = TrackingSettings(tracking_uri=url, timeout_s=120)
    mlflow_client = mlflow.MlflowClient(url)
    from tracetui.commands.traces import format_trace_tree

    with open(os.devnull, "w") as sink:

        def raw_transfer() -> None:
            response = httpx.get(get_url, params={"trace_id": large_trace}, timeout=120)
            assert len(response.content) > 1_000_000

        def ours_json() -> None:
            async def fetch() -> dict[str, Any]:
                async with TrackingClient(settings, url) as client:
                    return await client.get_trace_json(large_trace)

            sink.write(json.dumps(to_mlflow_cli_document(asyncio.run(fetch())), ensure_ascii=True))

        def ours_tree() -> None:
            async def fetch() -> Any:
                async with TrackingClient(settings, url) as client:
                    return await client.get_trace(large_trace)

            sink.write("\n".join(format_trace_tree(asyncio.run(fetch()))))

        def theirs_get() -> None:
            assert len(mlflow_client.get_trace(large_trace).data.spans) == LARGE_SPANS + 1

        timed = compare_calls(
            {
                "raw httpx GET (transfer only)": raw_transfer,
                "ours: fetch + decode + export + print JSON": ours_json,
                "ours: fetch + decode + print tree": ours_tree,
                "MlflowClient.get_trace": theirs_get,
            },
            runs,
        )
    raw, ours_j, ours_t, theirs = timed.values()
    for label, ours in (("JSON (show --json)", ours_j), ("tree (show)", ours_t)):
        rows.append(
            Row(
                f"(b) fetch+decode+print {label} vs raw HTTP transfer",
                f"{ours:.2f} s",
                f"{raw:.2f} s",
                f"{ours / raw:.2f}x of raw",
                "<= 1.2x",
                verdict(ours / raw <= 1.2),
            )
        )
        rows.append(
            Row(
                f"(b) fetch+decode+print {label} vs MlflowClient.get_trace",
                f"{ours:.2f} s",
                f"{theirs:.2f} s",
                f"{theirs / ours:.2f}x faster",
                ">= 1.5x",
                verdict(theirs / ours >= 1.5),
            )
        )

    # (c) one idle poll on a 5,000-trace experiment
    print(
        f"(c) idle polls on {POLL_TRACES} traces ({'a burst' if burst else 'spread over hours'}):", flush=True
    )
    requests, cpu_ms, known = asyncio.run(idle_polls(url, poll_exp, runs * 4))
    typical, most = requests
    rows.append(
        Row(
            f"(c) idle poll, {known} traces known: requests (median / max)",
            f"{typical} / {most}",
            "",
            "",
            "1",
            verdict(most == 1),
        )
    )
    rows.append(
        Row("(c) idle poll: client CPU (median)", f"{cpu_ms:.2f} ms", "", "", "< 5 ms", verdict(cpu_ms < 5))
    )

    # (d) peak memory of the subprocesses
    for label, ours_kb, theirs_kb in (
        ("(d) peak RSS: list 100 vs search --no-include-spans", ours_list.max_rss_kb, infos_list.max_rss_kb),
        ("(d) peak RSS: show --json 10k spans vs traces get", ours_show.max_rss_kb, theirs_show.max_rss_kb),
    ):
        rows.append(
            Row(
                label,
                f"{ours_kb / 1024:.0f} MB",
                f"{theirs_kb / 1024:.0f} MB",
                f"{theirs_kb / ours_kb:.1f}x less",
                "(info)",
                "",
            )
        )

    print()
    print_table(rows)
    return 0


async def idle_polls(url: str, experiment_id: str, polls: int) -> tuple[tuple[int, int], float, int]:
    """(Median, max) requests and median CPU ms of `polls` polls that find nothing new."""
    settings = TrackingSettings(tracking_uri=url, timeout_s=120)
    async with TrackingClient(settings, url) as client:
        live = LiveTraceList([experiment_id], initial_limit=POLL_TRACES)
        await live.poll(client)  # the initial load
        known = len(live.traces)
        requests, cpu = [], []
        for _ in range(polls):
            before = time.process_time()
            update = await live.poll(client)
            cpu.append((time.process_time() - before) * 1000)
            requests.append(update.requests)
            assert not update.added and not update.changed
        print(f"  requests per poll: {requests}; CPU ms: " + ", ".join(f"{c:.2f}" for c in cpu), flush=True)
        return (int(statistics.median(requests)), max(requests)), statistics.median(cpu), known


if __name__ == "__main__":
    sys.exit(main())
