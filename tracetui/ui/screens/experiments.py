"""The experiment switcher: every experiment with its trace count; Enter opens one.

Counting happens in a worker on this screen; the list shows at once with
"…" counts that fill in as they arrive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tracetui.tracking.experiments import ExperimentSummary
from tracetui.tracking.models import Experiment
from tracetui.visible import one_line

# Loads every experiment with its trace count (the app passes a coroutine over its client).
SummaryLoader = Callable[[], Awaitable[Sequence[ExperimentSummary]]]


def summary_prompt(summary: ExperimentSummary, current_id: str | None) -> Text:
    exp = summary.experiment
    if summary.trace_count is None:
        count = "?"
    else:
        count = f"{summary.trace_count}{'+' if summary.count_is_lower_bound else ''}"
    line = Text(end="")
    line.append("● " if exp.experiment_id == current_id else "  ", style="bold")
    line.append(f"{count:>6} traces  ", style="dim")
    line.append(one_line(exp.name, 60), style="bold")
    line.append(f"  (id {one_line(exp.experiment_id, 24)})", style="dim")
    return line


class ExperimentSwitcher(ModalScreen[Experiment | None]):
    """Dismissed with the chosen Experiment, or None on Escape."""

    BINDINGS = [
        Binding("escape", "dismiss_none", "Close"),
        Binding("j", "cursor_down", show=False),
        Binding("k", "cursor_up", show=False),
    ]

    def __init__(self, load: SummaryLoader, current_id: str | None) -> None:
        super().__init__()
        self.load = load
        self.current_id = current_id
        self.summaries: list[ExperimentSummary] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="experiments-box"):
            yield Static(Text("Experiments — Enter opens, Esc closes", style="bold", end=""))
            yield OptionList(id="experiments")
            yield Static(Text("Counting traces…", style="dim", end=""), id="experiments-note")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.load_summaries()

    @work(exclusive=True, group="experiments", exit_on_error=False)
    async def load_summaries(self) -> None:
        try:
            summaries = list(await self.load())
        except Exception as error:  # a sentence on the screen, not a traceback
            self.query_one("#experiments-note", Static).update(Text(one_line(str(error), 200), end=""))
            return
        self.summaries = summaries
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(
            [Option(summary_prompt(s, self.current_id), id=s.experiment.experiment_id) for s in summaries]
        )
        for index, summary in enumerate(summaries):
            if summary.experiment.experiment_id == self.current_id:
                options.highlighted = index
        note = f"{len(summaries)} experiments" if summaries else "No experiments on this server."
        self.query_one("#experiments-note", Static).update(Text(note, style="dim", end=""))

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        for summary in self.summaries:
            if summary.experiment.experiment_id == event.option_id:
                self.dismiss(summary.experiment)
                return

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()
