"""The fake Ollama's OpenAI-compatible endpoint: `POST /v1/chat/completions`.

Real Ollama serves it beside its own API (https://docs.ollama.com/openai) and
answers as its `openai` package does: a `chat.completion` object with
`system_fingerprint: "fp_ollama"`, an id `chatcmpl-<number>`, usage from
Ollama's prompt_eval_count / eval_count; streamed, Server-Sent Events of
`chat.completion.chunk` objects (every delta carries `role: assistant`, the
last one the finish reason), then — only with `stream_options.include_usage`
— a chunk with no choices and the usage, then `data: [DONE]`. Errors are
OpenAI-shaped: `{"error": {"message", "type", "param", "code"}}` with
`not_found_error` for a model that is not pulled.

The answer comes from the same script as `/api/chat` (FakeOllama.script).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from fake_ollama import FakeOllama


def openai_error(status: int, message: str) -> web.Response:
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(body, status=status)


def _sse(payload: Any) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


def add_openai_routes(app: web.Application, fake: FakeOllama) -> None:
    """Register `/v1/chat/completions` for `fake` (called from FakeOllama._serve)."""

    async def chat_completions(request: web.Request) -> web.StreamResponse:
        from fake_ollama import split_tokens

        body = await fake._record(request)
        if not isinstance(body, dict):
            return openai_error(400, "invalid request")
        name = str(body.get("model", ""))
        model = fake.resolve_model(name)
        if model is None:
            return openai_error(404, f"model '{name}' not found")
        answer = fake._next_answer()
        tokens = list(answer.tokens)
        finish = answer.done_reason
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and 0 <= max_tokens < len(tokens):
            tokens, finish = tokens[:max_tokens], "length"
        prompt_text = " ".join(
            m["content"] if isinstance(m.get("content"), str) else json.dumps(m.get("content"))
            for m in body.get("messages") or []
            if isinstance(m, dict)
        )
        usage = {
            "prompt_tokens": max(1, len(split_tokens(prompt_text))),
            "completion_tokens": len(tokens),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        completion_id = f"chatcmpl-{random.randint(0, 998)}"
        created = int(time.time())
        if answer.first_token_delay_s:
            await asyncio.sleep(answer.first_token_delay_s)

        if not body.get("stream"):
            if answer.error_after is not None:
                return openai_error(500, answer.error_message)
            await asyncio.sleep(answer.token_delay_s * len(tokens))
            return web.json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_ollama",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(tokens)},
                            "finish_reason": finish,
                        }
                    ],
                    "usage": usage,
                }
            )

        def chunk(content: str, finish_reason: str | None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_ollama",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": content},
                        "finish_reason": finish_reason,
                    }
                ],
            }

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for sent, token in enumerate(tokens):
                if answer.error_after is not None and sent >= answer.error_after:
                    break
                if sent and answer.token_delay_s:
                    await asyncio.sleep(answer.token_delay_s)
                await response.write(_sse(chunk(token, None)))
            if answer.error_after is not None:
                # Ollama's OpenAI layer reports a failure mid-stream as an error event.
                error = {"error": {"message": answer.error_message, "type": "api_error", "param": None}}
                await response.write(_sse(error))
            else:
                await response.write(_sse(chunk("", finish)))
                options = body.get("stream_options") or {}
                if options.get("include_usage"):
                    last = chunk("", None)
                    last["choices"] = []
                    last["usage"] = usage
                    await response.write(_sse(last))
                await response.write(_sse("[DONE]"))
            await response.write_eof()
        except ConnectionResetError:
            fake.disconnects += 1
        return response

    app.router.add_post("/v1/chat/completions", chat_completions)
