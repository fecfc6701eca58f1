"""The app's connection and live listing: backend, experiment, polling, and the trace the tree shows.

A mixin of `TraceTuiApp` (tracetui/ui/app.py). Start-up never blocks the first
frame: the backend (possibly a local MLflow server, ~10 s) is resolved in a
thread worker, then async workers choose the experiment and poll. Workers do
I/O and post typed messages (`messages.py`); the handlers here own the state.
One `Worker.StateChanged` handler turns any failure of the app's own workers
into a sentence on the status line, and retries with back-off.

Stale results are dropped, never shown: a poll's result names the
`LiveTraceList` it came from and only the list on screen (or a filter waiting
for its verdict) is applied; an automatic experiment choice that finishes after
the person picked one in the switcher is ignored; a trace fetched for a row the
person has since left is not shown.

Message handlers return at once once the app stops running: while Textual shuts
down it still delivers queued messages after the panes are gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.worker import Worker, WorkerState

from tracetui.tracking.compat import UnsupportedServer
from tracetui.tracking.errors import InvalidFilter, TraceNotReady, TrackingError
from tracetui.ui.experiment_queries import experiment_with_newest_trace
from tracetui.ui.messages import (
    BackendReady,
    ExperimentOpened,
    FilterRejected,
    ShowTrace,
    TraceLoaded,
    TracePending,
    TracesPolled,
)
from tracetui.ui.widgets.status_bar import CONNECTED, DISCONNECTED
from tracetui.visible import one_line

if TYPE_CHECKING:
    from tracetui.ui.app import TraceTuiApp

    _Base = TraceTuiApp
else:
    _Base = object

MAX_RETRY_S = 30.0  # back-off cap after failed polls
PENDING_RETRY_S = 1.0  # a trace not fully exported yet is fetched again after this
APP_WORKER_GROUPS = frozenset({"connect", "experiment", "poll", "trace"})


def sentence_for(error: BaseException) -> str:
    """One sentence a person can act on; tracking errors already are one."""
    if isinstance(error, TrackingError):
        return str(error)
    return f"Unexpected {type(error).__name__}: {one_line(str(error), 200)}"


class LiveListing(_Base):
    """Connecting, choosing the experiment, polling the list, and loading the trace for the tree."""

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
        if not self.is_running:
            return
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
        if self.experiment_chosen_by_user:
            return  # a retry after a failure, but the person has picked one meanwhile
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

        if not self.is_running:
            return
        if message.chosen_by_user:
            self.experiment_chosen_by_user = True
        elif self.experiment_chosen_by_user:
            return  # an automatic choice that finished after the person chose: theirs wins
        self.experiment = message.experiment
        self.status.experiment = message.experiment.name
        self.live = LiveTraceList([message.experiment.experiment_id], filter_string=self.filter_string)
        self.candidate_live = None
        self.poll_failures = 0
        if self.backend is not None:
            self.chat_sink.watch(self.backend.base_url, message.experiment.experiment_id)
            self.chat_pane.deliver_waiting()  # turns left in this experiment's outbox by an earlier run
        if self.initial_trace_id is None or self.shown_trace_id != self.initial_trace_id:
            self.span_tree.clear_trace()
            self.sequence_view.clear_trace()
            self.span_detail.clear_span()
            self.shown_trace_id = self.wanted_trace_id = None
            self.show_tree_title()
        self.poll_now(replace=True)

    # -- polling -----------------------------------------------------------------------------

    def poll_now(self, replace: bool = False) -> None:
        """Poll at once (unless paused); the next poll is armed when this one finishes."""
        if self.poll_timer is not None:
            self.poll_timer.stop()
            self.poll_timer = None
        if self.paused or self.live is None or self.client is None:
            return
        if not replace and self.candidate_live is not None:
            return  # a filter is being tried in the poll group; its result re-arms polling
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
        if not self.is_running:
            return
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
        if message.replace or message.added or message.changed:  # an idle poll redraws nothing
            self.update_stats()
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
        title = f"Traces — {table.row_count}"
        pane = self.query_one("#traces-pane")
        if pane.border_title != title:  # setting it repaints the whole pane, even when unchanged
            pane.border_title = title
        self.after_rows_changed(message.changed)
        self.deliver_outbox()
        self.arm_poll(self.poll_interval_s)

    def deliver_outbox(self) -> None:
        """The server answers: send the turns the outbox holds; else clear a stale "waiting" count.

        A delivery asked for while another runs reports the count from before the
        running one finished, and may arrive last; the outbox on disk is the truth.
        """
        if self.chat_pane.pending_count():
            self.chat_pane.deliver_waiting()
        elif self.status.turns_waiting:
            self.status.turns_waiting = self.chat_pane.turns_waiting = 0

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

    def on_filter_rejected(self, message: FilterRejected) -> None:
        if not self.is_running:
            return
        self.candidate_live = None
        self.status.filter_string = self.filter_string or ""
        self.status.say(message.sentence, error=True)
        self.arm_poll(self.poll_interval_s)

    # -- the trace in the tree ---------------------------------------------------------------

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
        if not self.is_running:
            return
        trace_id = message.trace.info.trace_id
        if self.wanted_trace_id not in (None, trace_id):
            return  # an older request; a newer one is on its way
        self.wanted_trace_id = self.shown_trace_id = trace_id
        self.trace_failures = 0
        self.span_tree.show_trace(message.trace)
        self.sequence_view.show_trace(message.trace)
        self.show_tree_title()

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
        if not self.is_running or message.trace_id != self.wanted_trace_id:
            return
        self.status.say(f"Trace {message.trace_id} is pending (not fully exported yet), fetching again…")

        def again() -> None:
            if self.wanted_trace_id == message.trace_id:
                self.load_trace(message.trace_id)

        self.set_timer(PENDING_RETRY_S, again)

    def on_show_trace(self, message: ShowTrace) -> None:
        """Another pane (the chat) asks for a trace: select its row (now or once listed), open its tree."""
        message.stop()
        if not self.is_running:
            return
        if self.narrow_screen and self.chat_shown and self.screen.maximized is None:
            self.chat_shown = False  # on a narrow screen the viewer takes the chat's place
            self.span_tree.focus()
        if not self.trace_list.select_trace(message.trace_id):
            self.open_when_listed = message.trace_id
            self.poll_now()  # a turn's trace is usually one poll away
        if self.follow:  # the person asked for this trace: newer ones must not take its place
            self.follow = self.status.follow = False
            self.status.say("Showing the asked-for trace; follow mode off (f turns it back on).")
        self.open_trace(message.trace_id)

    # -- failures ----------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every failure of the app's workers becomes a sentence; polling and connecting retry with back-off.

        Workers of other widgets (the chat pane, the switcher) report their own failures.
        """
        worker = event.worker
        if event.state != WorkerState.ERROR or worker.group not in APP_WORKER_GROUPS:
            return
        if not self.is_running:
            return
        sentence = sentence_for(worker.error) if worker.error is not None else "A background task failed."
        self.status.say(sentence, error=True)
        if isinstance(worker.error, UnsupportedServer):
            # Not MLflow, or an MLflow without traces: no retry can change that.
            self.status.retry_in_s = None
            return
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
