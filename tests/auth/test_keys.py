"""API keys: shown once, stored as a hash, verified in constant time, revocable at once, a
bounded cache whose staleness for other processes is bounded by its TTL."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.auth import KeyVerifier, NewKey, Principal, Scope, create_key, keys, list_keys
from centime.auth import revoke_key as revoke
from centime.auth.keys import REJECTED, parse_token
from centime.clock import FakeClock
from centime.platform.chart import OPERATOR
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.platform.ids import format_id
from centime.platform.parties import Merchant, Status, create_merchant, set_merchant

ADMIN = frozenset({Scope.ADMIN})


def operator_key(platform: Platform, scopes: frozenset[Scope] = ADMIN) -> NewKey:
    made = platform.execute(create_key(platform, "operator", OPERATOR, "ops", scopes))
    assert isinstance(made, NewKey)
    return made


def a_merchant(platform: Platform) -> Merchant:
    made = platform.execute(create_merchant(platform, "Shop"))
    assert isinstance(made, Merchant)
    return made


def test_the_key_is_shown_once_and_only_its_hash_is_stored(platform: Platform) -> None:
    made = operator_key(platform)
    assert made.token.startswith(f"ck_{format_id('key', made.key.id)}_")
    parsed = parse_token(made.token)
    assert parsed is not None and parsed[0] == made.key.id and len(parsed[1]) == 43
    with platform.read() as fetch:
        rows = fetch("SELECT * FROM api_keys", ())
    assert len(rows) == 1
    stored = [bytes(v) if isinstance(v, (bytes, memoryview)) else v for v in rows[0]]
    assert hashlib.sha256(parsed[1].encode()).digest() in stored
    flat = repr(stored)
    assert parsed[1] not in flat and made.token not in flat
    assert keys.get_key(platform, made.key.id) == made.key  # the record never has a secret


def test_a_valid_key_verifies_to_its_principal(platform: Platform) -> None:
    merchant = a_merchant(platform)
    scopes = frozenset({Scope.READ, Scope.PAYMENTS})
    made = platform.execute(create_key(platform, "merchant", merchant.id, "m", scopes))
    assert isinstance(made, NewKey)
    verifier = KeyVerifier(platform)
    principal = verifier.verify(made.token)
    assert principal == Principal("merchant", merchant.id, made.key.id, scopes)
    assert principal.owner == f"merchant:{merchant.id}"
    assert principal.allows(Scope.PAYMENTS) and not principal.allows(Scope.REFUNDS)
    assert verifier.from_cache(made.token) == principal  # cached now


def test_bad_unknown_and_malformed_keys_are_refused(platform: Platform) -> None:
    made = operator_key(platform)
    verifier = KeyVerifier(platform)
    wrong_secret = made.token[:-1] + ("A" if made.token[-1] != "A" else "B")
    unknown = f"ck_{format_id('key', made.key.id ^ 1)}_{made.token[-43:]}"
    for token in (wrong_secret, unknown, "", "ck_", made.token + "x", made.token[:-1]):
        assert verifier.verify(token) is None, token
    assert verifier.verify(made.token) is not None
    assert verifier.verify(wrong_secret) is None  # and the cached key still refuses it


@given(st.text(max_size=80))
def test_parse_token_accepts_only_the_key_shape(text: str) -> None:
    parsed = parse_token(text)
    if parsed is not None:
        key_id, secret = parsed
        assert text == f"ck_{format_id('key', key_id)}_{secret}"


def test_revocation_is_at_once_here_and_within_the_ttl_elsewhere(
    platform: Platform, clock: FakeClock
) -> None:
    made = operator_key(platform)
    here, elsewhere = KeyVerifier(platform, cache_ttl_s=5), KeyVerifier(platform, cache_ttl_s=5)
    assert here.verify(made.token) and elsewhere.verify(made.token)
    revoked = platform.execute(revoke(platform, made.key.id))
    assert not isinstance(revoked, Refusal) and revoked.revoked_ns is not None
    here.forget(made.key.id)
    assert here.verify(made.token) is None  # the revoking process: at once
    assert elsewhere.verify(made.token) is not None  # another process: cached, not yet
    clock.advance(5)
    assert elsewhere.verify(made.token) is None  # no later than the TTL


def test_forget_wins_over_a_read_that_began_before_it(platform: Platform) -> None:
    made = operator_key(platform)
    verifier = KeyVerifier(platform)
    original = verifier._read

    def read_then_revoke(key_id: int) -> object:
        entry = original(key_id)  # read while the key is valid...
        platform.execute(revoke(platform, key_id))
        verifier.forget(key_id)  # ...revoked and forgotten before the read is cached
        return entry

    verifier._read = read_then_revoke  # type: ignore[assignment,method-assign]
    verifier.verify(made.token)
    verifier._read = original  # type: ignore[method-assign]
    assert len(verifier) == 0 and verifier.verify(made.token) is None


def test_the_cache_is_bounded(platform: Platform) -> None:
    verifier = KeyVerifier(platform, cache_max=2)
    tokens = [operator_key(platform).token for _ in range(3)]
    for token in tokens:
        assert verifier.verify(token) is not None
    assert len(verifier) == 2
    assert all(verifier.verify(token) is not None for token in tokens)


def test_a_closed_merchants_keys_stop_working(platform: Platform) -> None:
    merchant = a_merchant(platform)
    made = platform.execute(create_key(platform, "merchant", merchant.id, "m", ADMIN))
    assert isinstance(made, NewKey)
    assert platform.execute(set_merchant(platform, merchant.id, Status.CLOSED))
    assert KeyVerifier(platform).verify(made.token) is None
    again = platform.execute(create_key(platform, "merchant", merchant.id, "m", ADMIN))
    assert again == Refusal(Code.MERCHANT_CLOSED, "the merchant's account is closed")


def test_key_creation_refusals(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [
        (create_key(platform, "merchant", 12345, "m", ADMIN), Code.MERCHANT_NOT_FOUND),
        (create_key(platform, "operator", 7, "m", ADMIN), Code.INVALID_REQUEST),
        (create_key(platform, "operator", OPERATOR, " ", ADMIN), Code.INVALID_REQUEST),
        (create_key(platform, "operator", OPERATOR, "m", frozenset()), Code.INVALID_REQUEST),
    ]
    for operation, code in cases:
        result = platform.execute(operation)
        assert isinstance(result, Refusal) and result.code is code
    monkeypatch.setattr(keys, "API_KEYS_PER_OWNER_MAX", 2)
    first, _ = operator_key(platform), operator_key(platform)
    full = platform.execute(create_key(platform, "operator", OPERATOR, "m", ADMIN))
    assert isinstance(full, Refusal) and full.code is Code.API_KEY_LIMIT_REACHED
    platform.execute(revoke(platform, first.key.id))  # revoked keys do not count
    assert isinstance(operator_key(platform), NewKey)
    with platform.read() as fetch:
        assert fetch("SELECT count(*) FROM api_keys", ()) == [(3,)]


def test_revoking_is_scoped_to_the_owner_and_keeps_the_first_time(
    platform: Platform, clock: FakeClock
) -> None:
    mine, theirs = a_merchant(platform), a_merchant(platform)
    made = platform.execute(create_key(platform, "merchant", theirs.id, "m", ADMIN))
    assert isinstance(made, NewKey)
    refused = platform.execute(revoke(platform, made.key.id, ("merchant", mine.id)))
    assert refused == Refusal(Code.API_KEY_NOT_FOUND, "no such API key")
    first = platform.execute(revoke(platform, made.key.id, ("merchant", theirs.id)))
    clock.advance(10)
    second = platform.execute(revoke(platform, made.key.id))  # the operator's reach
    assert not isinstance(first, Refusal) and first == second and first.revoked_ns


def test_an_owners_keys_are_listed_newest_first_in_pages(
    platform: Platform, clock: FakeClock
) -> None:
    made = []
    for _ in range(5):
        made.append(operator_key(platform).key.id)
        clock.advance(1)
    a_merchant_key = platform.execute(
        create_key(platform, "merchant", a_merchant(platform).id, "m", ADMIN)
    )
    assert isinstance(a_merchant_key, NewKey)
    seen, cursor = [], None
    while True:
        page = list_keys(platform, "operator", OPERATOR, cursor, 2)
        seen += [k.id for k in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == made[::-1]


def test_an_unknown_key_is_read_once_per_cache_lifetime(
    platform: Platform, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = KeyVerifier(platform, cache_ttl_s=5)
    reads: list[int] = []
    real_read = verifier._read

    def counted(key_id: int) -> Any:
        reads.append(key_id)
        return real_read(key_id)

    monkeypatch.setattr(verifier, "_read", counted)
    made_up = f"ck_{format_id('key', 12345)}_{'A' * 43}"
    assert verifier.verify(made_up) is None
    assert verifier.from_cache(made_up) is REJECTED
    assert verifier.verify(made_up) is None
    assert len(reads) == 1
    clock.advance(6)
    assert verifier.verify(made_up) is None
    assert len(reads) == 2
