"""ChatSession through real litellm over real HTTP to the fake Ollama (no tracking server)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from fake_ollama import HOSTILE_ANSWER, FakeAnswer, FakeOllama

from tracetui.chat.ollama import ModelNotPulled, OllamaClient, OllamaNotRunning
from tracetui.chat.session import ChatOptions, ChatSession
from tracetui.chat.wire import WireRecord

pytest_plugins = ["fake_ollama"]

CLOSED_URL = "http://127.0.0.1:9"  # discard port: nothing listens there


def _session(fake: FakeOllama, **kwargs) -> ChatSession:
    return ChatSession(model="ollama_chat/qwen2.5", ollama_url=fake.url, **kwargs)


async def test_answer_streams_in_pieces_and_is_whole_at_the_end(fake_ollama: FakeOllama) -> None:
    fake_ollama.script("Qwen 2.5 is a family of open models.")
    session = _session(fake_ollama)
    deltas: list[str] = []
    result = await session.ask("What is Qwen 2.5?", on_delta=deltas.append)
    assert len(deltas) == 8  # one per token the fake sent
    assert "".join(deltas) == result.answer == "Qwen 2.5 is a family of open models."
    assert result.ok and result.error is None and result.finish_reason == "stop"
    assert (result.input_tokens, result.output_tokens) == (4, 8)  # the fake counts words
    assert result.generation is not None and result.generation.model_tag == "qwen2.5:latest"
    assert result.generation.eval_ms and result.generation.tokens_per_s
    assert not result.traced and result.not_traced_reason  # no tracer given


async def test_the_text_ends_with_the_done_line_and_a_late_cancel_changes_nothing(
    fake_ollama: FakeOllama,
) -> None:
    # Iteration ends at the model's finish reason, while litellm may still be finishing the
    # stream (it builds its complete response in a thread): an Esc then must not turn a whole
    # answer into a stopped one.
    fake_ollama.script(FakeAnswer.of_tokens(300, fast=True))
    turn = _session(fake_ollama).start_turn("Count")
    text = "".join([delta async for delta in turn])
    turn.cancel()
    result = await turn.result()
    assert not result.cancelled and result.ok and result.finish_reason == "stop"
    assert result.answer == text and len(text.split()) == 300
    assert not turn.streaming


async def test_history_system_prompt_and_options_reach_ollama(fake_ollama: FakeOllama) -> None:
    fake_ollama.script("First answer.", "Second answer.")
    session = _session(
        fake_ollama, system_prompt="Be brief.", options=ChatOptions(temperature=0.1, max_tokens=64)
    )
    await session.ask("one")
    await session.ask("two")
    sent = fake_ollama.chat_requests()[-1]
    assert [(m["role"], m["content"]) for m in sent["messages"]] == [
        ("system", "Be brief."),
        ("user", "one"),
        ("assistant", "First answer."),
        ("user", "two"),
    ]
    assert sent["options"] == {"temperature": 0.1, "num_predict": 64}
    assert sent["model"] == "qwen2.5" and sent["stream"] is True
    assert session.history[-1] == {"role": "assistant", "content": "Second answer."}


async def test_max_tokens_cut_is_reported_as_length(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(FakeAnswer.of_tokens(50))
    result = await _session(fake_ollama, options=ChatOptions(max_tokens=5)).ask("long please")
    assert result.answer == "w0 w1 w2 w3 w4 "
    assert result.finish_reason == "length"


async def test_cancel_keeps_what_arrived_and_hangs_up(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(FakeAnswer.of_tokens(200, token_delay_s=0.05))
    session = _session(fake_ollama)
    turn = session.start_turn("count slowly")
    seen = ""
    async for delta in turn:
        seen += delta
        if len(seen.split()) == 3:
            turn.cancel()
    result = await turn.result()
    assert result.cancelled and result.error is None
    assert result.answer.startswith("w0 w1 w2 ") and result.answer == seen
    assert len(result.answer.split()) < 200
    assert session.history[-1] == {"role": "assistant", "content": result.answer}
    for _ in range(100):  # Ollama stops generating when the client closes the stream
        if fake_ollama.disconnects:
            break
        await asyncio.sleep(0.05)
    assert fake_ollama.disconnects == 1


async def test_cancelling_the_consuming_task_cancels_the_turn(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(FakeAnswer.of_tokens(200, token_delay_s=0.05))
    session = _session(fake_ollama)
    turn = session.start_turn("count slowly")
    got_some = asyncio.Event()

    async def consume() -> None:  # what a Textual worker does
        async for _ in turn:
            got_some.set()

    task = asyncio.create_task(consume())
    await got_some.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    result = await turn.result()
    assert result.cancelled and result.answer.startswith("w0")


async def test_cancel_while_waiting_for_a_slow_first_token(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(FakeAnswer(first_token_delay_s=30))
    turn = _session(fake_ollama).start_turn("think hard")
    await asyncio.sleep(0.3)
    turn.cancel()
    assert [d async for d in turn] == []
    result = await turn.result()
    assert result.cancelled and result.answer == ""


async def test_slow_first_token_still_arrives(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(FakeAnswer.of_text("late but here", first_token_delay_s=0.3))
    session = _session(fake_ollama)
    result = await session.ask("x")
    wire = session.current_turn.record.wire
    assert result.answer == "late but here"
    assert wire.headers_ns - wire.request_start_ns >= 250_000_000  # headers come with token 1


async def test_unknown_model_says_ollama_pull(fake_ollama: FakeOllama) -> None:
    session = ChatSession(model="ollama_chat/llama9:70b", ollama_url=fake_ollama.url)
    result = await session.ask("hi")
    assert result.error == "Model llama9:70b is not pulled. Run `ollama pull llama9:70b`."
    assert result.answer == "" and session.history == []


async def test_ollama_down_says_how_to_start_it() -> None:
    result = await ChatSession(ollama_url=CLOSED_URL).ask("hi")
    assert result.error == f"Ollama is not running at {CLOSED_URL}. Start it with `ollama serve`."


async def test_error_mid_stream_keeps_the_partial_answer(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(FakeAnswer.of_text("one two three four", error_after=2, error_message="oom"))
    session = _session(fake_ollama)
    result = await session.ask("x")
    assert result.answer == "one two"
    assert result.error == ("The model stopped in the middle of its answer: oom. The partial answer is kept.")
    assert "\n" not in result.error


async def test_hostile_answer_arrives_unchanged(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(HOSTILE_ANSWER)
    result = await _session(fake_ollama).ask("show me markup")
    assert result.answer == HOSTILE_ANSWER


async def test_a_second_turn_cannot_start_while_one_runs(fake_ollama: FakeOllama) -> None:
    fake_ollama.script(FakeAnswer.of_tokens(20, token_delay_s=0.05))
    session = _session(fake_ollama)
    turn = session.start_turn("a")
    with pytest.raises(RuntimeError):
        session.start_turn("b")
    turn.cancel()  # before its task even ran: it still finishes, with nothing sent
    result = await turn.result()
    assert result.cancelled and result.answer == "" and fake_ollama.chat_requests() == []
    fake_ollama.reset()
    fake_ollama.script("ok")
    assert (await session.ask("c")).answer == "ok"


async def test_ollama_health_and_models(fake_ollama: FakeOllama) -> None:
    client = OllamaClient(fake_ollama.url)
    status = await client.health()
    assert status.version and status.url == fake_ollama.url
    models = await client.list_models()
    assert [m.name for m in models] == ["qwen2.5:latest", "qwen2.5:0.5b"]
    assert models[1].litellm_model == "ollama_chat/qwen2.5:0.5b"
    await client.ensure_model("ollama_chat/qwen2.5")  # means :latest
    with pytest.raises(ModelNotPulled, match=r"Run `ollama pull qwen2.5:72b`\.$"):
        await client.ensure_model("ollama_chat/qwen2.5:72b")


async def test_ollama_health_when_down_is_one_sentence() -> None:
    with pytest.raises(OllamaNotRunning) as caught:
        await OllamaClient(CLOSED_URL).health()
    assert str(caught.value) == f"Ollama is not running at {CLOSED_URL}. Start it with `ollama serve`."


def test_wire_record_round_trips_for_an_outbox() -> None:
    wire = WireRecord(method="POST", url="http://x/api/chat", status_code=200, final={"done": True})
    assert WireRecord.from_dict(wire.to_dict()).done_line == {"done": True}


def test_chat_layer_imports_neither_litellm_nor_mlflow_nor_textual() -> None:
    # Not checked: rich, which httpx itself imports for its command-line entry point.
    code = (
        "import sys, tracetui.chat.session, tracetui.chat.ollama, tracetui.chat.tracing, "
        "tracetui.chat.trace_writer\n"
        "loaded = {'litellm', 'mlflow', 'textual'} & set(sys.modules)\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
