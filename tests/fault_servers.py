"""Fake broken endpoints for fault tests: what a bad proxy or a wedged server does on the wire.

`FaultServer(mode)` is a real loopback HTTP server whose `mode` can change
while it runs; it counts requests and records their headers (to check what a
client sent, e.g. a bearer token). Modes:

    "hang"      read the request, never answer (until the server stops)
    "html"      502 with an HTML "Bad Gateway" page, as nginx sends
    "html200"   200 with an HTML login page (a captive portal or an SSO proxy)
    "truncated" 200 application/json cut in the middle of a document
    "cut"       200 that promises 1000 bytes and closes after a few
    "500"       500 text/plain
    "401"       401 with MLflow's JSON error (a server that rejects the credentials)
    "forward"   pass the request on to a real server (`forward_to`) and its answer back:
                a proxy in front of a real server, whose `intercept(method, path)` may
                answer some requests itself, and whose mode can be switched to a fault

Also `kill_server`: SIGKILL a real `LocalMlflowServer`'s whole process group,
as a crash or an OOM kill would, instead of its polite stop.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("hang", "html", "html200", "truncated", "cut", "500", "401", "forward")

# (status, content type, body) for a request the proxy answers itself, or None to pass it on.
Answer = tuple[int, str, bytes]


class _Handler(BaseHTTPRequestHandler):
    fault: FaultServer  # set on the subclass each FaultServer makes

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        fault = self.fault
        length = int(self.headers.get("content-length") or 0)
        request_body = self.rfile.read(length)
        with fault.lock:
            fault.requests.append({"method": self.command, "path": self.path, **dict(self.headers)})
        mode = fault.mode
        if mode == "forward":
            answer = fault.intercept(self.command, self.path) if fault.intercept else None
            if answer is None:
                answer = fault.forward(self.command, self.path, dict(self.headers), request_body)
            self._send(*answer)
            return
        if mode == "hang":
            fault.stopping.wait()  # answer nothing until the server stops
            return
        if mode == "cut":
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "1000")
            self.end_headers()
            self.wfile.write(b'{"traces": [')
            return
        status, kind, body = {
            "html": (502, "text/html", b"<html><body>Bad Gateway</body></html>"),
            "html200": (200, "text/html", b"<html><body>Login</body></html>"),
            "truncated": (200, "application/json", b'{"traces": [{"trace_id": "tr-'),
            "500": (500, "text/plain", b"Internal Server Error"),
            "401": (
                401,
                "application/json",
                b'{"error_code": "UNAUTHENTICATED", "message": "You are not authenticated."}',
            ),
        }[mode]
        self._send(status, kind, body)

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_PUT = _answer


class FaultServer:
    """A loopback HTTP server answering every request the way `mode` says (see the module doc)."""

    def __init__(
        self,
        mode: str = "500",
        *,
        forward_to: str | None = None,
        intercept: Callable[[str, str], Answer | None] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.forward_to = forward_to
        self.intercept = intercept
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        handler = type("Handler", (_Handler,), {"fault": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """The real server's answer to this request; a 502 page when it cannot be reached."""
        import httpx

        kept = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
        try:
            response = httpx.request(
                method, f"{self.forward_to}{path}", headers=kept, content=body, timeout=60
            )
        except httpx.HTTPError:
            return 502, "text/html", b"<html><body>Bad Gateway</body></html>"
        kind = response.headers.get("content-type", "application/octet-stream")
        return response.status_code, kind, response.content

    @property
    def request_count(self) -> int:
        with self.lock:
            return len(self.requests)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextmanager
def fault_server(mode: str) -> Iterator[FaultServer]:
    with FaultServer(mode) as server:
        yield server


def kill_server(server: Any) -> None:
    """SIGKILL a LocalMlflowServer's process group (uvicorn, huey workers, guard), then reap it."""
    guard = server._guard
    if guard is None:
        return
    try:
        os.killpg(guard.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.stop()
