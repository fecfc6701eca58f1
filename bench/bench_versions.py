"""tracetui's list and show against each MLflow server version's own tools, side by side.

For every version tests/test_server_versions.py runs (2.22.5, 3.1.4, 3.5.1, 3.18.0), in
its cached venv (tests/mlflow_versions.py; installed if missing), one `mlflow server` on
a temporary sqlite store, traces logged by that version's own client
(tests/version_traces.py: a nested trace, a failing one, 20 small ones), then:

  list: `tracetui traces list --json --max 100` vs that version's
        `mlflow traces search --max-results 100 --output json --no-include-spans` (3.5 on),
        else its `MlflowClient().search_traces(max_results=100)` in a fresh python;
  show: `tracetui traces show ID --json` vs `mlflow traces get --trace-id ID` (3.5 on),
        else `MlflowClient().get_trace(ID)` printed as JSON, in a fresh python.

Subprocess wall time, median of --runs, run round-robin (bench_tracking.compare_commands).
The servers run one at a time, so each has the machine to itself.

    python bench/bench_versions.py [--runs 5] [--only 2.22.5,3.1.4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path[:0] = [str(HERE), str(TESTS)]

from bench_tracking import Row, compare_commands, print_table  # noqa: E402
from mlflow_versions import VERSIONS, MlflowVersion, VersionServer, ensure_venvs  # noqa: E402

EXPERIMENT = "bench-versions"

THEIR_SEARCH = """
import sys, mlflow
traces = mlflow.MlflowClient(sys.argv[1]).search_traces(experiment_ids=[sys.argv[2]], max_results=100)
print(len(traces))
"""
THEIR_GET = """
import sys, mlflow
print(mlflow.MlflowClient(sys.argv[1]).get_trace(sys.argv[2]).to_json())
"""


def bench_version(version: MlflowVersion, tracetui_cli: str, runs: int) -> list[Row]:
    root = Path(tempfile.mkdtemp(prefix=f"tracetui-bench-{version.version}-"))
    server = VersionServer(version, root)
    print(f"== MLflow {version.version}: starting its server …", flush=True)
    server.start(timeout_s=180)
    try:
        url = server.url
        env = {**os.environ, "MLFLOW_TRACKING_URI": url}
        env.pop("MLFLOW_EXPERIMENT_ID", None)  # the experiment is named on each command line
        logged = subprocess.run(
            [str(version.python), str(TESTS / "version_traces.py"), url, EXPERIMENT],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=True,
        )
        ids = json.loads(logged.stdout.strip().splitlines()[-1])
        experiment_id = _experiment_id(version, url)
        trace_id = ids["nested"]
        ours_list = [tracetui_cli, "traces", "list", "--json", "--max", "100", "--tracking-uri", url]
        ours_list += ["--experiment", experiment_id]
        ours_show = [tracetui_cli, "traces", "show", trace_id, "--json", "--tracking-uri", url]
        if tuple(int(part) for part in version.version.split(".")) >= (3, 5, 0):  # has `mlflow traces`
            theirs_list_label, theirs_show_label = "mlflow traces search", "mlflow traces get"
            theirs_list = [str(version.mlflow), "traces", "search", "--experiment-id", experiment_id]
            theirs_list += ["--max-results", "100", "--output", "json", "--no-include-spans"]
            theirs_show = [str(version.mlflow), "traces", "get", "--trace-id", trace_id]
        else:
            theirs_list_label, theirs_show_label = "MlflowClient.search_traces", "MlflowClient.get_trace"
            theirs_list = [str(version.python), "-c", THEIR_SEARCH, url, experiment_id]
            theirs_show = [str(version.python), "-c", THEIR_GET, url, trace_id]
        print(f"list ({len(ids['small']) + 2} traces), subprocess wall time:", flush=True)
        listed = compare_commands({"tracetui": ours_list, theirs_list_label: theirs_list}, env, runs)
        print("show one trace, subprocess wall time:", flush=True)
        shown = compare_commands({"tracetui": ours_show, theirs_show_label: theirs_show}, env, runs)
        rows = []
        for what, measured, label in (
            ("list", listed, theirs_list_label),
            ("show", shown, theirs_show_label),
        ):
            ours, theirs = measured["tracetui"].median_s, measured[label].median_s
            rows.append(
                Row(
                    f"{version.version} {what} vs {label}",
                    f"{ours:.2f} s",
                    f"{theirs:.2f} s",
                    f"{theirs / ours:.1f}x faster",
                    "-",
                    "",
                )
            )
        return rows
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _experiment_id(version: MlflowVersion, url: str) -> str:
    import httpx

    got = httpx.get(
        f"{url}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": EXPERIMENT}, timeout=30
    )
    got.raise_for_status()
    return str(got.json()["experiment"]["experiment_id"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--only", default=",".join(VERSIONS), help="comma-separated versions")
    args = parser.parse_args()
    tracetui_cli = shutil.which("tracetui") or sys.exit("the tracetui script is not installed")
    names = [name for name in args.only.split(",") if name]
    ensure_venvs(names)
    rows = [row for name in names for row in bench_version(VERSIONS[name], tracetui_cli, args.runs)]
    print(f"\nload average: {os.getloadavg()[0]:.1f}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
