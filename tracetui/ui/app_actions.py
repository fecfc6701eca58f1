"""What the app's keys do: follow, pause, filter, experiments, help, zoom and pane cycling, chat toggle.

A mixin of `TraceTuiApp` (tracetui/ui/app.py); the bindings are declared there.
Single-letter keys are app bindings, so they never fire while an Input (the
chat prompt, the filter box) has focus: the Input consumes printable keys first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import DataTable, Input

from tracetui.tracking.models import Experiment
from tracetui.ui.experiment_queries import experiment_summaries
from tracetui.ui.messages import ExperimentOpened
from tracetui.ui.screens.experiments import ExperimentSwitcher
from tracetui.ui.screens.help import HelpScreen
from tracetui.ui.widgets.span_tree import SpanTree
from tracetui.ui.widgets.trace_list import TraceList

if TYPE_CHECKING:
    from tracetui.ui.app import TraceTuiApp

    _Base = TraceTuiApp
else:
    _Base = object

# The panes `z` zooms and Tab cycles through while zoomed, in screen order.
PANES = ("#chat", "#traces-pane", "#tree-pane", "#detail-pane")


class KeyActions(_Base):
    """Actions behind the app's bindings, and the handlers of the panes' own selection events."""

    # -- selection in the panes --------------------------------------------------------------

    def on_span_tree_span_highlighted(self, message: SpanTree.SpanHighlighted) -> None:
        self.span_detail.show_span(message.span, message.trace)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.trace_list:
            self.open_trace(event.row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a trace: open it and go to its spans."""
        if event.data_table is self.trace_list:
            self.open_trace(event.row_key.value)
            self.span_tree.focus()

    def on_trace_list_moved_by_user(self, message: TraceList.MovedByUser) -> None:
        if self.follow and message.trace_id != self.trace_list.newest_trace_id:
            self.follow = self.status.follow = False
            self.status.say("Follow mode off (f turns it back on).")

    # -- follow, pause, poll -----------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.follow = self.status.follow = not self.follow
        self.status.say("Follow mode on: the newest trace is shown." if self.follow else "Follow mode off.")
        if self.follow:
            self.after_rows_changed(())

    def action_toggle_pause(self) -> None:
        self.paused = self.status.paused = not self.paused
        if self.paused:
            if self.poll_timer is not None:
                self.poll_timer.stop()
                self.poll_timer = None
            self.status.say("Paused: the list is not polled (p resumes).")
        else:
            self.status.say("Resumed.")
            self.poll_now()

    def action_poll_now(self) -> None:
        if self.live is None and self.client is not None:
            self.choose_experiment()  # nothing listed yet (it stopped, or the experiment is missing)
        else:
            self.poll_now()

    # -- filter ------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.filter_box
        box.display = True
        box.value = self.filter_string or ""
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is not self.filter_box:
            return
        from tracetui.tracking.live import LiveTraceList

        event.stop()
        filter_string = event.value.strip()
        self.filter_box.display = False
        self.trace_list.focus()
        if self.experiment is None or self.client is None:
            self.status.say("Not connected yet; the filter applies once the list is loaded.", error=True)
            return
        if self.poll_timer is not None:
            self.poll_timer.stop()
        self.status.filter_string = filter_string
        self.candidate_filter = filter_string or None
        self.candidate_live = LiveTraceList(
            [self.experiment.experiment_id], filter_string=self.candidate_filter
        )
        self.status.say("Applying the filter…")
        self.try_filter(self.candidate_live, filter_string)

    def on_key(self, event: Any) -> None:
        if event.key != "escape":
            return
        if self.filter_box.has_focus:
            self.filter_box.display = False
            self.trace_list.focus()
            event.stop()
        elif self.chat_pane.input.has_focus and not self.chat_pane.answering:
            # Esc stops a streaming answer (the chat pane's binding); otherwise it leaves the prompt,
            # and on a narrow screen goes back to the viewer.
            if self.narrow_screen and self.screen.maximized is None:
                self.chat_shown = False
            self.trace_list.focus()
            event.stop()

    # -- screens -----------------------------------------------------------------------------

    def action_experiments(self) -> None:
        if self.client is None:
            self.status.say("Not connected yet: experiments are listed once the server answers.", error=True)
            return

        def chosen(experiment: Experiment | None) -> None:
            if experiment is not None and experiment.experiment_id != getattr(
                self.experiment, "experiment_id", None
            ):
                self.follow = self.status.follow = True
                self.post_message(ExperimentOpened(experiment, chosen_by_user=True))

        current = self.experiment.experiment_id if self.experiment else None
        self.push_screen(ExperimentSwitcher(lambda: experiment_summaries(self.client), current), chosen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # -- panes -------------------------------------------------------------------------------

    def action_toggle_chat(self) -> None:
        """Show or hide the chat (hidden at first on a narrow screen, where it swaps with the viewer)."""
        self.chat_shown = not self.chat_shown
        if self.chat_shown:
            self.chat_pane.focus_input()
        elif self.focused is not None and self.chat_pane in self.focused.ancestors_with_self:
            self.trace_list.focus()

    def action_focus_chat(self) -> None:
        """Go to the chat prompt, showing the chat pane if it is hidden."""
        if not self.chat_shown:
            self.chat_shown = True
        if self.screen.maximized is not None and self.screen.maximized is not self.chat_pane:
            self.screen.maximize(self.chat_pane, container=False)
        self.chat_pane.focus_input()

    def action_zoom(self) -> None:
        """Zoom the focused pane to the whole screen, or restore the layout."""
        if self.screen.maximized is not None:
            self.screen.minimize()
        elif self.focused is not None:
            self.screen.maximize(self.focused)

    def _cycle_zoomed_pane(self, step: int) -> bool:
        """While zoomed, Tab shows the next pane zoomed (hidden panes are out of the focus chain)."""
        maximized = self.screen.maximized
        if maximized is None or self.screen is not self.screen_stack[0]:
            return False
        panes = [self.query_one(selector) for selector in PANES]
        index = next((i for i, pane in enumerate(panes) if pane is maximized), -1)
        target = panes[(index + step) % len(panes)]
        if target is self.chat_pane:
            if not self.chat_shown:
                self.chat_shown = True  # reached on purpose: it stays shown after the zoom
            self.screen.maximize(target, container=False)
            self.chat_pane.focus_input()
            return True
        if self.narrow_screen and self.chat_shown:
            self.chat_shown = False  # the chat and the viewer take turns on a narrow screen
        self.screen.maximize(target, container=False)
        focusable = (
            target
            if target.can_focus
            else next((w for w in target.query("*") if w.focusable and w.display), None)
        )
        if focusable is not None:
            focusable.focus()
        return True

    def action_focus_next(self) -> None:
        if not self._cycle_zoomed_pane(+1):
            super().action_focus_next()

    def action_focus_previous(self) -> None:
        if not self._cycle_zoomed_pane(-1):
            super().action_focus_previous()

    def on_descendant_focus(self, event: Any) -> None:
        # While zoomed, moving focus to another pane (Tab) zooms that pane instead.
        maximized = self.screen.maximized
        widget = event.widget
        if maximized is not None and widget is not maximized and maximized not in widget.ancestors:
            self.screen.maximize(widget)
