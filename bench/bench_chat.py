"""Chat streaming overhead: ChatSession, and the chat pane's final render, versus plain litellm.

All three read the same 2,000-token answer from the fake Ollama in its fast
mode (the whole stream as quickly as the socket takes it), through real
litellm over real HTTP: plain litellm consuming the stream; ChatSession
consuming it; and the chat pane in a headless app, from Enter to the frame that
shows the answer's last line (issue 4 a: "time to final render"). ChatSession's
iteration ends at Ollama's done line; plain litellm's ends after litellm has
rebuilt its complete response (~115 ms more for 2,000 chunks). Runs
alternate and the median of each is compared, in one process, so the machine's
load affects all alike. No tracer: tracing happens after the text ends and is
not part of the streaming cost.

Before each timed run the loop is left idle for a moment and the garbage
collector run: litellm finishes every stream with logging tasks of its own in
the background, and without the pause they ran inside the *next* run, whichever
side that was, moving single runs by up to 30 %.

    python bench/bench_chat.py [--tokens 2000] [--runs 11]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from fake_ollama import FakeAnswer, FakeOllama  # noqa: E402

from tracetui.chat.session import ChatSession, import_litellm  # noqa: E402

MODEL = "ollama_chat/qwen2.5"
MESSAGES = [{"role": "user", "content": "Write a long answer."}]


async def plain_litellm(fake: FakeOllama) -> tuple[float, int]:
    litellm = import_litellm()
    started = time.perf_counter()
    stream = await litellm.acompletion(model=MODEL, messages=MESSAGES, api_base=fake.url, stream=True)
    text = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
    return time.perf_counter() - started, len("".join(text).split())


async def chat_session(fake: FakeOllama) -> tuple[float, int]:
    session = ChatSession(model=MODEL, ollama_url=fake.url)
    started = time.perf_counter()
    turn = session.start_turn(MESSAGES[0]["content"])
    text = [delta async for delta in turn]
    elapsed = time.perf_counter() - started
    await turn.result()
    await session.aclose()
    return elapsed, len("".join(text).split())


async def chat_pane_render(fake: FakeOllama) -> tuple[float, int]:
    """Enter in a headless app's chat pane -> the frame that has drawn the whole answer."""
    from textual import events
    from textual.app import App, ComposeResult

    from tracetui.ui.widgets.chat_pane import ChatPane, PromptInput

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield ChatPane(ChatSession(model=MODEL, ollama_url=fake.url))

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ChatPane)
        prompt = app.query_one(PromptInput)
        prompt.focus()
        prompt.value = MESSAGES[0]["content"]
        await pilot.pause()
        started = time.perf_counter()
        app.post_message(events.Key("enter", "\r"))  # as a terminal sends it
        while not pane.answers or not pane.answers[-1].body.drawn:
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - started
        answer = pane.answers[-1].markdown_source
        await pane.session.aclose()
    return elapsed, len(answer.split())


async def settle() -> None:
    """Let the previous run's background work (litellm's logging tasks) end, then collect."""
    await asyncio.sleep(0.3)
    gc.collect()


async def main(tokens: int, runs: int) -> None:
    with FakeOllama() as fake:
        fake.default_answer = FakeAnswer.of_tokens(tokens, fast=True)
        await plain_litellm(fake)  # warm-up: imports, first connection
        await chat_session(fake)
        await chat_pane_render(fake)
        plain_times, session_times, pane_times = [], [], []
        for _ in range(runs):
            await settle()
            elapsed, got = await plain_litellm(fake)
            assert got == tokens, f"plain litellm got {got} of {tokens} tokens"
            plain_times.append(elapsed)
            await settle()
            elapsed, got = await chat_session(fake)
            assert got == tokens, f"ChatSession got {got} of {tokens} tokens"
            session_times.append(elapsed)
            await settle()
            elapsed, got = await chat_pane_render(fake)
            assert got == tokens, f"the chat pane showed {got} of {tokens} tokens"
            pane_times.append(elapsed)
    plain, session = statistics.median(plain_times), statistics.median(session_times)
    pane = statistics.median(pane_times)
    print(f"{tokens}-token answer, median of {runs} alternating runs (load {os.getloadavg()[0]:.1f})")
    print(f"  plain litellm consume          : {plain * 1000:8.1f} ms")
    print(f"  ChatSession consume            : {session * 1000:8.1f} ms  {session / plain:6.3f}x")
    print(f"  chat pane, Enter -> final frame: {pane * 1000:8.1f} ms  {pane / plain:6.3f}x  (target <= 1.1x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    asyncio.run(main(args.tokens, args.runs))
