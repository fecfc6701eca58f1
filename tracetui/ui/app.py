"""The tracetui app: the chat on the left, the trace viewer on the right, the status line below.

The app composes the panes and keeps the layout (chat shown or not, zoom, Tab
between zoomed panes), the command palette and quit. Each pane owns its state:
the chat pane its conversation (tracetui/ui/widgets/chat_pane.py), the trace
viewer the server, the list and the spans (tracetui/ui/viewer/). The app routes
what one pane tells another: a chat turn's trace to the viewer, the viewer's
experiment to the chat's trace writer, a sentence to the status line, which
watches the viewer's state. `make_app` is the one factory for the command line
and the tests. litellm is imported only when the chat is first used, so
start-up stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from typing import Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from tracetui.chat.session import ChatSession
from tracetui.chat.watched_sink import Waiting, WatchedExperimentSink
from tracetui.config import TrackingSettings
from tracetui.ui.messages import Polled, Say, ShowTrace, TracingDestination
from tracetui.ui.screens.help import HelpScreen
from tracetui.ui.screens.sessions import SessionChoice, SessionsScreen
from tracetui.ui.viewer import compare_keys, saved_view_keys, trace_keys
from tracetui.ui.viewer.trace_viewer import TraceViewer
from tracetui.ui.widgets.chat_message import AnswerMessage
from tracetui.ui.widgets.chat_pane import ChatPane
from tracetui.ui.widgets.status_bar import StatusBar

DEFAULT_POLL_INTERVAL_S = 1.0
CHAT_MIN_WIDTH = 100  # below this many columns the chat starts hidden; `c` swaps it with the viewer
SIDE_BY_SIDE_MIN_WIDTH = 80  # the span tree and detail sit side by side when the right column is this wide
SHORT_MAX_HEIGHT = 31  # at this many rows or fewer the list and the spans share the height evenly
STATS_MIN_HEIGHT = 40  # the 3-row stats bar shows from this many rows: at 24 it would leave 4 list rows
# The panes `z` zooms and Tab cycles through while zoomed, in screen order.
PANES = ("#chat", "#traces-pane", "#tree-pane", "#detail-pane")


class TraceTuiApp(App[int]):
    """The dashboard. Build it with `make_app`; `run_app` runs it for the command line."""

    CSS_PATH = "app.tcss"
    TITLE = "tracetui"
    ENABLE_COMMAND_PALETTE = True
    ALLOW_IN_MAXIMIZED_VIEW = "Footer, StatusBar"  # the status line stays visible when a pane is zoomed

    # Letters never fire while typing: the prompt and filter Inputs consume printable keys.
    # The viewer's own keys (/ f p e r s) are its bindings; these act across panes.
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("z", "zoom", "Zoom"),
        Binding("c", "toggle_chat", "Chat"),
        Binding("i", "focus_chat", "Ask", show=False),
        Binding("plus", "feedback", "Feedback"),
        Binding("S", "sessions", "Sessions"),
        Binding("x", "export_trace", "Export", show=False),
        Binding("y", "copy_trace_id", "Copy id", show=False),
        Binding("w", "open_web", "MLflow UI", show=False),
        Binding("m", "mark", "Mark", show=False),  # for comparison (d); in the help
        Binding("d", "compare", "Compare", show=False),
        Binding("v", "views", "Views", show=False),  # saved filters; in the help and the palette
        Binding("u", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(
        self,
        settings: TrackingSettings,
        experiment: str | None = None,
        trace_id: str | None = None,
        model: str | None = None,
        ollama_url: str | None = None,
        backend: Any = None,
        *,
        client: Any = None,
        chat_session: ChatSession | None = None,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        tz: tzinfo | None = None,
        clock: Callable[[], datetime] | None = None,
        view: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.model = model
        self.ollama_url = ollama_url
        self.tz = tz
        self.chat_sink = new_chat_sink(settings, experiment, backend)
        self.chat_choice: bool | None = None  # the person's `c`; None: by terminal width
        # Kept as attributes: handlers never query for them (no lookups per poll, none after exit).
        self.chat_pane = ChatPane(chat_session or self.new_chat_session, id="chat")
        self.viewer = TraceViewer(
            settings,
            experiment,
            trace_id,
            backend=backend,
            client=client,
            poll_interval_s=poll_interval_s,
            tz=tz,
            clock=clock,
            initial_view=view,
        )
        self.status = StatusBar(id="status", tz=tz)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield self.chat_pane
            yield self.viewer
        yield self.status
        yield Footer()

    def new_chat_session(self) -> ChatSession:
        """The chat's session: `--model`, `--ollama-url`, and turns traced into the watched experiment."""
        options: dict[str, Any] = {"model": self.model} if self.model else {}
        return ChatSession(ollama_url=self.ollama_url, tracer=self.chat_sink, **options)

    def on_mount(self) -> None:
        self.chat_pane.border_title = "Chat"
        self.status.show_state_of(self.viewer)
        self.apply_layout()
        if self.chat_shown:
            self.chat_pane.focus_input()
        else:
            self.viewer.trace_list.focus()

    @property
    def chat_shown(self) -> bool:
        if self.chat_choice is not None:
            return self.chat_choice
        return self.size.width >= CHAT_MIN_WIDTH

    @chat_shown.setter
    def chat_shown(self, shown: bool) -> None:
        self.chat_choice = shown
        self.apply_layout()

    def on_resize(self) -> None:
        self.apply_layout()

    @property
    def narrow_screen(self) -> bool:
        """Too narrow for the chat beside the viewer: `c` switches between the two, each full width."""
        return self.size.width < CHAT_MIN_WIDTH

    def apply_layout(self) -> None:
        """Chat shown or hidden; the span detail beside the tree, or under it when the column is narrow."""
        chat_shown = self.chat_shown
        self.chat_pane.display = chat_shown
        self.viewer.display = not (chat_shown and self.narrow_screen)
        self.set_class(chat_shown and self.narrow_screen, "chat-only")
        right_width = self.size.width * (5 / 7 if chat_shown else 1)
        self.set_class(right_width < SIDE_BY_SIDE_MIN_WIDTH, "narrow")
        self.set_class(self.size.height <= SHORT_MAX_HEIGHT, "short")
        self.viewer.stats_bar.display = self.size.height >= STATS_MIN_HEIGHT

    def action_toggle_chat(self) -> None:
        """Show or hide the chat (hidden at first on a narrow screen, where it swaps with the viewer)."""
        self.chat_shown = not self.chat_shown
        if self.chat_shown:
            self.chat_pane.focus_input()
        elif self.focused is not None and self.chat_pane in self.focused.ancestors_with_self:
            self.viewer.trace_list.focus()

    def action_focus_chat(self) -> None:
        """Go to the chat prompt, showing the chat pane if it is hidden."""
        if not self.chat_shown:
            self.chat_shown = True
        if self.screen.maximized is not None and self.screen.maximized is not self.chat_pane:
            self.screen.maximize(self.chat_pane, container=False)
        self.chat_pane.focus_input()

    def on_key(self, event: Any) -> None:
        """Esc in the prompt (no answer streaming) leaves it; on a narrow screen, for the viewer."""
        if event.key == "escape" and self.chat_pane.input.has_focus and not self.chat_pane.answering:
            if self.narrow_screen and self.screen.maximized is None:
                self.chat_shown = False
            self.viewer.trace_list.focus()
            event.stop()

    # -- zoom --------------------------------------------------------------------------------

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

    # -- between the panes -------------------------------------------------------------------

    def on_say(self, message: Say) -> None:
        self.status.say(message.sentence, error=message.error, key=message.key, refresh=message.refresh)

    def on_show_trace(self, message: ShowTrace) -> None:
        """The chat asks for a turn's trace: on a narrow screen the viewer takes the chat's place."""
        message.stop()
        if self.narrow_screen and self.chat_shown and self.screen.maximized is None:
            self.chat_shown = False
            self.viewer.span_tree.focus()
        self.viewer.show_trace(message.trace_id)

    def on_tracing_destination(self, message: TracingDestination) -> None:
        """The viewer learnt where the chat's turns go: tell the trace writer, send what waits."""
        if message.base_url is None or message.experiment is None:
            self.chat_sink.hold(message.why)
        elif message.create:
            self.chat_sink.watch_by_name(message.base_url, message.experiment)
        else:
            self.chat_sink.watch(message.base_url, message.experiment)
        if self.chat_sink.destination is not None:
            self.chat_pane.deliver_waiting()  # turns asked before, or left by an earlier run
        self.show_waiting()

    def on_polled(self, message: Polled) -> None:
        """The server answers: send the turns the outbox holds, and show what still waits."""
        waiting = self.chat_sink.waiting()  # one listing of the outbox per poll
        if waiting.sendable:
            self.chat_pane.deliver_waiting()
        self.show_waiting(waiting)

    def on_chat_pane_turn_finished(self, message: ChatPane.TurnFinished) -> None:
        if message.result.trace_id is not None:
            self.viewer.traces_arrived()
        self.show_waiting()

    def on_chat_pane_turns_waiting(self, message: ChatPane.TurnsWaiting) -> None:
        if message.sentence:  # why turns still wait (server down, credentials refused)
            self.status.say(message.sentence, error=True)
        if message.delivered:
            self.viewer.traces_arrived()
        self.show_waiting()

    def show_waiting(self, waiting: Waiting | None = None) -> None:
        """Show what the outbox says waits (it owns the count; this only shows it). Lists folders."""
        waiting = self.chat_sink.waiting() if waiting is None else waiting
        self.status.turns_waiting = self.chat_pane.turns_waiting = waiting.here
        elsewhere = ""
        if len(waiting.elsewhere) == 1:
            folder = waiting.elsewhere[0]
            elsewhere = f"{folder.waiting} more for {folder.where}"
        elif waiting.elsewhere:
            elsewhere = f"{waiting.elsewhere_count} more for {len(waiting.elsewhere)} other experiments"
        self.status.waiting_elsewhere = elsewhere

    # -- keys that act on one trace, whichever pane it is in -----------------------------------

    def trace_in_question(self) -> str | None:
        """The focused answer's trace, the chat's latest while the chat has focus, else the list's row."""
        focused = self.screen.focused
        if isinstance(focused, AnswerMessage):
            trace_id = focused.trace_id
        elif focused is not None and self.chat_pane in focused.ancestors_with_self:
            traced = [answer.trace_id for answer in self.chat_pane.answers if answer.trace_id]
            trace_id = traced[-1] if traced else None
        else:
            trace_id = self.viewer.highlighted_trace_id
        if trace_id is None:
            self.notify("No trace chosen: highlight one in the list first.", severity="warning")
        return trace_id

    def action_feedback(self) -> None:
        if trace_id := self.trace_in_question():
            trace_keys.give_feedback(self.viewer, trace_id)

    def action_export_trace(self) -> None:
        if trace_id := self.trace_in_question():
            trace_keys.export_trace(self.viewer, trace_id)

    def action_copy_trace_id(self) -> None:
        if trace_id := self.trace_in_question():
            trace_keys.copy_trace_id(self.viewer, trace_id)

    def action_open_web(self) -> None:
        if trace_id := self.trace_in_question():
            trace_keys.open_in_mlflow(self.viewer, trace_id)

    def action_mark(self) -> None:
        compare_keys.toggle_mark(self.viewer)

    def action_compare(self) -> None:
        compare_keys.compare_with_mark(self.viewer)

    def action_views(self) -> None:
        saved_view_keys.open_views(self.viewer)

    def action_clear_filter(self) -> None:
        saved_view_keys.clear_filter(self.viewer)

    def action_sessions(self) -> None:
        """The experiment's chat sessions; the one chosen continues in the chat."""
        viewer = self.viewer
        if viewer.client is None or viewer.experiment is None:
            self.notify("Not connected to an experiment yet.", severity="warning")
            return
        screen = SessionsScreen(viewer.client, viewer.experiment.experiment_id, tz=self.tz)
        self.push_screen(screen, self.session_chosen)

    def session_chosen(self, choice: SessionChoice | None) -> None:
        """Resume the session in the chat, or show its turns in the list (a filter on its id)."""
        if choice is None:
            return
        if choice.action == "resume":
            self.resume_session(choice.session_id)
            return
        from tracetui.tracking.sessions import session_filter

        filter_string = session_filter(choice.session_id)
        if filter_string is None:
            self.notify(
                "This session id holds both quote characters, which an MLflow filter cannot express.",
                severity="error",
                markup=False,
            )
            return
        self.viewer.apply_filter(filter_string)
        self.viewer.trace_list.focus()

    @work(exclusive=True, group="resume-session", exit_on_error=False)
    async def resume_session(self, session_id: str) -> None:
        from tracetui.tracking.sessions import session_turns
        from tracetui.ui.session_resume import load_session_into_chat
        from tracetui.visible import one_line

        viewer = self.viewer
        try:
            turns = await session_turns(viewer.client, viewer.experiment.experiment_id, session_id)
        except Exception as error:  # noqa: BLE001 - a sentence, not a traceback
            self.notify(one_line(str(error), 300), severity="error", markup=False)
            return
        if not self.chat_shown:
            self.chat_shown = True
        await load_session_into_chat(self.chat_pane, session_id, turns)
        self.chat_pane.focus_input()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # -- palette and exit --------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        viewer = self.viewer
        yield SystemCommand("Filter traces", "Filter the list with MLflow syntax (/)", viewer.action_filter)
        yield SystemCommand("Toggle follow", "Always show the newest trace (f)", viewer.action_toggle_follow)
        yield SystemCommand(
            "Pause / resume", "Stop or restart polling the server (p)", viewer.action_toggle_pause
        )
        yield SystemCommand(
            "Switch experiment", "List every experiment with its trace count (e)", viewer.action_experiments
        )
        yield SystemCommand("Zoom pane", "Zoom the focused pane, or restore the layout (z)", self.action_zoom)
        yield SystemCommand("Show / hide chat", "Toggle the chat pane (c)", self.action_toggle_chat)
        yield SystemCommand("Poll now", "Fetch the trace list at once (r)", viewer.action_poll_now)
        yield SystemCommand(
            "Sequence / tree",
            "The trace as a sequence diagram, or back (s)",
            viewer.spans.action_toggle_sequence,
        )
        yield SystemCommand("Feedback", "Thumbs up or down on the trace (+)", self.action_feedback)
        yield SystemCommand(
            "Sessions", "Sessions with their totals: resume one, or list its turns (S)", self.action_sessions
        )
        yield SystemCommand("Export trace", "Save the trace as JSON (x)", self.action_export_trace)
        yield SystemCommand("Copy trace id", "To the clipboard (y)", self.action_copy_trace_id)
        yield SystemCommand("Open in MLflow", "The trace's web UI link (w)", self.action_open_web)
        yield from saved_view_keys.view_commands(viewer)
        yield SystemCommand("Key help", "Every key tracetui answers to (?)", self.action_help)
        yield from self.chat_pane.system_commands()

    async def on_unmount(self) -> None:
        try:  # closing must never turn a clean exit into a traceback
            self.chat_sink.close()
        except Exception:
            pass


def new_chat_sink(settings: TrackingSettings, experiment: str | None, backend: Any) -> WatchedExperimentSink:
    """Where chat turns are traced: the watched experiment, or the outbox until it is known."""
    from tracetui.tracking.connection import outbox_server

    server = getattr(backend, "outbox_server", None) or outbox_server(settings)
    return WatchedExperimentSink(settings, server=server, asked_for=experiment)


def make_app(
    settings: TrackingSettings,
    experiment: str | None = None,
    trace_id: str | None = None,
    model: str | None = None,
    ollama_url: str | None = None,
    backend: Any = None,
    **options: Any,
) -> TraceTuiApp:
    """The one factory for the command line and the tests.

    `backend` (with .base_url, .describe(), .close()) skips resolving one; a
    backend passed in is not closed by the app. `options` are TraceTuiApp's
    keyword-only seams: `client`, `chat_session`, `poll_interval_s`, `tz`, `clock`, `view`.
    """
    return TraceTuiApp(settings, experiment, trace_id, model, ollama_url, backend, **options)


def run_app(
    settings: TrackingSettings,
    experiment: str | None = None,
    trace_id: str | None = None,
    model: str | None = None,
    ollama_url: str | None = None,
    view: str | None = None,
) -> int:
    """Run the dashboard until the person quits; stop a local server the app started; the exit code."""
    app = make_app(settings, experiment, trace_id, model, ollama_url, view=view)
    try:
        app.run()
    finally:
        viewer = app.viewer
        if viewer.owns_backend and viewer.backend is not None:
            viewer.backend.close()
    return app.return_code or 0
