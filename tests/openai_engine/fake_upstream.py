"""A tiny OpenAI-compatible server for the openai engine's unit tests: stdlib HTTP in a thread
of its own on 127.0.0.1, answering each path with what the test scripted (JSON, or an SSE
stream that may stall or drop the connection half-way)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Json:
    body: Any
    status: int = 200


@dataclass
class Sse:
    events: list[Any]
    delay: float = 0.0  # before each event
    drop_after: int | None = None  # close the connection after this many events, unfinished
    done: bool = True  # send data: [DONE]


Reply = Json | Sse
Route = Callable[[dict[str, Any]], Reply]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away (cancel) is what some tests do on purpose


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    """One chat.completion.chunk with choice 0."""
    if content is not None:
        delta["content"] = content
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


@dataclass
class FakeUpstream:
    models: list[dict[str, Any]] = field(
        default_factory=lambda: [{"id": "fake-llm", "object": "model", "max_model_len": 1024}]
    )
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: Streams whose reader went away before the stream ended (cancel closes the stream).
    abandoned: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    #: When set, GET /v1/models waits until this event is set (a slow upstream).
    listing_gate: threading.Event | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.stream_abandoned = threading.Event()
        self.routes.setdefault(
            "/v1/embeddings",
            lambda body: Json({"error": {"message": "not an embedding model"}}, 400),
        )
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._started = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeUpstream:
        self._thread.start()
        self._started = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._started:
            self._server.shutdown()
        self._server.server_close()

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def last(self, path: str) -> dict[str, Any]:
        """The body of the last request to ``path``."""
        return next(body for p, body in reversed(self.requests) if p == path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/v1/models":
                    if fake.listing_gate is not None:
                        fake.listing_gate.wait(30)
                    self._json(Json({"object": "list", "data": fake.models}))
                else:
                    self._json(Json({"detail": "Not Found"}, 404))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append((self.path, body))
                route = fake.routes.get(self.path)
                if route is None:
                    self._json(Json({"detail": "Not Found"}, 404))
                    return
                reply = route(body)
                if isinstance(reply, Json):
                    self._json(reply)
                else:
                    with fake._counting():
                        self._sse(reply)

            def _json(self, reply: Json) -> None:
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, reply: Sse) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                texts = [f"data: {json.dumps(e)}\n\n" for e in reply.events]
                if reply.done:
                    texts.append("data: [DONE]\n\n")
                try:
                    for index, text in enumerate(texts):
                        if reply.drop_after is not None and index >= reply.drop_after:
                            self.close_connection = True
                            self.wfile.flush()
                            self.connection.shutdown(2)  # no terminating chunk: a drop
                            return
                        time.sleep(reply.delay)
                        data = text.encode()
                        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:
                    fake.abandoned.append(self.path)
                    fake.stream_abandoned.set()
                    self.close_connection = True

        return Handler

    @contextlib.contextmanager
    def _counting(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
