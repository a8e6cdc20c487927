"""A small HTTP/1.1 load generator for loopback benchmarks.

httpx spends about half a millisecond of CPU per request, which on a 2-core machine would
measure the client rather than the server. This generator keeps one keep-alive connection
per simulated client, writes pre-built request bytes and parses only the status line and
Content-Length of each answer: tens of microseconds per request. Each client sends its next
request when the previous answer arrived (a closed loop), so latency is what a client sees.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["LoadResult", "build_request", "run_load"]

HEADER_BYTES_MAX = 65_536
BODY_BYTES_MAX = 64 * 1024 * 1024


def build_request(
    method: str, path: str, host: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """The bytes of one HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    if body:
        lines.append("Content-Type: application/json")
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class LoadResult:
    """What the clients saw: answers by status, latencies of the successful ones (ns)."""

    duration_s: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ns: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sample_failure: bytes = b""

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    def per_s(self, items_per_request: int = 1) -> float:
        return self.ok * items_per_request / self.duration_s if self.duration_s else 0.0

    def latency_ms(self, quantile: float) -> float:
        if not self.latencies_ns:
            return float("nan")
        ordered = sorted(self.latencies_ns)
        index = min(len(ordered) - 1, int(quantile * len(ordered)))
        return ordered[index] / 1e6


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > HEADER_BYTES_MAX:
        raise ValueError("response headers too large")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length > BODY_BYTES_MAX:
        raise ValueError("response body too large")
    body = await reader.readexactly(length) if length else b""
    return status, body


OnResponse = Callable[[int, bytes], None]


async def _client(
    host: str,
    port: int,
    make_request: Callable[[], bytes],
    deadline: float,
    result: LoadResult,
    on_response: OnResponse | None,
) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=HEADER_BYTES_MAX * 2)
    except OSError as error:
        result.errors.append(f"connect: {error}")
        return
    try:
        while time.perf_counter() < deadline:
            request = make_request()
            started = time.perf_counter_ns()
            writer.write(request)
            status, body = await _read_response(reader)
            elapsed = time.perf_counter_ns() - started
            result.statuses[status] += 1
            if on_response is not None:
                on_response(status, body)
            if 200 <= status < 300:
                result.latencies_ns.append(elapsed)
            elif not result.sample_failure:
                result.sample_failure = body[:500]
    except (OSError, ValueError, asyncio.IncompleteReadError) as error:
        result.errors.append(f"{type(error).__name__}: {error}")
    finally:
        writer.close()


async def _run(
    host: str,
    ports: Sequence[int],
    make_request: Callable[[], bytes],
    clients: int,
    duration_s: float,
    on_response: OnResponse | None,
) -> LoadResult:
    result = LoadResult()
    started = time.perf_counter()
    deadline = started + duration_s
    await asyncio.gather(
        *(
            _client(host, ports[n % len(ports)], make_request, deadline, result, on_response)
            for n in range(clients)
        )
    )
    result.duration_s = time.perf_counter() - started
    return result


def run_load(
    host: str,
    ports: Sequence[int],
    make_request: Callable[[], bytes],
    clients: int,
    duration_s: float,
    on_response: OnResponse | None = None,
) -> LoadResult:
    """Drive the server with ``clients`` closed-loop clients for ``duration_s`` seconds, the
    clients spread over ``ports`` in turn (client n on ``ports[n % len(ports)]``);
    ``on_response(status, body)`` sees every answer (the requests in flight when the time
    is up are answered and counted)."""
    if not ports:
        raise ValueError("no port to load")
    return asyncio.run(_run(host, ports, make_request, clients, duration_s, on_response))
