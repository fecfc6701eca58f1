"""How the chat pane holds up while an answer streams as fast as the fake Ollama can send it.

Prints, per answer shape: the time from Enter to the final render, the largest
event-loop stall while streaming (a 5 ms ticker measures how late it wakes), and
the slowest keystroke typed into the prompt while the answer streams (press to
the Input's value changing). Headless (`App.run_test`), real litellm over real
HTTP to the fake Ollama, tracing off. Each answer is streamed `--runs` times: the
median and the worst of the runs' largest stalls are printed (one run's maximum
moves by +-15 ms with where collections and frames happen to fall).

    LITELLM_LOCAL_MODEL_COST_MAP=True python bench/bench_chat_pane.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from fake_ollama import FakeAnswer, FakeOllama, split_tokens  # noqa: E402
from textual import events  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402

from tracetui.chat.session import ChatSession, import_litellm  # noqa: E402
from tracetui.ui.widgets.chat_pane import ChatPane, PromptInput  # noqa: E402

TOKENS = 2000


def markdown_answer(tokens: int) -> str:
    """A realistic answer: headings, paragraphs, lists and code fences, about `tokens` words long."""
    block = (
        "## Section {n}\n\nQwen 2.5 answers in **Markdown** with `code`, lists and fences.\n\n"
        "- first point of {n}\n- second point\n\n```python\nprint({n})\n```\n\n"
    )
    text, n = "", 0
    while len(split_tokens(text)) < tokens:
        text += block.format(n=n)
        n += 1
    return text


def code_answer(lines: int) -> str:
    """A script in one code fence, `lines` lines long (drawn in pieces of 40: answer_view.py)."""
    step = "def step_{n}(value):\n    return transform(value, {n})  # step {n}\n"
    code = "".join(step.format(n=n) for n in range(lines // 2))
    return f"Here is the script:\n\n```python\n{code}```\n\nRun it with Python 3.11.\n"


class Host(App[None]):
    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session
        self.done = asyncio.Event()

    def compose(self) -> ComposeResult:
        yield ChatPane(self.session)

    def on_chat_pane_turn_finished(self, _: ChatPane.TurnFinished) -> None:
        self.done.set()


async def one_run(fake: FakeOllama, answer: FakeAnswer) -> tuple[float, float, float]:
    fake.script(answer)
    app = Host(ChatSession(model="ollama_chat/qwen2.5", ollama_url=fake.url))
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ChatPane)
        prompt = app.query_one(PromptInput)
        prompt.focus()
        worst_stall = 0.0
        worst_key = 0.0

        async def ticker() -> None:
            nonlocal worst_stall
            while not app.done.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                worst_stall = max(worst_stall, time.perf_counter() - before - 0.005)

        prompt.value = "Explain Qwen 2.5"
        started = time.perf_counter()
        tick = asyncio.create_task(ticker())
        # Enter as a terminal sends it: `Pilot.press` waits for the screen to settle, and a fast
        # answer streams largely within that wait, before the ticker could see any of it.
        app.post_message(events.Key("enter", "\r"))
        while not app.done.is_set():  # type while it streams
            typed = prompt.value
            pressed = time.perf_counter()
            # Post the key as a terminal would (Pilot.press also waits for the screen to settle).
            app.post_message(events.Key("x", "x"))
            while prompt.value == typed and not app.done.is_set():
                await asyncio.sleep(0)
            worst_key = max(worst_key, time.perf_counter() - pressed)
            await asyncio.sleep(0.02)
        await app.done.wait()
        await pilot.pause()
        elapsed = time.perf_counter() - started
        await tick
        assert pane.answers[-1].result is not None
        assert pane.answers[-1].markdown_source == answer.text.replace("\r", "")
    return elapsed, worst_stall, worst_key


async def main(runs: int) -> None:
    await asyncio.to_thread(import_litellm)
    shapes = {
        f"{TOKENS} words, one paragraph": FakeAnswer.of_tokens(TOKENS, fast=True),
        f"~{TOKENS} words of Markdown blocks": FakeAnswer.of_text(markdown_answer(TOKENS), fast=True),
        "200 words at 50 tok/s (a real model's pace)": FakeAnswer.of_text(
            markdown_answer(200), token_delay_s=0.02
        ),
        "a 600-line code fence": FakeAnswer.of_text(code_answer(600), fast=True),
    }
    with FakeOllama() as fake:
        await one_run(fake, FakeAnswer.of_tokens(50, fast=True))  # warm up litellm's first call
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {runs} runs per answer")
        print(f"{'answer':46} {'final render':>12} {'max stall: median':>18} {'worst':>6} {'max key':>8}")
        for label, answer in shapes.items():
            results = [await one_run(fake, answer) for _ in range(runs)]
            elapsed = statistics.median(r[0] for r in results)
            stall = statistics.median(r[1] for r in results)
            worst = max(r[1] for r in results)
            key = statistics.median(r[2] for r in results)
            print(
                f"{label:46} {elapsed * 1000:10.0f}ms {stall * 1000:16.1f}ms {worst * 1000:4.0f}ms"
                f" {key * 1000:6.1f}ms"
            )
            print("   each run's max stall: " + ", ".join(f"{r[1] * 1000:.0f}" for r in results) + " ms")
    print(f"load average {os.getloadavg()[0]:.1f}; target: largest stall < 50 ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per answer shape (median and worst)")
    asyncio.run(main(parser.parse_args().runs))
