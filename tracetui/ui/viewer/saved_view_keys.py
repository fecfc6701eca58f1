"""Saved filters in the dashboard: `v` saves or applies one, `u` clears the filter, the palette lists them.

The app routes the keys here with its viewer. The views live in
tracetui/saved_views.py (the config folder, per server and experiment); the
viewer itself restores each experiment's last filter and remembers the new one.
Any failure to write is one sentence.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from tracetui.saved_views import ViewsError, unknown_view_sentence
from tracetui.ui.screens.views import ViewChoice, ViewsScreen
from tracetui.visible import one_line

if TYPE_CHECKING:
    from tracetui.ui.viewer.trace_viewer import TraceViewer


def _where(viewer: TraceViewer) -> tuple[str, str] | None:
    if viewer.backend is None or viewer.experiment is None:
        return None
    return viewer.backend.base_url, viewer.experiment.experiment_id


def clear_filter(viewer: TraceViewer) -> None:
    if not viewer.filter_string:
        viewer.say("No filter to clear.")
        return
    viewer.apply_filter("")


def apply_view(viewer: TraceViewer, name: str) -> None:
    where = _where(viewer)
    if where is None:
        viewer.say("Not connected yet: views apply once the list is loaded.", error=True)
        return
    views = viewer.view_store.views(*where)
    if name not in views:
        viewer.say(unknown_view_sentence(name, views, one_line(viewer.experiment.name, 60)), error=True)
        return
    viewer.apply_filter(views[name])


def open_views(viewer: TraceViewer) -> None:
    """Save the current filter under a name, or apply or delete a saved one."""
    where = _where(viewer)
    if where is None:
        viewer.say("Not connected yet: views are kept per server and experiment.", error=True)
        return

    def chosen(choice: ViewChoice | None) -> None:
        if choice is None:
            return
        try:
            if choice.action == "save":
                if not viewer.filter_string:
                    viewer.say("There is no filter to save: / sets one first.", error=True)
                    return
                viewer.view_store.save(*where, choice.name, viewer.filter_string)
                viewer.say(
                    f"Saved the filter as view {one_line(choice.name, 40)} (v or the palette applies it)."
                )
            elif choice.action == "delete":
                viewer.view_store.delete(*where, choice.name)
                viewer.say(f"Deleted view {one_line(choice.name, 40)}.")
            else:
                apply_view(viewer, choice.name)
        except ViewsError as error:
            viewer.say(str(error), error=True)

    viewer.app.push_screen(ViewsScreen(viewer.filter_string, viewer.view_store.views(*where)), chosen)


def view_commands(viewer: TraceViewer) -> Iterator[SystemCommand]:
    """Palette entries: save and clear, and one per saved view of this experiment."""
    yield SystemCommand(
        "Save filter as a view",
        "Name the list's filter, or apply a saved one (v)",
        lambda: open_views(viewer),
    )
    yield SystemCommand("Clear filter", "Show every trace again (u)", lambda: clear_filter(viewer))
    where = _where(viewer)
    if where is None:
        return
    for name, filter_string in viewer.view_store.views(*where).items():
        yield SystemCommand(
            f"View: {one_line(name, 40)}",
            one_line(filter_string, 80),
            lambda name=name: apply_view(viewer, name),
        )
