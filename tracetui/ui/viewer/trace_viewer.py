"""The right column: the live trace list of one experiment above the chosen trace's spans.

`TraceViewer` owns everything about watching a tracking server: the backend (a
local server it starts, ~10 s, in a thread worker), the client, the choice of
experiment, the live list and its poll (re-armed after each poll, backing off
on failures that waiting can mend, stopping on those it cannot), the filter,
follow and pause, and which trace the spans pane shows. Its state is a set of
reactives the status line watches (its sentences too: `said`), and
what the chat needs to know (where its turns go, when a poll succeeded) goes up
as messages the app routes (tracetui/ui/messages.py). Workers do I/O and post
messages; the handlers here own the state.

Stale results are dropped, never shown: a poll's result names the
`LiveTraceList` it came from and only the list on screen (or a filter waiting
for its verdict) is applied; an automatic experiment choice that finishes after
the person picked one is ignored; a trace fetched for a row since left is not
shown (spans_pane.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone, tzinfo
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import DataTable
from textual.worker import Worker, WorkerState

from tracetui.config import TrackingSettings
from tracetui.saved_views import ViewsError, ViewStore, starting_filter
from tracetui.tracking.errors import (
    ExperimentNotFound,
    InvalidFilter,
    TraceNotReady,
    TrackingError,
    failure_sentence,
)
from tracetui.tracking.experiments import count_traces, experiment_with_newest_trace
from tracetui.tracking.models import Experiment, TraceInfo
from tracetui.ui.messages import (
    BackendReady,
    ExperimentChosen,
    ExperimentMissing,
    FilterRejected,
    OlderTracesLoaded,
    Polled,
    Say,
    TracesPolled,
    TraceTotal,
    TracingDestination,
)
from tracetui.ui.screens.experiments import ExperimentSwitcher
from tracetui.ui.viewer.spans_pane import SpansPane
from tracetui.ui.viewer.traces_pane import TracesPane
from tracetui.ui.widgets.stats_bar import StatsBar
from tracetui.ui.widgets.status_bar import (
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    STARTING,
    STOPPED,
    problem_label,
)
from tracetui.ui.widgets.trace_list import TraceList
from tracetui.visible import one_line

MAX_RETRY_S = 30.0  # back-off cap after failed polls
MISSING_RECHECK_S = 5.0  # an experiment that does not exist yet is looked up again after this
# "summaries" and "count" fail quietly (a row's name, the "of N" in the title); "page" says so.
VIEWER_WORKER_GROUPS = frozenset({"connect", "experiment", "poll", "page"})


class TraceViewer(Vertical):
    """The live trace list and the chosen trace's spans, for one experiment of one tracking server."""

    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("f", "toggle_follow", "Follow"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("e", "experiments", "Experiments"),
        Binding("r", "poll_now", "Poll now", show=False),
        Binding("s", "toggle_sequence", "Sequence", show=False),  # in the help and the palette
    ]

    # What the status line shows (it watches these; tracetui/ui/widgets/status_bar.py).
    server: reactive[str] = reactive("")
    """The server in words, without credentials ("MLflow at http://h:5000")."""
    experiment_name: reactive[str] = reactive("")
    """The experiment listed ("name (new)" while the first chat turn has yet to create it)."""
    connection: reactive[str] = reactive(STARTING)
    """STARTING, CONNECTING, CONNECTED, DISCONNECTED (retrying) or STOPPED (waiting for the person)."""
    retry_in_s: reactive[float | None] = reactive(None)
    """While DISCONNECTED: when the next attempt is."""
    problem: reactive[str] = reactive("")
    """While STOPPED: what stopped it, in a few words."""
    trace_count: reactive[int | None] = reactive(None)
    """Rows in the list."""
    trace_total: reactive[int | None] = reactive(None)
    """Traces of the experiment on the server, where it counts them (unfiltered lists only)."""
    last_poll: reactive[datetime | None] = reactive(None, always_update=True)
    """When the list was last polled successfully."""
    follow: reactive[bool] = reactive(True)
    """Keep the newest trace selected and open."""
    paused: reactive[bool] = reactive(False)
    """Polling stopped by the person."""
    filter_string: reactive[str] = reactive("")
    """The MLflow filter applied to the list ("" for none)."""
    said: reactive[Say | None] = reactive(None, always_update=True, init=False)
    """The latest sentence for a person (the spans pane's too): the status line shows it at once."""

    def __init__(
        self,
        settings: TrackingSettings,
        experiment_selector: str | None = None,
        initial_trace_id: str | None = None,
        *,
        backend: Any = None,
        client: Any = None,
        poll_interval_s: float = 1.0,
        tz: tzinfo | None = None,
        clock: Callable[[], datetime] | None = None,
        initial_view: str | None = None,
        view_store: ViewStore | None = None,
        id: str | None = "right",
    ) -> None:
        super().__init__(id=id)
        self.initial_view = initial_view  # --view NAME: the filter the first experiment opens with
        self.filter_note: tuple[str, bool] | None = None  # where that filter came from, said once listed
        self.view_store = view_store or ViewStore()
        self.settings = settings
        self.experiment_selector = experiment_selector
        self.initial_trace_id = initial_trace_id
        self.backend = backend
        self.owns_backend = backend is None  # a backend resolved here (maybe a local server) is closed here
        self.client = client
        self.owns_client = client is None
        self.poll_interval_s = poll_interval_s
        self.tz = tz
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.experiment: Experiment | None = None
        self.experiment_chosen_by_user = False  # then a late automatic choice is ignored
        self.experiment_missing: str | None = None  # an --experiment name not on the server yet
        self.live: Any = None  # the LiveTraceList the table shows
        self.candidate_live: Any = None  # a filtered list waiting for the server's verdict
        self.poll_failures = 0
        self.poll_timer: Timer | None = None
        self.open_when_listed: str | None = initial_trace_id  # select this row once it is listed
        self.loading_older = False  # a page of older traces is on its way
        self.listed_sentence: str | None = None  # "Experiment X: N traces listed.", kept true
        self.traces = TracesPane(tz=tz, clock=self.clock)
        self.spans = SpansPane()

    def compose(self) -> ComposeResult:
        yield self.traces
        yield self.spans

    def on_mount(self) -> None:
        self.connection = CONNECTING
        self.say("Connecting to the tracking server…")
        self.connect()

    async def on_unmount(self) -> None:
        if self.owns_client and self.client is not None:
            try:
                await self.client.aclose()
            except Exception:  # closing must never turn a clean exit into a traceback
                pass

    def say(self, sentence: str, *, error: bool = False) -> None:
        self.said = Say(sentence, error)

    @on(Say)
    def _child_said(self, message: Say) -> None:
        message.stop()
        self.said = message

    @property
    def trace_list(self) -> TraceList:
        return self.traces.trace_list

    @property
    def stats_bar(self) -> StatsBar:
        return self.traces.stats_bar

    @property
    def span_tree(self) -> Any:
        return self.spans.span_tree

    @property
    def highlighted_trace_id(self) -> str | None:
        return self.trace_list.highlighted_trace_id

    # -- connecting --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False)
    def connect(self) -> None:
        """Resolve the backend in a thread: starting a local server blocks for ~10 s."""
        backend = self.backend
        if backend is None:
            from tracetui.tracking.connection import resolve_backend

            def starting(store_uri: str) -> None:
                self.post_message(
                    TracingDestination(None, None, why="The local MLflow server is still starting")
                )
                self.app.call_from_thread(self.say, f"Starting a local MLflow server over {store_uri} …")

            backend = resolve_backend(self.settings, on_starting=starting)
            if not self.app.is_running:  # the person quit while the server was starting: stop it
                backend.close()
                return
        self.post_message(BackendReady(backend))

    @on(BackendReady)
    def _backend_ready(self, message: BackendReady) -> None:
        self.backend = message.backend
        if self.client is None:
            from tracetui.tracking.client import TrackingClient

            self.client = TrackingClient(self.settings, message.backend.base_url)
        self.spans.client = self.traces.client = self.client
        self.server = message.backend.describe()
        self.say("Connected; choosing the experiment…")
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
                self.post_message(ExperimentChosen(await client.get_experiment(trace.info.experiment_id)))
                self.call_later(self.spans.show, trace)  # after the experiment is chosen: queued behind it
                return
        if self.experiment_selector:
            try:
                experiment = await client.resolve_experiment(self.experiment_selector)
            except ExperimentNotFound:
                self.post_message(ExperimentMissing(self.experiment_selector))
                return
        else:
            experiment = await experiment_with_newest_trace(client)
        self.post_message(ExperimentChosen(experiment))

    @on(ExperimentChosen)
    def _experiment_chosen(self, message: ExperimentChosen) -> None:
        from tracetui.tracking.live import LiveTraceList

        if message.chosen_by_user:
            self.experiment_chosen_by_user = True
        elif self.experiment_chosen_by_user:
            return  # an automatic choice that finished after the person chose: theirs wins
        experiment = message.experiment
        self.experiment, self.experiment_missing = experiment, None
        self.trace_total, self.loading_older = None, False
        self.experiment_name, self.problem = experiment.name, ""
        self.filter_string = self._starting_filter(experiment)
        self.live = LiveTraceList([experiment.experiment_id], filter_string=self.filter_string or None)
        self.candidate_live = None
        self.poll_failures = 0
        self._count_traces(self.live)
        if self.backend is not None:  # turns asked before, or left by an earlier run, go here
            self.post_message(TracingDestination(self.backend.base_url, experiment.experiment_id))
        if self.initial_trace_id is None or self.spans.shown_trace_id != self.initial_trace_id:
            self.spans.clear()
        self.poll_now(replace=True)

    def _starting_filter(self, experiment: Experiment) -> str:
        """--view's filter (the first experiment only), else the one last used on this experiment."""
        if self.backend is None:
            return ""
        view, self.initial_view = self.initial_view, None
        filter_string, self.filter_note = self._filter_and_note(experiment, view)
        return filter_string

    def _filter_and_note(
        self, experiment: Experiment, view: str | None
    ) -> tuple[str, tuple[str, bool] | None]:
        base_url = self.backend.base_url
        filter_string, sentence, error = starting_filter(
            self.view_store, base_url, experiment.experiment_id, experiment.name, view
        )
        return filter_string, None if sentence is None else (sentence, error)

    def _remember_filter(self) -> None:
        """The filter just applied comes back when this experiment is opened again."""
        if self.backend is None or self.experiment is None:
            return
        try:
            self.view_store.remember_last(
                self.backend.base_url, self.experiment.experiment_id, self.filter_string
            )
        except ViewsError as error:
            self.say(str(error), error=True)

    @on(ExperimentMissing)
    def _experiment_missing(self, message: ExperimentMissing) -> None:
        """The experiment asked for does not exist: a name is created by the first chat turn, an id never.

        Viewing alone creates nothing (a misspelt name must not become an experiment);
        the name is looked up again now and then, and at once after a chat turn is traced.
        """
        if self.experiment_chosen_by_user or self.backend is None:
            return
        selector, server = message.selector, self.backend.describe()
        self.retry_in_s, self.poll_failures = None, 0
        if selector.isdigit():
            sentence = (
                f"There is no experiment with id {selector} on {server}, and an id cannot be created: "
                "press e to pick one, or start tracetui with --experiment NAME to create one by name."
            )
            self.post_message(TracingDestination(None, None, why=sentence))
            self.problem, self.connection = "no such experiment", STOPPED
            self.say(sentence, error=True)
            return
        first_time = self.experiment_missing != selector
        self.experiment_missing = selector
        self.post_message(TracingDestination(self.backend.base_url, selector, create=True))
        self.connection, self.experiment_name = CONNECTED, f"{selector} (new)"
        self.trace_count, self.last_poll = 0, self.clock()
        if first_time:
            self.trace_list.apply([], [], replace=True)
            self.say(
                f"Experiment {one_line(selector, 60)} does not exist yet on {server}; "
                "the first chat turn will create it."
            )
        self.set_timer(MISSING_RECHECK_S, self._recheck_missing_experiment)

    def _recheck_missing_experiment(self) -> None:
        if self.experiment is None and self.experiment_missing is not None:
            self.choose_experiment()

    def traces_arrived(self) -> None:
        """Chat turns were just traced: list them now (a missing experiment may exist now, too)."""
        if self.experiment is None and self.experiment_missing is not None:
            self.choose_experiment()
        else:
            self.poll_now()

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
        self._poll(self.live, replace)

    def arm_poll(self, delay_s: float) -> None:
        if self.poll_timer is not None:
            self.poll_timer.stop()
        self.poll_timer = None if self.paused else self.set_timer(delay_s, self.poll_now)

    @work(exclusive=True, group="poll", exit_on_error=False)
    async def _poll(self, live: Any, replace: bool) -> None:
        update = await live.poll(self.client)
        self.post_message(TracesPolled(live, update.added, update.changed, self.clock(), replace))

    @work(exclusive=True, group="poll", exit_on_error=False)
    async def _try_filter(self, candidate: Any, filter_string: str) -> None:
        """Poll a filtered list once; the server's verdict decides whether it replaces the table."""
        try:
            update = await candidate.poll(self.client)
        except InvalidFilter as error:
            self.post_message(FilterRejected(str(error)))
            return
        self.post_message(TracesPolled(candidate, update.added, update.changed, self.clock(), True))

    @on(TracesPolled)
    def _traces_polled(self, message: TracesPolled) -> None:
        adopted = message.source is self.candidate_live
        if adopted:
            self.live, self.candidate_live = self.candidate_live, None
            self._remember_filter()
            self._count_traces(self.live)
            self.say(
                f"Filter applied: {one_line(self.filter_string, 80)}"
                if self.filter_string
                else "Filter cleared."
            )
        elif message.source is not self.live:
            return  # from a list no longer shown (experiment or filter changed meanwhile)
        self.traces.show(message.added, message.changed, replace=message.replace, follow=self.follow)
        self._say_listed(message.replace and not adopted)
        if self.filter_note is not None:  # where the list's filter came from, after "N traces listed"
            sentence, error = self.filter_note
            self.filter_note = None
            self.say(sentence, error=error)
        if self.poll_failures:
            self.say("Connected again.")
        self.poll_failures = 0
        self.connection, self.retry_in_s, self.problem = CONNECTED, None, ""
        self.last_poll = message.polled_at
        if self.trace_total is not None and not message.replace:
            self.trace_total += len(message.added)  # arrivals since the server counted
        self._show_count()
        self._keep_the_right_trace_open(message.changed)
        self.arm_poll(self.poll_interval_s)
        self.post_message(Polled())

    def _show_count(self) -> None:
        """The pane title and the status line's count: rows listed, and of how many."""
        self.trace_count = self.trace_list.row_count
        self.traces.show_count(self._listed())

    def _listed(self) -> str:
        """ "500 of 100,002", "500, more on the server", or "42": what is listed, and whether more exist."""
        from tracetui.tracking.counts import listed_label

        return listed_label(self.trace_list.row_count, self.trace_total, self._more_exist())

    def _more_exist(self) -> bool:
        """Older traces on the server than listed: the server's count says, else the last page did."""
        if self.trace_total is not None:
            return self.trace_list.row_count < self.trace_total
        return bool(self.live is not None and self.live.more_exist)

    # -- paging back: older traces as the person scrolls towards the end -----------------------

    @on(TraceList.NearEnd)
    def _near_end(self) -> None:
        live = self.live
        if self.loading_older or live is None or self.client is None or not live.more_exist:
            return
        if not self._more_exist():
            return  # the server's count says everything is listed
        self.loading_older = True
        self._load_older(live)

    @work(group="page", exit_on_error=False)
    async def _load_older(self, live: Any) -> None:
        update = await live.load_older(self.client)
        self.post_message(OlderTracesLoaded(live, update.added))

    @on(OlderTracesLoaded)
    def _older_loaded(self, message: OlderTracesLoaded) -> None:
        self.loading_older = False
        if message.source is not self.live:
            return
        self.traces.show(message.added, (), replace=False, follow=False, older=True)
        self._show_count()
        self._say_listed(False)
        self.trace_list.check_near_end()  # a fast scroller may already be past this page too

    @work(group="count", exit_on_error=False)
    async def _count_traces(self, live: Any) -> None:
        """The experiment's trace count from the server (unfiltered lists: a filter is not counted)."""
        from tracetui.tracking.counts import server_trace_count

        total = None if live.filter_string else await server_trace_count(self.client, live.experiment_ids)
        self.post_message(TraceTotal(live, total))

    @on(TraceTotal)
    def _trace_total(self, message: TraceTotal) -> None:
        if message.source is self.live:
            self.trace_total = message.total
            self._show_count()
            self._say_listed(False)

    def _say_listed(self, replaced: bool) -> None:
        """ "Experiment X: N traces listed.", kept true as traces arrive, until another sentence is shown."""
        if self.experiment is None:
            return
        more = self._more_exist()
        listed = f"Experiment {one_line(self.experiment.name, 60)}: {self._listed()} traces listed"
        listed += "; scroll down for older ones." if more else "."
        if replaced or listed != self.listed_sentence:
            self.listed_sentence = listed
            self.said = Say(listed, key="listed", refresh=not replaced)

    def _keep_the_right_trace_open(self, changed: Iterable[TraceInfo]) -> None:
        """The tree shows the newest trace in follow mode, or one asked for by id once listed."""
        table = self.trace_list
        if self.open_when_listed and table.select_trace(self.open_when_listed):
            self.follow = False
            self.spans.open(self.open_when_listed)
            self.open_when_listed = None
        elif self.follow and table.newest_trace_id is not None:
            table.select_trace(table.newest_trace_id)
            self.spans.open(table.newest_trace_id)
        if any(info.trace_id == self.spans.shown_trace_id for info in changed):
            self.spans.open(self.spans.shown_trace_id, reload=True)  # it finished, or gained spans

    # -- the trace in the tree ---------------------------------------------------------------

    def show_trace(self, trace_id: str) -> None:
        """Another pane (the chat) asks for a trace: select its row (now or once listed), open its tree."""
        if not self.trace_list.select_trace(trace_id):
            self.open_when_listed = trace_id
            self.poll_now()  # a turn's trace is usually one poll away
        if self.follow:  # the person asked for this trace: newer ones must not take its place
            self.follow = False
            self.say("Showing the asked-for trace; follow mode off (f turns it back on).")
        self.spans.open(trace_id)

    @on(DataTable.RowHighlighted, "#traces")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.spans.open(event.row_key.value)

    @on(DataTable.RowSelected, "#traces")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a trace: open it and go to its spans."""
        self.spans.open(event.row_key.value)
        self.spans.span_tree.focus()

    @on(TraceList.MovedByUser)
    def _moved_by_user(self, message: TraceList.MovedByUser) -> None:
        if self.follow and message.trace_id != self.trace_list.newest_trace_id:
            self.follow = False
            self.say("Follow mode off (f turns it back on).")

    # -- keys --------------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.say("Follow mode on: the newest trace is shown." if self.follow else "Follow mode off.")
        if self.follow:
            self._keep_the_right_trace_open(())

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            if self.poll_timer is not None:
                self.poll_timer.stop()
                self.poll_timer = None
            self.say("Paused: the list is not polled (p resumes).")
        else:
            self.say("Resumed.")
            self.poll_now()

    def action_toggle_sequence(self) -> None:
        self.spans.action_toggle_sequence()

    def action_poll_now(self) -> None:
        if self.live is None and self.client is not None:
            self.choose_experiment()  # nothing listed yet (it stopped, or the experiment is missing)
        else:
            self.poll_now()

    def action_filter(self) -> None:
        self.traces.open_filter(self.filter_string)

    @on(TracesPane.FilterSubmitted)
    def _filter_submitted(self, message: TracesPane.FilterSubmitted) -> None:
        self.apply_filter(message.filter_string)

    def apply_filter(self, filter_string: str) -> None:
        """Try the filter on the server ("" for none); the list changes only if the server accepts it."""
        from tracetui.tracking.live import LiveTraceList

        if self.experiment is None or self.client is None:
            self.say("Not connected yet; the filter applies once the list is loaded.", error=True)
            return
        if self.poll_timer is not None:
            self.poll_timer.stop()
        self.filter_string = filter_string
        self.candidate_live = LiveTraceList(
            [self.experiment.experiment_id], filter_string=filter_string or None
        )
        self.say("Applying the filter…")
        self._try_filter(self.candidate_live, filter_string)

    @on(FilterRejected)
    def _filter_rejected(self, message: FilterRejected) -> None:
        self.candidate_live = None
        self.filter_string = "" if self.live is None else (self.live.filter_string or "")
        self.say(message.sentence, error=True)
        self.arm_poll(self.poll_interval_s)

    def action_experiments(self) -> None:
        if self.client is None:
            self.say("Not connected yet: experiments are listed once the server answers.", error=True)
            return

        def chosen(experiment: Experiment | None) -> None:
            if experiment is not None and experiment.experiment_id != getattr(
                self.experiment, "experiment_id", None
            ):
                self.follow = True
                self.post_message(ExperimentChosen(experiment, chosen_by_user=True))

        current = self.experiment.experiment_id if self.experiment else None
        client = self.client
        switcher = ExperimentSwitcher(
            client.list_experiments,
            lambda experiment_id, progress: count_traces(client, experiment_id, progress),
            current,
        )
        self.app.push_screen(switcher, chosen)

    # -- failures ----------------------------------------------------------------------------

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """Every failure of the viewer's workers becomes a sentence; waiting mends some, not others.

        Transient failures retry with back-off ("disconnected, retrying in N s");
        those waiting cannot mend (a refused login, no such API) stop until `r`.
        """
        worker = event.worker
        if event.state != WorkerState.ERROR or worker.group not in VIEWER_WORKER_GROUPS:
            return
        event.stop()
        error = worker.error
        sentence = failure_sentence(error)
        self.say(sentence, error=True)
        if worker.group == "page":  # scrolling on asks again; polling is not affected
            self.loading_older = False
            return
        if self.experiment is None:
            self.post_message(TracingDestination(None, None, why=sentence))  # a turn asked now says why
        if isinstance(error, TrackingError) and not error.retry_helps:
            self._stop_polling(error)
        elif worker.group in ("poll", "experiment"):
            self.poll_failures += 1
            delay_s = min(MAX_RETRY_S, self.poll_interval_s * 2**self.poll_failures)
            self.connection, self.retry_in_s = DISCONNECTED, delay_s
            if worker.group == "poll":
                self.candidate_live = None
                self.arm_poll(delay_s)
            else:
                self.set_timer(delay_s, self.choose_experiment)
        else:  # connect: the local server did not start
            self.connection = DISCONNECTED

    def _stop_polling(self, error: TrackingError) -> None:
        """A failure waiting cannot mend: the sentence says what to do; `r` tries again."""
        if self.poll_timer is not None:
            self.poll_timer.stop()
            self.poll_timer = None
        self.candidate_live = None
        self.problem, self.retry_in_s, self.connection = problem_label(error), None, STOPPED
