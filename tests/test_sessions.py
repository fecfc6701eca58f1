"""Sessions on the real server: grouping by `mlflow.trace.session`, each session's traces in
order, its conversation read back, the numbers for sparklines, the MLflow UI link, and the CLI."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from chat_turns import EVAL_MS, MODEL_TAG, OUTPUT_TOKENS, turn_record
from click.testing import CliRunner
from trace_factory import log_nested_trace, use_server

from tracetui.chat.trace_writer import TurnTracer
from tracetui.cli import main
from tracetui.config import TrackingSettings
from tracetui.tracking.client import TrackingClient
from tracetui.tracking.sessions import list_sessions, session_filter, session_trace_infos, session_turns
from tracetui.tracking.stats import (
    SOURCE_CALL,
    SOURCE_GENERATION,
    SOURCE_TRACE,
    UNKNOWN_MODEL,
    latency_series,
    model_speeds,
    token_series,
)
from tracetui.tracking.transcript import turns_to_messages
from tracetui.tracking.web_url import trace_web_url

ODD_IDS = ("it's", 'say "hi"', "both ' and \"", "back\\slash %_")
_ENV = {"MLFLOW_TRACKING_URI": None, "MLFLOW_EXPERIMENT_ID": None, "MLFLOW_EXPERIMENT_NAME": None}


@dataclass(frozen=True)
class Logged:
    url: str
    experiment: str
    experiment_id: str
    chat: list[str]  # session "chat-A", in order
    other: str  # session "chat-B"
    odd: dict[str, str]  # session id -> trace id
    plain: str  # a trace without a session


@pytest.fixture(scope="module")
def logged(mlflow_server) -> Iterator[Logged]:
    experiment = f"sessions-{uuid.uuid4().hex[:8]}"
    tracer = TurnTracer(TrackingSettings(tracking_uri=mlflow_server.url), experiment=experiment)
    start = time.time_ns() - 60 * 10**9
    try:
        history: list[dict[str, str]] = []
        chat = []
        for index, (prompt, answer) in enumerate(
            [("Hi?", "Hello."), ("What is 2+2?", "4."), ("Bye.", "Bye!")]
        ):
            record = turn_record(
                "chat-A",
                prompt,
                answer,
                turn_index=index,
                start_ns=start + index * 2 * 10**9,
                history=history,
            )
            chat.append(tracer.log(record))
            history += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        other = tracer.log(turn_record("chat-B", "Other?", "Other.", start_ns=start + 7 * 10**9))
        odd = {
            sid: tracer.log(turn_record(sid, f"q {sid}", f"a {sid}", start_ns=start + 9 * 10**9))
            for sid in ODD_IDS
        }
        use_server(mlflow_server.url)
        plain = log_nested_trace(experiment)
        yield Logged(mlflow_server.url, experiment, tracer.experiment_id(), chat, other, odd, plain)
    finally:
        tracer.close()


def run(settings: TrackingSettings, url: str, work):
    async def main_():
        async with TrackingClient(settings, url) as client:
            return await work(client)

    return asyncio.run(main_())


def test_sessions_are_grouped_and_traces_without_one_left_out(logged: Logged, tracking_settings) -> None:
    sessions = run(tracking_settings, logged.url, lambda c: list_sessions(c, logged.experiment_id))
    by_id = {s.session_id: s for s in sessions}
    assert set(by_id) == {"chat-A", "chat-B", *ODD_IDS}
    chat = by_id["chat-A"]
    assert chat.trace_count == 3 and chat.latest_trace_id == logged.chat[-1]
    assert chat.first_prompt == "Hi?"
    assert (chat.input_tokens, chat.output_tokens) == (3 * 26, 3 * OUTPUT_TOKENS)
    assert sessions[-1].session_id == "chat-A", "the least recently active session comes last"


@pytest.mark.parametrize("session_id", ODD_IDS)
def test_any_session_id_is_found(logged: Logged, tracking_settings, session_id: str) -> None:
    infos = run(
        tracking_settings, logged.url, lambda c: session_trace_infos(c, logged.experiment_id, session_id)
    )
    assert [i.trace_id for i in infos] == [logged.odd[session_id]]


def test_session_filter_quotes() -> None:
    assert session_filter("a") == "metadata.`mlflow.trace.session` = 'a'"
    assert session_filter("it's") == 'metadata.`mlflow.trace.session` = "it\'s"'
    assert session_filter("both ' and \"") is None


def test_conversation_in_order_and_continuable(logged: Logged, tracking_settings) -> None:
    turns = run(tracking_settings, logged.url, lambda c: session_turns(c, logged.experiment_id, "chat-A"))
    assert [t.trace_id for t in turns] == logged.chat
    assert [(t.prompt, t.answer) for t in turns] == [
        ("Hi?", "Hello."),
        ("What is 2+2?", "4."),
        ("Bye.", "Bye!"),
    ]
    assert all(t.model == MODEL_TAG and t.complete for t in turns)
    assert turns_to_messages(turns)[:2] == [
        {"role": "user", "content": "Hi?"},
        {"role": "assistant", "content": "Hello."},
    ]
    previews = run(
        tracking_settings,
        logged.url,
        lambda c: session_turns(c, logged.experiment_id, "chat-A", full_text=False),
    )
    assert [(t.prompt, t.answer, t.complete) for t in previews][0] == ("Hi?", "Hello.", False)


def test_unknown_session_is_empty(logged: Logged, tracking_settings) -> None:
    assert run(tracking_settings, logged.url, lambda c: session_turns(c, logged.experiment_id, "nope")) == []


def test_numbers_for_sparklines_and_speeds(logged: Logged, tracking_settings) -> None:
    async def work(client: TrackingClient):
        infos = await session_trace_infos(client, logged.experiment_id, "chat-A")
        traces = [await client.get_trace(i) for i in (*logged.chat, logged.plain)]
        return infos, traces

    infos, traces = run(tracking_settings, logged.url, work)
    assert latency_series(infos) == [950.0, 950.0, 950.0]
    assert token_series(infos) == [40.0, 40.0, 40.0]
    assert token_series(infos, which="output") == [float(OUTPUT_TOKENS)] * 3
    speeds = {s.model: s for s in model_speeds(traces)}
    qwen = speeds[MODEL_TAG]
    # Three Ollama generations (14 tokens in 0.7 s each) and the autolog trace's LLM call.
    assert qwen.sources == (SOURCE_GENERATION, SOURCE_CALL)
    assert qwen.calls == 4
    plain_llm = next(s for s in traces[-1].spans if s.span_type == "LLM")
    expected = (3 * OUTPUT_TOKENS + 14) / (3 * EVAL_MS / 1000 + plain_llm.duration_ns / 1e9)
    assert qwen.tokens_per_s == pytest.approx(expected)
    fallback = model_speeds((), infos, model_of={logged.chat[0]: MODEL_TAG})
    assert {(s.model, s.calls, s.sources) for s in fallback} == {
        (MODEL_TAG, 1, (SOURCE_TRACE,)),
        (UNKNOWN_MODEL, 2, (SOURCE_TRACE,)),
    }
    assert fallback[0].tokens_per_s == pytest.approx(OUTPUT_TOKENS / 0.95)


def test_trace_web_url_has_no_credentials() -> None:
    url = trace_web_url("https://ana:s3cret@mlflow.example:8443/prefix/", "12", "tr-abc")
    assert url == (
        "https://mlflow.example:8443/prefix/#/experiments/12/traces"
        "?selectedEvaluationId=tr-abc&traceId=tr-abc&compareRunsMode=TRACES"
    )
    assert "s3cret" not in url and "ana" not in url
    assert trace_web_url("http://127.0.0.1:5000", "0", "tr-x").startswith(
        "http://127.0.0.1:5000/#/experiments/0/"
    )


def test_web_url_opens_on_the_real_server(logged: Logged) -> None:
    import httpx

    url = trace_web_url(logged.url, logged.experiment_id, logged.chat[0])
    page = httpx.get(url.split("#", 1)[0])
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_cli_sessions_list_and_show(logged: Logged) -> None:
    runner = CliRunner()
    base = ["--tracking-uri", logged.url, "sessions"]
    listed = runner.invoke(main, [*base, "list", "-e", logged.experiment], env=_ENV)
    assert listed.exit_code == 0, listed.output
    rows = listed.stdout.splitlines()
    assert rows[0].split()[:4] == ["LAST", "ACTIVE", "FIRST", "SESSION"]
    assert any("chat-A" in row and " 3 " in row and "Hi?" in row for row in rows)
    shown = runner.invoke(main, [*base, "show", "chat-A", "-e", logged.experiment], env=_ENV)
    assert shown.exit_code == 0
    assert "you> What is 2+2?" in shown.stdout and f"{MODEL_TAG}> 4." in shown.stdout
    missing = runner.invoke(main, [*base, "show", "nope", "-e", logged.experiment], env=_ENV)
    assert missing.exit_code == 1 and "No session 'nope'" in missing.stderr
