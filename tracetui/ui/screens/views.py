"""Saved views: type a name to save the list's filter, or pick a saved one (Enter applies, Delete removes).

Names and filters are the person's own text but are still shown literally.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tracetui.visible import one_line


@dataclass(frozen=True)
class ViewChoice:
    """`save` the current filter as `name`, `apply` the view `name`, or `delete` it."""

    action: str
    name: str


class ViewsScreen(ModalScreen[ViewChoice | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Close"),
        Binding("delete", "delete", "Delete view"),
    ]

    DEFAULT_CSS = """
    ViewsScreen { align: center middle; }
    ViewsScreen > #views-box {
        width: 80%; max-width: 100; height: auto; max-height: 80%; padding: 0 1;
        border: thick $primary; background: $surface;
    }
    ViewsScreen #views-list { height: auto; max-height: 16; }
    """

    def __init__(self, current_filter: str, views: dict[str, str]) -> None:
        super().__init__()
        self.current_filter = current_filter
        self.views = views

    def compose(self) -> ComposeResult:
        with Vertical(id="views-box"):
            head = Text("Views — saved filters of this experiment\n", style="bold", end="")
            head.append("Filter shown: ", style="")
            head.append(
                one_line(self.current_filter, 80) if self.current_filter else "(none)", style="italic"
            )
            yield Static(head)
            yield Input(placeholder="a name to save the filter shown as, then Enter", id="view-name")
            options = [
                Option(Text(f"{one_line(name, 30)}  —  {one_line(text, 70)}", end=""), id=name)
                for name, text in self.views.items()
            ]
            if options:
                yield Static(Text("Saved (Enter applies, Delete removes):", style="dim", end=""))
                yield OptionList(*options, id="views-list")
            else:
                yield Static(Text("No saved views yet.", style="dim", end=""))

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted, "#view-name")
    def _save(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        if not name:
            self.notify("Type a name first (or Tab to the saved views).", severity="warning", markup=False)
            return
        self.dismiss(ViewChoice("save", name))

    @on(OptionList.OptionSelected, "#views-list")
    def _apply(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(ViewChoice("apply", str(event.option.id)))

    def action_delete(self) -> None:
        options = self.query(OptionList)
        if not options or not options.first().has_focus:
            return
        option_list = options.first()
        if option_list.highlighted is None:
            return
        option = option_list.get_option_at_index(option_list.highlighted)
        self.dismiss(ViewChoice("delete", str(option.id)))

    def action_cancel(self) -> None:
        self.dismiss(None)
