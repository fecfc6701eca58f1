# ruff: noqa: F811 - pytest fixtures imported from trace_factory are test parameters
"""Sessions with their totals: turns, times, duration, tokens, errors and MLflow's cost, sortable.

Three sessions of several turns each, logged to the real MLflow server as two runs of an agent
(each turn 950 ms; 120 -> 30 answer tokens plus the plan's 40 -> 12), some failing, some costed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from test_app import app_for, leave_prompt, wait_for
from test_cli import run_cli
from textual.widgets import DataTable
from trace_factory import (  # noqa: F401 - trace_server and experiment_name are fixtures
    experiment_name,
    log_agent_run,
    log_nested_trace,
    trace_server,
)

from tracetui.config import TrackingSettings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.session_totals import format_cost, sort_sessions
from tracetui.tracking.sessions import SessionSummary, list_sessions
from tracetui.ui.screens.sessions import SessionsScreen


@dataclass
class Logged:
    url: str
    experiment: str
    turns: dict[str, list[str]]


def log_three_sessions(experiment: str, *, costed: bool = True) -> dict[str, list[str]]:
    """short: 2 turns, costed; long: 4 turns, one failed; plain: 3 turns, never costed."""
    turns: dict[str, list[str]] = {"short": [], "long": [], "plain": []}
    for _ in range(2):
        turns["short"].append(log_agent_run(experiment, session="short", cost_usd=0.0125 if costed else None))
    for number in range(4):
        turns["long"].append(
            log_agent_run(
                experiment, session="long", fail_second_search=number == 1, cost_usd=0.001 if costed else None
            )
        )
    for _ in range(3):
        turns["plain"].append(log_agent_run(experiment, session="plain"))
    log_nested_trace(experiment)  # no session: in no row
    return turns


@pytest.fixture()
def logged(trace_server: str, experiment_name: str) -> Logged:
    return Logged(trace_server, experiment_name, log_three_sessions(experiment_name))


def sessions_of(logged: Logged) -> dict[str, SessionSummary]:
    async def work() -> list[SessionSummary]:
        async with TrackingClient(TrackingSettings(tracking_uri=logged.url), logged.url) as client:
            experiment = await client.resolve_experiment(logged.experiment)
            return await list_sessions(client, experiment.experiment_id)

    return {summary.session_id: summary for summary in asyncio.run(work())}


def test_each_session_adds_up_its_turns(logged: Logged) -> None:
    sessions = sessions_of(logged)
    assert set(sessions) == {"short", "long", "plain"}
    long = sessions["long"]
    assert long.trace_count == 4 and long.error_count == 0  # a failed span, not a failed trace
    assert long.duration_ms == 4 * 950
    assert (long.input_tokens, long.output_tokens) == (4 * 160, 4 * 42)
    assert long.first_time_ms < long.last_time_ms
    assert sessions["short"].cost_usd == pytest.approx(0.025) and sessions["short"].costed_turns == 2
    assert sessions["long"].cost_usd == pytest.approx(0.004)
    assert sessions["plain"].cost_usd is None and sessions["plain"].costed_turns == 0


def test_sessions_sort_by_each_total(logged: Logged) -> None:
    sessions = list(sessions_of(logged).values())

    def order(by: str, **options: bool) -> list[str]:
        return [summary.session_id for summary in sort_sessions(sessions, by, **options)]

    assert order("last") == ["plain", "long", "short"]
    assert order("first", descending=False) == ["short", "long", "plain"]
    assert order("turns") == ["long", "plain", "short"]
    assert order("duration") == ["long", "plain", "short"]
    assert order("tokens-out", descending=False) == ["short", "plain", "long"]
    assert order("cost") == ["short", "long", "plain"]  # no recorded cost sorts below any cost
    with pytest.raises(ValueError, match="Sessions sort by one of"):
        sort_sessions(sessions, "colour")
    assert format_cost(0.025) == "$0.0250" and format_cost(12.5) == "$12.50" and format_cost(None) == ""


def test_cli_sessions_list_shows_totals_and_sorts(logged: Logged) -> None:
    result = run_cli(
        "sessions", "list", "--sort", "turns", "--tracking-uri", logged.url, "-e", logged.experiment
    )
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split()[:10] == [
        "LAST",
        "ACTIVE",
        "FIRST",
        "SESSION",
        "TURNS",
        "DURATION",
        "TOK",
        "IN",
        "TOK",
        "OUT",
    ]
    assert [row.split()[4] for row in rows] == ["long", "plain", "short"]  # after two date-time columns
    long = rows[0].split()
    assert long[5:11] == ["4", "3.80s", "640", "168", "0", "$0.0040"]
    assert rows[1].split()[5:11] == ["3", "2.85s", "480", "126", "0", "–"]


def test_cli_cost_column_says_once_when_nothing_records_a_cost(
    trace_server: str, experiment_name: str
) -> None:
    log_agent_run(experiment_name, session="only")
    result = run_cli("sessions", "list", "--tracking-uri", trace_server, "-e", experiment_name)
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert "COST (none recorded)" in header and "$" not in row


async def test_sessions_screen_sorts_and_lists_a_sessions_turns(logged: Logged) -> None:
    app = app_for(logged.url, logged.experiment)
    async with app.run_test(size=(160, 48)) as pilot:
        viewer = app.viewer
        await wait_for(pilot, lambda: viewer.trace_list.row_count == 10, "every trace listed")
        await leave_prompt(pilot)
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
        screen = app.screen
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 3, "three sessions")

        def sessions_in_order() -> list[str]:
            return [table.get_row_at(row)[8].plain for row in range(3)]

        assert sessions_in_order() == ["plain", "long", "short"]  # the most recently active first
        assert table.get_row_at(1)[7].plain == "$0.0040" and table.get_row_at(0)[7].plain == ""
        await pilot.press("o")  # by first turn
        assert sessions_in_order() == ["plain", "long", "short"]
        await pilot.press("o")  # by turns
        assert sessions_in_order() == ["long", "plain", "short"]
        await pilot.press("O")  # reversed
        assert sessions_in_order() == ["short", "plain", "long"]
        assert table.cursor_row == 1  # the cursor stays on its session (plain) through the sorts
        await pilot.press("l")  # the highlighted session's turns, in the list
        await wait_for(pilot, lambda: not isinstance(app.screen, SessionsScreen), "the list")
        await wait_for(pilot, lambda: viewer.trace_list.row_count == 3, "only the plain session's turns")
        assert set(viewer.trace_list.infos) == set(logged.turns["plain"])
        assert viewer.filter_string == "metadata.`mlflow.trace.session` = 'plain'"
