"""Chat-turn traces with known timings, written by tracetui's real trace writer to a real server.

`turn_record(...)` builds the `TurnRecord` a chat turn over Ollama would leave
(wire timings and Ollama's done line included), with fixed offsets so tests can
check every latency the sequence view and the stats report.
"""

from __future__ import annotations

import time
from typing import Any

from tracetui.chat.record import TurnRecord, new_trace_id
from tracetui.chat.wire import WireRecord

MS = 1_000_000
MODEL_TAG = "qwen2.5:0.5b"
OLLAMA_URL = "http://127.0.0.1:11434"
# Offsets from the turn's start, in ms.
CALL_AT, REQUEST_AT, HEADERS_AT, FIRST_LINE_AT, WIRE_END_AT, END_AT = 10, 20, 60, 120, 900, 950
TOTAL_MS, LOAD_MS, PROMPT_EVAL_MS, EVAL_MS = 850, 10, 80, 700
PROMPT_TOKENS, OUTPUT_TOKENS = 26, 14


def turn_record(
    session_id: str,
    prompt: str,
    answer: str,
    *,
    turn_index: int = 0,
    start_ns: int | None = None,
    history: list[dict[str, Any]] | None = None,
) -> TurnRecord:
    start = start_ns if start_ns is not None else time.time_ns()
    messages = [*(history or []), {"role": "user", "content": prompt}]
    wire = WireRecord(
        method="POST",
        url=f"{OLLAMA_URL}/api/chat",
        request_body={"model": MODEL_TAG, "messages": messages, "stream": True},
        request_start_ns=start + REQUEST_AT * MS,
        status_code=200,
        headers_ns=start + HEADERS_AT * MS,
        first_line_ns=start + FIRST_LINE_AT * MS,
        end_ns=start + WIRE_END_AT * MS,
        lines=OUTPUT_TOKENS + 1,
        final={
            "model": MODEL_TAG,
            "done": True,
            "done_reason": "stop",
            "total_duration": TOTAL_MS * MS,
            "load_duration": LOAD_MS * MS,
            "prompt_eval_count": PROMPT_TOKENS,
            "prompt_eval_duration": PROMPT_EVAL_MS * MS,
            "eval_count": OUTPUT_TOKENS,
            "eval_duration": EVAL_MS * MS,
        },
    )
    return TurnRecord(
        trace_id=new_trace_id(),
        session_id=session_id,
        prompt=prompt,
        model=f"ollama_chat/{MODEL_TAG}",
        messages=messages,
        params={},
        api_base=OLLAMA_URL,
        start_ns=start,
        end_ns=start + END_AT * MS,
        answer=answer,
        call_start_ns=start + CALL_AT * MS,
        first_delta_ns=start + (FIRST_LINE_AT + 5) * MS,
        finish_reason="stop",
        input_tokens=PROMPT_TOKENS,
        output_tokens=OUTPUT_TOKENS,
        wire=wire,
        turn_index=turn_index,
    )
