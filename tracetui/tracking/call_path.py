"""The call path of a traced LLM call: Python program -> litellm -> Ollama -> model.

tracetui's own chat turns log a span for every hop. Traces from other programs
(plain `mlflow.litellm.autolog()`, `mlflow.openai.autolog()`) only have the LLM
span, whose attributes still name the model and the server it talked to. For
those, `derived_hops` builds virtual hop nodes from the attributes so the span
tree can show the whole path, marked as derived.

Explicit hop spans are recognised by the attribute `tracetui.hop` ("ollama" or
"model"); spans without it are classified by name and attributes (see
`explicit_hop_kind`): a real HTTP client span to Ollama's API (OpenTelemetry's
HTTP instrumentations) is the Ollama hop itself. Ollama is recognised from the
conventions (see conventions.py): a provider named ollama, Ollama's port, an
Ollama API path, or the configured Ollama address (`remember_ollama_address`).
Pure logic: no Textual or Rich here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tracetui.formatting import duration
from tracetui.tracking.conventions import (
    REQUEST_MODEL_KEYS,
    http_method,
    http_status,
    http_url,
    is_http_client_span,
    provider_name,
    response_model,
    server_base,
    text_attr,
)
from tracetui.tracking.models import Span, TokenUsage, Trace, elapsed_ns

# The attribute a tracetui chat span sets to say which hop it is.
ATTR_HOP = "tracetui.hop"
HOP_OLLAMA = "ollama"
HOP_MODEL = "model"
HOP_SETUP = "setup"  # the program preparing the call (litellm's first import), not a hop of the path

# Span types that are a call to a model.
LLM_SPAN_TYPES = frozenset({"LLM", "CHAT_MODEL"})

OLLAMA_DEFAULT_PORT = 11434
_OLLAMA_PATHS = ("/api/chat", "/api/generate", "/api/embed", "/api/embeddings")
_OLLAMA_PROVIDERS = ("ollama", "ollama_chat")
# Host:port of the Ollama this tracetui talks to (--ollama-url …): a call there is a call to Ollama,
# whatever API it used. Filled by the app and the CLI at start.
_known_ollama_hosts: set[str] = set()


def remember_ollama_address(url: str) -> None:
    """Count calls to `url`'s host:port as calls to Ollama: the configured Ollama address
    (it replaces the one remembered before)."""
    host, _ = _host_of(url)
    _known_ollama_hosts.clear()
    if host is not None:
        _known_ollama_hosts.add(host)


_STREAM_CHUNK_EVENT_PREFIX = "mlflow.chunk.item."


@dataclass(frozen=True, slots=True)
class DerivedHop:
    """A hop of the call path that has no span of its own, derived from an LLM span's attributes.

    `facts` are (label, value) pairs in display order, only those actually known.
    Times are the LLM span's: a derived hop cannot be timed more precisely.
    """

    kind: str  # HOP_OLLAMA or HOP_MODEL
    title: str  # "Ollama 127.0.0.1:11434" or "qwen2.5:0.5b"
    source_span: Span  # the LLM span the facts were read from
    facts: tuple[tuple[str, str], ...]
    start_time_ns: int
    end_time_ns: int | None

    @property
    def hop_id(self) -> str:
        """Stable id, unique within a trace."""
        return f"{self.source_span.span_id}/{self.kind}"

    @property
    def duration_ns(self) -> int | None:
        return elapsed_ns(self.start_time_ns, self.end_time_ns)


@dataclass(frozen=True, slots=True)
class ModelEndpoint:
    """What an LLM span says about the model it called and where."""

    model: str | None  # bare model tag, e.g. "qwen2.5:0.5b"
    provider: str | None  # "ollama_chat", "openai", … when known
    api_base: str | None  # as recorded, e.g. "http://127.0.0.1:54177/api/chat"
    host: str | None  # "127.0.0.1:54177"
    is_ollama: bool


def is_llm_span(span: Span) -> bool:
    return span.span_type in LLM_SPAN_TYPES


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _split_provider(model: str) -> tuple[str | None, str]:
    """'ollama_chat/qwen2.5:0.5b' -> ('ollama_chat', 'qwen2.5:0.5b'); a bare tag has no provider."""
    provider, sep, rest = model.partition("/")
    if sep and rest and ":" not in provider:
        return provider, rest
    return None, model


def _host_of(api_base: str) -> tuple[str | None, str]:
    """Host:port and path of a URL; a base without a scheme ('myhost:11434') is accepted too."""
    parts = urlsplit(api_base if "//" in api_base else f"//{api_base}")
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: show the raw netloc
        port = None
    host = parts.hostname
    if host is None:
        return None, parts.path
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return (f"{host}:{port}" if port is not None else host), parts.path


def is_ollama_address(
    host: str | None, path: str = "", *, ollama_hosts: frozenset[str] = frozenset()
) -> bool:
    """Ollama's port, one of its API paths, the configured Ollama, or a host the trace saw
    serve Ollama's own API (`ollama_hosts`: so its OpenAI-compatible `/v1` is Ollama too)."""
    if host is None and not path:
        return False
    return (
        (host is not None and (host.endswith(f":{OLLAMA_DEFAULT_PORT}") or host in _known_ollama_hosts))
        or (host is not None and host in ollama_hosts)
        or any(path.rstrip("/").endswith(p) for p in _OLLAMA_PATHS)
    )


def model_endpoint(span: Span, *, ollama_hosts: frozenset[str] = frozenset()) -> ModelEndpoint:
    """The model and server an LLM span names, read from litellm's, MLflow's and OpenTelemetry's
    attributes (GenAI and OpenInference conventions). The model is the one that answered when the
    span says (gen_ai.response.model), else the one asked for. `ollama_hosts`: hosts seen serving
    Ollama's own API elsewhere in the trace (`ollama_hosts_in`), so a `/v1` call there is Ollama too."""
    attributes = span.attributes
    inputs = span.inputs if isinstance(span.inputs, Mapping) else {}
    outputs = span.outputs if isinstance(span.outputs, Mapping) else {}
    qualified = _text(attributes.get("mlflow.llm.model")) or _text(outputs.get("model"))
    provider = provider_name(span)
    model: str | None = None
    for candidate in (
        response_model(span),
        _text(attributes.get("model")),
        _text(inputs.get("model")),
        text_attr(attributes, *REQUEST_MODEL_KEYS),
        qualified,
    ):
        if candidate:
            prefix, bare = _split_provider(candidate)
            provider = provider or prefix
            model = model or bare

    api_base = _text(attributes.get("api_base")) or _text(attributes.get("base_url")) or server_base(span)
    host, path = _host_of(api_base) if api_base else (None, "")
    is_ollama = (
        (provider or "").lower() in _OLLAMA_PROVIDERS
        or is_ollama_address(host, path, ollama_hosts=ollama_hosts)
        or "ollama" in (qualified or "").lower()
        # Ollama's OpenAI-compatible API answers with this fingerprint; the GenAI instrumentation keeps it.
        or attributes.get("openai.response.system_fingerprint") == "fp_ollama"
    )
    return ModelEndpoint(model=model, provider=provider, api_base=api_base, host=host, is_ollama=is_ollama)


def ollama_hosts_in(trace: Trace) -> frozenset[str]:
    """Hosts the trace shows serving Ollama's own API (`/api/chat` …), by api_base or HTTP span URL."""
    hosts = set()
    for span in trace.spans:
        for url in (_text(span.attributes.get("api_base")), http_url(span)):
            if url:
                host, path = _host_of(url)
                if host is not None and any(path.rstrip("/").endswith(p) for p in _OLLAMA_PATHS):
                    hosts.add(host)
    return frozenset(hosts)


def is_ollama_http_span(span: Span, parent: Span | None = None) -> bool:
    """A real HTTP client span to Ollama: by its URL, or under an LLM span that called Ollama."""
    if not is_http_client_span(span):
        return False
    host, path = _host_of(http_url(span) or "")
    if is_ollama_address(host, path):
        return True
    return parent is not None and is_llm_span(parent) and model_endpoint(parent).is_ollama


def ollama_title(span: Span) -> str:
    """'Ollama host:port' for an HTTP client span to Ollama (its own name is only the method)."""
    host, _ = _host_of(http_url(span) or "")
    return f"Ollama {host}" if host else "Ollama"


def http_call_label(span: Span) -> str:
    """'POST /api/chat' for an HTTP client span."""
    _, path = _host_of(http_url(span) or "")
    return f"{http_method(span) or 'POST'} {path}".strip()


def http_status_label(span: Span) -> str:
    status = http_status(span)
    return f"HTTP {status}" if status is not None else "no response"


def explicit_hop_kind(span: Span, parent: Span | None = None) -> str | None:
    """HOP_OLLAMA / HOP_MODEL when `span` is an explicit span for that hop, else None.

    A span says so with `tracetui.hop`; without it, a span named "ollama…" is the
    Ollama hop, and a child of an Ollama hop that names a model is the model hop.
    """
    declared = span.attributes.get(ATTR_HOP)
    if declared in (HOP_OLLAMA, HOP_MODEL):
        return declared
    if span.name.lower().startswith("ollama") or is_ollama_http_span(span, parent):
        return HOP_OLLAMA
    if parent is not None and explicit_hop_kind(parent) == HOP_OLLAMA and "model" in span.attributes:
        return HOP_MODEL
    return None


def _token_usage(span: Span) -> TokenUsage | None:
    if span.token_usage is not None:
        return span.token_usage
    outputs = span.outputs if isinstance(span.outputs, Mapping) else {}
    usage = outputs.get("usage")
    if isinstance(usage, Mapping):
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(prompt, int) or isinstance(completion, int):
            total = usage.get("total_tokens")
            return TokenUsage(
                input_tokens=prompt if isinstance(prompt, int) else None,
                output_tokens=completion if isinstance(completion, int) else None,
                total_tokens=total if isinstance(total, int) else None,
            )
    return None


def _finish_reason(span: Span) -> str | None:
    outputs = span.outputs if isinstance(span.outputs, Mapping) else {}
    choices = outputs.get("choices")
    if isinstance(choices, Sequence) and not isinstance(choices, str) and choices:
        first = choices[0]
        if isinstance(first, Mapping):
            return _text(first.get("finish_reason"))
    return None


def first_chunk_offset_ns(span: Span) -> int | None:
    """Time from the span's start to its first streamed chunk event, when MLflow recorded chunks."""
    for event in span.events:
        if event.name.startswith(_STREAM_CHUNK_EVENT_PREFIX):
            return max(0, event.time_unix_nano - span.start_time_ns)
    return None


def _model_facts(span: Span, endpoint: ModelEndpoint) -> tuple[tuple[str, str], ...]:
    facts: list[tuple[str, str]] = []
    if endpoint.model:
        facts.append(("model tag", endpoint.model))
    if endpoint.provider:
        facts.append(("provider", endpoint.provider))
    usage = _token_usage(span)
    if usage is not None:
        if usage.input_tokens is not None:
            facts.append(("input tokens", str(usage.input_tokens)))
        if usage.output_tokens is not None:
            facts.append(("output tokens", str(usage.output_tokens)))
        call_ns = span.duration_ns
        if usage.output_tokens and call_ns:
            # Over the whole call (prompt evaluation included), so a lower bound of the generation speed.
            facts.append(("tokens/s (whole call)", f"{usage.output_tokens / (call_ns / 1e9):.1f}"))
    ttft = first_chunk_offset_ns(span)
    if ttft is not None:
        facts.append(("time to first chunk", duration(ttft, spaced=True)))
    reason = _finish_reason(span)
    if reason:
        facts.append(("finish reason", reason))
    return tuple(facts)


def _ollama_facts(span: Span, endpoint: ModelEndpoint) -> tuple[tuple[str, str], ...]:
    facts: list[tuple[str, str]] = [("host", endpoint.host or "unknown (no api_base recorded)")]
    if endpoint.api_base:
        facts.append(("api_base", endpoint.api_base))
    if span.duration_ns is not None:
        facts.append(("round trip (whole LLM call)", duration(span.duration_ns, spaced=True)))
    facts.append(("status", "error" if span.status_code == "ERROR" else "ok"))
    return tuple(facts)


def derived_hops(
    span: Span,
    children: Sequence[Span] = (),
    *,
    parent: Span | None = None,
    ollama_hosts: frozenset[str] = frozenset(),
) -> list[DerivedHop]:
    """The hops below a span that have no span of their own, outermost first.

    Each hop is the parent of the next: [Ollama, model] for an Ollama call,
    [model] for another provider whose model is known, [] when `span` is not an
    LLM span, names no model, already has explicit hop children, or is itself an
    explicit hop: tracetui's model span is an LLM span too, and deriving under it
    drew the model twice ("qwen2.5:0.5b (derived)" under the real one).
    One exception: a real HTTP client span to Ollama under an LLM span (`parent`)
    is the Ollama hop; the model hop below it is derived from that LLM span.
    """
    if parent is not None and is_llm_span(parent) and is_ollama_http_span(span, parent):
        if any(explicit_hop_kind(child, span) == HOP_MODEL for child in children):
            return []
        endpoint = model_endpoint(parent, ollama_hosts=ollama_hosts)
        if not endpoint.model:
            return []
        facts = _model_facts(parent, endpoint)
        return [DerivedHop(HOP_MODEL, endpoint.model, parent, facts, span.start_time_ns, span.end_time_ns)]
    if not is_llm_span(span):
        return []
    if span.attributes.get(ATTR_HOP) in (HOP_OLLAMA, HOP_MODEL):
        return []  # the hop's own span: nothing below it is missing
    if any(explicit_hop_kind(child, span) is not None for child in children):
        return []
    endpoint = model_endpoint(span, ollama_hosts=ollama_hosts)
    hops: list[DerivedHop] = []
    if endpoint.is_ollama:
        title = f"Ollama {endpoint.host}" if endpoint.host else "Ollama"
        hops.append(
            DerivedHop(
                HOP_OLLAMA, title, span, _ollama_facts(span, endpoint), span.start_time_ns, span.end_time_ns
            )
        )
    if endpoint.model:
        hops.append(
            DerivedHop(
                HOP_MODEL,
                endpoint.model,
                span,
                _model_facts(span, endpoint),
                span.start_time_ns,
                span.end_time_ns,
            )
        )
    return hops


def call_path(trace: Trace) -> list[str]:
    """A one-line summary of the first LLM call's path, e.g. ['sample-turn', 'litellm-completion',
    'Ollama 127.0.0.1:54177', 'qwen2.5:0.5b']; [] when the trace has no LLM span.

    Explicit hop spans are used when present, derived hops otherwise.
    """
    groups = trace.children_by_parent()
    by_id = {span.span_id: span for span in trace.spans}
    llm = next(
        (span for span in sorted(trace.spans, key=lambda s: s.start_time_ns) if is_llm_span(span)), None
    )
    if llm is None:
        return []
    ancestors: list[str] = []
    parent_id = llm.parent_id
    while parent_id is not None and parent_id in by_id and len(ancestors) < 100:
        ancestors.append(by_id[parent_id].name)
        parent_id = by_id[parent_id].parent_id
    path = [*reversed(ancestors), llm.name]
    ollama_hosts = ollama_hosts_in(trace)
    hops = derived_hops(llm, groups.get(llm.span_id, []), ollama_hosts=ollama_hosts)
    if hops:
        return path + [hop.title for hop in hops]
    current, parent = llm, None
    for _ in range(2):  # follow explicit Ollama -> model children
        nxt = next(
            (c for c in groups.get(current.span_id, []) if explicit_hop_kind(c, current) is not None), None
        )
        if nxt is None:
            below = derived_hops(current, groups.get(current.span_id, []), parent=parent)
            path += [hop.title for hop in below]
            break
        path.append(ollama_title(nxt) if is_http_client_span(nxt) else nxt.name)
        current, parent = nxt, current
    return path
