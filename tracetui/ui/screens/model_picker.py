"""Pick the chat model from the models Ollama has pulled (its /api/tags)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from tracetui.chat.ollama import OllamaClient, OllamaError, OllamaModel, ollama_model_tag, same_model
from tracetui.visible import make_visible


def option_prompt(model: OllamaModel) -> Content:
    """'qwen2.5:0.5b  494.03M Q4_K_M' — names come from a server, so plain Content only."""
    details = " ".join(part for part in (model.parameter_size, model.quantization) if part)
    name = Content(make_visible(model.name, keep_newlines=False))
    if details:
        return name + Content.styled(f"  {make_visible(details, keep_newlines=False)}", "dim")
    return name


class ModelPicker(ModalScreen[str | None]):
    """A list of Ollama's models; Enter picks one (dismissed with its litellm model string)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    DEFAULT_CSS = """
    ModelPicker { align: center middle; }
    ModelPicker > Vertical {
        width: 60; max-width: 90%; height: auto; max-height: 80%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    ModelPicker #picker-title { text-style: bold; margin: 0 0 1 0; }
    ModelPicker OptionList { height: auto; max-height: 20; }
    ModelPicker #picker-status { color: $text-muted; height: auto; }
    ModelPicker #picker-status.-error { color: $text-error; }
    """

    def __init__(self, ollama: OllamaClient, current_model: str) -> None:
        super().__init__()
        self.ollama = ollama
        self.current_model = current_model

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Chat model", id="picker-title")
            yield OptionList(id="picker-models")
            yield Static(Content(f"Asking Ollama at {self.ollama.url} for its models…"), id="picker-status")

    def on_mount(self) -> None:
        self.query_one(OptionList).loading = True
        self._load_models()

    @work(exclusive=True, group="model-picker", exit_on_error=False)
    async def _load_models(self) -> None:
        options = self.query_one(OptionList)
        status = self.query_one("#picker-status", Static)
        try:
            models = await self.ollama.list_models()
        except OllamaError as exc:
            options.loading = False
            status.update(Content(str(exc)))
            status.add_class("-error")
            return
        options.loading = False
        if not models:
            status.update(Content("Ollama has no models yet. Run `ollama pull qwen2.5`."))
            status.add_class("-error")
            return
        options.add_options(Option(option_prompt(m), id=m.litellm_model) for m in models)
        current_tag = ollama_model_tag(self.current_model)
        for index, model in enumerate(models):
            if current_tag is not None and same_model(current_tag, model.name):
                options.highlighted = index
                break
        status.update(Content(f"{len(models)} models at {self.ollama.url} · Enter picks · Esc cancels"))
        options.focus()

    @on(OptionList.OptionSelected, "#picker-models")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
