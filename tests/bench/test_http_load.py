"""The loopback load generator: clients spread over several ports as a proxy would."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from centime.bench.http_load import build_request, run_load

HOST = "127.0.0.1"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _answer_requests(conn: socket.socket) -> None:
    with conn:
        pending = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            pending += chunk
            while b"\r\n\r\n" in pending:  # the requests carry no body
                _, _, pending = pending.partition(b"\r\n\r\n")
                conn.sendall(ANSWER)


@contextmanager
def _servers(count: int) -> Iterator[tuple[list[int], Counter[int]]]:
    """``count`` listening sockets answering every request 200; the connections each
    accepted, by port."""
    accepted: Counter[int] = Counter()
    listeners = [socket.create_server((HOST, 0)) for _ in range(count)]
    ports = [s.getsockname()[1] for s in listeners]

    def serve(listener: socket.socket, port: int) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed
            accepted[port] += 1
            threading.Thread(target=_answer_requests, args=(conn,), daemon=True).start()

    for listener, port in zip(listeners, ports, strict=True):
        threading.Thread(target=serve, args=(listener, port), daemon=True).start()
    try:
        yield ports, accepted
    finally:
        for listener in listeners:
            listener.close()


def test_clients_are_spread_over_the_ports_in_turn() -> None:
    with _servers(2) as (ports, accepted):
        request = build_request("GET", "/", HOST)
        result = run_load(HOST, ports, lambda: request, clients=5, duration_s=0.2)
    assert result.ok > 0 and not result.errors
    assert [accepted[port] for port in ports] == [3, 2]


def test_no_port_is_refused() -> None:
    with pytest.raises(ValueError, match="no port"):
        run_load(HOST, [], lambda: b"", clients=1, duration_s=0.1)
