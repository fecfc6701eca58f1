"""The status line: server, experiment, last successful poll, connection state, trace count.

The second line carries the latest sentence for a person (a failure, a rejected
filter, "pending, fetching again"). Everything is plain `Text`: server names and
experiment names come from outside and are never parsed as markup.
"""

from __future__ import annotations

import functools
from datetime import datetime, tzinfo
from typing import Any

from rich.text import Text
from textual.dom import DOMNode
from textual.reactive import reactive
from textual.widgets import Static

from tracetui.tracking.compat import UnsupportedServer
from tracetui.tracking.errors import (
    AuthenticationFailed,
    ExperimentNotFound,
    NoTrackingApi,
    PermissionDenied,
    TlsError,
)
from tracetui.visible import one_line

# Connection states the app moves through.
STARTING = "starting"
CONNECTING = "connecting"
CONNECTED = "connected"
DISCONNECTED = "disconnected"
STOPPED = "stopped"  # a failure waiting cannot mend (refused login, no such API): no retries


def problem_label(error: BaseException) -> str:
    """A few words for the connection part of the line when polling stopped on `error`."""
    labels = (
        (AuthenticationFailed, "login refused"),
        (PermissionDenied, "access denied"),
        (TlsError, "certificate not trusted"),
        (NoTrackingApi, "no MLflow API"),
        (UnsupportedServer, "no trace API"),
        (ExperimentNotFound, "no such experiment"),
    )
    return next((label for kind, label in labels if isinstance(error, kind)), "stopped")


def short_server(description: str) -> str:
    """The server without label and scheme, for narrow terminals: "MLflow at https://h:5000" -> "h:5000"."""
    host = description.split(" at ", 1)[-1]
    for scheme in ("https://", "http://"):
        host = host.replace(scheme, "", 1)
    return host


# The viewer's reactives the first line shows: theirs -> ours.
WATCHED = {
    "server": "server",
    "experiment_name": "experiment",
    "connection": "connection",
    "retry_in_s": "retry_in_s",
    "problem": "problem",
    "trace_count": "trace_count",
    "last_poll": "last_poll",
    "follow": "follow",
    "paused": "paused",
    "filter_string": "filter_string",
}


class StatusBar(Static):
    """Two lines: what the app is connected to and how it is doing, then the latest sentence."""

    server: reactive[str] = reactive("")
    experiment: reactive[str] = reactive("")
    # What the "polled" part says: set through `last_poll`; a reactive string, so a poll that
    # does not change the words (same minute, while connected) repaints nothing.
    polled_text: reactive[str] = reactive("")
    connection: reactive[str] = reactive(STARTING)
    retry_in_s: reactive[float | None] = reactive(None)
    trace_count: reactive[int | None] = reactive(None)
    follow: reactive[bool] = reactive(True)
    paused: reactive[bool] = reactive(False)
    filter_string: reactive[str] = reactive("")
    sentence: reactive[str] = reactive("")
    sentence_is_error: reactive[bool] = reactive(False)
    turns_waiting: reactive[int] = reactive(0)  # chat turns in the outbox, not traced yet
    # Turns waiting for another server or experiment, and where, e.g. "2 for experiment 5 on …".
    waiting_elsewhere: reactive[str] = reactive("")
    problem: reactive[str] = reactive("")  # when STOPPED: what stopped it, in a few words

    def __init__(self, *, tz: tzinfo | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        self._last_poll: datetime | None = None
        self._sentence_key: str | None = None

    @property
    def last_poll(self) -> datetime | None:
        return self._last_poll

    @last_poll.setter
    def last_poll(self, polled_at: datetime | None) -> None:
        self._last_poll = polled_at
        self._show_poll_time()

    def watch_connection(self) -> None:
        self._show_poll_time()

    def _show_poll_time(self) -> None:
        """HH:MM while connected (an idle 1 s poll then writes nothing); HH:MM:SS when it matters.

        Seconds are kept while disconnected or retrying: then "when did it last work" is the question.
        """
        if self._last_poll is None:
            self.polled_text = ""
            return
        fmt = "%H:%M" if self.connection == CONNECTED else "%H:%M:%S"
        self.polled_text = self._last_poll.astimezone(self.tz).strftime(fmt)

    def say(
        self, sentence: str, *, error: bool = False, key: str | None = None, refresh: bool = False
    ) -> None:
        """Show one sentence for a person on the second line.

        `key` names a sentence that may be updated later; `refresh` updates it only while
        it is still the one shown (a count kept true must not cover a newer sentence).
        """
        if refresh and (key is None or key != self._sentence_key):
            return
        self.sentence = sentence
        self.sentence_is_error = error
        self._sentence_key = key

    def show_state_of(self, source: DOMNode) -> None:
        """Bind the first line to `source`'s reactives (the trace viewer's), so it never needs setting."""
        for theirs, mine in WATCHED.items():
            self.watch(source, theirs, functools.partial(setattr, self, mine))
        self.watch(source, "said", self._show_said)  # init: a sentence said before the binding shows too

    def _show_said(self, said: Any) -> None:
        if said is not None:
            self.say(said.sentence, error=said.error, key=said.key, refresh=said.refresh)

    def render(self) -> Text:
        line = self._first_line()
        second = Text(
            one_line(self.sentence, 300), style="bold red" if self.sentence_is_error else "", end=""
        )
        second.no_wrap = True
        second.overflow = "ellipsis"
        return Text("\n", end="").join([line, second])

    def _first_line(self) -> Text:
        """The parts that fit the width; shortened, then left out (least important first), not cut."""
        modes = []
        if self.paused:
            modes.append("⏸ paused")
        modes.append("follow on" if self.follow else "follow off")
        if self.filter_string:
            modes.append(f"filter: {one_line(self.filter_string, 40)}")
        server = one_line(self.server or "no server yet", 80)
        parts: dict[str, Text] = {"connection": self._connection_text()}
        if self.turns_waiting:
            turns = f"{self.turns_waiting} turn{'' if self.turns_waiting == 1 else 's'}"
            parts["waiting"] = Text(f"⏳ {turns} waiting to be traced", style="yellow", end="")
        if self.waiting_elsewhere:
            parts["elsewhere"] = Text(
                f"⏳ {one_line(self.waiting_elsewhere, 80)} (tracetui outbox list)", style="yellow", end=""
            )
        if self.experiment:
            parts["experiment"] = Text(one_line(self.experiment, 40), style="bold", end="")
        if self.trace_count is not None:
            parts["count"] = Text(f"{self.trace_count} traces", end="")
        if self.polled_text:
            parts["polled"] = Text.assemble(("polled ", "dim"), self.polled_text, end="")
        parts["modes"] = Text(" · ".join(modes), style="italic", end="")
        # The server goes last: it is long, and at 80 columns the rest matters more.
        parts["server"] = Text(server, end="")
        width = self.content_region.width or 10_000
        elsewhere = f"⏳ {self.waiting_elsewhere.split(' ', 1)[0]} more elsewhere"
        steps = (
            ("server", Text(short_server(server), end="")),  # "MLflow at http://h:5000" -> "h:5000"
            ("elsewhere", Text(f"{elsewhere} (tracetui outbox list)", style="yellow", end="")),
            ("count", None),  # the Traces pane's title has the count too
            ("server", None),
            ("waiting", Text(f"⏳ {self.turns_waiting} waiting", style="yellow", end="")),
            ("elsewhere", Text(elsewhere, style="yellow", end="")),
            ("polled", None),
        )
        line = self._join(parts)
        for key, replacement in steps:
            if line.cell_len <= width:
                break
            if key not in parts:
                continue
            if replacement is None:
                del parts[key]
            else:
                parts[key] = replacement
            line = self._join(parts)
        return line

    @staticmethod
    def _join(parts: dict[str, Text]) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        for index, part in enumerate(parts.values()):
            if index:
                line.append(" │ ", style="dim")
            line.append_text(part)
        return line

    def _connection_text(self) -> Text:
        if self.connection == CONNECTED:
            return Text("● connected", style="green", end="")
        if self.connection == DISCONNECTED:
            retry = "" if self.retry_in_s is None else f", retrying in {self.retry_in_s:.0f}s"
            return Text(f"✗ disconnected{retry}", style="bold red", end="")
        if self.connection == STOPPED:
            return Text(
                f"✗ {self.problem or 'stopped'}, not retrying (r tries again)", style="bold red", end=""
            )
        if self.connection == CONNECTING:
            return Text("… connecting", style="yellow", end="")
        return Text("… starting", style="yellow", end="")
