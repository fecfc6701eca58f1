"""Credentials in a URL never reach a sentence a person sees."""

from __future__ import annotations

import asyncio

from tracetui.chat.errors import sentence_for
from tracetui.chat.ollama import OllamaClient, OllamaNotRunning, not_running_sentence
from tracetui.tracking.errors import redact_text, redact_url
from tracetui.tracking.local_server import free_loopback_port


def test_redact_url_and_text() -> None:
    assert redact_url("https://bob:pw@host:5000/x?q=1") == "https://host:5000/x?q=1"
    assert redact_url("http://host:5000") == "http://host:5000"
    assert (
        redact_text("failed: http://bob:pw@h:1/api and https://t0k@x/")
        == "failed: http://h:1/api and https://x/"
    )


class APIConnectionError(Exception):
    """Named as litellm's error is: sentence_for dispatches on the class name."""


def test_chat_error_sentence_hides_ollama_credentials() -> None:
    error = APIConnectionError("Cannot connect to http://bob:hunter2@127.0.0.1:9/api/chat")
    sentence = sentence_for(
        error, model="ollama_chat/qwen2.5", api_base="http://bob:hunter2@127.0.0.1:9", wire=None
    )
    assert "hunter2" not in sentence and "bob" not in sentence
    assert "http://127.0.0.1:9" in sentence


def test_unreachable_ollama_sentence_hides_credentials() -> None:
    assert "pw" not in not_running_sentence("http://me:pw@localhost:11434")
    url = f"http://me:s3cret@127.0.0.1:{free_loopback_port()}"

    async def probe() -> str:
        client = OllamaClient(url)
        try:
            await client.health()
        except OllamaNotRunning as error:
            return str(error)
        return "no error"

    sentence = asyncio.run(probe())
    assert "s3cret" not in sentence and "Start it with `ollama serve`" in sentence
