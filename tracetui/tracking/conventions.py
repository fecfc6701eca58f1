"""What a span's attributes say under the tracing conventions other programs use.

MLflow's own autologging writes `mlflow.*` attributes and litellm's (`model`,
`api_base`, `custom_llm_provider`). Programs instrumented with OpenTelemetry
send the GenAI semantic conventions (`gen_ai.*`, `server.address`, …) or
OpenInference's (`llm.*`, `input.value`); MLflow's OTLP ingestion keeps every
attribute and adds `mlflow.llm.model` / `mlflow.llm.provider`. HTTP client
instrumentations write `http.url` (older) or `url.full` (newer).

These readers take the first convention that says something, so the rest of
the tracking layer asks one question ("which model answered?") whatever wrote
the span. Pure functions over decoded spans: no I/O, no Textual or Rich.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracetui.tracking.models import Span

# The model that answered (may be more precise than the one asked for: qwen2.5 -> qwen2.5:latest).
RESPONSE_MODEL_KEYS = ("gen_ai.response.model", "llm.model_name")
REQUEST_MODEL_KEYS = ("gen_ai.request.model",)
PROVIDER_KEYS = (
    "mlflow.llm.provider",
    "custom_llm_provider",
    "gen_ai.provider.name",
    "gen_ai.system",
    "llm.provider",
    "llm.system",
)
HTTP_METHOD_KEYS = ("http.request.method", "http.method")
HTTP_URL_KEYS = ("url.full", "http.url")
HTTP_STATUS_KEYS = ("http.response.status_code", "http.status_code")
SERVICE_NAME_TAG = "service.name"  # MLflow keeps an OTLP resource's attributes as trace tags


def text_attr(attributes: Mapping[str, Any], *keys: str) -> str | None:
    """The first of `keys` that holds a non-empty string."""
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def int_attr(attributes: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def response_model(span: Span) -> str | None:
    return text_attr(span.attributes, *RESPONSE_MODEL_KEYS)


def provider_name(span: Span) -> str | None:
    return text_attr(span.attributes, *PROVIDER_KEYS)


def server_base(span: Span) -> str | None:
    """`http://address:port` from the GenAI conventions' server.address / server.port."""
    address = text_attr(span.attributes, "server.address")
    if address is None:
        return None
    if ":" in address and not address.startswith("["):
        address = f"[{address}]"  # an IPv6 address
    port = int_attr(span.attributes, "server.port")
    return f"http://{address}:{port}" if port is not None else f"http://{address}"


def http_method(span: Span) -> str | None:
    return text_attr(span.attributes, *HTTP_METHOD_KEYS)


def http_url(span: Span) -> str | None:
    return text_attr(span.attributes, *HTTP_URL_KEYS)


def http_status(span: Span) -> int | None:
    return int_attr(span.attributes, *HTTP_STATUS_KEYS)


def is_http_client_span(span: Span) -> bool:
    """A span an HTTP client instrumentation wrote: it names a method and a URL."""
    return http_method(span) is not None and http_url(span) is not None
