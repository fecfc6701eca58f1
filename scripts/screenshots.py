"""Screenshots of the real app against a real MLflow server, as SVG and PNG, into screenshots/.

    python scripts/screenshots.py [--out screenshots]

Starts a throwaway `mlflow server` (sqlite in a temp folder), logs a few real
traces with the mlflow client (tests/trace_factory.py), starts the protocol-faithful
fake Ollama of tests/fake_ollama.py for the chat (real litellm talks to it over
HTTP; its turns are traced into the same server), runs the app headless at
160x48 and 80x24 and saves what it shows. PNGs need cairosvg (pip install
cairosvg) or rsvg-convert; without either only the SVGs are written.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # trace_factory logs real traces with the mlflow client

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"

EXPERIMENT = "tracetui-demo"


def to_png(svg: Path) -> Path | None:
    png = svg.with_suffix(".png")
    try:
        import cairosvg

        cairosvg.svg2png(url=str(svg), write_to=str(png))
        return png
    except ImportError:
        pass
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", str(svg), "-o", str(png)], check=True)
        return png
    return None


def log_demo_traces(url: str) -> None:
    from trace_factory import (
        log_agent_run,
        log_error_trace,
        log_hostile_trace,
        log_many_traces,
        log_nested_trace,
        use_server,
    )

    use_server(url)
    # Issue 18's shots: two runs of an agent to compare, in sessions with totals and cost. Logged
    # first, so they are the oldest rows and the rows the other shots select do not move.
    log_agent_run(EXPERIMENT, session="support-41", cost_usd=0.0031)
    log_agent_run(
        EXPERIMENT,
        session="support-42",
        search_ms=420,
        answer_tokens=(152, 47),
        answer="Rain, 12 °C.\nLight wind from the west.",
        fail_second_search=True,
        extra_step=True,
        cost_usd=0.0042,
    )
    log_agent_run(EXPERIMENT, session="support-42", cost_usd=0.0029)
    log_many_traces(EXPERIMENT, 3, name="retrieve_documents")
    log_error_trace(EXPERIMENT)
    log_hostile_trace(EXPERIMENT)
    log_nested_trace(EXPERIMENT, prompt="What does the Ollama hop in a trace show?")
    log_nested_trace(EXPERIMENT, prompt="Explain Qwen 2.5 in one paragraph.")


CHAT_MODEL = "ollama_chat/qwen2.5:0.5b"
CHAT_ANSWER = (
    "**Qwen 2.5** is Alibaba's family of open language models, from `0.5b` to `72b`.\n\n"
    "- small tags run on a laptop through Ollama\n"
    "- every turn here is traced: Python → litellm → Ollama → Qwen\n\n"
    "```python\nfrom litellm import completion\n```\n"
)


@dataclass(frozen=True)
class Ask:
    """A step of a shot: type `prompt` into the chat, send it, wait for the answer and its trace."""

    prompt: str


Step = str | Ask


async def ask(pilot: Any, prompt: str) -> None:
    app = pilot.app
    await pilot.press(*prompt, "enter")
    deadline = time.monotonic() + 120
    while not app.chat_pane.answers or app.chat_pane.answers[-1].result is None:
        if time.monotonic() > deadline:
            raise SystemExit("the chat answer did not finish in time")
        await pilot.pause(0.1)
    trace_id = app.chat_pane.answers[-1].result.trace_id
    while trace_id is not None and app.viewer.spans.shown_trace_id != trace_id:  # follow mode shows the turn
        if time.monotonic() > deadline:
            raise SystemExit("the chat turn's trace was not shown in time")
        await pilot.pause(0.1)


async def shoot(
    url: str, ollama_url: str, out: Path, name: str, size: tuple[int, int], steps: tuple[Step, ...] = ()
) -> Path:
    from tracetui.config import TrackingSettings
    from tracetui.tracking.connection import Backend
    from tracetui.ui.app import make_app

    settings = TrackingSettings(tracking_uri=url, timeout_s=60)
    app = make_app(settings, EXPERIMENT, None, CHAT_MODEL, ollama_url, Backend(url))
    async with app.run_test(size=size) as pilot:
        deadline = time.monotonic() + 120
        while app.viewer.spans.shown_trace_id is None or app.query_one("#span-detail").item is None:
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: the app did not show a trace in time")
            await pilot.pause(0.1)
        for step in steps:
            if isinstance(step, Ask):
                await ask(pilot, step.prompt)
            else:
                await pilot.press(step)
            await pilot.pause(0.3)
        await pilot.pause(0.5)
        svg = out / f"{name}.svg"
        app.save_screenshot(filename=svg.name, path=str(out))
    return svg


async def main_async(out: Path, url: str, only: set[str] | None = None) -> None:
    from fake_ollama import FakeAnswer, FakeOllama

    # At 160x48 the chat prompt has focus: Esc leaves it so letters act as keys.
    shots: list[tuple[str, tuple[int, int], tuple[Step, ...]]] = [
        ("viewer-160x48", (160, 48), ()),
        ("viewer-80x24", (80, 24), ()),
        ("viewer-80x24-zoomed-spans", (80, 24), ("enter", "z")),
        ("viewer-160x48-hostile-trace", (160, 48), ("escape", "j", "j", "enter")),
        ("viewer-160x48-error-trace", (160, 48), ("escape", "j", "j", "j", "enter", "j")),
        ("viewer-help", (80, 24), ("question_mark",)),
        ("viewer-experiments", (160, 48), ("escape", "e")),
        ("viewer-160x48-sequence", (160, 48), ("escape", "s", "tab", "z")),
        # Issue 18: the oldest rows are the agent runs (A: the oldest, B: the one above it).
        ("viewer-160x48-search", (160, 48), ("escape", "G", "enter", "ctrl+f", *"search", "enter", "n")),
        ("compare-160x48", (160, 48), ("escape", "G", "m", "k", "d", "j", "j", "j", "j", "j")),
        ("compare-80x24", (80, 24), ("G", "m", "k", "d", "s", "j", "j", "j", "j", "j")),
        ("sessions-160x48", (160, 48), ("escape", "S")),
        # Last: each chat turn adds a trace, which would move the rows the shots above select.
        ("chat-160x48", (160, 48), (Ask("Explain Qwen 2.5 in one paragraph."),)),
        ("chat-80x24", (80, 24), ("c", Ask("What is Qwen 2.5?"))),
        ("chat-80x24-its-trace", (80, 24), ("c", Ask("What is Qwen 2.5?"), "ctrl+t")),
        (
            "chat-160x48-sequence",
            (160, 48),
            (Ask("Explain Qwen 2.5 in one paragraph."), "escape", "s", "tab", "z"),
        ),
    ]
    with FakeOllama() as fake:
        for name, size, steps in shots:
            if only and name not in only:
                continue
            fake.script(*[FakeAnswer.of_text(CHAT_ANSWER) for step in steps if isinstance(step, Ask)])
            svg = await shoot(url, fake.url, out, name, size, steps)
            png = to_png(svg)
            print(svg, png or "(no PNG: install cairosvg or rsvg-convert)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--tracking-uri", help="use this running server instead of starting one")
    parser.add_argument("--only", action="append", help="take only this shot (repeatable)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.tracking_uri:
        log_demo_traces(args.tracking_uri)
        asyncio.run(main_async(args.out, args.tracking_uri, set(args.only or ())))
        return

    from tracetui.tracking.local_server import LocalMlflowServer

    with tempfile.TemporaryDirectory(prefix="tracetui-shots-") as folder:
        server = LocalMlflowServer(
            f"sqlite:///{folder}/mlflow.db", artifacts_destination=f"{folder}/artifacts"
        )
        server.start()
        try:
            log_demo_traces(server.url)
            asyncio.run(main_async(args.out, server.url, set(args.only or ())))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
