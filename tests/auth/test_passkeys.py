"""Passkeys against a software authenticator written here: an EC P-256 key that builds real
attestation ("none") and assertion objects and signs them, so the server's checks
(challenge, origin, RP id, signature, UV flag, sign counter, single use) are exercised as a
browser would meet them. Runs on both stores."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from centime.auth import passkeys as pk
from centime.auth.sessions import load_session, session_hash, stepped_up
from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal

ORIGIN = "http://localhost:8000"
RP = pk.RelyingParty.for_origin(ORIGIN)
UP, UV, AT = 0x01, 0x04, 0x40


@dataclass
class SoftAuthenticator:
    origin: str = ORIGIN
    rp_id: str = "localhost"
    verify_user: bool = True
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    count: int = 0
    user_handle: bytes = b""

    def _cose(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client(self, kind: str, options: dict[str, object]) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": options["challenge"],
                "origin": self.origin,
                "crossOrigin": False,
            }
        ).encode()

    def _flags(self) -> int:
        return UP | (UV if self.verify_user else 0)

    def create(self, options_json: str) -> str:
        options = json.loads(options_json)
        self.user_handle = pk.b64url_decode(options["user"]["id"]) or b""
        data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags() | AT])
            + self.count.to_bytes(4, "big")
            + bytes(16)
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self._cose()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": data})
        cid = pk.b64url(self.credential_id)
        return json.dumps(
            {
                "id": cid,
                "rawId": cid,
                "type": "public-key",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": pk.b64url(self._client("webauthn.create", options)),
                    "attestationObject": pk.b64url(attestation),
                },
            }
        )

    def get(self, options_json: str) -> str:
        options = json.loads(options_json)
        self.count += 1
        data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags()])
            + self.count.to_bytes(4, "big")
        )
        client = self._client("webauthn.get", options)
        signature = self.key.sign(data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        cid = pk.b64url(self.credential_id)
        return json.dumps(
            {
                "id": cid,
                "rawId": cid,
                "type": "public-key",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": pk.b64url(client),
                    "authenticatorData": pk.b64url(data),
                    "signature": pk.b64url(signature),
                    "userHandle": pk.b64url(self.user_handle),
                },
            }
        )


def _sign_up(platform: Platform, device: SoftAuthenticator) -> pk.SignedUp:
    options = platform.execute(pk.signup_options(RP, platform, "Ada", pk.UserKind.CUSTOMER))
    assert isinstance(options, str)
    done = pk.run(platform, pk.signup_finish(RP, platform, device.create(options)))
    assert isinstance(done, pk.SignedUp), done
    return done


def _sign_in(platform: Platform, device: SoftAuthenticator) -> pk.SignedIn | Refusal:
    options = platform.execute(pk.signin_options(RP, platform))
    assert isinstance(options, str)
    result: pk.SignedIn | Refusal = platform.execute(
        pk.signin_finish(RP, platform, device.get(options))
    )
    return result


def step_up(platform: Platform, device: SoftAuthenticator, user_id: int, token: str) -> bytes:
    """Confirm the session ``token`` with ``device``; the session's hash."""
    options = platform.execute(pk.stepup_options(RP, platform, user_id))
    assert isinstance(options, str)
    at = platform.execute(
        pk.stepup_finish(RP, platform, user_id, session_hash(token), device.get(options))
    )
    assert isinstance(at, int), at
    return session_hash(token)


def test_sign_up_then_sign_in_and_step_up(platform: Platform, clock: FakeClock) -> None:
    device = SoftAuthenticator()
    made = _sign_up(platform, device)
    assert made.user.kind is pk.UserKind.CUSTOMER and len(made.recovery_codes) == 8
    assert load_session(platform, made.session.token) is not None
    signed = _sign_in(platform, device)
    assert isinstance(signed, pk.SignedIn) and signed.user == made.user
    session = load_session(platform, signed.session.token)
    assert session is not None and not stepped_up(session, clock.now_ns())
    options = platform.execute(pk.stepup_options(RP, platform, made.user.id))
    assert isinstance(options, str)
    at = platform.execute(
        pk.stepup_finish(RP, platform, made.user.id, session.id_hash, device.get(options))
    )
    assert isinstance(at, int)
    session = load_session(platform, signed.session.token)
    assert session is not None and stepped_up(session, clock.now_ns())
    clock.advance(6 * 60)  # five minutes fresh, no more
    assert not stepped_up(session, clock.now_ns())


def test_replayed_foreign_and_unverified_assertions_are_refused(platform: Platform) -> None:
    device = SoftAuthenticator()
    _sign_up(platform, device)
    options = platform.execute(pk.signin_options(RP, platform))
    assert isinstance(options, str)
    answer = device.get(options)
    assert isinstance(platform.execute(pk.signin_finish(RP, platform, answer)), pk.SignedIn)
    replayed = platform.execute(pk.signin_finish(RP, platform, answer))
    assert isinstance(replayed, Refusal) and replayed.code is Code.PASSKEY_REFUSED
    device.verify_user = False
    unverified = _sign_in(platform, device)
    assert isinstance(unverified, Refusal) and "verif" in unverified.detail.lower()
    device.verify_user = True
    foreign = SoftAuthenticator(origin="https://evil.example")
    foreign.key, foreign.credential_id = device.key, device.credential_id
    foreign.user_handle, foreign.count = device.user_handle, device.count
    assert isinstance(_sign_in(platform, foreign), Refusal)
    other_rp = SoftAuthenticator(rp_id="evil.example")
    other_rp.key, other_rp.credential_id = device.key, device.credential_id
    other_rp.user_handle, other_rp.count = device.user_handle, device.count
    assert isinstance(_sign_in(platform, other_rp), Refusal)
    stranger = SoftAuthenticator()  # a key the server never registered
    assert isinstance(_sign_in(platform, stranger), Refusal)
    device.count = 0  # a cloned authenticator: its counter went back
    assert isinstance(_sign_in(platform, device), Refusal)


def test_expired_challenge_and_last_passkey(platform: Platform, clock: FakeClock) -> None:
    device = SoftAuthenticator()
    made = _sign_up(platform, device)
    options = platform.execute(pk.signin_options(RP, platform))
    assert isinstance(options, str)
    clock.advance(pk.CHALLENGE_TTL_S + 1)
    late = platform.execute(pk.signin_finish(RP, platform, device.get(options)))
    assert isinstance(late, Refusal) and "expired" in late.detail
    cid = pk.b64url(device.credential_id)
    for code in made.recovery_codes:  # spend every code: the last passkey must stay
        recovered = platform.execute(pk.recover(platform, code))
        assert isinstance(recovered, pk.SignedIn)
    assert isinstance(platform.execute(pk.recover(platform, made.recovery_codes[0])), Refusal)
    assert load_session(platform, made.session.token) is None  # recovery ended it
    # A recovery sign-in counts as a confirmation: the person can change credentials.
    here = session_hash(recovered.session.token)
    kept = platform.execute(pk.remove_passkey(platform, made.user.id, here, cid))
    assert isinstance(kept, Refusal) and kept.code is Code.LAST_PASSKEY
    fresh = platform.execute(pk.new_recovery_codes(platform, made.user.id, here))
    assert isinstance(fresh, list)
    assert platform.execute(pk.remove_passkey(platform, made.user.id, here, cid)) is None
    assert pk.list_passkeys(platform, made.user.id) == [] and len(fresh) == 8


def test_enrollment_and_a_second_passkey(platform: Platform) -> None:
    token = platform.execute(
        pk.create_enrollment(platform, pk.UserKind.OPERATOR, 0, "Ari", pk.Role.ANALYST)
    )
    assert isinstance(token, str)
    refused = platform.execute(pk.create_enrollment(platform, pk.UserKind.OPERATOR, 0, "X"))
    assert isinstance(refused, Refusal)  # an operator needs a role
    phone = SoftAuthenticator()
    options = platform.execute(pk.enroll_options(RP, platform, token))
    assert isinstance(options, str)
    enrolled = pk.run(platform, pk.enroll_finish(RP, platform, phone.create(options)))
    assert isinstance(enrolled, pk.SignedUp) and enrolled.user.role is pk.Role.ANALYST
    spent = platform.execute(pk.enroll_options(RP, platform, token))
    assert isinstance(spent, Refusal)  # the link works once
    laptop = SoftAuthenticator()
    here = step_up(platform, phone, enrolled.user.id, enrolled.session.token)
    added_options = platform.execute(pk.add_passkey_options(RP, platform, enrolled.user, here))
    assert isinstance(added_options, str)
    added = platform.execute(
        pk.add_passkey_finish(
            RP, platform, enrolled.user.id, here, laptop.create(added_options), "Laptop"
        )
    )
    assert isinstance(added, pk.Passkey)
    assert [p.name for p in pk.list_passkeys(platform, enrolled.user.id)] == [
        "First passkey",
        "Laptop",
    ]
    laptop.user_handle = phone.user_handle
    signed = _sign_in(platform, laptop)
    assert isinstance(signed, pk.SignedIn) and signed.user.id == enrolled.user.id
    # Another person's step-up challenge cannot be answered with this person's passkey.
    other = _sign_up(platform, SoftAuthenticator())
    foreign_options = platform.execute(pk.stepup_options(RP, platform, other.user.id))
    assert isinstance(foreign_options, str)
    foreign = platform.execute(
        pk.stepup_finish(RP, platform, other.user.id, b"x" * 32, laptop.get(foreign_options))
    )
    assert isinstance(foreign, Refusal)
