"""Turn what litellm raised (openai.APIError subclasses) into one sentence a person can act on."""

from __future__ import annotations

from tracetui.chat.ollama import not_pulled_sentence, not_running_sentence, ollama_model_tag
from tracetui.chat.wire import WireRecord
from tracetui.tracking.errors import redact_text
from tracetui.visible import one_line


def _detail(exc: BaseException) -> str:
    message = str(getattr(exc, "message", "") or exc)
    # litellm prefixes "litellm.XError: Ollama_chatException - "; the rest is the useful part.
    for marker in ("Exception - ", "Error: "):
        if marker in message:
            message = message.rsplit(marker, 1)[1]
    return one_line(redact_text(message)) or type(exc).__name__


def sentence_for(exc: BaseException, *, model: str, api_base: str | None, wire: WireRecord | None) -> str:
    """The sentence shown for a failed turn. `wire` tells what Ollama really answered."""
    tag = ollama_model_tag(model)
    name = type(exc).__name__
    # An Ollama URL may carry user:password@; no sentence may show it.
    api_base = redact_text(api_base) if api_base else None
    if wire is not None and wire.error_line is not None and wire.status_code == 200:
        return (
            f"The model stopped in the middle of its answer: {one_line(wire.error_line)}. "
            "The partial answer is kept."
        )
    if name == "NotFoundError":
        if tag is not None:
            return not_pulled_sentence(tag)
        return f"Model {model} was not found: {_detail(exc)}."
    if name in ("APIConnectionError", "ServiceUnavailableError", "InternalServerError"):
        if tag is not None and (wire is None or wire.status_code is None):
            return not_running_sentence(api_base or "the configured address")
    if name == "Timeout" or name == "APITimeoutError":
        where = f"Ollama at {api_base}" if tag is not None else f"The provider of {model}"
        return f"{where} did not answer in time; try again or pick a smaller model."
    if name in ("AuthenticationError", "PermissionDeniedError"):
        return f"The provider of {model} refused the credentials: {_detail(exc)}."
    if name == "BadRequestError":
        return f"The model call was rejected: {_detail(exc)}."
    if wire is not None and wire.status_code is not None and wire.status_code >= 400:
        return f"Ollama answered HTTP {wire.status_code}: {_detail(exc)}."
    return f"The model call failed ({name}): {_detail(exc)}."
