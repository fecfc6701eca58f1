"""A program instrumented as users instrument theirs, sending its traces to MLflow over OTLP/HTTP.

    python instrumented_program.py genai|openinference MLFLOW_URL EXPERIMENT_ID OLLAMA_URL

It calls Ollama's OpenAI-compatible API (`OLLAMA_URL/v1`, here the fake Ollama) with the real
`openai` client twice: once whole, once streamed. Instrumentation, all released packages:
- genai: opentelemetry-instrumentation-openai-v2 on the latest GenAI conventions
  (OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental, message content on the span);
- openinference: openinference-instrumentation-openai;
and in both opentelemetry-instrumentation-httpx for the HTTP client span below each call.
Spans go through opentelemetry-sdk's OTLP/HTTP exporter to MLflow's `/v1/traces`, the experiment
in the `x-mlflow-experiment-id` header. Run in its own process: instrumentation patches the openai
client and sets the global tracer provider for good.
"""

from __future__ import annotations

import os
import sys

PROMPTS = (
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}],
    [{"role": "user", "content": "Stream please"}],
)


def main(mode: str, mlflow_url: str, experiment_id: str, ollama_url: str) -> None:
    if mode == "genai":
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_only"
    import httpx
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"{mode}-program"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{mlflow_url}/v1/traces", headers={"x-mlflow-experiment-id": experiment_id}
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument()
    if mode == "genai":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    else:
        from openinference.instrumentation.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument()

    import openai

    # An httpx client of our own: openai 3 talks through httpx2, which the httpx instrumentation
    # does not see; given an httpx.Client it uses that, as many programs do.
    client = openai.OpenAI(base_url=f"{ollama_url}/v1", api_key="ollama", http_client=httpx.Client())
    whole = client.chat.completions.create(model="qwen2.5", messages=PROMPTS[0])
    print(whole.choices[0].message.content)
    stream = client.chat.completions.create(
        model="qwen2.5:0.5b", messages=PROMPTS[1], stream=True, stream_options={"include_usage": True}
    )
    print("".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices))
    provider.shutdown()  # flushes the exporter


if __name__ == "__main__":
    main(*sys.argv[1:5])
