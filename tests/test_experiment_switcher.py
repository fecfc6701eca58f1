"""The `e` screen shows every experiment at once and each count as it comes: "counting… 500" while a
server that cannot count is paged through, "? traces" when a count fails.

The screen is given its two questions as callables (the viewer passes them over its client);
here they are coroutines this test holds back, so each state can be looked at in turn. The
counts themselves are checked against real servers: tests/test_app.py (MLflow 3.17 counts)
and tests/test_server_versions.py (older servers paged, "counting…" said).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.app import App
from textual.widgets import OptionList

from tracetui.tracking.experiments import CountProgress
from tracetui.tracking.models import Experiment
from tracetui.ui.screens.experiments import ExperimentSwitcher

BIG = Experiment("1", "big-app")
BROKEN = Experiment("2", "broken")


async def wait_for(pilot: object, condition: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await pilot.pause(0.01)  # type: ignore[attr-defined]
    raise AssertionError(f"timed out waiting for {what}")


async def test_counts_fill_in_row_by_row_with_progress_while_paging() -> None:
    paged_halfway = asyncio.Event()
    finish = asyncio.Event()

    async def list_experiments() -> list[Experiment]:
        return [BIG, BROKEN]

    async def count(experiment_id: str, progress: CountProgress) -> int:
        if experiment_id == BROKEN.experiment_id:
            raise RuntimeError("the server said 500")
        progress(0)
        progress(1_500)
        paged_halfway.set()
        await finish.wait()
        return 2_345

    switcher = ExperimentSwitcher(list_experiments, count, current_id="1")
    app = App()
    async with app.run_test(size=(100, 20)) as pilot:
        app.push_screen(switcher)
        await wait_for(pilot, lambda: len(switcher.experiments) == 2 and paged_halfway.is_set(), "the list")
        options = switcher.query_one(OptionList)

        def row(experiment: Experiment) -> str:
            return str(options.get_option(experiment.experiment_id).prompt)

        def note() -> str:
            return str(switcher.query_one("#experiments-note").render())

        await wait_for(pilot, lambda: "counting… 1,500" in row(BIG), "the running count")
        await wait_for(pilot, lambda: "? traces" in row(BROKEN), "the failed count")
        assert "broken" in row(BROKEN) and row(BIG).startswith("●")  # the current one is marked
        assert note() == "2 experiments; counting 1 more (paging: this server cannot count)…"
        assert options.highlighted == 0
        finish.set()
        await wait_for(pilot, lambda: "2,345 traces" in row(BIG), "the final count")
        assert "counting" not in row(BIG)
        assert note() == "2 experiments"
        await pilot.press("enter")
        await wait_for(pilot, lambda: switcher not in app.screen_stack, "the switcher to close")
