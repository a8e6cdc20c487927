"""Sessions (hashed, expiring, ended by sign-out), CSRF tokens and sign-in throttling."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from centime.auth.sessions import (
    SESSION_TTL_S,
    LoginThrottle,
    csrf_matches,
    csrf_token,
    end_session,
    load_session,
    open_session,
)
from centime.clock import FakeClock
from centime.platform.context import Operation, Platform


def _open(platform: Platform, user_id: int) -> str:
    made = platform.execute(Operation(lambda ctx: open_session(ctx, user_id), 0))
    with platform.read() as fetch:
        stored = fetch("SELECT id_hash FROM web_sessions", ())
    assert [bytes(r[0]) for r in stored] == [hashlib.sha256(made.token.encode()).digest()]
    return made.token


def test_a_session_lives_until_it_expires_or_ends(platform: Platform, clock: FakeClock) -> None:
    token = _open(platform, 7)
    session = load_session(platform, token)
    assert session is not None and session.user_id == 7
    assert load_session(platform, token[:-1] + ("a" if token[-1] != "a" else "b")) is None
    clock.advance(SESSION_TTL_S)
    assert load_session(platform, token) is None
    other = _open_again(platform)
    assert platform.execute(end_session(platform, other)) is True
    assert load_session(platform, other) is None
    assert platform.execute(end_session(platform, other)) is False


def _open_again(platform: Platform) -> str:
    return platform.execute(Operation(lambda ctx: open_session(ctx, 8), 0)).token


@settings(max_examples=50)
@given(st.text(min_size=1, max_size=64), st.text(max_size=80))
def test_csrf_tokens_match_only_their_cookie(cookie: str, guess: str) -> None:
    key = b"k" * 32
    assert csrf_matches(key, cookie, csrf_token(key, cookie))
    assert csrf_matches(key, cookie, guess) == (guess == csrf_token(key, cookie))
    assert not csrf_matches(key, None, csrf_token(key, cookie))
    assert not csrf_matches(key, cookie, None)
    # Keyed by the server's secret: the same cookie under another key is another token.
    assert not csrf_matches(b"o" * 32, cookie, csrf_token(key, cookie))


def test_throttling_per_address_and_per_account() -> None:
    now = [0.0]
    throttle = LoginThrottle(lambda: now[0], per_ip=3, failures_per_source=2, window_s=60)
    assert [throttle.attempt("10.0.0.1") for _ in range(4)] == [True, True, True, False]
    assert throttle.attempt("10.0.0.2")
    throttle.failed("10.6.6.6", "ada")
    assert not throttle.locked("10.6.6.6", "ada")
    throttle.failed("10.6.6.6", "ada")
    # The failing address is locked out of ada's passkey; ada herself, elsewhere, is not.
    assert throttle.locked("10.6.6.6", "ada") and not throttle.locked("10.0.0.2", "ada")
    assert not throttle.locked("10.6.6.6", "ben")
    now[0] = 61.0
    assert throttle.attempt("10.0.0.1") and not throttle.locked("10.6.6.6", "ada")
