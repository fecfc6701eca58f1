"""The experiment switcher: every experiment with its trace count; Enter opens one.

The list shows as soon as the server lists the experiments; each count fills in as it
arrives. A server that cannot count (MLflow before 3.5) is paged through, and the row
says "counting… 1,500" meanwhile, so a large experiment shows progress, not a blank.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tracetui.tracking.experiments import CountProgress
from tracetui.tracking.models import Experiment
from tracetui.visible import one_line

# What the switcher asks the server (the viewer passes them over its client).
ListExperiments = Callable[[], Awaitable[Sequence[Experiment]]]
CountTraces = Callable[[str, CountProgress], Awaitable[int]]

_AT_ONCE = 4  # counts asked at a time: the list should not starve the server or the poll


@dataclass(frozen=True, slots=True)
class TraceCount:
    """Where one experiment's count stands: not known yet, so far (paging), done, or failed."""

    value: int | None = None
    done: bool = False
    failed: bool = False

    def words(self) -> str:
        if self.failed:
            return "? traces"
        if self.done:
            return f"{self.value:,} traces"
        return "counting…" if self.value is None else f"counting… {self.value:,}"


def experiment_prompt(experiment: Experiment, count: TraceCount, current_id: str | None) -> Text:
    line = Text(end="")
    line.append("● " if experiment.experiment_id == current_id else "  ", style="bold")
    line.append(f"{count.words():>18}  ", style="dim")
    line.append(one_line(experiment.name, 60), style="bold")
    line.append(f"  (id {one_line(experiment.experiment_id, 24)})", style="dim")
    return line


@dataclass
class ExperimentsListed(Message):
    experiments: list[Experiment]


@dataclass
class TracesCounted(Message):
    experiment_id: str
    count: TraceCount


class ExperimentSwitcher(ModalScreen[Experiment | None]):
    """Dismissed with the chosen Experiment, or None on Escape."""

    BINDINGS = [
        Binding("escape", "dismiss_none", "Close"),
        Binding("j", "cursor_down", show=False),
        Binding("k", "cursor_up", show=False),
    ]

    def __init__(self, list_experiments: ListExperiments, count: CountTraces, current_id: str | None) -> None:
        super().__init__()
        self.list_experiments = list_experiments
        self.count = count
        self.current_id = current_id
        self.experiments: list[Experiment] = []
        self.counts: dict[str, TraceCount] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="experiments-box"):
            yield Static(Text("Experiments — Enter opens, Esc closes", style="bold", end=""))
            yield OptionList(id="experiments")
            yield Static(Text("Listing experiments…", style="dim", end=""), id="experiments-note")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.load_experiments()

    @work(exclusive=True, group="experiments", exit_on_error=False)
    async def load_experiments(self) -> None:
        try:
            experiments = list(await self.list_experiments())
        except Exception as error:  # a sentence on the screen, not a traceback
            self._note(one_line(str(error), 200))
            return
        self.post_message(ExperimentsListed(experiments))
        limit = asyncio.Semaphore(_AT_ONCE)

        async def count_one(experiment_id: str) -> None:
            def so_far(counted: int) -> None:
                self.post_message(TracesCounted(experiment_id, TraceCount(counted)))

            async with limit:
                try:
                    total = await self.count(experiment_id, so_far)
                except Exception:  # one failing count must not hide the experiment
                    self.post_message(TracesCounted(experiment_id, TraceCount(failed=True)))
                    return
            self.post_message(TracesCounted(experiment_id, TraceCount(total, done=True)))

        await asyncio.gather(*(count_one(e.experiment_id) for e in experiments))

    @on(ExperimentsListed)
    def _listed(self, message: ExperimentsListed) -> None:
        self.experiments = message.experiments
        self.counts = {e.experiment_id: TraceCount() for e in self.experiments}
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(
            [
                Option(
                    experiment_prompt(e, self.counts[e.experiment_id], self.current_id), id=e.experiment_id
                )
                for e in self.experiments
            ]
        )
        for index, experiment in enumerate(self.experiments):
            if experiment.experiment_id == self.current_id:
                options.highlighted = index
        self._show_progress()

    @on(TracesCounted)
    def _counted(self, message: TracesCounted) -> None:
        experiment = next((e for e in self.experiments if e.experiment_id == message.experiment_id), None)
        if experiment is None:
            return
        self.counts[message.experiment_id] = message.count
        prompt = experiment_prompt(experiment, message.count, self.current_id)
        self.query_one(OptionList).replace_option_prompt(message.experiment_id, prompt)
        self._show_progress()

    def _show_progress(self) -> None:
        if not self.experiments:
            self._note("No experiments on this server.")
            return
        counting = sum(not (c.done or c.failed) for c in self.counts.values())
        paging = any(c.value is not None and not c.done for c in self.counts.values())
        note = f"{len(self.experiments)} experiments"
        if counting:
            note += f"; counting {counting} more"
            if paging:
                note += " (paging: this server cannot count)"
            note += "…"
        self._note(note)

    def _note(self, words: str) -> None:
        self.query_one("#experiments-note", Static).update(Text(words, style="dim", end=""))

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        for experiment in self.experiments:
            if experiment.experiment_id == event.option_id:
                self.dismiss(experiment)
                return

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()
