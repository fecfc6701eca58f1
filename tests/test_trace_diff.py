# ruff: noqa: F811 - pytest fixtures imported from trace_factory are test parameters
"""Comparing two traces: the alignment (tracking layer) and `tracetui traces diff` (text and JSON).

Two runs of the same agent logged to the real MLflow server: B's searches take 100 ms longer,
its second search fails, it has a `check` step A lacks, and its answer has more tokens and
another first line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from test_cli import run_cli
from test_span_search import fetch
from trace_factory import (  # noqa: F401 - trace_server and experiment_name are fixtures
    experiment_name,
    log_agent_run,
    trace_server,
)

from tracetui.tracking.trace_diff import BOTH, LEFT, RIGHT, align_traces, io_diff

ANSWER_A = "Sunny, 21 °C.\nLight wind from the west."
ANSWER_B = "Rain, 12 °C.\nLight wind from the west."


@dataclass
class Runs:
    url: str
    a: str
    b: str


def log_two_runs(experiment: str) -> tuple[str, str]:
    a = log_agent_run(experiment, answer=ANSWER_A)
    b = log_agent_run(
        experiment,
        search_ms=400,
        answer_tokens=(150, 45),
        answer=ANSWER_B,
        fail_second_search=True,
        extra_step=True,
    )
    return a, b


@pytest.fixture()
def runs(trace_server: str, experiment_name: str) -> Runs:
    a, b = log_two_runs(experiment_name)
    return Runs(trace_server, a, b)


def test_spans_align_by_path_with_differences(runs: Runs) -> None:
    rows = align_traces(fetch(runs.url, runs.a), fetch(runs.url, runs.b))
    assert [(row.path, row.side) for row in rows] == [
        (("agent",), BOTH),
        (("agent", "plan"), BOTH),
        (("agent", "search"), BOTH),
        (("agent", "search #2"), BOTH),  # repeated siblings line up by position
        (("agent", "check"), RIGHT),  # only B has it, in B's place
        (("agent", "answer"), BOTH),
    ]
    by_path = {row.path[-1]: row for row in rows}
    assert by_path["search"].duration_delta_ns == 100_000_000
    assert by_path["plan"].duration_delta_ns == 0
    assert by_path["agent"].duration_delta_ns == 260_000_000  # two searches +100 ms, check +60 ms
    assert by_path["search #2"].status_changed and not by_path["search"].status_changed
    assert by_path["answer"].tokens(LEFT) == (120, 30) and by_path["answer"].tokens(RIGHT) == (150, 45)
    assert by_path["answer"].tokens_delta() == (30, 15)
    assert by_path["check"].duration_delta_ns is None and by_path["check"].left is None


def test_swapped_traces_mirror_the_alignment(runs: Runs) -> None:
    rows = align_traces(fetch(runs.url, runs.b), fetch(runs.url, runs.a))
    assert [row.side for row in rows] == [BOTH, BOTH, BOTH, BOTH, LEFT, BOTH]
    assert rows[2].duration_delta_ns == -100_000_000


def test_io_diff_marks_only_the_differing_lines() -> None:
    lines = io_diff({"answer": ANSWER_A}, {"answer": ANSWER_B})
    assert [line.changed for line in lines] == [False, True, False]
    assert "Sunny" in lines[1].left and "Rain" in lines[1].right
    text = io_diff("one\ntwo\nthree", "one\nthree\nfour")
    assert [(line.left, line.right, line.changed) for line in text] == [
        ("one", "one", False),
        ("two", None, True),
        ("three", "three", False),
        (None, "four", True),
    ]


def test_diff_command_prints_the_aligned_rows(runs: Runs) -> None:
    result = run_cli("traces", "diff", runs.a, runs.b, "--tracking-uri", runs.url)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"A  {runs.a}  agent  OK  950ms  5 spans")
    assert lines[1].startswith(f"B  {runs.b}  agent  OK  1.21s  6 spans")
    assert lines[2] == (
        "6 spans aligned by path: 0 only in A, 1 only in B, 1 status changes; duration 950ms → 1.21s (+260ms)"
    )
    table = [line.split() for line in lines[4:11]]
    assert table[0] == ["span", "A", "B", "Δ", "tokens", "A", "tokens", "B", "Δ", "tokens"]
    assert table[1] == ["agent", "950ms", "1.21s", "+260ms"]
    assert table[2] == ["plan", "100ms", "100ms", "0ms", "40→12", "40→12", "+0→+0"]
    assert table[3] == ["search", "300ms", "400ms", "+100ms"]
    assert table[4] == ["!", "search", "#2", "(OK→ERROR)", "300ms", "400ms", "+100ms"]
    assert table[5] == ["+", "check", "(only", "in", "B)", "50ms"]
    assert table[6] == ["answer", "200ms", "200ms", "0ms", "120→30", "150→45", "+30→+15"]
    outputs = lines[lines.index("Outputs of agent differ (A | B):") + 1 :]
    assert [line[0] for line in outputs] == [" ", "~", " "]


def test_diff_command_json(runs: Runs) -> None:
    result = run_cli("traces", "diff", runs.a, runs.b, "--json", "--tracking-uri", runs.url)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["left"], document["right"]) == (runs.a, runs.b)
    assert document["summary"]["only_in_right"] == 1 and document["summary"]["status_changes"] == 1
    check = next(row for row in document["spans"] if row["path"] == ["agent", "check"])
    assert check["in"] == "right" and check["left"] is None and check["right"]["duration_ms"] == 50.0
    answer = next(row for row in document["spans"] if row["path"] == ["agent", "answer"])
    assert (answer["tokens_in_delta"], answer["tokens_out_delta"]) == (30, 15)


def test_diff_of_a_missing_trace_is_one_sentence(runs: Runs) -> None:
    result = run_cli("traces", "diff", runs.a, "tr-" + "0" * 32, "--tracking-uri", runs.url)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
