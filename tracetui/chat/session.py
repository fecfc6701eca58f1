"""A chat session over litellm: history, system prompt, options, streaming, cancel, tracing.

Made for a Textual worker (but never imports Textual):

    session = ChatSession(model="ollama_chat/qwen2.5", tracer=TurnTracer(settings, "chat"))  # trace_writer
    turn = session.start_turn("Explain Qwen 2.5")     # must be called inside a running loop
    async for delta in turn:                           # text deltas as they arrive
        ...                                            # turn.cancel() from anywhere stops it
    result = await turn.result()                       # TurnResult: answer, trace id, tokens …

The stream is read by a task of the turn's own, so `cancel()` stops it even
while it waits for the next token, and what arrived is kept. Iteration ends as
soon as the model's done line has come (its finish reason), while litellm may
still be finishing the stream; `result()` waits for everything. Cancelling the
consuming task (a worker cancelled) cancels the turn too. The trace is written
after the text ends, in a thread, so the UI can finish rendering meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tracetui.chat.errors import sentence_for
from tracetui.chat.ollama import ollama_model_tag
from tracetui.chat.outbox_tracer import Queued
from tracetui.chat.record import GenerationStats, TurnRecord, new_trace_id
from tracetui.chat.wire import WireRecorder
from tracetui.config import DEFAULT_MODEL
from tracetui.config import ollama_url as resolve_ollama_url
from tracetui.visible import one_line

# A trace writer: takes a finished record, writes its trace and returns the trace id, or
# returns `Queued` when it kept the turn to send later, or raises an exception whose str()
# is a sentence. Called in a worker thread.
TurnSink = Callable[[TurnRecord], "str | Queued"]

_END = object()

# When the stream arrives faster than it is read (a fast model, a burst after a stall),
# litellm's iterator returns buffered chunks without ever suspending, and the reading
# task would keep the event loop for the whole burst (measured: 930 chunks, ~300 ms in
# one callback, no frame drawn and no key read meanwhile). It lets the loop run after
# at most this long. Short, because a timer due meanwhile waits for two such slices (and
# whatever else is ready): at 10 ms they were a third of the largest stall left.
_YIELD_EVERY_S = 0.002


_litellm: Any = None  # the module, once imported and set up


def import_litellm() -> Any:
    """Import litellm with the price map read locally, so nothing reaches for the internet."""
    global _litellm
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    # litellm prints "Give Feedback / Get Help" banners to stdout on errors; in a TUI that
    # would write over the screen, and in `tracetui ask` it would mix with the answer.
    litellm.suppress_debug_info = True
    _litellm = litellm
    return litellm


def litellm_loaded() -> bool:
    """Whether litellm is imported already (its first import takes seconds)."""
    return _litellm is not None


async def import_litellm_async() -> Any:
    """The first import takes seconds: do it in a thread so the event loop keeps running."""
    return await asyncio.to_thread(import_litellm)


@dataclass(frozen=True, slots=True)
class ChatOptions:
    temperature: float | None = None
    max_tokens: int | None = None

    def as_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        return params


@dataclass(frozen=True, slots=True)
class TurnResult:
    prompt: str
    answer: str  # everything that arrived, also after a cancel or an error
    model: str
    trace_id: str | None  # None when the turn was not traced
    traced: bool
    error: str | None = None  # one sentence, or None when the turn succeeded
    not_traced_reason: str | None = None  # one sentence when traced is False
    queued: bool = False  # not traced yet, but kept in the outbox to be sent later (chat/outbox.py)
    waiting: int | None = None  # when queued: how many turns wait in the outbox now
    queued_trace_id: str | None = None  # when queued: the id its trace will have once delivered
    cancelled: bool = False
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_ms: float = 0.0
    generation: GenerationStats | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled


@dataclass
class ChatSession:
    model: str = DEFAULT_MODEL
    system_prompt: str | None = None
    options: ChatOptions = field(default_factory=ChatOptions)
    ollama_url: str | None = None  # None: resolved by tracetui.config.ollama_url()
    tracer: TurnSink | None = None
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    history: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ollama_url = resolve_ollama_url(self.ollama_url)
        self._recorder = WireRecorder()
        self._http: Any = None  # litellm AsyncHTTPHandler, bound to the loop that made it
        self._http_loop: asyncio.AbstractEventLoop | None = None
        self._turns = 0
        self.current_turn: ChatTurn | None = None

    @property
    def is_ollama(self) -> bool:
        return ollama_model_tag(self.model) is not None

    def messages_for(self, prompt: str) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*messages, *self.history, {"role": "user", "content": prompt}]

    def clear(self) -> None:
        self.history.clear()

    def start_turn(self, prompt: str) -> ChatTurn:
        # Only the answer must be over: the previous trace may still be being written.
        if self.current_turn is not None and self.current_turn.streaming:
            raise RuntimeError("An answer is still streaming; cancel it or wait for its end.")
        self._turns += 1
        self.current_turn = ChatTurn(self, prompt, self._turns)
        return self.current_turn

    async def ask(self, prompt: str, on_delta: Callable[[str], None] | None = None) -> TurnResult:
        """Run a whole turn; `on_delta` sees each piece of text as it arrives."""
        turn = self.start_turn(prompt)
        async for delta in turn:
            if on_delta is not None:
                on_delta(delta)
        return await turn.result()

    async def aclose(self) -> None:
        if self._http is not None:
            with contextlib.suppress(Exception):
                await self._http.close()
            self._http = None

    def wire_record(self) -> Any:
        """A new record of the next HTTP exchange with Ollama (its timings, its done line)."""
        return self._recorder.begin()

    def http_client(self) -> Any:
        """One litellm HTTP client per session and event loop, carrying the wire hooks."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop:
            from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

            self._http = AsyncHTTPHandler(event_hooks=self._recorder.event_hooks)
            self._http_loop = loop
        return self._http


class ChatTurn:
    """One prompt and its streamed answer. Iterate for text deltas; `await result()` at the end."""

    def __init__(self, session: ChatSession, prompt: str, index: int) -> None:
        self.session = session
        self.prompt = prompt
        self.record = TurnRecord(
            trace_id=new_trace_id(),
            session_id=session.session_id,
            prompt=prompt,
            model=session.model,
            messages=session.messages_for(prompt),
            params=session.options.as_params(),
            api_base=session.ollama_url if session.is_ollama else None,
            start_ns=time.time_ns(),
            turn_index=index,
        )
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._streaming = True
        self._text_ended = False  # iteration is over: the model finished, or the stream ended
        self._started = False
        self._result: asyncio.Future[TurnResult] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name=f"chat-turn-{index}")

    @property
    def streaming(self) -> bool:
        """True until the answer has ended (its trace may still be being written after)."""
        return self._streaming

    @property
    def finished(self) -> bool:
        """True once the result, trace included, is ready."""
        return self._result.done()

    @property
    def answer_so_far(self) -> str:
        return self.record.answer

    def cancel(self) -> None:
        """Stop the answer; what arrived is kept and the turn is still traced."""
        if self._text_ended:
            return  # the answer is whole; only litellm's own bookkeeping is left
        if self._streaming and not self._task.done():
            self.record.cancelled = True
            if self._started:  # a task cancelled before it ran would never finish the turn
                self._task.cancel()

    def __aiter__(self) -> ChatTurn:
        return self

    async def __anext__(self) -> str:
        try:
            item = await self._queue.get()
        except asyncio.CancelledError:
            self.cancel()  # the consumer went away (e.g. its worker was cancelled)
            raise
        if item is _END:
            self._queue.put_nowait(_END)  # iterating again ends at once
            raise StopAsyncIteration
        return item

    async def result(self) -> TurnResult:
        """Wait for the end of the turn, including the writing of its trace."""
        return await asyncio.shield(self._result)

    async def _run(self) -> None:
        self._started = True
        try:
            if not self.record.cancelled:
                await self._stream()
        except asyncio.CancelledError:
            self.record.cancelled = True
            uncancel = getattr(asyncio.current_task(), "uncancel", None)
            if uncancel is not None:
                uncancel()
        finally:
            self._streaming = False
            self.record.end_ns = time.time_ns()
            self._end_text()
        result = await self._finish()
        self._result.set_result(result)

    def _end_text(self) -> None:
        """No more text for the consumer (once): the model finished, or the stream ended."""
        if not self._text_ended:
            self._text_ended = True
            self._queue.put_nowait(_END)

    async def _stream(self) -> None:
        session, record = self.session, self.record
        if litellm_loaded():
            litellm = _litellm
        else:
            # Seconds on first use: the trace shows it as a span of its own ("load litellm"),
            # so the turn's parts add up instead of leaving an unexplained hole.
            record.load_start_ns = time.time_ns()
            litellm = await import_litellm_async()
            record.load_end_ns = time.time_ns()
        kwargs: dict[str, Any] = dict(record.params)
        if session.is_ollama:
            kwargs["api_base"] = session.ollama_url
            kwargs["client"] = session.http_client()
            record.wire = session.wire_record()
        stream = None
        record.call_start_ns = time.time_ns()
        try:
            if not session.is_ollama:
                # Ollama's counts come on its done line anyway; asking litellm for a usage
                # chunk costs it measurable time per stream (bench/bench_chat.py).
                kwargs["stream_options"] = {"include_usage": True}
            stream = await litellm.acompletion(
                model=record.model, messages=record.messages, stream=True, **kwargs
            )
            yielded_at = time.perf_counter()
            async for chunk in stream:
                if time.perf_counter() - yielded_at > _YIELD_EVERY_S:
                    await asyncio.sleep(0)
                    yielded_at = time.perf_counter()
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    record.input_tokens = getattr(usage, "prompt_tokens", None)
                    record.output_tokens = getattr(usage, "completion_tokens", None)
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if choice.finish_reason:
                    record.finish_reason = choice.finish_reason
                text = choice.delta.content
                if text:
                    if record.first_delta_ns is None:
                        record.first_delta_ns = time.time_ns()
                    record.answer += text
                    self._queue.put_nowait(text)
                if record.finish_reason is not None:
                    # The model's done line: the text is whole. litellm still builds its
                    # complete response in a thread (~115 ms for 2,000 chunks here) before
                    # the stream ends; the answer need not wait for that to be shown as done.
                    self._end_text()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every litellm/openai error, and anything litellm leaks
            record.exception_type = type(exc).__name__
            record.exception_message = one_line(str(exc), 2000)
            record.error = sentence_for(exc, model=record.model, api_base=record.api_base, wire=record.wire)
        finally:
            if stream is not None:
                # Release the connection now (Ollama stops generating when it is closed).
                with contextlib.suppress(Exception):
                    await asyncio.shield(_close_stream(stream))

    async def _finish(self) -> TurnResult:
        record, session = self.record, self.session
        if record.answer:  # keep what the user saw, also a partial answer
            session.history.append({"role": "user", "content": record.prompt})
            session.history.append({"role": "assistant", "content": record.answer})
        trace_id: str | None = None
        not_traced: str | None = "Tracing is off for this chat, so the turn was not traced."
        waiting: int | None = None
        if session.tracer is not None:
            try:
                outcome = await asyncio.to_thread(session.tracer, record)
            except Exception as exc:  # the chat must go on without its trace
                not_traced = one_line(str(exc), 300) or "The turn could not be traced."
            else:
                if isinstance(outcome, Queued):  # kept in the outbox, sent later
                    not_traced, waiting = outcome.sentence, outcome.waiting
                else:
                    trace_id, not_traced = outcome, None
        generation = record.generation
        return TurnResult(
            prompt=record.prompt,
            answer=record.answer,
            model=record.model,
            trace_id=trace_id,
            traced=trace_id is not None,
            error=record.error,
            not_traced_reason=not_traced,
            queued=waiting is not None,
            waiting=waiting,
            queued_trace_id=record.trace_id if waiting is not None else None,
            cancelled=record.cancelled,
            finish_reason=record.finish_reason,
            input_tokens=record.input_tokens
            if record.input_tokens is not None
            else (generation.input_tokens if generation else None),
            output_tokens=record.output_tokens
            if record.output_tokens is not None
            else (generation.output_tokens if generation else None),
            duration_ms=(record.end_ns - record.start_ns) / 1e6,
            generation=generation,
        )


async def _close_stream(stream: Any) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
