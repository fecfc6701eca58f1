"""What the trace keys do to one trace: feedback (+), export (x), copy its id (y), its MLflow link (w).

The app decides which trace a key means (the focused chat answer's, else the
list's highlighted row) and calls these with the viewer, whose client and
experiment they use. Each says what it did, or why it could not, in one sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracetui.exports import export_trace_json
from tracetui.tracking.feedback import with_assessment
from tracetui.ui.clipboard import copy_text
from tracetui.ui.screens.feedback import FeedbackScreen, FeedbackSent
from tracetui.ui.screens.web_link import WebLinkScreen

if TYPE_CHECKING:
    from tracetui.ui.viewer.trace_viewer import TraceViewer


def connected(viewer: TraceViewer) -> bool:
    if viewer.client is None:
        viewer.notify("Not connected to a tracking server yet.", severity="warning")
        return False
    return True


def give_feedback(viewer: TraceViewer, trace_id: str) -> None:
    """A thumbs up or down with a comment, stored as an MLflow assessment; the list shows it at once."""
    if not connected(viewer):
        return
    table = viewer.trace_list

    def sent(feedback: FeedbackSent | None) -> None:
        info = table.infos.get(feedback.trace_id) if feedback is not None else None
        if feedback is not None and info is not None:  # the next poll brings the server's copy
            table.apply([], [with_assessment(info, feedback.assessment)])

    viewer.app.push_screen(FeedbackScreen(viewer.client, trace_id, table.infos.get(trace_id)), sent)


def export_trace(viewer: TraceViewer, trace_id: str) -> None:
    """The trace as `mlflow traces get` prints it, in trace-<id>.json (a worker: it downloads)."""
    if not connected(viewer):
        return

    async def export() -> None:
        exported = await export_trace_json(viewer.client, trace_id)
        viewer.notify(exported.sentence, severity="information" if exported.ok else "error", markup=False)

    viewer.run_worker(export(), group="export", exit_on_error=False)


def copy_trace_id(viewer: TraceViewer, trace_id: str) -> None:
    copy_text(viewer.app, trace_id, "the trace id")


def open_in_mlflow(viewer: TraceViewer, trace_id: str) -> None:
    """The trace's link in MLflow's web UI: shown, copied, or opened where a browser is at hand."""
    if not connected(viewer) or viewer.experiment is None:
        return
    info = viewer.trace_list.infos.get(trace_id)
    experiment_id = info.experiment_id if info is not None else viewer.experiment.experiment_id
    viewer.app.push_screen(WebLinkScreen(viewer.client.base_url, experiment_id, trace_id))
