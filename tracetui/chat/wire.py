"""What happened on the wire between litellm and Ollama, observed through httpx event hooks.

litellm keeps only Ollama's token counts; the nanosecond timings on the final
`done: true` line, the HTTP status and the time to first byte are lost. So the
chat session hands litellm its own `AsyncHTTPHandler` whose httpx hooks record
the request, the response headers, and tee the body: every line is passed on
untouched, and only the last complete NDJSON line (the done line, or an
`{"error": …}` line) is parsed, once, at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class WireRecord:
    """One HTTP exchange with Ollama. Times are wall-clock nanoseconds (time.time_ns)."""

    method: str = ""
    url: str = ""
    request_body: Any = None
    request_start_ns: int | None = None
    status_code: int | None = None
    headers_ns: int | None = None  # response headers arrived: time to first byte
    first_line_ns: int | None = None  # first complete NDJSON line (first token)
    end_ns: int | None = None  # body finished or was closed
    lines: int = 0
    last_line: bytes = b""
    final: dict[str, Any] = field(default_factory=dict)  # the parsed last line

    @property
    def done_line(self) -> dict[str, Any] | None:
        return self.final if self.final.get("done") is True else None

    @property
    def error_line(self) -> str | None:
        error = self.final.get("error")
        return str(error) if error is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "request_body": self.request_body,
            "request_start_ns": self.request_start_ns,
            "status_code": self.status_code,
            "headers_ns": self.headers_ns,
            "first_line_ns": self.first_line_ns,
            "end_ns": self.end_ns,
            "lines": self.lines,
            "final": self.final,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WireRecord:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def _finish(self) -> None:
        if self.end_ns is not None:
            return
        self.end_ns = time.time_ns()
        if self.last_line.strip():
            try:
                parsed = json.loads(self.last_line)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                self.final = parsed


class _TeeStream(httpx.AsyncByteStream):
    """Passes the body through unchanged while noting line arrival and keeping the last line."""

    def __init__(self, inner: httpx.AsyncByteStream, record: WireRecord) -> None:
        self._inner = inner
        self._record = record
        self._partial = b""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        record = self._record
        try:
            async for chunk in self._inner:
                if b"\n" in chunk:
                    if record.first_line_ns is None:
                        record.first_line_ns = time.time_ns()
                    head, _, tail = (self._partial + chunk).rpartition(b"\n")
                    record.lines += head.count(b"\n") + 1
                    last = head.rpartition(b"\n")[2]
                    if last.strip():
                        record.last_line = last
                    self._partial = tail
                else:
                    self._partial += chunk
                yield chunk
            if self._partial.strip():  # a body without a trailing newline (a plain JSON error)
                record.last_line = self._partial
                record.lines += 1
        finally:
            record._finish()

    async def aclose(self) -> None:
        self._record._finish()
        await self._inner.aclose()


class WireRecorder:
    """httpx event hooks that fill in `current`, the record of the exchange in progress."""

    def __init__(self) -> None:
        self.current: WireRecord | None = None

    def begin(self) -> WireRecord:
        self.current = WireRecord()
        return self.current

    @property
    def event_hooks(self) -> dict[str, list[Any]]:
        return {"request": [self._on_request], "response": [self._on_response]}

    async def _on_request(self, request: httpx.Request) -> None:
        record = self.current
        if record is None:
            return
        record.method = request.method
        record.url = str(request.url)
        record.request_start_ns = time.time_ns()
        try:
            record.request_body = json.loads(request.content) if request.content else None
        except (ValueError, httpx.RequestNotRead):
            record.request_body = None

    async def _on_response(self, response: httpx.Response) -> None:
        record = self.current
        if record is None:
            return
        record.status_code = response.status_code
        record.headers_ns = time.time_ns()
        if isinstance(response.stream, httpx.AsyncByteStream):
            response.stream = _TeeStream(response.stream, record)
