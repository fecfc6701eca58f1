"""The headless CLI against a real MLflow server: tables, JSON interchangeable with
`mlflow traces get`, safe printing of hostile traces, following, and one-sentence failures."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import pytest
from click.testing import CliRunner, Result
from trace_factory import (
    HOSTILE_NAME,
    log_error_trace,
    log_hostile_trace,
    log_many_traces,
    log_nested_trace,
    use_server,
)

from tracetui.cli import main
from tracetui.tracking.local_server import LocalMlflowServer, free_loopback_port

# Bytes a terminal would act on: ESC, BEL, CSI (C1), and the bidi override U+202E in UTF-8.
TERMINAL_ACTIVE_BYTES = (b"\x1b", b"\x07", b"\xc2\x9b", b"\xe2\x80\xae")


@dataclass(frozen=True)
class Logged:
    url: str
    experiment: str
    nested: str
    error: str
    hostile: str
    quick: list[str]


@pytest.fixture(scope="module")
def logged(mlflow_server: LocalMlflowServer) -> Iterator[Logged]:
    """One experiment with a nested, an error, a hostile and three quick traces, oldest first."""
    use_server(mlflow_server.url)
    experiment = f"cli-{uuid.uuid4().hex[:8]}"
    nested = log_nested_trace(experiment)
    error = log_error_trace(experiment)
    hostile = log_hostile_trace(experiment)
    quick = log_many_traces(experiment, 3, name="quick")
    yield Logged(mlflow_server.url, experiment, nested, error, hostile, quick)


# mlflow.set_experiment (used to log the traces) sets MLFLOW_EXPERIMENT_ID in this process.
_SELECTING_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


def _env() -> dict[str, str]:
    """This process's environment without anything choosing a server or an experiment."""
    return {k: v for k, v in os.environ.items() if k not in _SELECTING_VARIABLES}


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    # CliRunner only overrides the variables it is given: unset the selecting ones explicitly.
    overrides: dict[str, str | None] = dict.fromkeys(_SELECTING_VARIABLES)
    overrides.update(env or {})
    return CliRunner().invoke(main, list(args), env=overrides, catch_exceptions=False)


def run_on(logged: Logged, *args: str) -> Result:
    return run_cli(*args, "--tracking-uri", logged.url, "--experiment", logged.experiment)


def assert_one_sentence(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    message = result.stderr.strip()
    assert message and "\n" not in message, message
    assert "Traceback" not in result.output
    return message


# --- list --------------------------------------------------------------------------------


def test_list_prints_a_table_newest_first(logged: Logged) -> None:
    result = run_on(logged, "traces", "list")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "TIME",
        "TRACE",
        "ID",
        "NAME",
        "MODEL",
        "STATE",
        "DURATION",
        "TOKENS",
        "REQUEST",
    ]
    ids_in_order = [line.split()[2] for line in lines[1:]]
    expected = [*reversed(logged.quick), logged.hostile, logged.error, logged.nested]
    assert ids_in_order == expected
    row = {line.split()[2]: line for line in lines[1:]}
    assert " chat_turn " in row[logged.nested] and " OK " in row[logged.nested]
    assert "26→14" in row[logged.nested]  # tokens in → out from the trace's usage
    assert "Explain Qwen 2.5." in row[logged.nested]  # the request preview
    assert " ERROR " in row[logged.error]


def test_list_json_honours_max(logged: Logged) -> None:
    result = run_on(logged, "traces", "list", "--json", "--max", "2")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert [t["trace_id"] for t in document["traces"]] == [logged.quick[2], logged.quick[1]]
    nested = json.loads(run_on(logged, "traces", "list", "--json").stdout)["traces"][-1]
    assert nested["trace_id"] == logged.nested
    assert nested["name"] == "chat_turn" and nested["state"] == "OK"
    assert nested["token_usage"] == {"input_tokens": 26, "output_tokens": 14, "total_tokens": 40}


def test_list_filter_is_passed_to_mlflow(logged: Logged) -> None:
    result = run_on(logged, "traces", "list", "--json", "--filter", "status = 'ERROR'")
    assert result.exit_code == 0, result.stderr
    assert [t["trace_id"] for t in json.loads(result.stdout)["traces"]] == [logged.error]


def test_group_options_reach_the_subcommand(logged: Logged) -> None:
    result = run_cli("--tracking-uri", logged.url, "-e", logged.experiment, "traces", "list", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["traces"]) == 6


def test_without_an_experiment_the_one_with_the_newest_trace_is_used(logged: Logged) -> None:
    fresh = f"cli-newest-{uuid.uuid4().hex[:8]}"
    [trace_id] = log_many_traces(fresh, 1, tracking_uri=logged.url)
    result = run_cli("traces", "list", "--json", "--tracking-uri", logged.url)
    assert result.exit_code == 0, result.stderr
    assert [t["trace_id"] for t in json.loads(result.stdout)["traces"]] == [trace_id]


def test_experiment_comes_from_mlflow_environment_variables(logged: Logged) -> None:
    env = {"MLFLOW_TRACKING_URI": logged.url, "MLFLOW_EXPERIMENT_NAME": logged.experiment}
    result = run_cli("traces", "list", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["traces"]) == 6


# --- show --------------------------------------------------------------------------------


def test_show_prints_the_span_tree_with_depth_types_and_durations(logged: Logged) -> None:
    result = run_on(logged, "traces", "show", logged.nested)
    assert result.exit_code == 0, result.stderr
    header, root, child = result.stdout.splitlines()
    assert header.startswith(logged.nested) and "2 spans" in header
    assert root.startswith("chat_turn (CHAIN)")
    assert child.startswith("  litellm-completion (LLM)") and "26→14 tok" in child
    assert root.split()[2].endswith("s")  # a duration such as 12ms or 1.20s
    assert run_on(logged, "traces", "show", "--tree", logged.nested).stdout == result.stdout


def test_show_marks_failed_spans_with_their_message(logged: Logged) -> None:
    lines = run_on(logged, "traces", "show", logged.error).stdout.splitlines()
    tool = next(line for line in lines if line.lstrip().startswith("tool (TOOL)"))
    assert "ERROR" in tool and "division by zero in tool" in tool


def _mlflow_traces_get(url: str, trace_id: str) -> Any:
    env = {**_env(), "MLFLOW_TRACKING_URI": url}
    done = subprocess.run(
        [sys.executable, "-m", "mlflow", "traces", "get", "--trace-id", trace_id],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("which", ["nested", "error", "hostile"])
def test_show_json_is_the_document_mlflow_traces_get_prints(logged: Logged, which: str) -> None:
    trace_id = getattr(logged, which)
    ours = subprocess.run(
        [
            sys.executable,
            "-m",
            "tracetui",
            "traces",
            "show",
            "--json",
            trace_id,
            "--tracking-uri",
            logged.url,
        ],
        env=_env(),
        capture_output=True,
        timeout=120,
    )
    assert ours.returncode == 0, ours.stderr.decode(errors="replace")
    assert json.loads(ours.stdout) == _mlflow_traces_get(logged.url, trace_id)
    assert not any(raw in ours.stdout for raw in TERMINAL_ACTIVE_BYTES)


# --- hostile content ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("traces", "list"),
        ("traces", "list", "--json"),
        ("traces", "show", "HOSTILE"),
        ("traces", "show", "--json", "HOSTILE"),
    ],
)
def test_hostile_trace_content_never_reaches_the_terminal_raw(logged: Logged, args: tuple[str, ...]) -> None:
    args = tuple(logged.hostile if arg == "HOSTILE" else arg for arg in args)
    result = run_on(logged, *args)
    assert result.exit_code == 0, result.stderr
    assert not any(raw in result.stdout_bytes for raw in TERMINAL_ACTIVE_BYTES)
    if "--json" not in args:
        assert "[bold red]x[/]" in result.stdout  # markup-looking text stays literal
        assert "␛[2J" in result.stdout  # and the escape is shown, not dropped


def test_hostile_name_is_shown_visibly_in_the_tree(logged: Logged) -> None:
    root = run_on(logged, "traces", "show", logged.hostile).stdout.splitlines()[1]
    assert root.startswith("[bold red]x[/]␛[2J␛]0;pwned␇\\u202e (CHAIN)")
    assert HOSTILE_NAME not in root


# --- failures: one sentence, no traceback ------------------------------------------------


def test_an_invalid_filter_is_one_sentence(logged: Logged) -> None:
    message = assert_one_sentence(run_on(logged, "traces", "list", "--filter", "status === 'OK' AND"))
    assert "===" in message  # the server's reason, passed on


def test_an_unknown_trace_is_one_sentence(logged: Logged) -> None:
    message = assert_one_sentence(run_on(logged, "traces", "show", "tr-" + "0" * 32))
    assert "tr-" + "0" * 32 in message


def test_an_unknown_experiment_is_one_sentence(logged: Logged) -> None:
    result = run_cli("traces", "list", "--tracking-uri", logged.url, "--experiment", "no-such-experiment-xyz")
    assert "no-such-experiment-xyz" in assert_one_sentence(result)


@pytest.mark.parametrize("command", [("traces", "list"), ("traces", "show", "tr-1"), ("traces", "tail")])
def test_a_server_that_is_down_is_one_sentence(command: tuple[str, ...]) -> None:
    closed = f"http://127.0.0.1:{free_loopback_port()}"
    message = assert_one_sentence(run_cli(*command, "--tracking-uri", closed))
    assert f"127.0.0.1:{closed.rsplit(':', 1)[1]}" in message


@pytest.mark.parametrize(
    "args",
    [("traces", "list", "--max", "0"), ("traces", "show", "--json", "--tree", "tr-1"), ("traces", "nope")],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def read_line(stream: IO[str], timeout_s: float = 120) -> str:
    """One line from a subprocess pipe, or a test failure (not a hang) if none comes."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout_s)
    except queue.Empty:
        raise AssertionError(f"no line within {timeout_s} s") from None


# --- tail --------------------------------------------------------------------------------


def test_tail_prints_a_trace_logged_while_it_runs_and_stops_on_ctrl_c(logged: Logged) -> None:
    tail = subprocess.Popen(
        [sys.executable, "-m", "tracetui", "traces", "tail", "--interval", "0.2",
         "--tracking-uri", logged.url, "--experiment", logged.experiment],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert "press Ctrl-C to stop" in read_line(tail.stderr)
        [new_trace] = log_many_traces(logged.experiment, 1, tracking_uri=logged.url, name="while-tailing")
        line = read_line(tail.stdout)
        assert new_trace in line and "while-tailing" in line and " OK " in line
        tail.send_signal(signal.SIGINT)
        stdout, stderr = tail.communicate(timeout=30)
    finally:
        tail.kill()
    assert tail.returncode == 0
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    # Only the new trace: what finished before tail started is not news.
    assert not any(trace_id in stdout for trace_id in (logged.nested, *logged.quick))


# --- the program itself ------------------------------------------------------------------


def test_version_and_python_dash_m() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tracetui", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "tracetui, version 0.1.0"


def test_help_and_startup_import_nothing_heavy() -> None:
    probe = (
        "import sys; from click.testing import CliRunner; from tracetui.cli import main; "
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
        "r = CliRunner().invoke(main, ['traces', '--help']); assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in ('textual', 'rich', 'litellm', 'mlflow', 'httpx') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_malformed_tracking_uri_is_a_sentence_not_a_traceback() -> None:
    assert_one_sentence(run_cli("traces", "show", "tr-x", "--tracking-uri", "http://[::1"))


def test_experiments_lists_the_experiment_to_pass_to_dash_e(logged: Logged) -> None:
    result = run_cli("experiments", "--json", "--tracking-uri", logged.url)
    assert result.exit_code == 0, result.stderr
    names = {e["name"]: e["experiment_id"] for e in json.loads(result.stdout)["experiments"]}
    assert logged.experiment in names and names["Default"] == "0"
    table = run_cli("experiments", "--tracking-uri", logged.url).stdout
    assert f"{names[logged.experiment]} " in table and logged.experiment in table
