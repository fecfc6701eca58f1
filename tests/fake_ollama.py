"""A protocol-faithful fake Ollama: a real HTTP server on a loopback port, run in a thread.

litellm's `acompletion` talks through an aiohttp transport, so only a real
server is seen by it. This one speaks Ollama's API as documented
(https://docs.ollama.com/api): NDJSON streams (`application/x-ndjson`) for
`/api/chat` and `/api/generate`, a final `done: true` line with nanosecond
timings, `{"stream": false}` answers, `404 {"error": "model 'x' not found"}`
for a model that is not pulled, `GET /`, `/api/version`, `/api/tags`,
`/api/show`, and the OpenAI-compatible `/v1/chat/completions`
(tests/fake_ollama_openai.py). Misbehaviour is scripted per answer (an error line in the middle
of a 200 stream with no done line, a slow first token, a slow stream to cancel).

Use it as the pytest fixture `fake_ollama` (one server per session, reset
between tests) or, from a bench script, as a context manager:

    with FakeOllama() as fake:
        fake.script(FakeAnswer.of_tokens(2000), fast=True)
        ... litellm.acompletion(model="ollama_chat/qwen2.5", api_base=fake.url, ...)
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest
from aiohttp import web

OLLAMA_VERSION = "0.6.5"
DEFAULT_MODELS = ("qwen2.5:latest", "qwen2.5:0.5b")
# Answer full of things a careless renderer would interpret: Rich/Textual markup,
# Markdown, ANSI escapes, control characters, a terminal title escape, a link.
HOSTILE_ANSWER = (
    "[bold red]not bold[/] [link=https://evil.example]click[/link] "
    "\x1b[31mred?\x1b[0m \x1b]0;pwned title\x07 bell\x07 nul\x00 tab\there "
    "**markdown** `code` <script>alert(1)</script> $(rm -rf /) \\[escaped]"
)
_TOKEN_RE = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Word-ish pieces whose concatenation is exactly `text` (a stand-in for a tokenizer)."""
    return _TOKEN_RE.findall(text)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class FakeAnswer:
    """How the fake answers one chat or generate request."""

    tokens: list[str] = field(default_factory=lambda: split_tokens("Hello from the fake Qwen."))
    first_token_delay_s: float = 0.0  # a model loading, or a long prompt evaluation
    token_delay_s: float = 0.0  # between tokens; large values give a stream to cancel
    error_after: int | None = None  # send an {"error": …} line after this many tokens, no done
    error_message: str = "an error was encountered while running the model: unexpected EOF"
    done_reason: str = "stop"
    fast: bool = False  # benchmark mode: many lines per write, no pauses

    @classmethod
    def of_text(cls, text: str, **kwargs: Any) -> FakeAnswer:
        return cls(tokens=split_tokens(text), **kwargs)

    @classmethod
    def of_tokens(cls, count: int, **kwargs: Any) -> FakeAnswer:
        """An answer of exactly `count` tokens (numbered words, so any loss shows)."""
        return cls(tokens=[f"w{i} " for i in range(count)], **kwargs)

    @property
    def text(self) -> str:
        return "".join(self.tokens)


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any


class FakeOllama:
    """A fake Ollama server in a background thread. Start with `start()` or `with`."""

    def __init__(self, models: tuple[str, ...] = DEFAULT_MODELS, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.models: list[str] = list(models)
        self.default_answer = FakeAnswer()
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0  # streams the client closed before the end
        self._answers: deque[FakeAnswer] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- control, from the test's thread -------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, *answers: FakeAnswer | str, **kwargs: Any) -> None:
        """Queue answers for the next requests, in order; a str becomes `FakeAnswer.of_text`."""
        with self._lock:
            for answer in answers:
                if isinstance(answer, str):
                    answer = FakeAnswer.of_text(answer, **kwargs)
                self._answers.append(answer)

    def reset(self) -> None:
        with self._lock:
            self._answers.clear()
            self.requests.clear()
            self.disconnects = 0
            self.models = list(DEFAULT_MODELS)
            self.default_answer = FakeAnswer()

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path == "/api/chat"]

    def _next_answer(self) -> FakeAnswer:
        with self._lock:
            return self._answers.popleft() if self._answers else self.default_answer

    def resolve_model(self, name: str) -> str | None:
        """Ollama's rule: a name without a tag means `:latest`."""
        full = name if ":" in name else f"{name}:latest"
        return full if full in self.models else None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeOllama:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # surfaced to start()'s caller below
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-ollama", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/", self._root)
        app.router.add_route("HEAD", "/", self._root)
        app.router.add_get("/api/version", self._version)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_post("/api/show", self._show)
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/generate", self._generate)
        from fake_ollama_openai import add_openai_routes

        add_openai_routes(app, self)  # /v1/chat/completions, as real Ollama serves it too
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    # -- handlers ------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> Any:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        self.requests.append(RecordedRequest(request.method, request.path, body))
        return body

    async def _root(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(text="Ollama is running")

    async def _version(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"version": OLLAMA_VERSION})

    async def _tags(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"models": [self._model_entry(name) for name in self.models]})

    async def _show(self, request: web.Request) -> web.Response:
        body = await self._record(request) or {}
        name = body.get("model") or body.get("name") or ""
        model = self.resolve_model(name)
        if model is None:
            return _not_found(name)
        entry = self._model_entry(model)
        return web.json_response(
            {
                "license": "Apache License 2.0",
                "modelfile": f"FROM {model}\n",
                "parameters": 'stop "<|im_start|>"\nstop "<|im_end|>"',
                "template": "{{ .System }}{{ .Prompt }}",
                "details": entry["details"],
                "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768},
                "capabilities": ["completion", "tools"],
                "modified_at": entry["modified_at"],
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, chat=True)

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, chat=False)

    async def _answer(self, request: web.Request, *, chat: bool) -> web.StreamResponse:
        body = await self._record(request)
        if not isinstance(body, dict):
            return web.json_response({"error": "invalid request body"}, status=400)
        name = str(body.get("model", ""))
        model = self.resolve_model(name)
        if model is None:
            return _not_found(name)
        answer = self._next_answer()
        options = body.get("options") or {}
        tokens = list(answer.tokens)
        done_reason = answer.done_reason
        num_predict = options.get("num_predict")
        if isinstance(num_predict, int) and 0 <= num_predict < len(tokens):
            tokens, done_reason = tokens[:num_predict], "length"
        if chat:
            prompt_text = " ".join(str(m.get("content", "")) for m in body.get("messages") or [])
        else:
            prompt_text = f"{body.get('system', '')} {body.get('prompt', '')}"
        prompt_tokens = max(1, len(split_tokens(prompt_text)))
        started = time.monotonic_ns()

        def piece(text: str) -> dict[str, Any]:
            line: dict[str, Any] = {"model": model, "created_at": _now_iso()}
            if chat:
                line["message"] = {"role": "assistant", "content": text}
            else:
                line["response"] = text
            line["done"] = False
            return line

        def done_line(first_token_ns: int, eval_count: int) -> dict[str, Any]:
            end = time.monotonic_ns()
            load_ns = 1_250_000
            prompt_eval_ns = max(1, first_token_ns - started - load_ns)
            line = piece("")
            line.update(
                done_reason=done_reason,
                done=True,
                total_duration=max(1, end - started),
                load_duration=load_ns,
                prompt_eval_count=prompt_tokens,
                prompt_eval_duration=prompt_eval_ns,
                eval_count=eval_count,
                eval_duration=max(1, end - first_token_ns),
            )
            if not chat:
                line["context"] = list(range(prompt_tokens + eval_count))
            return line

        if answer.first_token_delay_s:
            await asyncio.sleep(answer.first_token_delay_s)
        first_token_ns = time.monotonic_ns()

        if body.get("stream") is False:
            if answer.error_after is not None:
                return web.json_response({"error": answer.error_message}, status=500)
            await asyncio.sleep(answer.token_delay_s * len(tokens))
            whole = piece("".join(tokens))
            final = done_line(first_token_ns, len(tokens))
            whole.update({k: v for k, v in final.items() if k not in ("message", "response")})
            return web.json_response(whole)

        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await self._stream_answer(response, answer, tokens, piece)
            if answer.error_after is not None:
                # Ollama's failure after output started: still 200, an error line, no done line.
                await response.write(_ndjson({"error": answer.error_message}))
            else:
                await response.write(_ndjson(done_line(first_token_ns, len(tokens))))
            await response.write_eof()
        except ConnectionResetError:
            # The client hung up (a cancelled answer): Ollama stops generating, so do we.
            self.disconnects += 1
        return response

    async def _stream_answer(
        self, response: web.StreamResponse, answer: FakeAnswer, tokens: list[str], piece: Any
    ) -> None:
        if answer.fast:
            await self._send_fast(response, tokens, piece)
            return
        for sent, token in enumerate(tokens):
            if answer.error_after is not None and sent >= answer.error_after:
                break
            if sent and answer.token_delay_s:
                await asyncio.sleep(answer.token_delay_s)
            await response.write(_ndjson(piece(token)))

    @staticmethod
    async def _send_fast(response: web.StreamResponse, tokens: list[str], piece: Any) -> None:
        """Benchmark mode: the whole stream as fast as the socket takes it, 64 lines per write."""
        for start in range(0, len(tokens), 64):
            batch = tokens[start : start + 64]
            await response.write(b"".join(_ndjson(piece(token)) for token in batch))

    @staticmethod
    def _model_entry(name: str) -> dict[str, Any]:
        size_label = name.split(":", 1)[1] if ":" in name else "latest"
        return {
            "name": name,
            "model": name,
            "modified_at": "2025-01-20T10:00:00.000000Z",
            "size": 397_821_319,
            "digest": f"{abs(hash(name)):064x}"[:64],
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "qwen2",
                "families": ["qwen2"],
                "parameter_size": "494.03M" if size_label == "0.5b" else "7.6B",
                "quantization_level": "Q4_K_M",
            },
        }


def _ndjson(line: dict[str, Any]) -> bytes:
    return (json.dumps(line, ensure_ascii=False) + "\n").encode()


def _not_found(name: str) -> web.Response:
    return web.json_response({"error": f"model '{name}' not found"}, status=404)


@pytest.fixture(scope="session")
def fake_ollama_server() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


@pytest.fixture
def fake_ollama(fake_ollama_server: FakeOllama) -> Iterator[FakeOllama]:
    """The session's fake Ollama, with no scripted answers or recorded requests left over."""
    fake_ollama_server.reset()
    yield fake_ollama_server
    fake_ollama_server.reset()
