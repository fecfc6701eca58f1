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

from tracetui.tracking.errors import ExperimentNotFound, InvalidFilter, TraceNotReady, TrackingError
from tracetui.ui.experiment_queries import experiment_with_newest_trace
from tracetui.ui.messages import (
    BackendReady,
    ExperimentMissing,
    ExperimentOpened,
    FilterRejected,
    ShowTrace,
    SummariesFetched,
    TraceLoaded,
    TracePending,
    TracesPolled,
)
from tracetui.ui.widgets.status_bar import CONNECTED, DISCONNECTED, STOPPED, problem_label
from tracetui.visible import one_line

if TYPE_CHECKING:
    from tracetui.ui.app import TraceTuiApp

    _Base = TraceTuiApp
else:
    _Base = object

MAX_RETRY_S = 30.0  # back-off cap after failed polls
PENDING_RETRY_S = 1.0  # a trace not fully exported yet is fetched again after this
MISSING_RECHECK_S = 5.0  # an experiment that does not exist yet is looked up again after this
APP_WORKER_GROUPS = frozenset({"connect", "experiment", "poll", "trace"})  # "summaries" fails quietly


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
                self.chat_sink.hold("The local MLflow server is still starting")
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
            try:
                experiment = await client.resolve_experiment(self.experiment_selector)
            except ExperimentNotFound:
                self.post_message(ExperimentMissing(self.experiment_selector))
                return
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
        self.experiment_missing = None
        self.status.experiment = message.experiment.name
        self.status.problem = ""
        self.live = LiveTraceList([message.experiment.experiment_id], filter_string=self.filter_string)
        self.candidate_live = None
        self.poll_failures = 0
        if self.backend is not None:
            self.chat_sink.watch(self.backend.base_url, message.experiment.experiment_id)
            # Turns asked before it was known, or left in its outbox by an earlier run.
            self.chat_pane.deliver_waiting()
        self.show_waiting()
        if self.initial_trace_id is None or self.shown_trace_id != self.initial_trace_id:
            self.span_tree.clear_trace()
            self.sequence_view.clear_trace()
            self.span_detail.clear_span()
            self.shown_trace_id = self.wanted_trace_id = None
            self.show_tree_title()
        self.poll_now(replace=True)

    def on_experiment_missing(self, message: ExperimentMissing) -> None:
        """The experiment asked for does not exist: a name is created by the first chat turn, an id never.

        Viewing alone creates nothing (a misspelt name must not become an experiment);
        the name is looked up again now and then, and at once after a chat turn is traced.
        """
        if not self.is_running or self.experiment_chosen_by_user or self.backend is None:
            return
        selector = message.selector
        server = self.backend.describe()
        self.status.retry_in_s = None
        self.poll_failures = 0
        if selector.isdigit():
            sentence = (
                f"There is no experiment with id {selector} on {server}, and an id cannot be created: "
                "press e to pick one, or start tracetui with --experiment NAME to create one by name."
            )
            self.chat_sink.hold(sentence)
            self.status.problem = "no such experiment"
            self.status.connection = STOPPED
            self.status.say(sentence, error=True)
        else:
            first_time = self.experiment_missing != selector
            self.experiment_missing = selector
            self.chat_sink.watch_by_name(self.backend.base_url, selector)
            self.status.connection = CONNECTED
            self.status.experiment = f"{selector} (new)"
            self.status.trace_count = 0
            self.status.last_poll = self.clock()
            if first_time:
                self.trace_list.apply([], [], replace=True)
                self.status.say(
                    f"Experiment {one_line(selector, 60)} does not exist yet on {server}; "
                    "the first chat turn will create it."
                )
                self.chat_pane.deliver_waiting()  # turns asked before the server answered create it
            self.set_timer(MISSING_RECHECK_S, self.recheck_missing_experiment)
        self.show_waiting()

    def recheck_missing_experiment(self) -> None:
        """Look the missing experiment up again (another program, or a chat turn, may have made it)."""
        if self.is_running and self.experiment is None and self.experiment_missing is not None:
            self.choose_experiment()

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
        listed = self.listed_sentence
        if (
            self.experiment is not None
            and not adopted
            and (message.replace or (listed is not None and self.status.sentence == listed))
        ):
            # Kept true as traces arrive, until another sentence takes its place.
            listed = f"Experiment {one_line(self.experiment.name, 60)}: {table.row_count} traces listed."
            self.status.say(listed)
            self.listed_sentence = listed
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
        self.summarize_rows_on_screen()
        self.deliver_outbox()
        self.arm_poll(self.poll_interval_s)

    # -- names and models of the rows on screen (their spans, fetched once each) --------------

    def summarize_rows_on_screen(self) -> None:
        if self.client is None:
            return
        wanted = self.trace_list.summaries.wanted(self.trace_list.visible_infos())
        if wanted:
            self.fetch_summaries(wanted)

    @work(group="summaries", exit_on_error=False)
    async def fetch_summaries(self, trace_ids: list[str]) -> None:
        from tracetui.tracking.summaries import fetch_summaries

        try:
            found = await fetch_summaries(self.client, trace_ids)
        except Exception:
            self.trace_list.summaries.forget_fetching(trace_ids)  # asked again on a later poll
            raise
        self.post_message(SummariesFetched(found))

    def on_summaries_fetched(self, message: SummariesFetched) -> None:
        if not self.is_running:
            return
        self.trace_list.show_summaries(message.summaries)
        self.update_stats()  # tokens per second grouped by the models just learnt

    def on_trace_list_scrolled(self, message: Any) -> None:
        self.summarize_rows_on_screen()

    def deliver_outbox(self) -> None:
        """The server answers: send the turns the outbox holds, and show what still waits."""
        if self.chat_sink.pending_count():
            self.chat_pane.deliver_waiting()
        self.show_waiting()

    def show_waiting(self) -> None:
        """Show what the outbox says waits (it owns the count; this only shows it). Lists folders."""
        waiting = self.chat_sink.waiting()
        self.status.turns_waiting = self.chat_pane.turns_waiting = waiting.here
        elsewhere = ""
        if len(waiting.elsewhere) == 1:
            folder = waiting.elsewhere[0]
            elsewhere = f"{folder.waiting} more for {folder.where}"
        elif waiting.elsewhere:
            elsewhere = f"{waiting.elsewhere_count} more for {len(waiting.elsewhere)} other experiments"
        self.status.waiting_elsewhere = elsewhere

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
        error = worker.error
        sentence = sentence_for(error) if error is not None else "A background task failed."
        self.status.say(sentence, error=True)
        if self.experiment is None:
            self.chat_sink.hold(sentence)  # a turn asked now waits, and says why
        if isinstance(error, TrackingError) and not error.retry_helps:
            self.stop_polling(error)
        elif worker.group == "poll" or worker.group == "experiment":
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
        self.show_waiting()

    def stop_polling(self, error: TrackingError) -> None:
        """A failure waiting cannot mend: say so (the sentence says what to do) and stop retrying.

        `r` tries again (after a permission was granted, say); new credentials need a restart.
        """
        if self.poll_timer is not None:
            self.poll_timer.stop()
            self.poll_timer = None
        self.candidate_live = None
        self.status.problem = problem_label(error)
        self.status.retry_in_s = None
        self.status.connection = STOPPED
