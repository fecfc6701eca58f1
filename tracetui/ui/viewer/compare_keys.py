"""Comparing two traces from the list: `m` marks one (again: unmarks), `d` compares the selected one with it.

The mark lives in the list (its row shows it); the comparison screen gets both
traces fetched (a worker) and shows them aligned (tracetui/ui/screens/compare.py).
Each key says what it did, or why it could not, in one sentence.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tracetui.tracking.errors import failure_sentence
from tracetui.ui.screens.compare import CompareScreen
from tracetui.visible import one_line

if TYPE_CHECKING:
    from tracetui.ui.viewer.trace_viewer import TraceViewer


def _name(viewer: TraceViewer, trace_id: str) -> str:
    info = viewer.trace_list.infos.get(trace_id)
    return one_line(info.name if info is not None and info.name else trace_id, 40)


def toggle_mark(viewer: TraceViewer) -> None:
    table = viewer.trace_list
    trace_id = table.highlighted_trace_id
    if trace_id is None:
        viewer.say("No trace to mark: the list is empty.", error=True)
    elif table.compare_mark == trace_id:
        table.set_compare_mark(None)
        viewer.say("Comparison mark cleared.")
    else:
        table.set_compare_mark(trace_id)
        viewer.say(f"Marked {_name(viewer, trace_id)} (◆): select another trace and press d to compare.")


def compare_with_mark(viewer: TraceViewer) -> None:
    """The marked trace (A) against the highlighted one (B), on a screen of their own."""
    table = viewer.trace_list
    marked, selected = table.compare_mark, table.highlighted_trace_id
    if marked is None:
        viewer.say("Mark a trace with m first, then select another and press d to compare them.", error=True)
        return
    if selected is None or selected == marked:
        viewer.say("Select another trace than the marked one (◆) to compare it with.", error=True)
        return
    if viewer.client is None:
        viewer.say("Not connected to a tracking server yet.", error=True)
        return
    viewer.say(f"Fetching {_name(viewer, marked)} and {_name(viewer, selected)} to compare…")

    async def fetch_and_show() -> None:
        try:
            left, right = await asyncio.gather(
                viewer.client.get_trace(marked), viewer.client.get_trace(selected)
            )
        except Exception as error:  # noqa: BLE001 - one sentence on the status line, not a traceback
            viewer.say(failure_sentence(error), error=True)
            return
        viewer.app.push_screen(CompareScreen(left, right))

    viewer.run_worker(fetch_and_show(), group="compare", exclusive=True, exit_on_error=False)
