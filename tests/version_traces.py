"""Run by another MLflow version's python: log traces with that version's own client, print their ids.

Usage: python version_traces.py TRACKING_URI EXPERIMENT_NAME [long]
Prints one JSON object: {"nested": id, "failing": id, "small": [ids…], "version": "…"}.
With "long": one trace that started ten minutes ago and ends now, {"long": id}.
"""

import json
import os
import sys
import time

os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402


def last_trace_id() -> str:
    if hasattr(mlflow, "get_last_active_trace_id"):
        return mlflow.get_last_active_trace_id()
    return mlflow.get_last_active_trace().info.request_id


def main() -> None:
    uri, experiment = sys.argv[1], sys.argv[2]
    mlflow.set_tracking_uri(uri)
    experiment_id = mlflow.set_experiment(experiment).experiment_id
    if sys.argv[3:] == ["long"]:
        client = MlflowClient(uri)
        started = time.time_ns() - 600 * 1_000_000_000
        root = client.start_trace("long_running", experiment_id=experiment_id, start_time_ns=started)
        trace_id = getattr(root, "trace_id", None) or root.request_id
        client.end_trace(trace_id, outputs={"done": True})
        print(json.dumps({"long": trace_id}))
        return

    with mlflow.start_span("chat_turn", span_type="CHAIN") as root:
        root.set_inputs({"prompt": "Explain Qwen 2.5 in one line."})
        with mlflow.start_span("litellm-completion", span_type="LLM") as llm:
            llm.set_inputs({"messages": [{"role": "user", "content": "Explain Qwen 2.5 in one line."}]})
            llm.set_attributes({"model": "ollama_chat/qwen2.5:0.5b", "api_base": "http://127.0.0.1:11434"})
            usage = {"input_tokens": 26, "output_tokens": 14, "total_tokens": 40}
            llm.set_attribute("mlflow.chat.tokenUsage", usage)
            llm.set_outputs({"choices": [{"message": {"role": "assistant", "content": "A small model."}}]})
        root.set_outputs({"answer": "A small model."})
    nested = last_trace_id()

    @mlflow.trace(name="flaky_step")
    def flaky() -> None:
        raise ValueError("the tool broke")

    @mlflow.trace(name="failing_turn")
    def failing() -> None:
        flaky()

    try:
        failing()
    except ValueError:
        pass
    failing_id = last_trace_id()

    @mlflow.trace(name="small")
    def small(i: int) -> int:
        return i * 2

    small_ids = []
    for i in range(20):
        small(i)
        small_ids.append(last_trace_id())
    ids = {"nested": nested, "failing": failing_id, "small": small_ids, "version": mlflow.__version__}
    print(json.dumps(ids))


main()
