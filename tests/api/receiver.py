"""A real webhook receiver on loopback for the delivery tests: an HTTP server in a thread
that records every request and answers with the statuses it is told to, in order."""

from __future__ import annotations

import ipaddress
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import standardwebhooks

from centime.platform.events import TargetPolicy

__all__ = ["LOOPBACK_POLICY", "Received", "Receiver", "receiver"]

# The development setting these tests deliver under (CENTIME_WEBHOOK_ALLOW_HTTP=1,
# CENTIME_WEBHOOK_ALLOW_PRIVATE=127.0.0.0/8,::1/128): the receiver is plain http on loopback,
# which the default policy refuses (tests/security attacks it).
LOOPBACK_POLICY = TargetPolicy(
    allow_http=True,
    allow_private=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")),
)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def verify(self, secret: str) -> dict[str, object]:
        """The payload, verified with the independent Standard Webhooks implementation
        (raises standardwebhooks.webhooks.WebhookVerificationError when it does not hold)."""
        payload: dict[str, object] = standardwebhooks.Webhook(secret).verify(
            self.body, self.headers
        )
        return payload


class Receiver:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.received: list[Received] = []
        self.statuses: deque[int] = deque()  # answers to give, then 200
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def answer(self, *statuses: int) -> None:
        with self.lock:
            self.statuses.extend(statuses)


@contextmanager
def receiver() -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            with state.lock:
                state.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = state.statuses.popleft() if state.statuses else 200
            reply = b"ok" if status < 300 else b"x" * 5000  # a long answer is cut
            self.send_response(status)
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
