"""The lean path of POST /v1/payments (centime.api.lean) answers as Litestar's route does.

One app, its lean path switched on and off between requests: every request is sent once
down each path, with the same headers (the same X-Request-Id) and body, and the answers must
be the same status, headers and body, byte for byte. Each path has its own Idempotency-Keys
(a key names the payment, so the payment's id is the one difference, and it is replaced
before comparing), its own API key where the rate limit is under test, and its own client
address (the failed-authentication limit counts per address), so that neither path's
requests change what the other's see.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centime.api import lean
from centime.api.lean import ROUTE, LeanPayments
from centime.auth import Scope
from centime.limits import API_BODY_MAX_BYTES
from centime.platform.context import Platform
from centime.server import create_app

from .conftest import Api, make_api
from .money import cents, funded_customer, shop

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]


@dataclass(frozen=True)
class Side:
    """What differs between the two paths' requests."""

    lean: bool
    client: str  # the client address
    keys: str  # the Idempotency-Keys' prefix
    tokens: dict[str, str]  # who -> bearer token (the rate-limit test's own keys per side)


def _scope(headers: Headers, client: str, request: Request) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": ROUTE,
        "raw_path": ROUTE.encode(),
        "query_string": request.query,
        "root_path": "",
        "headers": headers,
        "client": (client, 50000),
        "server": ("testserver.local", 80),
        **dict(request.scope),
    }


def _messages(request: Request) -> list[dict[str, Any]]:
    """The body in ``request.parts`` messages; the last one missing if the client leaves."""
    body, parts = request.body, request.parts
    cuts = [len(body) * n // parts for n in range(parts + 1)]
    chunks = [body[a:b] for a, b in pairwise(cuts)]
    messages = [
        {"type": "http.request", "body": chunk, "more_body": n < parts - 1}
        for n, chunk in enumerate(chunks)
    ]
    return messages[:-1] if request.leaves else messages


def send(api: Api, headers: Headers, client: str, request: Request) -> Answer:
    """The app's answer to one raw request (in the test client's event loop)."""

    async def call() -> Answer:
        messages = _messages(request)
        sent: list[Any] = []

        async def receive() -> Any:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def record(message: Any) -> None:
            sent.append(message)

        await api.app(_scope(headers, client, request), receive, record)  # type: ignore[arg-type]
        start = sent[0]
        return (
            start["status"],
            list(start["headers"]),
            b"".join(m.get("body", b"") for m in sent[1:]),
        )

    answer: Answer = api.http.blocking_portal.call(call)
    return answer


def lean_of(api: Api) -> LeanPayments:
    found = api.app.asgi_handler
    assert isinstance(found, LeanPayments)
    return found


@dataclass(frozen=True)
class Request:
    """A request with placeholders: ``who`` names the bearer token (None: no header),
    ``key`` the Idempotency-Key's suffix (None: no header; ``!`` prefixed: sent as is)."""

    body: bytes
    who: str | None = "shop"
    key: str | None = "1"
    content_type: str | None = "application/json"
    extra: tuple[tuple[bytes, bytes], ...] = ()
    length: int | str | None = None  # a Content-Length other than the body's ("": none)
    query: bytes = b""
    scope: tuple[tuple[str, Any], ...] = ()  # changes to the ASGI scope
    parts: int = 1  # the body sent in this many messages
    leaves: bool = False  # the client leaves before the last one


def _headers(request: Request, side: Side, rid: str) -> Headers:
    headers: Headers = [(b"x-request-id", rid.encode())]
    if request.who is not None:
        token = side.tokens.get(request.who, request.who)
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if request.key is not None:
        key = request.key[1:] if request.key.startswith("!") else side.keys + request.key
        headers.append((b"idempotency-key", key.encode("latin-1")))
    if request.content_type is not None:
        headers.append((b"content-type", request.content_type.encode()))
    length = len(request.body) if request.length is None else request.length
    if length != "":
        headers.append((b"content-length", str(length).encode()))
    return [*headers, *request.extra]


def _payment_id(body: bytes) -> bytes | None:
    try:
        found = json.loads(body)
    except ValueError:
        return None
    value = found.get("id") if isinstance(found, dict) else None
    return value.encode() if isinstance(value, str) and value.startswith("pay_") else None


def run(api: Api, side: Side, requests: list[Request], rid: str) -> list[Answer]:
    lean_of(api).enabled = side.lean
    answers = []
    for n, request in enumerate(requests):
        headers = _headers(request, side, f"{rid}-{n}")
        answers.append(send(api, headers, side.client, request))
    return answers


class World:
    """Parties and keys, and the two sides that send to them."""

    def __init__(self, api: Api, tokens: Callable[[], dict[str, str]]) -> None:
        self.api = api
        self.shop = shop(api, "Shop")
        self.other = shop(api, "Other")
        payer = funded_customer(api, 100_000_000)
        mandate = api.operator.create_mandate(payer.id, self.shop.id, cents(100_000_000))
        self.fields: dict[str, Any] = {
            "customer_id": payer.id,
            "amount": {"value": "125", "asset": "USD", "scale": 6},
            "mandate_id": mandate.id,
        }
        self.sides = (
            Side(False, "10.0.0.1", "a-", tokens()),
            Side(True, "10.0.0.2", "b-", tokens()),
        )
        self.rounds = 0

    def body(self, **changes: Any) -> bytes:
        fields = {**self.fields, **changes}
        return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()

    def token_set(self) -> dict[str, str]:
        return {
            "shop": self.shop.token,
            "other": self.other.token,
            "operator": self.api.operator_token,
            "reader": self.api.merchant_key(self.shop.merchant, Scope.READ),
        }

    def compare(self, requests: list[Request]) -> list[Answer]:
        """Both paths' answers to ``requests`` (each its own keys), asserted the same."""
        self.rounds += 1
        rid = f"r{self.rounds}"
        unique = [Side(s.lean, s.client, f"{s.keys}{self.rounds}-", s.tokens) for s in self.sides]
        litestar = run(self.api, unique[0], requests, rid)
        lean = run(self.api, unique[1], requests, rid)
        for (status_a, headers_a, body_a), (status_b, headers_b, raw_b) in zip(
            litestar, lean, strict=True
        ):
            id_a, id_b = _payment_id(body_a), _payment_id(raw_b)
            body_b = raw_b if id_a is None or id_b is None else raw_b.replace(id_b, id_a)
            assert id_a is None or id_a != id_b  # each path paid with its own key
            assert (status_b, headers_b, body_b) == (status_a, headers_a, body_a)
        return litestar


@pytest.fixture
def world(api: Api) -> World:
    made = World(api, lambda: {})
    made.sides = tuple(Side(s.lean, s.client, s.keys, made.token_set()) for s in made.sides)  # type: ignore[assignment]
    return made


def _statuses(answers: list[Answer]) -> list[int]:
    return [status for status, _, _ in answers]


def _code(answer: Answer) -> str:
    code: str = json.loads(answer[2])["code"]
    return code


def test_the_lean_path_is_in_front_unless_turned_off(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(create_app(platform).asgi_handler, LeanPayments)
    assert not isinstance(create_app(platform, lean_payments=False).asgi_handler, LeanPayments)
    for off in ("0", "false", "OFF", "No"):
        monkeypatch.setenv("CENTIME_LEAN_PAYMENTS", off)
        assert not isinstance(create_app(platform).asgi_handler, LeanPayments)
    assert isinstance(create_app(platform, lean_payments=True).asgi_handler, LeanPayments)
    for on in ("1", "true", "ON", "Yes"):
        monkeypatch.setenv("CENTIME_LEAN_PAYMENTS", on)
        assert isinstance(create_app(platform).asgi_handler, LeanPayments)
    for unclear in ("", "2", "disabled"):
        monkeypatch.setenv("CENTIME_LEAN_PAYMENTS", unclear)
        with pytest.raises(ValueError, match="CENTIME_LEAN_PAYMENTS"):
            create_app(platform)


def test_the_lean_path_is_not_installed_around_an_after_exception_hook(platform: Platform) -> None:
    app = create_app(platform, lean_payments=False)
    app.after_exception = [lambda *_: None]  # type: ignore[list-item]
    assert lean.install(app, app.state.metrics, API_BODY_MAX_BYTES) is None


def test_a_payment_and_its_replay(world: World) -> None:
    first = world.compare([Request(world.body()), Request(world.body())])
    assert _statuses(first) == [201, 201]
    assert (b"idempotent-replayed", b"true") in first[1][1]


def test_the_same_key_with_another_body(world: World) -> None:
    other = world.body(amount={"value": "7", "asset": "USD", "scale": 6})
    answers = world.compare([Request(world.body()), Request(other)])
    assert _statuses(answers) == [201, 422] and _code(answers[1]) == "idempotency_key_reused"


def test_the_operator_pays_naming_the_merchant(world: World) -> None:
    body = world.body(mandate_id=None, merchant_id=world.shop.id)
    assert _statuses(world.compare([Request(body, who="operator")])) == [201]


CASES: dict[str, tuple[Callable[[World], list[Request]], int, str]] = {
    "missing key": (lambda w: [Request(w.body(), key=None)], 400, "idempotency_key_required"),
    "malformed key": (lambda w: [Request(w.body(), key="!\x7fk")], 400, "invalid_idempotency_key"),
    "no authorization": (lambda w: [Request(w.body(), who=None)], 401, "unauthorized"),
    "an invalid key": (lambda w: [Request(w.body(), who="ck_nope")], 401, "unauthorized"),
    "wrong scope": (lambda w: [Request(w.body(), who="reader")], 403, "forbidden"),
    "another merchant named": (
        lambda w: [Request(w.body(merchant_id=w.shop.id), who="other")],
        404,
        "merchant_not_found",
    ),
    "another merchant's mandate": (
        lambda w: [Request(w.body(), who="other")],
        404,
        "mandate_not_found",
    ),
    "too large": (
        lambda w: [Request(w.body(description="x" * API_BODY_MAX_BYTES))],
        413,
        "body_too_large",
    ),
    "not JSON": (
        lambda w: [Request(w.body(), content_type="text/plain")],
        415,
        "unsupported_media_type",
    ),
    "an empty body": (lambda w: [Request(b"")], 400, "invalid_request"),
    "a blank body": (lambda w: [Request(b"  ")], 400, "invalid_request"),
    "a header in capitals": (
        lambda w: [Request(w.body(), extra=((b"Centime-Device", b"phone"),))],
        201,
        "",
    ),
    "malformed JSON": (lambda w: [Request(b'{"customer_id": ')], 400, "invalid_request"),
    "unknown field": (lambda w: [Request(w.body(tip=1))], 400, "invalid_request"),
    "float amount": (
        lambda w: [Request(w.body(amount={"value": 1.5, "asset": "USD", "scale": 6}))],
        400,
        "invalid_request",
    ),
    "negative amount": (
        lambda w: [Request(w.body(amount={"value": "-5", "asset": "USD", "scale": 6}))],
        400,
        "invalid_request",
    ),
    "zero amount": (
        lambda w: [Request(w.body(amount={"value": "0", "asset": "USD", "scale": 6}))],
        400,
        "invalid_amount",
    ),
    "no mandate": (lambda w: [Request(w.body(mandate_id=None))], 400, "invalid_request"),
    "localized": (
        lambda w: [Request(w.body(mandate_id=None), extra=((b"accept-language", b"ko"),))],
        400,
        "invalid_request",
    ),
    "a repeated header": (
        lambda w: [Request(w.body(), extra=((b"idempotency-key", b"x"),))],
        201,
        "",
    ),
    # A query string is part of what an Idempotency-Key's answer is stored for.
    "a query string": (lambda w: [Request(w.body(), query=b"x=1")], 201, ""),
    # Litestar reads what comes (the lean path hands such a request to Litestar).
    "a short body": (lambda w: [Request(w.body(), length=10_000)], 201, ""),
    "a long body": (lambda w: [Request(w.body(), length=5)], 201, ""),
    "an announced body not sent": (lambda w: [Request(b"", length=10)], 400, "invalid_request"),
    "a split body": (lambda w: [Request(w.body(), parts=3)], 201, ""),
    "the client leaves mid-body": (
        lambda w: [Request(w.body(), parts=3, leaves=True)],
        500,
        "internal_error",
    ),
    # int() refuses 4300 digits: the lean path must not try (its error would be a bare 500).
    "a very long Content-Length": (
        lambda w: [Request(w.body(), length="0" * 5000 + str(len(w.body())))],
        400,
        "",
    ),
    "chunked, no Content-Length": (
        lambda w: [Request(w.body(), length="", extra=((b"transfer-encoding", b"chunked"),))],
        201,
        "",
    ),
    "Expect: 100-continue": (
        lambda w: [Request(w.body(), extra=((b"expect", b"100-continue"),))],
        201,
        "",
    ),
    "a repeated Authorization": (
        lambda w: [Request(w.body(), extra=((b"authorization", b"Bearer ck_other"),))],
        201,
        "",
    ),
    "a repeated Content-Type": (
        lambda w: [Request(w.body(), extra=((b"content-type", b"text/plain"),))],
        201,
        "",
    ),
    "a trailing slash": (
        lambda w: [
            Request(w.body(), scope=(("path", ROUTE + "/"), ("raw_path", b"/v1/payments/")))
        ],
        201,
        "",
    ),
    "HTTP/1.0 without Host": (
        lambda w: [Request(w.body(), scope=(("http_version", "1.0"),))],
        201,
        "",
    ),
    "an invalid Host": (lambda w: [Request(w.body(), extra=((b"host", b"a b"),))], 400, ""),
    "no client address": (lambda w: [Request(w.body(), scope=(("client", None),))], 201, ""),
}


FALLS_BACK = {
    "missing key",
    "malformed key",
    "too large",
    "not JSON",
    "a repeated header",
    "a query string",
    "a header in capitals",
    "an empty body",
    "a very long Content-Length",
    "chunked, no Content-Length",
    "a repeated Authorization",
    "a repeated Content-Type",
    "a trailing slash",
    "an invalid Host",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_refusal_is_litestars(world: World, case: str) -> None:
    make, status, code = CASES[case]
    served = lean_of(world.api).served
    answers = world.compare(make(world))
    # Litestar answers what the lean path does not take; the rest, the lean path.
    assert (lean_of(world.api).served > served) is (case not in FALLS_BACK)
    assert answers[-1][0] == status, answers[-1]
    if code:
        assert _code(answers[-1]) == code


def test_the_rate_limit_and_the_failed_authentications(platform: Platform) -> None:
    for api in make_api(platform, rate_per_s=0.001, rate_burst=10):
        world = World(api, lambda: {})
        world.sides = tuple(  # type: ignore[assignment]
            Side(
                s.lean,
                s.client,
                s.keys,
                {"shop": api.merchant_key(world.shop.merchant, Scope.PAYMENTS)},
            )
            for s in world.sides
        )
        served = lean_of(api).served
        paid = world.compare([Request(world.body(), key=str(n)) for n in range(11)])
        assert lean_of(api).served == served + 11
        assert _statuses(paid) == [201] * 10 + [429] and _code(paid[10]) == "rate_limited"
        guesses = world.compare([Request(world.body(), who="ck_guess") for _ in range(40)])
        assert _statuses(guesses)[0] == 401 and _statuses(guesses)[-1] == 429


def _counted(api: Api, status: str) -> float:
    metrics = api.state.metrics
    value = metrics.registry.get_sample_value(
        "centime_http_requests_total", {"route": ROUTE, "method": "POST", "status": status}
    )
    return value or 0.0


def test_lean_answers_are_counted_and_timed(world: World) -> None:
    before = _counted(world.api, "201"), _counted(world.api, "401")
    served = lean_of(world.api).served
    run(
        world.api,
        world.sides[1],
        [Request(world.body(), key="m"), Request(world.body(), who="x")],
        "m",
    )
    assert lean_of(world.api).served == served + 2  # the lean path answered both
    assert (_counted(world.api, "201"), _counted(world.api, "401")) == (
        before[0] + 1,
        before[1] + 1,
    )
    timed = world.api.state.metrics.registry.get_sample_value(
        "centime_http_request_duration_seconds_count", {"route": ROUTE, "method": "POST"}
    )
    assert timed is not None and timed >= 2


_WHO = st.sampled_from([None, "shop", "other", "operator", "reader", "ck_bad"])
# Mostly what the lean path takes (a key, a JSON body), sometimes what it hands to Litestar.
_KEY = st.sampled_from(["1", "2", "1", "2", "1", None, "!", "!\x00", "!" + "k" * 256])
_TYPE = st.sampled_from(
    ["application/json", "application/json", "Application/JSON; charset=utf-8", None, "text/json"]
)
_VALUE = st.one_of(
    st.integers(-5, 10**7).map(str),
    st.integers(-5, 10**7),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
_LANGUAGE = st.sampled_from(
    [(), ((b"accept-language", b"ko"),), ((b"accept-language", b"fr;q=0.5, ko"),)]
)


@st.composite
def _bodies(draw: st.DrawFn, world: World) -> bytes:
    changes: dict[str, Any] = {}
    if draw(st.booleans()):
        changes["amount"] = {
            "value": draw(_VALUE),
            "asset": draw(st.sampled_from(["USD", "EUR", "usd"])),
            "scale": 6,
        }
    if draw(st.booleans()):
        changes["merchant_id"] = draw(st.sampled_from([world.shop.id, world.other.id, "mer_x", 5]))
    if draw(st.booleans()):
        changes["mandate_id"] = draw(st.sampled_from([None, "man_x"]))
    if draw(st.booleans()):
        changes[draw(st.sampled_from(["description", "reference", "extra"]))] = draw(
            st.text(max_size=8)
        )
    body = world.body(**changes)
    return (
        body[: draw(st.integers(1, len(body)))]
        if draw(st.booleans()) and draw(st.booleans())
        else body
    )


def test_any_request_is_answered_as_litestar_answers_it(world: World) -> None:
    served = lean_of(world.api).served

    @settings(max_examples=40, deadline=None)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        requests = [
            Request(
                data.draw(_bodies(world)),
                who=data.draw(_WHO),
                key=data.draw(_KEY),
                content_type=data.draw(_TYPE),
                extra=data.draw(_LANGUAGE),
            )
            for _ in range(data.draw(st.integers(1, 3)))
        ]
        world.compare(requests)

    check()
    # Not every request handed to Litestar: the property compared the lean path's answers.
    assert lean_of(world.api).served - served > 10


def _reads_before_answer(api: Api, lean: bool, headers: Headers, client: str) -> tuple[int, int]:
    """The status and how many times the app called ``receive`` before answering a request
    whose body never comes (a stalled client, or one waiting for ``100 Continue``)."""
    lean_of(api).enabled = lean

    async def call() -> tuple[int, int]:
        reads = 0
        sent: list[Any] = []

        async def receive() -> Any:
            nonlocal reads
            reads += 1
            await anyio.sleep_forever()

        async def record(message: Any) -> None:
            sent.append(message)

        with anyio.fail_after(30):  # only if the app waits for the body (the defect)
            await api.app(_scope(headers, client, Request(b"")), receive, record)  # type: ignore[arg-type]
        return sent[0]["status"], reads

    found: tuple[int, int] = api.http.blocking_portal.call(call)
    return found


def _stalled(token: str | None, key: str) -> Headers:
    headers: Headers = [
        (b"content-type", b"application/json"),
        (b"idempotency-key", key.encode()),
        (b"content-length", b"1048576"),
        (b"expect", b"100-continue"),
    ]
    return [*headers, (b"authorization", f"Bearer {token}".encode())] if token else headers


def test_a_refused_request_s_body_is_never_read(platform: Platform) -> None:
    """The guards run before the body is read (as Litestar runs them): an anonymous client
    gets its 401 or 429 without ``100 Continue`` and without the app holding its body."""
    for api in make_api(platform, rate_per_s=0.001, rate_burst=10):
        world = World(api, lambda: {})
        for on, client in ((False, "10.3.0.1"), (True, "10.3.0.2")):
            served = lean_of(api).served
            assert _reads_before_answer(api, on, _stalled(None, "s"), client) == (401, 0)
            assert _reads_before_answer(api, on, _stalled("ck_bad", "s"), client) == (401, 0)
            token = api.merchant_key(world.shop.merchant, Scope.PAYMENTS)
            paid = [
                send(api, _stalled(token, f"{client}-{n}")[:-2] + auth, client, Request(body))
                for n in range(10)
                for auth in [[(b"authorization", f"Bearer {token}".encode())]]
                for body in [world.body()]
            ]
            assert [answer[0] for answer in paid] == [201] * 10
            assert _reads_before_answer(api, on, _stalled(token, f"{client}-2"), client) == (
                429,
                0,
            )
            assert (lean_of(api).served > served) is on
