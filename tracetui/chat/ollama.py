"""Ollama's own API: is it running, which version, which models are pulled.

Every failure is an `OllamaError` whose `str()` is one sentence a person can
act on. The address comes from `tracetui.config.ollama_url()` (--ollama-url,
OLLAMA_API_BASE, OLLAMA_HOST, then http://localhost:11434).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tracetui.config import ollama_url as resolve_ollama_url
from tracetui.tracking.errors import redact_text

OLLAMA_PROVIDERS = ("ollama_chat", "ollama")


class OllamaError(Exception):
    """A failure talking to Ollama. `str()` is a sentence for a person."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


class OllamaNotRunning(OllamaError):
    pass


class ModelNotPulled(OllamaError):
    pass


def not_running_sentence(url: str) -> str:
    return f"Ollama is not running at {redact_text(url)}. Start it with `ollama serve`."


def not_pulled_sentence(model_tag: str) -> str:
    return f"Model {model_tag} is not pulled. Run `ollama pull {model_tag}`."


def ollama_model_tag(litellm_model: str) -> str | None:
    """'ollama_chat/qwen2.5' -> 'qwen2.5'; None for a model litellm sends elsewhere."""
    provider, sep, tag = litellm_model.partition("/")
    return tag if sep and provider in OLLAMA_PROVIDERS else None


def same_model(a: str, b: str) -> bool:
    """Ollama's naming rule: a name without a tag means `:latest`."""

    def full(name: str) -> str:
        return name if ":" in name else f"{name}:latest"

    return full(a) == full(b)


@dataclass(frozen=True, slots=True)
class OllamaModel:
    name: str  # e.g. "qwen2.5:0.5b"
    size_bytes: int | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None

    @property
    def litellm_model(self) -> str:
        return f"ollama_chat/{self.name}"


@dataclass(frozen=True, slots=True)
class OllamaStatus:
    url: str
    version: str | None


class OllamaClient:
    """A small async client for Ollama's management endpoints (not the chat itself)."""

    def __init__(self, url: str | None = None, timeout_s: float = 5.0) -> None:
        self.url = resolve_ollama_url(url)
        self._timeout = httpx.Timeout(timeout_s)

    async def _get(self, path: str) -> httpx.Response:
        try:
            async with httpx.AsyncClient(base_url=self.url, timeout=self._timeout) as client:
                return await client.get(path)
        except httpx.HTTPError as exc:
            raise OllamaNotRunning(not_running_sentence(self.url)) from exc

    async def health(self) -> OllamaStatus:
        """GET / answers "Ollama is running"; the version is best effort."""
        root = await self._get("/")
        if root.status_code != 200 or "ollama" not in root.text.lower():
            raise OllamaNotRunning(
                f"The server at {self.url} is not Ollama (it answered HTTP {root.status_code}). "
                "Check --ollama-url or OLLAMA_HOST."
            )
        version: str | None = None
        response = await self._get("/api/version")
        if response.status_code == 200:
            try:
                version = str(response.json().get("version")) or None
            except ValueError:
                version = None
        return OllamaStatus(url=self.url, version=version)

    async def list_models(self) -> list[OllamaModel]:
        response = await self._get("/api/tags")
        try:
            response.raise_for_status()
            entries = response.json().get("models") or []
        except (httpx.HTTPStatusError, ValueError, AttributeError) as exc:
            raise OllamaError(
                f"Ollama at {self.url} did not list its models (HTTP {response.status_code})."
            ) from exc
        models = []
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("name"):
                continue
            details = entry.get("details") or {}
            models.append(
                OllamaModel(
                    name=str(entry["name"]),
                    size_bytes=entry.get("size") if isinstance(entry.get("size"), int) else None,
                    family=details.get("family"),
                    parameter_size=details.get("parameter_size"),
                    quantization=details.get("quantization_level"),
                )
            )
        return models

    async def ensure_model(self, litellm_model: str) -> None:
        """Raise ModelNotPulled if an Ollama model is missing; other providers pass."""
        tag = ollama_model_tag(litellm_model)
        if tag is None:
            return
        if not any(same_model(tag, m.name) for m in await self.list_models()):
            raise ModelNotPulled(not_pulled_sentence(tag))
