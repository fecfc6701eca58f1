"""The tracetui app: chat pane left, live trace list top right, span tree and span detail bottom right.

Start-up never blocks the first frame: the backend (possibly a local MLflow
server, ~10 s) is resolved in a thread worker, then async workers choose the
experiment and poll. Workers do I/O and post typed messages (`messages.py`);
the handlers here own the state. One `Worker.StateChanged` handler turns any
worker failure into a sentence on the status line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone, tzinfo
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input
from textual.worker import Worker, WorkerState

from tracetui.config import TrackingSettings
from tracetui.tracking.errors import InvalidFilter, TraceNotReady, TrackingError
from tracetui.tracking.models import Experiment
from tracetui.ui.experiment_queries import experiment_summaries, experiment_with_newest_trace
from tracetui.ui.messages import (
    BackendReady,
    ExperimentOpened,
    FilterRejected,
    ShowTrace,
    TraceLoaded,
    TracePending,
    TracesPolled,
)
from tracetui.ui.screens.experiments import ExperimentSwitcher
from tracetui.ui.screens.help import HelpScreen
from tracetui.ui.widgets.chat_placeholder import ChatPlaceholder
from tracetui.ui.widgets.span_detail import SpanDetail
from tracetui.ui.widgets.span_tree import SpanTree
from tracetui.ui.widgets.status_bar import CONNECTED, CONNECTING, DISCONNECTED, StatusBar
from tracetui.ui.widgets.trace_list import TraceList
from tracetui.visible import one_line

DEFAULT_POLL_INTERVAL_S = 1.0
MAX_RETRY_S = 30.0  # back-off cap after failed polls
PENDING_RETRY_S = 1.0  # a trace not fully exported yet is fetched again after this


class Pane(Vertical):
    """A titled pane that `z` can zoom to the whole screen (Textual's maximize)."""

    ALLOW_MAXIMIZE = True


def sentence_for(error: BaseException) -> str:
    """One sentence a person can act on; tracking errors already are one."""
    if isinstance(error, TrackingError):
        return str(error)
    return f"Unexpected {type(error).__name__}: {one_line(str(error), 200)}"


class TraceTuiApp(App[int]):
    """The dashboard. Build it with `make_app`; `run_app` runs it for the command line."""

    CSS_PATH = "app.tcss"
    TITLE = "tracetui"
    ENABLE_COMMAND_PALETTE = True
    # The status line stays visible when a pane is zoomed.
    ALLOW_IN_MAXIMIZED_VIEW = "Footer, StatusBar"

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("slash", "filter", "Filter"),
        Binding("f", "toggle_follow", "Follow"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("e", "experiments", "Experiments"),
        Binding("z", "zoom", "Zoom"),
        Binding("r", "poll_now", "Poll now", show=False),
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
        self.poll_interval_s = poll_interval_s
        self.tz = tz
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        # State owned by the handlers below.
        self.experiment: Experiment | None = None
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

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ChatPlaceholder(id="chat")
            with Vertical(id="right"):
                with Pane(id="traces-pane"):
                    yield Input(
                        placeholder="MLflow filter, e.g. status = 'ERROR' — Enter applies, Esc closes",
                        id="filter",
                    )
                    yield TraceList(id="traces", tz=self.tz, clock=self.clock)
                with Horizontal(id="spans-pane"):
                    with Pane(id="tree-pane"):
                        yield SpanTree(id="span-tree")
                    with Pane(id="detail-pane"):
                        yield SpanDetail(id="span-detail")
        yield StatusBar(id="status", tz=self.tz)
        yield Footer()

    @property
    def trace_list(self) -> TraceList:
        return self.query_one(TraceList)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        self.query_one("#traces-pane").border_title = "Traces"
        self.query_one("#tree-pane").border_title = "Spans"
        self.query_one("#detail-pane").border_title = "Span"
        self.query_one("#filter").display = False
        self.trace_list.focus()
        self.status.connection = CONNECTING
        self.status.say("Connecting to the tracking server…")
        self.connect()

    def on_resize(self) -> None:
        # Below 120 columns the span detail goes under the tree instead of beside it.
        self.set_class(self.size.width < 120, "narrow")

    # -- connecting --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False)
    def connect(self) -> None:
        """Resolve the backend in a thread: starting a local server blocks for ~10 s."""
        backend = self.backend
        if backend is None:
            from tracetui.tracking.connection import resolve_backend

            def starting(store_uri: str) -> None:
                self.call_from_thread(self.status.say, f"Starting a local MLflow server over {store_uri} …")

            backend = resolve_backend(self.settings, on_starting=starting)
            if not self.is_running:  # the person quit while the server was starting: stop it
                backend.close()
                return
        self.post_message(BackendReady(backend, self.client))

    def on_backend_ready(self, message: BackendReady) -> None:
        self.backend = message.backend
        if self.client is None:
            from tracetui.tracking.client import TrackingClient

            self.client = TrackingClient(self.settings, message.backend.base_url)
        self.status.server = message.backend.describe()
        self.status.say("Connected; choosing the experiment…")
        self.choose_experiment()

    @work(exclusive=True, group="experiment", exit_on_error=False)
    async def choose_experiment(self) -> None:
        """--trace's experiment, else --experiment, else the one with the newest trace."""
        client = self.client
        if self.initial_trace_id:
            try:
                trace = await client.get_trace(self.initial_trace_id)
            except TraceNotReady:
                trace = None  # shown once exported; the experiment comes from the selector
            if trace is not None:
                self.post_message(ExperimentOpened(await client.get_experiment(trace.info.experiment_id)))
                self.post_message(TraceLoaded(trace))
                return
        if self.experiment_selector:
            experiment = await client.resolve_experiment(self.experiment_selector)
        else:
            experiment = await experiment_with_newest_trace(client)
        self.post_message(ExperimentOpened(experiment))

    def on_experiment_opened(self, message: ExperimentOpened) -> None:
        from tracetui.tracking.live import LiveTraceList

        self.experiment = message.experiment
        self.status.experiment = message.experiment.name
        self.live = LiveTraceList([message.experiment.experiment_id], filter_string=self.filter_string)
        self.candidate_live = None
        self.poll_failures = 0
        if self.initial_trace_id is None or self.shown_trace_id != self.initial_trace_id:
            self.query_one(SpanTree).clear_trace()
            self.query_one(SpanDetail).clear_span()
            self.shown_trace_id = self.wanted_trace_id = None
        self.poll_now(replace=True)

    # -- polling -----------------------------------------------------------------------------

    def poll_now(self, replace: bool = False) -> None:
        """Poll at once (unless paused); the next poll is armed when this one finishes."""
        if self.poll_timer is not None:
            self.poll_timer.stop()
            self.poll_timer = None
        if self.paused or self.live is None or self.client is None:
            return
        self.poll(self.live, replace)

    def arm_poll(self, delay_s: float) -> None:
        if self.poll_timer is not None:
            self.poll_timer.stop()
        self.poll_timer = None if self.paused else self.set_timer(delay_s, self.poll_now)

    @work(exclusive=True, group="poll", exit_on_error=False)
    async def poll(self, live: Any, replace: bool) -> None:
        update = await live.poll(self.client)
        self.post_message(
            TracesPolled(live, update.added, update.changed, len(live.traces), self.clock(), replace)
        )

    @work(exclusive=True, group="poll", exit_on_error=False)
    async def try_filter(self, candidate: Any, filter_string: str) -> None:
        """Poll a filtered list once; the server's verdict decides whether it replaces the table."""
        try:
            update = await candidate.poll(self.client)
        except InvalidFilter as error:
            self.post_message(FilterRejected(filter_string, str(error)))
            return
        self.post_message(
            TracesPolled(candidate, update.added, update.changed, len(candidate.traces), self.clock(), True)
        )

    def on_traces_polled(self, message: TracesPolled) -> None:
        adopted = message.source is self.candidate_live
        if adopted:
            self.live, self.candidate_live = self.candidate_live, None
            self.filter_string = self.candidate_filter
            self.status.say(
                f"Filter applied: {one_line(self.filter_string, 80)}"
                if self.filter_string
                else "Filter cleared."
            )
        elif message.source is not self.live:
            return  # from a list we no longer show (experiment or filter changed meanwhile)
        table = self.trace_list
        table.apply(message.added, message.changed, replace=message.replace, follow=self.follow)
        if message.replace and self.experiment is not None and not adopted:
            count = table.row_count
            self.status.say(f"Experiment {one_line(self.experiment.name, 60)}: {count} traces listed.")
        if self.poll_failures:
            self.status.say("Connected again.")
        self.poll_failures = 0
        self.status.connection = CONNECTED
        self.status.retry_in_s = None
        self.status.last_poll = message.polled_at
        self.status.trace_count = table.row_count
        self.after_rows_changed(message.changed)
        self.arm_poll(self.poll_interval_s)

    def after_rows_changed(self, changed: Iterable[Any]) -> None:
        """Keep the tree on the right trace: the newest in follow mode, or one asked for by id."""
        table = self.trace_list
        if self.open_when_listed and table.select_trace(self.open_when_listed):
            self.follow = self.status.follow = False
            self.open_trace(self.open_when_listed)
            self.open_when_listed = None
        elif self.follow and table.newest_trace_id is not None:
            table.select_trace(table.newest_trace_id)
            self.open_trace(table.newest_trace_id)
        if any(info.trace_id == self.shown_trace_id for info in changed):
            self.open_trace(self.shown_trace_id, reload=True)  # it finished, or gained spans

    # -- traces ------------------------------------------------------------------------------

    def open_trace(self, trace_id: str | None, *, reload: bool = False) -> None:
        if trace_id is None or self.client is None:
            return
        if not reload and trace_id in (self.wanted_trace_id, self.shown_trace_id):
            return
        self.wanted_trace_id = trace_id
        self.load_trace(trace_id)

    @work(exclusive=True, group="trace", exit_on_error=False)
    async def load_trace(self, trace_id: str) -> None:
        try:
            trace = await self.client.get_trace(trace_id)
        except TraceNotReady:
            self.post_message(TracePending(trace_id))
            return
        self.post_message(TraceLoaded(trace))

    def on_trace_loaded(self, message: TraceLoaded) -> None:
        trace_id = message.trace.info.trace_id
        if self.wanted_trace_id not in (None, trace_id):
            return  # an older request; a newer one is on its way
        self.wanted_trace_id = self.shown_trace_id = trace_id
        self.trace_failures = 0
        self.query_one(SpanTree).show_trace(message.trace)
        self.query_one("#tree-pane").border_title = f"Spans — {len(message.trace.spans)}"

    def retry_trace_later(self) -> None:
        """A failed fetch (a timeout on a huge trace, a dropped connection) is tried again, backing off."""
        trace_id = self.wanted_trace_id
        if trace_id is None:
            return
        self.trace_failures += 1
        delay_s = min(MAX_RETRY_S, 2.0**self.trace_failures)

        def again() -> None:
            if self.wanted_trace_id == trace_id and self.shown_trace_id != trace_id:
                self.load_trace(trace_id)

        self.set_timer(delay_s, again)

    def on_trace_pending(self, message: TracePending) -> None:
        if message.trace_id != self.wanted_trace_id:
            return
        self.status.say(f"Trace {message.trace_id} is pending (not fully exported yet), fetching again…")

        def again() -> None:
            if self.wanted_trace_id == message.trace_id:
                self.load_trace(message.trace_id)

        self.set_timer(PENDING_RETRY_S, again)

    @on(SpanTree.SpanHighlighted)
    def show_span(self, message: SpanTree.SpanHighlighted) -> None:
        self.query_one(SpanDetail).show_span(message.span, message.trace)

    @on(DataTable.RowHighlighted, "#traces")
    def row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.open_trace(event.row_key.value)

    @on(DataTable.RowSelected, "#traces")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter: open the trace and go to its spans."""
        self.open_trace(event.row_key.value)
        self.query_one(SpanTree).focus()

    @on(TraceList.MovedByUser)
    def moved_by_user(self, message: TraceList.MovedByUser) -> None:
        if self.follow and message.trace_id != self.trace_list.newest_trace_id:
            self.follow = self.status.follow = False
            self.status.say("Follow mode off (f turns it back on).")

    def on_show_trace(self, message: ShowTrace) -> None:
        """Another pane (the chat) asks for a trace: select it when listed, show it now."""
        message.stop()
        if not self.trace_list.select_trace(message.trace_id):
            self.open_when_listed = message.trace_id
        self.open_trace(message.trace_id)

    # -- failures ----------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker failure becomes a sentence; polling and connecting retry with back-off."""
        if event.state != WorkerState.ERROR:
            return
        worker = event.worker
        sentence = sentence_for(worker.error) if worker.error is not None else "A background task failed."
        self.status.say(sentence, error=True)
        if worker.group == "poll" or worker.group == "experiment":
            self.poll_failures += 1
            delay_s = min(MAX_RETRY_S, self.poll_interval_s * 2**self.poll_failures)
            self.status.connection = DISCONNECTED
            self.status.retry_in_s = delay_s
            if worker.group == "poll":
                self.candidate_live = None
                self.arm_poll(delay_s)
            else:
                self.set_timer(delay_s, self.choose_experiment)
        elif worker.group == "trace":
            self.retry_trace_later()
        elif worker.group == "connect":
            self.status.connection = DISCONNECTED

    def on_filter_rejected(self, message: FilterRejected) -> None:
        self.candidate_live = None
        self.status.filter_string = self.filter_string or ""
        self.status.say(message.sentence, error=True)
        self.arm_poll(self.poll_interval_s)

    # -- actions -----------------------------------------------------------------------------

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
        self.poll_now()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.filter_string or ""
        box.focus()

    @on(Input.Submitted, "#filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        from tracetui.tracking.live import LiveTraceList

        event.stop()
        filter_string = event.value.strip()
        self.query_one("#filter").display = False
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
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            box.display = False
            self.trace_list.focus()
            event.stop()

    def action_experiments(self) -> None:
        if self.client is None:
            self.status.say("Not connected yet: experiments are listed once the server answers.", error=True)
            return

        def chosen(experiment: Experiment | None) -> None:
            if experiment is not None and experiment.experiment_id != getattr(
                self.experiment, "experiment_id", None
            ):
                self.follow = self.status.follow = True
                self.post_message(ExperimentOpened(experiment))

        current = self.experiment.experiment_id if self.experiment else None
        self.push_screen(ExperimentSwitcher(lambda: experiment_summaries(self.client), current), chosen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_zoom(self) -> None:
        """Zoom the focused pane to the whole screen, or restore the layout."""
        if self.screen.maximized is not None:
            self.screen.minimize()
        elif self.focused is not None:
            self.screen.maximize(self.focused)

    PANES = ("#chat", "#traces-pane", "#tree-pane", "#detail-pane")

    def _cycle_zoomed_pane(self, step: int) -> bool:
        """While zoomed, Tab shows the next pane zoomed (hidden panes are out of the focus chain)."""
        maximized = self.screen.maximized
        if maximized is None or self.screen is not self.screen_stack[0]:
            return False
        panes = [self.query_one(selector) for selector in self.PANES]
        index = next((i for i, pane in enumerate(panes) if pane is maximized), -1)
        target = panes[(index + step) % len(panes)]
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
        yield SystemCommand("Poll now", "Fetch the trace list at once (r)", self.action_poll_now)
        yield SystemCommand("Key help", "Every key tracetui answers to (?)", self.action_help)

    async def on_unmount(self) -> None:
        if self.owns_client and self.client is not None:
            try:
                await self.client.aclose()
            except Exception:  # closing must never turn a clean exit into a traceback
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
    keyword-only seams: `client`, `poll_interval_s`, `tz`, `clock`.
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
