"""The feature keys of the app: feedback, sessions, export, copy, MLflow web link, sequence toggle.

A mixin for `TraceTuiApp` (like `app_actions.KeyActions`), written against its
parts: `client`, `experiment`, `trace_list`, `chat_pane`, `shown_trace_id`,
`status`, and the two widgets it adds, `sequence_view` and `stats_bar`.
The bindings are declared in the app (see FEATURE_BINDINGS).

Which trace a key acts on: the focused answer's in the chat pane (or the
chat's latest traced answer while the chat has focus), else the list's
highlighted row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding

from tracetui.tracking.sessions import session_turns
from tracetui.ui.clipboard import copy_text
from tracetui.ui.export_actions import export_trace_json
from tracetui.ui.screens.feedback import FeedbackScreen, FeedbackSent, with_assessment
from tracetui.ui.screens.sessions import SessionsScreen
from tracetui.ui.screens.web_link import WebLinkScreen
from tracetui.ui.session_resume import load_session_into_chat
from tracetui.ui.widgets.chat_message import AnswerMessage
from tracetui.visible import one_line

if TYPE_CHECKING:
    from tracetui.ui.app import TraceTuiApp

    _Base = TraceTuiApp
else:
    _Base = object

# Single letters are free in the app today (q ? / f p e z c i r are taken); Inputs consume them while typing.
FEATURE_BINDINGS = [
    Binding("s", "toggle_sequence", "Sequence"),
    Binding("plus", "feedback", "Feedback"),
    Binding("S", "sessions", "Sessions"),
    Binding("x", "export_trace", "Export", show=False),
    Binding("y", "copy_trace_id", "Copy id", show=False),
    Binding("w", "open_web", "MLflow UI", show=False),
]


class FeatureActions(_Base):
    """Actions behind FEATURE_BINDINGS."""

    sequence_shown: bool = False

    # -- which trace -----------------------------------------------------------------------

    def target_trace_id(self) -> str | None:
        focused = self.screen.focused
        if isinstance(focused, AnswerMessage):
            return focused.trace_id
        if focused is not None and self.chat_pane in focused.ancestors_with_self:
            traced = [answer.trace_id for answer in self.chat_pane.answers if answer.trace_id]
            return traced[-1] if traced else None
        return self.trace_list.highlighted_trace_id

    def _need_trace(self) -> str | None:
        trace_id = self.target_trace_id()
        if trace_id is None:
            self.notify("No trace chosen: highlight one in the list first.", severity="warning")
        elif self.client is None:
            self.notify("Not connected to a tracking server yet.", severity="warning")
            return None
        return trace_id

    # -- sequence view ---------------------------------------------------------------------

    def action_toggle_sequence(self) -> None:
        """Show the selected trace as a sequence diagram instead of its span tree, or back."""
        self.sequence_shown = not self.sequence_shown
        self.query_one("#tree-switcher").current = "sequence" if self.sequence_shown else "span-tree"
        self.show_tree_title()

    def show_tree_title(self) -> None:
        """The span pane's title: which view it shows and, for the tree, the trace's span count."""
        trace = self.sequence_view.trace  # the trace both views show
        if self.sequence_shown:
            title = "Sequence"
        elif trace is None:
            title = "Spans"
        else:
            title = f"Spans — {len(trace.spans)}"
        self.query_one("#tree-pane").border_title = title

    # -- feedback --------------------------------------------------------------------------

    def action_feedback(self) -> None:
        trace_id = self._need_trace()
        if trace_id is None:
            return
        info = self.trace_list.infos.get(trace_id)
        self.push_screen(FeedbackScreen(self.client, trace_id, info), self._feedback_done)

    def _feedback_done(self, sent: FeedbackSent | None) -> None:
        if sent is None:
            return
        info = self.trace_list.infos.get(sent.trace_id)
        if info is not None:  # show the vote now; the next poll brings the server's copy
            self.trace_list.apply([], [with_assessment(info, sent.assessment)])

    # -- sessions --------------------------------------------------------------------------

    def action_sessions(self) -> None:
        if self.client is None or self.experiment is None:
            self.notify("Not connected to an experiment yet.", severity="warning")
            return
        screen = SessionsScreen(self.client, self.experiment.experiment_id, tz=self.tz)
        self.push_screen(screen, self._session_chosen)

    def _session_chosen(self, session_id: str | None) -> None:
        if session_id is not None:
            self.resume_session(session_id)

    @work(exclusive=True, group="resume-session", exit_on_error=False)
    async def resume_session(self, session_id: str) -> None:
        experiment_id = self.experiment.experiment_id
        try:
            turns = await session_turns(self.client, experiment_id, session_id)
        except Exception as error:  # noqa: BLE001 - a sentence, not a traceback
            self.notify(one_line(str(error), 300), severity="error", markup=False)
            return
        if not self.chat_shown:
            self.chat_shown = True
        await load_session_into_chat(self.chat_pane, session_id, turns)
        self.chat_pane.focus_input()

    # -- export, copy, web -----------------------------------------------------------------

    def action_export_trace(self) -> None:
        trace_id = self._need_trace()
        if trace_id is not None:
            self._export(trace_id)

    @work(group="export", exit_on_error=False)
    async def _export(self, trace_id: str) -> None:
        exported = await export_trace_json(self.client, trace_id)
        self.notify(exported.sentence, severity="information" if exported.ok else "error", markup=False)

    def action_copy_trace_id(self) -> None:
        trace_id = self.target_trace_id()
        if trace_id is None:
            self.notify("No trace chosen: highlight one in the list first.", severity="warning")
            return
        copy_text(self, trace_id, "the trace id")

    def action_open_web(self) -> None:
        trace_id = self._need_trace()
        if trace_id is None or self.experiment is None:
            return
        info = self.trace_list.infos.get(trace_id)
        experiment_id = info.experiment_id if info is not None else self.experiment.experiment_id
        self.push_screen(WebLinkScreen(self.client.base_url, experiment_id, trace_id))

    # -- numbers ---------------------------------------------------------------------------

    def update_stats(self) -> None:
        """Redraw the sparklines from the rows the list holds (call after each applied poll)."""
        from tracetui.tracking.summaries import model_of

        infos = self.trace_list.infos
        self.stats_bar.show(infos.values(), model_of=model_of(self.trace_list.summaries, infos))
