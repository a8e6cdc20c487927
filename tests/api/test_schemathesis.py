"""Schemathesis over the app's own OpenAPI document: every operation the app serves, with
generated requests, valid and invalid, against the real app on a real, seeded store.

What each response must satisfy (schemathesis's checks, all of them but one): no server
error (no 5xx at all), a status the operation declares, a content type it declares, a
body and headers that match the declared schema, invalid requests refused with a 4xx,
authentication enforced (each 2xx is sent again without the key and with a wrong one), a
missing required header refused, an undeclared method answered 405 with a true ``Allow``,
and an ``OPTIONS`` answer whose ``Allow`` lists the operation's methods. Left out:
``positive_data_acceptance`` (a valid request must succeed), which a payments API cannot
promise: a valid payment may meet insufficient funds, a frozen customer or a tier limit.

Nothing lists routes: the operations are the document's, so a route added to the app is
covered the next run. Runs (each its own database, seeded through the services):

- SQLite with the operator's key: schemathesis's coverage phase (boundary values of every
  parameter, deterministic) and its fuzzing phase;
- SQLite with a merchant's key: the same, from the side of a merchant (operator-only
  routes answer 403, other merchants' rows 404);
- PostgreSQL with the operator's key: fuzzing with valid requests only, fewer examples
  (the same app; the store is what differs, and valid requests are what reach it);
- a stateful run (SQLite, operator): schemathesis's state machine, which chains
  operations through the links it infers from the document (a created payment's id into
  its refund, a customer's into its balances...).

After each run the app must have been reached: every operation called, none answered
only 401, some read by a seeded id answered 200; the stateful run must have created
something. (A bad key or ids that never hit would otherwise pass every check.)

Deterministic: a fixed seed, derandomized generation, no example database, seeding one
row at a time and a fake clock that moves between calls (so listings have one order,
although the platform's ids are random); bounded: a fixed number of examples per
operation and of steps per stateful scenario (the whole file in well under a minute on
the 2-core machine). No timing assertion anywhere. The last tests pin, by hand and on
both stores, what these runs found.

Generated ids rarely name a row, so a hook swaps, often, an id field (``customer_id``,
``payment_id``... in the path, the query or the body) for the id of a seeded row of that
kind, and an amount for a small one in a real asset; a hook also gives every request with
an ``Idempotency-Key`` a new one, so that money-moving requests get past the header check
and two requests never share a key. Schemathesis revalidates a changed request, so a
negative example that a swap made valid is judged as the valid request it became.

Schemathesis 4.32's fixture loader reads ``item._nodeid``, which pytest 9.2 no longer has:
the fixture sets it (harmless when not needed; see ``_pytest_92_node_id``).
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

# Skipped, with the reason shown, when schemathesis cannot be imported (missing, or broken:
# hence ImportError, not only ModuleNotFoundError): never a silent pass.
pytest.importorskip(
    "schemathesis", reason="schemathesis cannot be imported (make install)", exc_type=ImportError
)

import schemathesis
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from centime import usecases
from centime.auth import NewKey, Scope, create_key
from centime.clock import FakeClock
from centime.http.ratelimit import FailureLimit
from centime.ledger import Ledger
from centime.money import ASSETS
from centime.platform import payments
from centime.platform.chart import OPERATOR
from centime.platform.context import Operation, Platform
from centime.platform.errors import Refusal
from centime.platform.funding import TopUpStatus, create_topup, process_provider_events
from centime.platform.ids import PREFIXES, format_id
from centime.platform.parties import Status, create_customer, create_merchant, set_customer
from centime.platform.payments import create_mandate, holds, p2p, refunds
from centime.platform.payouts import (
    Frequency,
    PayoutAsk,
    PayoutSchedule,
    add_payout_method,
    quote_instant_payout,
    set_schedule,
)
from centime.providers import Method, SandboxConfig, SandboxProvider
from centime.providers.payout_sandbox import ACCOUNT_SUCCEEDS, SandboxPayoutRail
from centime.providers.sandbox import CARD_SUCCEEDS as CARD_OK
from centime.server import create_app
from centime.store import open_store
from tests.conftest import PLATFORM_START_NS as START_NS

from ..risk.screens import AllowScreen
from .conftest import Api

SEED: Final = 20270115
# The fake clock moves this much before each seeded row and after each call: every row is
# created at its own instant, so listings (newest first) have one order, run after run.
TICK_NS: Final = 1_000_000
STATEFUL_SCENARIOS: Final = 30
STATEFUL_STEPS: Final = 10
MONEY_KEYS: Final = frozenset({"value", "asset", "scale"})
# What a swapped amount is: mostly USD (what the seeded customers hold), 1 unit to 5 USD
# (each customer holds 50), so that some payments succeed and some meet a limit.
SWAP_ASSETS: Final = ("USD", "USD", "USD", *sorted(set(ASSETS) - {"USD"}))
SWAP_AMOUNT_MAX: Final = 5_000_000
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
IDEMPOTENCY_KEY: Final = re.compile(r"[\x20-\x7e]{1,255}")  # as centime.api.idempotency


@dataclass(frozen=True)
class Run:
    store: str  # "sqlite" or "postgres"
    principal: str  # "operator" or "merchant"
    max_examples: int  # per operation, in the fuzzing phase
    coverage: bool  # schemathesis's coverage phase too
    mode: str = "all"  # valid and invalid requests ("positive": valid ones only)


RUNS: Final = {
    "sqlite-operator": Run("sqlite", "operator", 12, coverage=True),
    "sqlite-merchant": Run("sqlite", "merchant", 6, coverage=True),
    # The store is what differs: valid requests, which reach it.
    "postgres-operator": Run("postgres", "operator", 6, coverage=False, mode="positive"),
}


# ------------------------------------------------------------------ the seeded platform


@dataclass
class Seeded:
    """The platform a run talks to, the key it authenticates with, the public ids of rows
    that exist (by prefix), and what the app answered (statuses by operation)."""

    platform: Platform
    clock: FakeClock
    token: str
    ids: dict[str, list[str]] = field(default_factory=dict)
    answers: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    # The prefix the document's pattern gives a body field (``sender_id``: ``cus``).
    declared_prefixes: dict[str, str] = field(default_factory=dict)

    def add(self, prefix: str, *values: int) -> None:
        self.ids.setdefault(prefix, []).extend(format_id(prefix, v) for v in values)

    def pool(self, name: str) -> list[str]:
        """Ids that may fit a field called ``name``: the prefix its pattern in the document
        says, else the one its name says (``hold_id``: ``hold_`` ids, PREFIXES saying what
        each prefix names); a name that says none takes any id."""
        stem = _letters(name.removesuffix("_id"))
        exact = [p for p, what in PREFIXES.items() if _letters(what) == stem]
        near = [p for p, what in PREFIXES.items() if stem and stem in _letters(what)]
        declared = [self.declared_prefixes[name]] if name in self.declared_prefixes else []
        found = [i for p in declared or exact or near for i in self.ids.get(p, [])]
        return found or [i for values in self.ids.values() for i in values]


def _letters(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalpha())


def _ok(result: Any) -> Any:
    if isinstance(result, Refusal):
        raise AssertionError(f"seeding was refused: {result.code.value}: {result.detail}")
    return result


def seed(platform: Platform, clock: FakeClock, principal: str) -> Seeded:
    """Through the services, one row at a time, each a millisecond after the last (so that
    listings, newest first, come in the same order every run although ids are random):
    two merchants, three customers topped up by card through the sandbox provider, a
    mandate of each customer to each merchant, payments, a refund, holds (one open, one
    captured), a transfer, a frozen customer, and spare keys a run may revoke (never the
    one it authenticates with)."""
    sandbox = SandboxProvider(clock, SandboxConfig(card_confirm_s=0))
    platform.providers.funding[platform.config.funding_provider] = sandbox
    rail = SandboxPayoutRail(clock)
    platform.providers.payout_rails[rail.name] = rail

    def execute(operation: Operation[Any]) -> Any:
        clock.advance(ns=TICK_NS)
        return _ok(platform.execute(operation))

    def admin_key(kind: Any, owner: int) -> NewKey:
        made: NewKey = execute(create_key(platform, kind, owner, "schemathesis", frozenset(Scope)))
        return made

    shop, other = (execute(create_merchant(platform, name)).id for name in ("Shop", "Other"))
    ada, bob, cy = (execute(create_customer(platform, name)).id for name in ("Ada", "Bob", "Cy"))
    for customer in (ada, bob, cy):
        clock.advance(ns=TICK_NS)
        _ok(create_topup(platform, sandbox, customer, "USD", 50_000_000, Method.CARD, CARD_OK))
    credited = process_provider_events(platform, sandbox)
    assert [r.topup.status for r in credited if r.topup] == [TopUpStatus.SUCCEEDED] * 3
    mandates = [
        execute(create_mandate(platform, c, m, "USD", 1_000_000_000))
        for c in (ada, bob, cy)
        for m in (shop, other)
    ]
    token = admin_key("operator", OPERATOR).token
    if principal == "merchant":
        token = admin_key("merchant", shop).token
    run = Seeded(platform, clock, token)
    paid = [
        execute(
            payments.create_payment(platform, payments.PaymentRequest(ada, shop, "USD", 1_250_000))
        ),
        execute(
            payments.create_payment(platform, payments.PaymentRequest(bob, other, "USD", 2_000_000))
        ),
        execute(payments.create_payment(platform, payments.PaymentRequest(ada, other, "USD", 125))),
    ]
    refund = execute(refunds.refund_payment(platform, payments.RefundRequest(paid[0].id, 250_000)))
    open_hold = execute(
        holds.authorize_hold(platform, payments.HoldRequest(ada, shop, "USD", 3_000_000))
    )
    captured = execute(
        holds.authorize_hold(platform, payments.HoldRequest(bob, shop, "USD", 1_000_000))
    )
    execute(holds.capture_hold(platform, payments.CaptureRequest(captured.id, 400_000)))
    sent = execute(p2p.send(platform, payments.TransferRequest(ada, bob, "USD", 1_000_000)))
    execute(set_customer(platform, cy, status=Status.FROZEN))
    run.add("cus", ada, bob, cy)
    run.add("mer", shop, other)
    run.add("pay", *(p.id for p in paid))
    run.add("ref", refund.id)
    run.add("hold", open_hold.id, captured.id)
    run.add("tr", sent.id)
    run.add("man", *(m.id for m in mandates))
    run.add("top", *(r.topup.id for r in credited if r.topup))
    spare = [
        admin_key("operator", OPERATOR),
        admin_key("merchant", shop),
        admin_key("merchant", other),
    ]
    run.add("key", *(k.key.id for k in spare))
    _seed_payouts(platform, clock, run, shop)
    return run


def _seed_payouts(platform: Platform, clock: FakeClock, run: Seeded, shop: int) -> None:
    """A bank account of the first merchant, its lock run out, a schedule, and an instant
    payout of part of its earnings."""
    method = _ok(add_payout_method(platform, shop, "Shop Ltd", ACCOUNT_SUCCEEDS))
    clock.advance(platform.config.payouts.payout_method_lock_s)
    _ok(
        platform.execute(
            set_schedule(platform, PayoutSchedule(shop, "USD", Frequency.WEEKLY, weekday=3))
        )
    )
    quote = _ok(platform.execute(quote_instant_payout(platform, PayoutAsk(shop, "USD", 100_000))))
    payout = _ok(usecases.pay_out(platform, usecases.InstantPayoutRequest(shop, quote.id)))
    run.add("pm", method.id)
    run.add("quo", quote.id)
    run.add("po", payout.id)


@pytest.fixture(params=list(RUNS))
def run(request: pytest.FixtureRequest) -> Run:
    return RUNS[request.param]


@pytest.fixture
def seeded(run: Run, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Seeded]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    if run.store == "postgres":
        url = request.getfixturevalue("postgres_url")  # skips, saying why, without a server
    clock = FakeClock(START_NS)
    ledger = Ledger(open_store(url), clock, expiry_interval_s=3600)
    try:
        yield seed(Platform(ledger, clock, screen=AllowScreen()), clock, run.principal)
    finally:
        ledger.close()


# ------------------------------------------------------------------ hooks


def _often(generated: Any, replacement: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A replacement three times in four, the generated value otherwise. (Drawn through an
    index: ``one_of`` with a branch repeated would not weigh it more.)"""
    return st.integers(0, 3).flatmap(lambda i: replacement if i else st.just(generated))


def _money() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda asset, value: {"value": str(value), "asset": asset, "scale": ASSETS[asset].scale},
        st.sampled_from(SWAP_ASSETS),
        st.integers(1, SWAP_AMOUNT_MAX),
    )


def _swap(value: Any, name: str | None, seeded: Seeded) -> st.SearchStrategy[Any]:
    """``value`` with, maybe, its id fields swapped for seeded ids and its amounts for
    real ones (recursively: a batch's payments too). A float with no fraction (``6.0``,
    which JSON Schema counts as an integer and the server, strict, refuses) mostly becomes
    the integer, so that valid examples get past decoding."""
    if isinstance(value, dict):
        if set(value) == MONEY_KEYS:
            return _often(value, _money())
        return st.fixed_dictionaries({k: _swap(v, k, seeded) for k, v in value.items()})
    if isinstance(value, list):
        return st.tuples(*(_swap(v, name, seeded) for v in value)).map(list)
    if isinstance(value, str) and name is not None and name.endswith("_id"):
        return _often(value, st.sampled_from(seeded.pool(name)))
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return _often(value, st.just(int(value)))
    return st.just(value)


def _with_ids(
    body: dict[str, Any], declared: frozenset[str], seeded: Seeded
) -> st.SearchStrategy[dict[str, Any]]:
    """``body`` with, maybe, the optional id fields it leaves out (``merchant_id``, which
    the operator must name when it pays for a customer) set to seeded ids."""
    missing = sorted(f for f in declared - set(body) if f.endswith("_id"))
    added = st.fixed_dictionaries(
        {}, optional={f: st.sampled_from(seeded.pool(f)) for f in missing}
    )
    return st.tuples(st.just(body), added).map(lambda parts: {**parts[1], **parts[0]})


def body_fields(raw: dict[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """The properties of each operation's JSON body, by (METHOD, path), from the document
    (a body is a reference to a component schema)."""
    schemas = raw.get("components", {}).get("schemas", {})
    found = {}
    for path, item in raw.get("paths", {}).items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema", {})
            ref = str(body.get("$ref", ""))
            body = schemas.get(ref.rsplit("/", 1)[-1], body) if ref else body
            found[(method.upper(), path)] = frozenset(body.get("properties", {}))
    return found


def id_prefixes(raw: dict[str, Any]) -> dict[str, str]:
    """Body fields whose pattern names an id prefix (``"^cus_[0-7]..."``), by field name."""
    found: dict[str, str] = {}
    for schema in raw.get("components", {}).get("schemas", {}).values():
        for name, prop in schema.get("properties", {}).items():
            match = re.match(r"\^([a-z]+)_", str(prop.get("pattern", "")))
            if match and match[1] in PREFIXES:
                found.setdefault(name, match[1])
    return found


def install_hooks(schema: schemathesis.BaseSchema, seeded: Seeded) -> None:
    keys = itertools.count()
    declared = body_fields(schema.raw_schema)
    seeded.declared_prefixes.update(id_prefixes(schema.raw_schema))

    @schema.hook("map_case")
    def fresh_idempotency_key(_: Any, case: Any) -> Any:
        # Only a valid key is replaced: an invalid one is what a negative case tests.
        sent = case.headers.get(IDEMPOTENCY_HEADER) if case.headers else None
        if isinstance(sent, str) and IDEMPOTENCY_KEY.fullmatch(sent):
            case.headers[IDEMPOTENCY_HEADER] = f"schemathesis-{next(keys)}"
        return case

    @schema.hook("flatmap_case")
    def seeded_rows(_: Any, case: Any) -> st.SearchStrategy[Any]:
        body = case.body if isinstance(case.body, (dict, list)) else None
        body_strategy = _swap(body, None, seeded) if body is not None else st.none()
        fields = declared.get((case.method.upper(), case.path), frozenset())
        if isinstance(body, dict) and fields:
            body_strategy = _with_ids(body, fields, seeded).flatmap(
                lambda filled: _swap(filled, None, seeded)
            )

        def apply(parts: tuple[dict[str, Any], dict[str, Any], Any]) -> Any:
            path, query, new_body = parts
            # Assigned only when changed: an assignment makes schemathesis revalidate.
            if path != case.path_parameters:
                case.path_parameters = path
            if query != case.query:
                case.query = query
            if body is not None and new_body != body:
                case.body = new_body
            return case

        return st.tuples(
            _swap(dict(case.path_parameters or {}), None, seeded),
            _swap(dict(case.query or {}), None, seeded),
            body_strategy,
        ).map(apply)

    @schema.hook("after_call")
    def note_answer(_: Any, case: Any, response: Any) -> None:
        seeded.answers[case.operation.label].append(response.status_code)
        seeded.clock.advance(ns=TICK_NS)


# ------------------------------------------------------------------ the schema


def _pytest_92_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis.pytest.from_fixture (4.32) reads and writes ``item._nodeid`` to name
    each operation's subtest; pytest 9.2 keeps node ids elsewhere, so the read fails with
    AttributeError. Setting the attribute lets it run (the subtests are still named by
    their operation); nothing is done where the attribute exists."""
    node: Any = request.node
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid


def load_schema(seeded: Seeded, run: Run) -> schemathesis.BaseSchema:
    # No 429s here: the fuzzer sends thousands of requests, many with bad keys, from one
    # address (the failed-authentication limit has tests of its own: tests/security).
    app = create_app(
        seeded.platform, rate_per_s=1e9, rate_burst=10**9, auth_failures=FailureLimit(burst=10**9)
    )
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # The key as the document's security scheme says (Bearer), on every operation
            # that declares it: schemathesis then knows it is real and probes without it.
            "auth": {"openapi": {"api_key": {"bearer": seeded.token}}},
            "generation": {
                "mode": run.mode,
                "max-examples": run.max_examples,
                "deterministic": True,
                "database": "none",
                "with-security-parameters": False,  # the key above, not generated ones
            },
            "phases": {"examples": {"enabled": False}, "coverage": {"enabled": run.coverage}},
            "checks": {"enabled": True, "positive_data_acceptance": {"enabled": False}},
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    install_hooks(schema, seeded)
    return schema


@pytest.fixture
def api_schema(
    seeded: Seeded, run: Run, request: pytest.FixtureRequest
) -> Iterator[schemathesis.BaseSchema]:
    _pytest_92_node_id(request)
    schema = load_schema(seeded, run)
    yield schema
    _check_reach(schema, seeded)


def _check_reach(schema: schemathesis.BaseSchema, seeded: Seeded) -> None:
    """The run reached the app: every operation was called, none answered only 401 (the
    key authenticated), and some read by a path id answered 200 (seeded ids hit rows).
    Without this a broken setup (a bad key, ids that never hit) would pass every check."""
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    paths: dict[str, dict[str, Any]] = schema.raw_schema["paths"]
    labels = [f"{m.upper()} {path}" for path, item in paths.items() for m in item if m in methods]
    answers = seeded.answers
    assert [label for label in labels if not answers.get(label)] == [], "never called"
    only_401 = [label for label in labels if set(answers[label]) == {401}]
    assert only_401 == [], "answered only 401: the run's key did not authenticate"
    by_id = [label for label in labels if label.startswith("GET ") and label.endswith("_id}")]
    assert any(200 in answers[label] for label in by_id), "no seeded id was ever found"


api = schemathesis.pytest.from_fixture("api_schema")


@api.parametrize()
def test_every_answer_matches_the_document(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate()


# ------------------------------------------------------------------ stateful


@pytest.fixture
def stateful_schema(tmp_path: Path) -> Iterator[tuple[schemathesis.BaseSchema, Seeded]]:
    clock = FakeClock(START_NS)
    ledger = Ledger(
        open_store(f"sqlite:///{tmp_path / 'ledger.db'}"), clock, expiry_interval_s=3600
    )
    try:
        seeded = seed(Platform(ledger, clock, screen=AllowScreen()), clock, "operator")
        yield load_schema(seeded, RUNS["sqlite-operator"]), seeded
    finally:
        ledger.close()


def test_sequences_of_calls_linked_by_ids(
    stateful_schema: tuple[schemathesis.BaseSchema, Seeded],
) -> None:
    """Scenarios of calls where each may take an id from an earlier answer (schemathesis's
    inferred links); every answer is checked as in the test above."""
    schema, seeded = stateful_schema
    found: list[Exception] = []

    class Scenarios(schema.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            try:
                super().validate_response(response, case, *args, **kwargs)
            except Exception as failure:
                found.append(failure)  # as found, before Hypothesis replays anything
                raise

    # Every scenario runs on the same store, so an answer (and with it which links can be
    # followed) may differ from the one Hypothesis saw for the same choices earlier; it then
    # stops, calling the generation flaky. That is no finding of its own: what the
    # scenarios found until then is reported below. (It is rare: the clock moves between
    # calls, so listings come in one order; only rows that one request creates together,
    # a batch's payments, list in the order of their random ids.)
    with contextlib.suppress(Flaky):
        Scenarios.run(
            settings=settings(
                max_examples=STATEFUL_SCENARIOS,
                stateful_step_count=STATEFUL_STEPS,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.generate],
            )
        )
    if found:
        raise found[0]
    calls = sum(len(statuses) for statuses in seeded.answers.values())
    assert calls >= STATEFUL_STEPS, "not even one scenario ran to its end"
    created = [
        s
        for label, statuses in seeded.answers.items()
        for s in statuses
        if label.startswith("POST ") and 200 <= s < 300
    ]
    assert created, "no scenario created anything: the links led nowhere"


# ------------------------------------------------------------------ what the runs found
# Each was a failure of the runs above; these pin the fixes on both stores, by hand.


def test_options_lists_every_method_of_the_path(api: Api) -> None:
    """Litestar 2 answered ``Allow: OPTIONS, POST`` for /v1/customers (GET missing)."""
    for path, allow in (
        ("/v1/customers", "GET, OPTIONS, POST"),
        ("/v1/customers/cus_0000000000001", "GET, OPTIONS, PATCH"),
    ):
        response = api.http.options(path, headers=api.headers())
        assert (response.status_code, response.headers["allow"]) == (204, allow), path


def test_request_bodies_are_declared_closed(api: Api) -> None:
    """The server refuses unknown fields; the document said they were allowed."""
    document = api.http.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    bodies = [
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "requestBody" in operation
    ]
    assert bodies, "no request body in the document"
    for ref in bodies:
        name = ref.rsplit("/", 1)[-1]
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["Money"]["additionalProperties"] is False


def test_the_document_bounds_ids_and_timeouts_as_the_server_does(api: Api) -> None:
    """Ids are below 2^63 (first digit 0-7) and timeout_s is at least 1: the document
    allowed ``cus_z...`` and ``timeout_s: 0``, which the server refuses."""
    schemas = api.http.get("/openapi.json").json()["components"]["schemas"]
    pattern = schemas["PaymentCreate"]["properties"]["customer_id"]["pattern"]
    assert re.fullmatch(pattern, format_id("cus", 2**63 - 1))
    assert not re.fullmatch(pattern, "cus_zzzzzzzzzzzzz")
    assert schemas["HoldCreate"]["properties"]["timeout_s"]["minimum"] == 1


def test_text_with_nul_is_refused_on_every_store(api: Api) -> None:
    """PostgreSQL cannot store NUL in text: a name with one was a 500 there."""
    response = api.http.post("/v1/customers", json={"name": "Ada\u0000"}, headers=api.headers())
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["name"]
    listed = api.http.get("/v1/customers", headers=api.headers()).json()
    assert listed["data"] == []  # nothing was created
