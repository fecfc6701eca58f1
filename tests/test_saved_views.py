# ruff: noqa: F811 - pytest fixtures imported from trace_factory are test parameters
"""Saved filters: the store in the config folder, `traces list --view`, and v / u / --view in the dashboard.

Traces are logged to the real MLflow server; each test has its own XDG_CONFIG_HOME (conftest.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from test_app import app_for, leave_prompt, wait_for
from test_cli import run_cli
from trace_factory import (  # noqa: F401 - trace_server and experiment_name are fixtures
    experiment_name,
    log_error_trace,
    log_nested_trace,
    trace_server,
)

from tracetui.config import TrackingSettings
from tracetui.saved_views import ViewStore, config_dir, server_key
from tracetui.tracking.connection import Backend
from tracetui.ui.app import make_app
from tracetui.ui.screens.views import ViewsScreen

ERRORS = "status = 'ERROR'"


def test_views_are_kept_per_server_and_experiment(tmp_path: Path) -> None:
    store = ViewStore(tmp_path / "views.json")
    store.save("http://alice:pw@host:5000/", "7", "errors", ERRORS)
    store.save("http://host:5000", "8", "slow", "execution_time_ms > 1000")
    assert store.views("http://bob:other@host:5000", "7") == {"errors": ERRORS}  # credentials do not count
    assert store.views("http://host:5000", "8") == {"slow": "execution_time_ms > 1000"}
    assert store.views("http://elsewhere:5000", "7") == {}
    assert "alice" not in (tmp_path / "views.json").read_text()
    store.remember_last("http://host:5000", "7", ERRORS)
    assert (
        store.last_filter("http://host:5000", "7") == ERRORS
        and store.last_filter("http://host:5000", "8") == ""
    )
    assert store.delete("http://host:5000", "7", "errors") and store.views("http://host:5000", "7") == {}
    (tmp_path / "views.json").write_text("{not json")
    assert store.views("http://host:5000", "8") == {}  # an unreadable file reads as empty
    assert server_key("https://u:p@Example.com:8443/mlflow/") == "https://example.com:8443/mlflow"
    assert config_dir() == Path(os.environ["XDG_CONFIG_HOME"]) / "tracetui"


def test_traces_list_with_a_saved_view(trace_server: str, experiment_name: str) -> None:
    failed = log_error_trace(experiment_name)
    log_nested_trace(experiment_name)
    ViewStore().save(trace_server, experiment_id_of(trace_server, experiment_name), "errors", ERRORS)
    result = run_cli(
        "traces", "list", "--view", "errors", "--tracking-uri", trace_server, "-e", experiment_name
    )
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[1:]
    assert len(rows) == 1 and "ERROR" in rows[0]
    as_json = run_cli(
        "traces", "list", "--view", "errors", "--json", "--tracking-uri", trace_server, "-e", experiment_name
    )
    assert failed in as_json.stdout
    missing = run_cli(
        "traces", "list", "--view", "slow", "--tracking-uri", trace_server, "-e", experiment_name
    )
    assert missing.exit_code == 1
    assert missing.stderr.strip() == (
        f"Error: No saved view named 'slow' for experiment {experiment_name}; saved views: errors."
    )
    both = run_cli("traces", "list", "--view", "errors", "--filter", "x", "--tracking-uri", trace_server)
    assert both.exit_code == 2 and "Choose one of --filter and --view." in both.stderr


def experiment_id_of(url: str, name: str) -> str:
    import mlflow

    mlflow.set_tracking_uri(url)
    return mlflow.get_experiment_by_name(name).experiment_id


async def test_save_clear_apply_and_the_last_filter_comes_back(
    trace_server: str, experiment_name: str
) -> None:
    log_error_trace(experiment_name)
    log_nested_trace(experiment_name)
    app = app_for(trace_server, experiment_name)
    async with app.run_test(size=(160, 48)) as pilot:
        viewer = app.viewer
        await wait_for(pilot, lambda: viewer.trace_list.row_count == 2, "both traces")
        await leave_prompt(pilot)
        await pilot.press("slash", *ERRORS, "enter")
        await wait_for(pilot, lambda: viewer.trace_list.row_count == 1, "the filter applied")
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ViewsScreen), "the views screen")
        await pilot.press(*"errors", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ViewsScreen), "saved")
        experiment_id = viewer.experiment.experiment_id
        assert ViewStore().views(trace_server, experiment_id) == {"errors": ERRORS}
        await pilot.press("u")  # clears the filter
        await wait_for(pilot, lambda: viewer.trace_list.row_count == 2, "the filter cleared")
        assert viewer.filter_string == "" and ViewStore().last_filter(trace_server, experiment_id) == ""
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ViewsScreen), "the views screen again")
        await pilot.press("tab", "enter")  # the first saved view
        await wait_for(pilot, lambda: viewer.trace_list.row_count == 1, "the view applied")
        assert ViewStore().last_filter(trace_server, experiment_id) == ERRORS

    reopened = app_for(trace_server, experiment_name)
    async with reopened.run_test(size=(160, 48)) as pilot:
        viewer = reopened.viewer
        await wait_for(
            pilot, lambda: viewer.experiment is not None and viewer.trace_list.row_count == 1, "it"
        )
        assert viewer.filter_string == ERRORS
        assert "filter: status = 'ERROR'" in reopened.status.render().plain  # visibly
        await leave_prompt(pilot)
        await pilot.press("u")
        await wait_for(pilot, lambda: viewer.trace_list.row_count == 2, "u to clear it")
        commands = {command.title: command for command in reopened.get_system_commands(reopened.screen)}
        assert {"Save filter as a view", "Clear filter", "View: errors"} <= set(commands)
        commands["View: errors"].callback()  # the palette applies a saved view
        await wait_for(pilot, lambda: viewer.trace_list.row_count == 1, "the view from the palette")


async def test_view_option_opens_with_that_filter(trace_server: str, experiment_name: str) -> None:
    log_error_trace(experiment_name)
    log_nested_trace(experiment_name)
    ViewStore().save(trace_server, experiment_id_of(trace_server, experiment_name), "errors", ERRORS)
    settings = TrackingSettings(tracking_uri=trace_server, timeout_s=120)
    for view, rows in (("errors", 1), ("nope", 2)):
        app = make_app(settings, experiment_name, None, None, None, Backend(base_url=trace_server), view=view)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda app=app, rows=rows: app.viewer.trace_list.row_count == rows, view)
            if view == "nope":  # an unknown view is one sentence, and the list unfiltered
                assert "No saved view named 'nope'" in app.status.render().plain
