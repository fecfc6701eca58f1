"""The tracetui app: chat pane left, live trace list top right, span tree and span detail bottom right.

This module holds the app's parts and layout; its behaviour lives in two mixins:
`live_listing.LiveListing` (connecting, choosing the experiment, polling, the
trace in the tree; workers post typed messages, handlers own the state) and
`app_actions.KeyActions` (what the keys do). `make_app` is the one factory for
the command line and the tests.

The chat pane's session traces each turn into the experiment being watched, on
the same backend with the same credentials (`chat.watched_sink.WatchedExperimentSink`);
a finished turn polls at once so its trace shows up without waiting a period.
litellm is imported only when the chat is first used, so start-up stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone, tzinfo
from typing import Any

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Footer, Input

from tracetui.chat.session import ChatSession
from tracetui.chat.watched_sink import WatchedExperimentSink
from tracetui.config import TrackingSettings
from tracetui.tracking.models import Experiment
from tracetui.ui.app_actions import KeyActions
from tracetui.ui.feature_actions import FEATURE_BINDINGS, FeatureActions
from tracetui.ui.live_listing import LiveListing
from tracetui.ui.widgets.chat_pane import ChatPane
from tracetui.ui.widgets.sequence_view import SequenceView
from tracetui.ui.widgets.span_detail import SpanDetail
from tracetui.ui.widgets.span_tree import SpanTree
from tracetui.ui.widgets.stats_bar import StatsBar
from tracetui.ui.widgets.status_bar import CONNECTING, StatusBar
from tracetui.ui.widgets.trace_list import TraceList

DEFAULT_POLL_INTERVAL_S = 1.0
CHAT_MIN_WIDTH = 100  # below this many columns the chat starts hidden; `c` swaps it with the viewer
SIDE_BY_SIDE_MIN_WIDTH = 80  # the span tree and detail sit side by side when the right column is this wide
SHORT_MAX_HEIGHT = 31  # at this many rows or fewer the list and the spans share the height evenly
STATS_MIN_HEIGHT = 40  # the 3-row stats bar shows from this many rows: at 24 it would leave 4 list rows


class Pane(Vertical):
    """A titled pane that `z` can zoom to the whole screen (Textual's maximize)."""

    ALLOW_MAXIMIZE = True


class TraceTuiApp(LiveListing, KeyActions, FeatureActions, App[int]):
    """The dashboard. Build it with `make_app`; `run_app` runs it for the command line."""

    CSS_PATH = "app.tcss"
    TITLE = "tracetui"
    ENABLE_COMMAND_PALETTE = True
    # The status line stays visible when a pane is zoomed.
    ALLOW_IN_MAXIMIZED_VIEW = "Footer, StatusBar"

    # Letters never fire while typing: the prompt and filter Inputs consume printable keys.
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("slash", "filter", "Filter"),
        Binding("f", "toggle_follow", "Follow"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("e", "experiments", "Experiments"),
        Binding("z", "zoom", "Zoom"),
        Binding("c", "toggle_chat", "Chat"),
        Binding("i", "focus_chat", "Ask", show=False),
        Binding("r", "poll_now", "Poll now", show=False),
        # s + S x y w (feature_actions.py); none of them is taken above.
        *FEATURE_BINDINGS,
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
    ) -> None:
        super().__init__()
        self.settings = settings
        self.experiment_selector = experiment
        self.initial_trace_id = trace_id
        self.model = model
        self.ollama_url = ollama_url
        self.backend = backend
        self.owns_backend = backend is None  # a backend we resolved (maybe a local server) we close
        self.client = client
        self.owns_client = client is None
        self.chat_session = chat_session  # a seam for tests; by default made on first use
        self.chat_sink = self.new_chat_sink(settings, experiment, backend)
        self.poll_interval_s = poll_interval_s
        self.tz = tz
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        # State owned by the handlers (live_listing.py, app_actions.py).
        self.experiment: Experiment | None = None
        self.experiment_chosen_by_user = False  # then a late automatic choice is ignored
        self.live: Any = None  # the LiveTraceList the table shows
        self.candidate_live: Any = None  # a filtered list waiting for the server's verdict
        self.candidate_filter: str | None = None
        self.filter_string: str | None = None
        self.follow = True
        self.paused = False
        self.poll_failures = 0
        self.trace_failures = 0
        self.poll_timer: Timer | None = None
        self.wanted_trace_id: str | None = None  # the trace the tree should show
        self.shown_trace_id: str | None = None  # the trace the tree shows
        self.open_when_listed: str | None = trace_id  # select this row once it is listed
        self.chat_choice: bool | None = None  # the person's `c`; None: by terminal width
        self.experiment_missing: str | None = None  # --experiment NAME, not on the server yet
        self.listed_sentence: str | None = None  # "Experiment X: N traces listed.", kept true

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: handlers never query for them (no lookups per poll, none after exit).
        self.chat_pane = ChatPane(self.chat_session or self.new_chat_session, id="chat")
        self.filter_box = Input(
            placeholder="MLflow filter, e.g. status = 'ERROR' — Enter applies, Esc closes", id="filter"
        )
        self.trace_list = TraceList(id="traces", tz=self.tz, clock=self.clock)
        self.span_tree = SpanTree(id="span-tree")
        self.sequence_view = SequenceView(id="sequence")
        self.stats_bar = StatsBar(id="stats")
        self.span_detail = SpanDetail(id="span-detail")
        self.status = StatusBar(id="status", tz=self.tz)
        with Horizontal(id="main"):
            yield self.chat_pane
            with Vertical(id="right"):
                with Pane(id="traces-pane"):
                    yield self.filter_box
                    yield self.trace_list
                    yield self.stats_bar
                with Horizontal(id="spans-pane"):
                    with Pane(id="tree-pane"):
                        with ContentSwitcher(id="tree-switcher", initial="span-tree"):
                            yield self.span_tree
                            yield self.sequence_view
                    with Pane(id="detail-pane"):
                        yield self.span_detail
        yield self.status
        yield Footer()

    @staticmethod
    def new_chat_sink(
        settings: TrackingSettings, experiment: str | None, backend: Any
    ) -> WatchedExperimentSink:
        """Where chat turns are traced: the watched experiment, or the outbox until it is known."""
        from tracetui.tracking.connection import outbox_server

        server = getattr(backend, "outbox_server", None) or outbox_server(settings)
        return WatchedExperimentSink(settings, server=server, asked_for=experiment)

    def new_chat_session(self) -> ChatSession:
        """The chat's session: `--model`, `--ollama-url`, and turns traced into the watched experiment."""
        options: dict[str, Any] = {"model": self.model} if self.model else {}
        return ChatSession(ollama_url=self.ollama_url, tracer=self.chat_sink, **options)

    def on_mount(self) -> None:
        self.query_one("#traces-pane").border_title = "Traces"
        self.query_one("#tree-pane").border_title = "Spans"
        self.query_one("#detail-pane").border_title = "Span"
        self.chat_pane.border_title = "Chat"
        self.filter_box.display = False
        self.apply_layout()
        if self.chat_shown:
            self.chat_pane.focus_input()
        else:
            self.trace_list.focus()
        self.status.connection = CONNECTING
        self.status.say("Connecting to the tracking server…")
        self.connect()

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
        self.query_one("#right").display = not (chat_shown and self.narrow_screen)
        self.set_class(chat_shown and self.narrow_screen, "chat-only")
        right_width = self.size.width * (5 / 7 if chat_shown else 1)
        self.set_class(right_width < SIDE_BY_SIDE_MIN_WIDTH, "narrow")
        self.set_class(self.size.height <= SHORT_MAX_HEIGHT, "short")
        self.stats_bar.display = self.size.height >= STATS_MIN_HEIGHT

    # -- the chat ----------------------------------------------------------------------------

    def on_chat_pane_turn_finished(self, message: ChatPane.TurnFinished) -> None:
        if message.result.trace_id is not None:
            self.traces_arrived()
        self.show_waiting()

    def on_chat_pane_turns_waiting(self, message: ChatPane.TurnsWaiting) -> None:
        if message.sentence:  # why turns still wait (server down, credentials refused)
            self.status.say(message.sentence, error=True)
        if message.delivered:
            self.traces_arrived()
        self.show_waiting()

    def traces_arrived(self) -> None:
        """Chat turns were just traced: list them now (a missing experiment may exist now, too)."""
        if self.experiment is None and self.experiment_missing is not None:
            self.choose_experiment()
        else:
            self.poll_now()

    # -- palette and exit --------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Filter traces", "Filter the list with MLflow syntax (/)", self.action_filter)
        yield SystemCommand("Toggle follow", "Always show the newest trace (f)", self.action_toggle_follow)
        yield SystemCommand(
            "Pause / resume", "Stop or restart polling the server (p)", self.action_toggle_pause
        )
        yield SystemCommand(
            "Switch experiment", "List every experiment with its trace count (e)", self.action_experiments
        )
        yield SystemCommand("Zoom pane", "Zoom the focused pane, or restore the layout (z)", self.action_zoom)
        yield SystemCommand("Show / hide chat", "Toggle the chat pane (c)", self.action_toggle_chat)
        yield SystemCommand("Poll now", "Fetch the trace list at once (r)", self.action_poll_now)
        yield SystemCommand(
            "Sequence / tree", "The trace as a sequence diagram, or back (s)", self.action_toggle_sequence
        )
        yield SystemCommand("Feedback", "Thumbs up or down on the trace (+)", self.action_feedback)
        yield SystemCommand("Sessions", "Resume a past chat session (S)", self.action_sessions)
        yield SystemCommand("Export trace", "Save the trace as JSON (x)", self.action_export_trace)
        yield SystemCommand("Copy trace id", "To the clipboard (y)", self.action_copy_trace_id)
        yield SystemCommand("Open in MLflow", "The trace's web UI link (w)", self.action_open_web)
        yield SystemCommand("Key help", "Every key tracetui answers to (?)", self.action_help)
        yield from self.chat_pane.system_commands()

    async def on_unmount(self) -> None:
        # Closing must never turn a clean exit into a traceback.
        if self.owns_client and self.client is not None:
            try:
                await self.client.aclose()
            except Exception:
                pass
        try:
            self.chat_sink.close()
        except Exception:
            pass


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
    keyword-only seams: `client`, `chat_session`, `poll_interval_s`, `tz`, `clock`.
    """
    return TraceTuiApp(settings, experiment, trace_id, model, ollama_url, backend, **options)


def run_app(
    settings: TrackingSettings,
    experiment: str | None = None,
    trace_id: str | None = None,
    model: str | None = None,
    ollama_url: str | None = None,
) -> int:
    """Run the dashboard until the person quits; stop a local server the app started; the exit code."""
    app = make_app(settings, experiment, trace_id, model, ollama_url)
    try:
        app.run()
    finally:
        if app.owns_backend and app.backend is not None:
            app.backend.close()
    return app.return_code or 0
