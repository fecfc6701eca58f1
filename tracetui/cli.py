"""The `tracetui` command line: the TUI by default, and headless `traces` / `ask` subcommands.

Start-up must stay fast: nothing heavy (textual, litellm, mlflow, even httpx) is
imported here; subcommands are loaded only when they are run, and `--help`
lists them from static descriptions.

Every failure ends as one sentence on stderr and a non-zero exit code (2 for a
usage error, 1 otherwise, 130 for Ctrl-C), never a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

import click

from tracetui import __version__
from tracetui.commands import remember_group_options, tracking_options

# name -> (module, attribute, one-line help shown by --help without importing the module)
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "traces": ("tracetui.commands.traces", "traces_group", "List, inspect and follow MLflow traces."),
    "experiments": (
        "tracetui.commands.experiments",
        "experiments_command",
        "List the experiments on the tracking server.",
    ),
    "sessions": (
        "tracetui.commands.sessions",
        "sessions_group",
        "List chat sessions and export one as a Markdown transcript.",
    ),
    "ask": (
        "tracetui.commands.ask",
        "ask_command",
        "Ask the model one question, traced, and print the answer.",
    ),
    "outbox": (
        "tracetui.commands.outbox",
        "outbox_group",
        "List chat turns waiting to be traced (or refused), and send them again.",
    ),
}


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class TracetuiGroup(click.Group):
    """Loads subcommands on demand and turns every failure into one sentence."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = [name for name, (module, _, _) in LAZY_COMMANDS.items() if _module_exists(module)]
        return sorted({*super().list_commands(ctx), *lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in LAZY_COMMANDS:
            return command
        module_name, attribute, _ = LAZY_COMMANDS[cmd_name]
        if not _module_exists(module_name):
            return None  # not written yet: click reports "No such command"
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in LAZY_COMMANDS:
                rows.append((name, LAZY_COMMANDS[name][2]))
            else:
                command = super().get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        from tracetui.visible import make_visible

        def fail(sentence: str, code: int) -> None:
            click.echo(make_visible(sentence, keep_newlines=False), err=True)
            ctx.exit(code)

        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # usage errors (exit 2) and deliberate exits: click prints and exits
        except KeyboardInterrupt:
            fail("Interrupted.", 130)
        except BrokenPipeError:
            # The reader went away (`tracetui traces list | head`): not an error worth a word.
            _silence_stdout()
            ctx.exit(0)
        except Exception as error:  # noqa: BLE001 - the last line of defence against a traceback
            from tracetui.tracking.errors import TrackingError

            if isinstance(error, TrackingError):
                fail(str(error), 1)
            detail = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
            fail(
                f"tracetui failed unexpectedly ({type(error).__name__}{': ' + detail if detail else ''}); "
                "please report this.",
                1,
            )


def _silence_stdout() -> None:
    """After a broken pipe, stop Python from failing again while flushing stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@click.group(
    cls=TracetuiGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, "--version", prog_name="tracetui")
@tracking_options
@click.option("--trace", "trace_id", metavar="TRACE_ID", help="Open this trace when the TUI starts.")
@click.option("--model", metavar="MODEL", help="Chat model, e.g. ollama_chat/qwen2.5:0.5b.")
@click.option(
    "--ollama-url",
    metavar="URL",
    help="Ollama's address (default: $OLLAMA_API_BASE, $OLLAMA_HOST, else http://localhost:11434).",
)
@click.option(
    "--view", metavar="NAME", help="Open the list with this saved filter (v in the dashboard saves one)."
)
@click.pass_context
def main(
    ctx: click.Context,
    tracking_uri: str | None,
    experiment: str | None,
    trace_id: str | None,
    model: str | None,
    ollama_url: str | None,
    view: str | None,
) -> None:
    """A terminal dashboard for live LLM tracing with MLflow.

    Run without a command to open the dashboard; use `tracetui traces …` to work
    with traces from the shell.
    """
    _make_output_unbreakable()
    remember_group_options(ctx, tracking_uri, experiment)
    from tracetui.config import ollama_url as configured_ollama_url
    from tracetui.tracking.call_path import remember_ollama_address

    # Calls to the configured Ollama are shown as Ollama hops, whatever API they used.
    remember_ollama_address(configured_ollama_url(ollama_url))
    if ctx.invoked_subcommand is not None:
        return
    from tracetui.config import experiment_selector, tracking_settings

    try:
        from tracetui.ui.app import run_app
    except ModuleNotFoundError as error:
        if error.name not in ("tracetui.ui.app", "tracetui.ui"):
            raise
        click.echo(
            "The dashboard is not part of this build yet; "
            "use `tracetui traces --help` for the shell commands.",
            err=True,
        )
        ctx.exit(1)
    ctx.exit(
        run_app(
            tracking_settings(tracking_uri),
            experiment_selector(experiment),
            trace_id,
            model,
            ollama_url,
            view,
        )
    )


def _make_output_unbreakable() -> None:
    """A terminal or pipe that cannot encode "…" or "→" must not crash a listing."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
