"""An "internal service" on loopback for the attacks: an HTTP server that answers every
request with a secret (as an internal admin page or a metadata service would) and records
who came; optionally bound to a given address and port, or answering a redirect."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Internal", "internal_service"]


@dataclass
class Internal:
    host: str
    port: int
    secret: str
    hits: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # method, path
    redirect_to: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


@contextmanager
def internal_service(
    host: str = "127.0.0.1", port: int = 0, redirect_to: str | None = None
) -> Iterator[Internal]:
    secret = f"db_password=s3cr3t-{secrets.token_hex(8)}"

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length", "0") or 0)
            self.rfile.read(length)
            state.hits.append(
                (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
            )
            body = secret.encode()
            self.send_response(302 if state.redirect_to else 200)
            if state.redirect_to:
                self.send_header("location", state.redirect_to)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    state = Internal(host, int(server.server_address[1]), secret, redirect_to=redirect_to)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
