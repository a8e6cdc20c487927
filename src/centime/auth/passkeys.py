"""Passkeys: people sign up, sign in and step up with WebAuthn (the ``webauthn`` package).

A web user is a person mapped to the party it acts as: a customer, a merchant, or the
operator (with a role: ``admin`` or ``analyst``). People sign in with passkeys only:
discoverable credentials (resident keys) with user verification REQUIRED (the device's
fingerprint, face or PIN), several per person, each with a name.

Every ceremony starts with a challenge (32 random bytes) that the server keeps, by its
SHA-256, with its purpose, its user and a short expiry (``CHALLENGE_TTL_S``). Finishing
verifies the browser's answer with ``webauthn`` (challenge, origin, RP id, signature, UV
flag, sign counter) and then, in ONE write unit, consumes the challenge (a DELETE that must
remove exactly one unexpired row of that purpose: a replayed answer finds none), moves the
passkey's sign counter forward with a compare-and-swap, and does what the ceremony is for
(creates the party and the person, opens a session, marks the session stepped up).

Recovery codes (``RECOVERY_CODES`` of 79 random bits each) are shown once, when made, and
kept as SHA-256 only; each signs in once, and ends every other session of the person (who
recovers assumes the others may be a thief's). The last passkey of a person can be removed
only while it holds an unused recovery code.

Credential changes (adding or removing a passkey, replacing the recovery codes) need the
session to have been confirmed lately with a credential that existed before (a passkey
this session did not add, or the recovery code it signed in with):
:func:`centime.auth.sessions.credential_confirmed`, checked inside the unit that makes the
change. A session cookie alone, or a step-up made with a passkey the same session just
registered, changes nothing. Every change tells the owner (:mod:`centime.platform.events.notices`).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from centime.ledger.units import UnitContext
from centime.platform.chart import OPERATOR
from centime.platform.context import Operation, Platform
from centime.platform.errors import Code, Refusal
from centime.platform.events import Change, credential_changed
from centime.platform.ids import random_id
from centime.platform.parties import NAME_LEN_MAX, create_customer, create_merchant
from centime.platform.referrals import normal_code, with_referral
from centime.platform.review import REVIEW_EVENTS_MAX
from centime.platform.rows import row_by_id

from .sessions import (
    NewSession,
    credential_confirmed,
    end_other_sessions,
    open_session,
    unit_session,
)
from .signup_screen import screen_signup, signup_party_id

__all__ = [
    "CHALLENGE_TTL_S",
    "CREDENTIAL_JSON_MAX_BYTES",
    "PASSKEYS_PER_USER_MAX",
    "RECOVERY_CODES",
    "Answer",
    "Ceremony",
    "Passkey",
    "PasskeyRolledBack",
    "RelyingParty",
    "Role",
    "SignedIn",
    "SignedUp",
    "UserKind",
    "WebUser",
    "add_passkey_finish",
    "add_passkey_options",
    "b64url",
    "b64url_decode",
    "confirmation_refusal",
    "create_enrollment",
    "enroll_finish",
    "enroll_options",
    "get_user",
    "list_passkeys",
    "new_recovery_codes",
    "parse_answer",
    "recover",
    "remove_passkey",
    "rename_passkey",
    "run",
    "signin_finish",
    "signin_options",
    "signup_finish",
    "signup_options",
    "stepup_finish",
    "stepup_options",
    "unused_recovery_codes",
]

NS_PER_S: Final = 1_000_000_000
CHALLENGE_TTL_S: Final = 120  # a ceremony takes seconds; two minutes is generous
CHALLENGE_BYTES: Final = 32
ENROLLMENT_TTL_S: Final = 7 * 24 * 3600
PASSKEYS_PER_USER_MAX: Final = 10
PASSKEY_NAME_LEN_MAX: Final = 64
RECOVERY_CODES: Final = 8
CREDENTIAL_JSON_MAX_BYTES: Final = 16 * 1024  # an attestation without certificates is ~1 KiB
CREDENTIAL_ID_LEN_MAX: Final = 1023  # bytes, as WebAuthn bounds it
CHALLENGES_SWEPT_MAX: Final = 1000


class UserKind(enum.Enum):
    CUSTOMER = "customer"
    MERCHANT = "merchant"
    OPERATOR = "operator"


class Role(enum.Enum):
    """Operators' roles. An analyst reviews; only an admin changes parties or pricing."""

    ADMIN = "admin"
    ANALYST = "analyst"


class Ceremony(enum.Enum):
    REGISTER = "register"  # sign-up, enrollment, or a person adding a passkey
    LOGIN = "login"
    STEPUP = "stepup"


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who the passkeys are for: the RP id (a domain: ``localhost``, ``pay.example``) and the
    exact origins the browser may answer from."""

    rp_id: str
    name: str
    origins: tuple[str, ...]

    @classmethod
    def for_origin(cls, origin: str, name: str = "centime") -> RelyingParty:
        """The RP of one origin (``http://localhost:8000`` -> RP id ``localhost``)."""
        host = origin.split("://", 1)[-1].split("/", 1)[0]
        if host.startswith("["):
            raise ValueError("an IP address cannot be a WebAuthn RP id; use a host name")
        return cls(host.rsplit(":", 1)[0] if host.count(":") == 1 else host, name, (origin,))


@dataclass(frozen=True, slots=True)
class WebUser:
    id: int
    kind: UserKind
    party_id: int
    role: Role | None
    name: str
    created_ns: int


@dataclass(frozen=True, slots=True)
class Passkey:
    credential_id: str  # base64url
    user_id: int
    name: str
    sign_count: int
    created_ns: int
    last_used_ns: int | None


@dataclass(frozen=True, slots=True)
class SignedUp:
    """A new person, its session, and its recovery codes (shown this once)."""

    user: WebUser
    session: NewSession
    recovery_codes: list[str]


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: WebUser
    session: NewSession


_USER_COLUMNS: Final = "id, kind, party_id, role, name, created_ns"
_PASSKEY_COLUMNS: Final = "credential_id, user_id, name, sign_count, created_ns, last_used_ns"


def _user(row: Sequence[Any]) -> WebUser:
    role = None if row[3] is None else Role(row[3])
    return WebUser(int(row[0]), UserKind(row[1]), int(row[2]), role, row[4], int(row[5]))


def _passkey(row: Sequence[Any]) -> Passkey:
    last = None if row[5] is None else int(row[5])
    return Passkey(row[0], int(row[1]), row[2], int(row[3]), int(row[4]), last)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _user_handle(user_id: int) -> bytes:
    """The WebAuthn user handle of a person: its id's 8 bytes (no personal data)."""
    return user_id.to_bytes(8, "big")


# ------------------------------------------------------------------ reading answers


@dataclass(frozen=True, slots=True)
class Answer:
    """What the server reads of a browser's answer before verifying it."""

    raw: dict[str, Any]
    credential_id: str
    challenge: bytes
    user_handle: bytes | None


def _json_object(text: str | bytes) -> dict[str, Any]:
    """The JSON object ``text`` holds; empty when it holds anything else or is not JSON."""
    try:
        loaded = json.loads(text)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _b64url_field(document: dict[str, Any], name: str) -> bytes | None:
    value = document.get(name)
    return b64url_decode(value) if isinstance(value, str) else None


def parse_answer(text: object) -> Answer | Refusal:
    """The credential JSON (``PublicKeyCredential.toJSON()``), bounded and shape-checked."""
    bad = Refusal(Code.PASSKEY_REFUSED, "the passkey's answer is malformed")
    if not isinstance(text, str | bytes) or len(text) > CREDENTIAL_JSON_MAX_BYTES:
        return bad
    raw = _json_object(text)
    response, cred_id = raw.get("response"), raw.get("id")
    if not isinstance(response, dict) or not isinstance(cred_id, str):
        return bad
    decoded = _b64url_field(response, "clientDataJSON")
    raw_id = b64url_decode(cred_id)
    if decoded is None or raw_id is None or not 16 <= len(raw_id) <= CREDENTIAL_ID_LEN_MAX:
        return bad
    challenge = _b64url_field(_json_object(decoded), "challenge")
    if challenge is None or len(challenge) != CHALLENGE_BYTES:
        return bad
    handle_text = response.get("userHandle")
    handle = b64url_decode(handle_text) if isinstance(handle_text, str) and handle_text else None
    return Answer(raw, b64url(raw_id), challenge, handle)


# ------------------------------------------------------------------ challenges


def _issue(
    ctx: UnitContext, purpose: Ceremony, challenge: bytes, user_id: int | None, data: object
) -> None:
    # Lapsed challenges go as new ones come: the table holds the last minutes' only.
    ctx.execute(
        "DELETE FROM webauthn_challenges WHERE challenge_hash IN (SELECT challenge_hash"
        f" FROM webauthn_challenges WHERE expires_ns <= ? LIMIT {CHALLENGES_SWEPT_MAX})",
        (ctx.now_ns,),
    )
    ctx.execute(
        "INSERT INTO webauthn_challenges (challenge_hash, purpose, user_id, data, expires_ns)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            _sha256(challenge),
            purpose.value,
            user_id,
            json.dumps(data),
            ctx.now_ns + CHALLENGE_TTL_S * NS_PER_S,
        ),
    )


def _consume(
    ctx: UnitContext, purpose: Ceremony, challenge: bytes, user_id: int | None = None
) -> dict[str, Any] | Refusal:
    """Take the challenge: it must exist, be unexpired, of this purpose (and user). Single
    use: it is deleted whatever the outcome."""
    key = _sha256(challenge)
    rows = ctx.fetch(
        "SELECT purpose, user_id, data, expires_ns FROM webauthn_challenges"
        " WHERE challenge_hash = ?",
        (key,),
    )
    if not rows:
        return Refusal(Code.PASSKEY_REFUSED, "unknown or already used challenge")
    ctx.execute("DELETE FROM webauthn_challenges WHERE challenge_hash = ?", (key,))
    row_purpose, row_user, data, expires_ns = rows[0]
    if row_purpose != purpose.value or int(expires_ns) <= ctx.now_ns:
        return Refusal(Code.PASSKEY_REFUSED, "the challenge expired or is for another step")
    if user_id is not None and (row_user is None or int(row_user) != user_id):
        return Refusal(Code.PASSKEY_REFUSED, "the challenge is another person's")
    loaded: dict[str, Any] = json.loads(data)
    return loaded


_Checked = TypeVar("_Checked")


def _take_answer(
    ctx: UnitContext,
    purpose: Ceremony,
    answer: Answer | Refusal,
    checked: _Checked | Refusal,
    user_id: int | None = None,
) -> tuple[Answer, _Checked, dict[str, Any]] | Refusal:
    """A ceremony's end in a unit: the answer's challenge is consumed (:func:`_consume`;
    also when the answer's own check, ``checked``, failed: a challenge is single use), then
    the first refusal of the answer, its check and the challenge, else all three."""
    if isinstance(answer, Refusal):
        return answer
    data = _consume(ctx, purpose, answer.challenge, user_id)
    if isinstance(checked, Refusal):
        return checked
    if isinstance(data, Refusal):
        return data
    return answer, checked, data


def _challenge_op(
    purpose: Ceremony, options_json: str, challenge: bytes, user_id: int | None, data: object
) -> Operation[str | Refusal]:
    def unit(ctx: UnitContext) -> str | Refusal:
        _issue(ctx, purpose, challenge, user_id, data)
        return options_json

    return Operation(unit, 0)


def _registration_options(
    rp: RelyingParty, user_id: int, user_name: str, exclude: Sequence[str] = ()
) -> tuple[str, bytes]:
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp.name,
        user_id=_user_handle(user_id),
        user_name=user_name,
        user_display_name=user_name,
        challenge=challenge,
        timeout=CHALLENGE_TTL_S * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=raw)
            for raw in (b64url_decode(c) for c in exclude)
            if raw is not None
        ],
    )
    return options_to_json(options), challenge


def _check_name(name: object) -> Refusal | None:
    if type(name) is not str or not name.strip() or len(name) > NAME_LEN_MAX:
        return Refusal(Code.INVALID_REQUEST, f"name must be 1-{NAME_LEN_MAX} characters")
    return None


def _check_passkey_name(name: object) -> Refusal | None:
    if type(name) is not str or not name.strip() or len(name) > PASSKEY_NAME_LEN_MAX:
        return Refusal(
            Code.INVALID_REQUEST, f"a passkey's name is 1-{PASSKEY_NAME_LEN_MAX} characters"
        )
    return None


# ------------------------------------------------------------------ registration


def _expected(rp: RelyingParty, answer: Answer) -> dict[str, Any]:
    """What every verification holds an answer to: this challenge, this relying party and
    its origins, and the person verified (a PIN or biometric, not mere presence)."""
    return {
        "credential": answer.raw,
        "expected_challenge": answer.challenge,
        "expected_rp_id": rp.rp_id,
        "expected_origin": list(rp.origins),
        "require_user_verification": True,
    }


def _verify_registration(rp: RelyingParty, answer: Answer) -> tuple[bytes, int] | Refusal:
    """(COSE public key, sign count) of a valid attestation, or the refusal."""
    try:
        verified = verify_registration_response(**_expected(rp, answer))
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as error:
        return Refusal(Code.PASSKEY_REFUSED, f"the passkey was refused: {error}"[:300])
    if b64url(verified.credential_id) != answer.credential_id:
        return Refusal(Code.PASSKEY_REFUSED, "the credential id does not match")
    return verified.credential_public_key, verified.sign_count


def _insert_passkey(
    ctx: UnitContext,
    user_id: int,
    answer: Answer,
    key: tuple[bytes, int],
    name: str,
    added_session_hash: bytes | None = None,
) -> Refusal | None:
    if ctx.fetch("SELECT 1 FROM passkeys WHERE credential_id = ?", (answer.credential_id,)):
        return Refusal(Code.PASSKEY_REFUSED, "this passkey is registered already")
    count = int(ctx.fetch("SELECT count(*) FROM passkeys WHERE user_id = ?", (user_id,))[0][0])
    if count >= PASSKEYS_PER_USER_MAX:
        return Refusal(
            Code.PASSKEY_LIMIT_REACHED, f"at most {PASSKEYS_PER_USER_MAX} passkeys per person"
        )
    ctx.execute(
        f"INSERT INTO passkeys ({_PASSKEY_COLUMNS}, public_key, added_session_hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (answer.credential_id, user_id, name, key[1], ctx.now_ns, None, key[0], added_session_hash),
    )
    return None


def _insert_user(
    ctx: UnitContext, user_id: int, kind: UserKind, party_id: int, role: Role | None, name: str
) -> WebUser:
    user = WebUser(user_id, kind, party_id, role, name, ctx.now_ns)
    ctx.execute(
        f"INSERT INTO web_users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
        (user_id, kind.value, party_id, None if role is None else role.value, name, ctx.now_ns),
    )
    return user


def _codes() -> list[str]:
    """Fresh recovery codes: 16 symbols of 31 (79 random bits) each, in groups of four."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # 31 symbols, none easily confused
    codes = []
    for _ in range(RECOVERY_CODES):
        text = "".join(secrets.choice(alphabet) for _ in range(16))
        codes.append("-".join(text[i : i + 4] for i in range(0, 16, 4)))
    return codes


def _normal_code(code: str) -> bytes:
    return code.strip().lower().replace("-", "").replace(" ", "").encode("ascii", "replace")


def _store_codes(ctx: UnitContext, user_id: int, codes: Sequence[str]) -> None:
    ctx.execute("DELETE FROM recovery_codes WHERE user_id = ?", (user_id,))
    for code in codes:
        ctx.execute(
            "INSERT INTO recovery_codes (code_hash, user_id, used_ns) VALUES (?, ?, NULL)",
            (_sha256(_normal_code(code)), user_id),
        )


def _verify_assertion(
    rp: RelyingParty, platform: Platform, answer: Answer
) -> tuple[Passkey, int] | Refusal:
    """(the passkey, its new sign count) of a valid, user-verified assertion."""
    with platform.read() as fetch:
        rows = fetch(
            f"SELECT {_PASSKEY_COLUMNS}, public_key FROM passkeys WHERE credential_id = ?",
            (answer.credential_id,),
        )
    if not rows:
        return Refusal(Code.PASSKEY_REFUSED, "unknown passkey")
    passkey = _passkey(rows[0])
    if answer.user_handle is not None and answer.user_handle != _user_handle(passkey.user_id):
        return Refusal(Code.PASSKEY_REFUSED, "the passkey's user handle does not match")
    try:
        verified = verify_authentication_response(
            **_expected(rp, answer),
            credential_public_key=bytes(rows[0][6]),
            credential_current_sign_count=passkey.sign_count,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as error:
        return Refusal(Code.PASSKEY_REFUSED, f"the passkey was refused: {error}"[:300])
    return passkey, int(verified.new_sign_count)


def _count_forward(ctx: UnitContext, passkey: Passkey, new_count: int) -> Refusal | None:
    """Compare-and-swap of the sign counter: a concurrent use of the same assertion (or a
    cloned authenticator) finds the counter moved and is refused."""
    changed = ctx.execute(
        "UPDATE passkeys SET sign_count = ?, last_used_ns = ?"
        " WHERE credential_id = ? AND sign_count = ?",
        (new_count, ctx.now_ns, passkey.credential_id, passkey.sign_count),
    )
    if changed != 1:
        return Refusal(Code.PASSKEY_REFUSED, "the passkey's sign counter moved meanwhile")
    return None


def _load_user(ctx: UnitContext, user_id: int) -> WebUser | None:
    return row_by_id(ctx.fetch, "web_users", _USER_COLUMNS, user_id, _user)


def signup_finish(
    rp: RelyingParty,
    platform: Platform,
    credential_json: object,
    *,
    ip: str | None = None,
    device: str | None = None,
) -> Operation[SignedUp | Refusal]:
    """Finish a sign-up: one unit consumes the challenge and creates the party, the person,
    its first passkey, its recovery codes and its session (every refusal comes before the
    first row is written, but the risk screen's: a blocked sign-up's decision is kept).
    The party is screened as the API's sign-ups are (:mod:`.signup_screen`; ``ip`` and
    ``device`` are the request's): blocked, or created frozen with a case for review.
    Blocking work (the screen): call it off the event loop."""
    answer = parse_answer(credential_json)
    key = answer if isinstance(answer, Refusal) else _verify_registration(rp, answer)
    codes = _codes()
    screened = None
    if not isinstance(answer, Refusal) and not isinstance(key, Refusal):
        screened = screen_signup(platform, answer.challenge, ip, device)

    def unit(ctx: UnitContext) -> SignedUp | Refusal:
        taken = _take_answer(ctx, Ceremony.REGISTER, answer, key)
        if isinstance(taken, Refusal):
            return taken
        got, new_key, data = taken
        if data.get("action") != "signup" or screened is None:
            return Refusal(Code.PASSKEY_REFUSED, "the challenge is for another step")
        user_id = int(data["user_id"])
        if ctx.fetch("SELECT 1 FROM passkeys WHERE credential_id = ?", (got.credential_id,)):
            return Refusal(Code.PASSKEY_REFUSED, "this passkey is registered already")
        kind, name = UserKind(data["kind"]), str(data["name"])
        if screened.party_id != signup_party_id(user_id):
            return Refusal(Code.PASSKEY_REFUSED, "the challenge is for another sign-up")
        made = (
            create_merchant(platform, name, merchant_id=screened.party_id)
            if kind is UserKind.MERCHANT
            else create_customer(platform, name, customer_id=screened.party_id)
        )
        code = data.get("referral_code")
        referred = with_referral(made, kind.value, code or None, None)  # type: ignore[arg-type]
        party: Any = screened.guard(referred).unit(ctx)
        if isinstance(party, Refusal):
            return party
        # A REVIEW answers the case: the party exists, frozen until an analyst decides.
        user = _insert_user(ctx, user_id, kind, screened.party_id, None, name)
        _insert_passkey(ctx, user.id, got, new_key, "First passkey")
        _store_codes(ctx, user.id, codes)
        return SignedUp(user, open_session(ctx, user.id), codes)

    return Operation(unit, REVIEW_EVENTS_MAX)


def signup_options(
    rp: RelyingParty,
    platform: Platform,
    name: str,
    kind: UserKind,
    referral_code: str | None = None,
) -> Operation[str | Refusal]:
    """Options for ``navigator.credentials.create`` for a new customer or merchant
    (``referral_code``: who referred it, checked when the sign-up finishes)."""
    refusal = _check_name(name)
    code = None if referral_code is None else normal_code(referral_code)
    if refusal is None and referral_code and code is None:
        refusal = Refusal(Code.REFERRAL_CODE_INVALID, "this referral code is not valid")
    if refusal is None and kind is UserKind.OPERATOR:
        refusal = Refusal(Code.INVALID_REQUEST, "operators are invited, never signed up")
    if refusal is not None:
        return _refused(refusal)
    user_id = random_id()  # the passkey's user handle: opaque, not guessable
    options, challenge = _registration_options(rp, user_id, name.strip())
    data = {
        "action": "signup",
        "name": name.strip(),
        "kind": kind.value,
        "user_id": user_id,
        "referral_code": code,
    }
    return _challenge_op(Ceremony.REGISTER, options, challenge, user_id, data)


def _refused(refusal: Refusal) -> Operation[Any]:
    return Operation(lambda ctx: refusal, 0)


# ------------------------------------------------------------------ enrollment


def create_enrollment(
    platform: Platform, kind: UserKind, party_id: int, name: str, role: Role | None = None
) -> Operation[str | Refusal]:
    """A one-time token that lets a person register a passkey for an existing party (the
    demo's people, an invited operator). Only its SHA-256 is kept; the token is returned
    once, for a link."""
    refusal = _check_name(name)
    if refusal is None and (kind is UserKind.OPERATOR) != (role is not None):
        refusal = Refusal(Code.INVALID_REQUEST, "operators, and only they, have a role")
    if refusal is None and kind is UserKind.OPERATOR and party_id != OPERATOR:
        refusal = Refusal(Code.INVALID_REQUEST, "operators act for party 0")
    if refusal is not None:
        return _refused(refusal)
    token = secrets.token_urlsafe(32)

    def unit(ctx: UnitContext) -> str | Refusal:
        table = {UserKind.CUSTOMER: "customers", UserKind.MERCHANT: "merchants"}.get(kind)
        if table and not ctx.fetch(f"SELECT 1 FROM {table} WHERE id = ?", (party_id,)):
            return Refusal(Code.INVALID_REQUEST, f"no such {kind.value}")
        ctx.execute(
            "INSERT INTO web_enrollments (token_hash, kind, party_id, role, name, expires_ns,"
            " used_ns) VALUES (?, ?, ?, ?, ?, ?, NULL)",
            (
                _sha256(token.encode()),
                kind.value,
                party_id,
                None if role is None else role.value,
                name.strip(),
                ctx.now_ns + ENROLLMENT_TTL_S * NS_PER_S,
            ),
        )
        return token

    return Operation(unit, 0)


def enroll_options(rp: RelyingParty, platform: Platform, token: str) -> Operation[str | Refusal]:
    """Options to register the first passkey of an enrolled party (the token is checked
    now and spent when the passkey is registered)."""
    token_hash = _sha256(token.encode("utf-8", "replace")[:256])
    user_id = random_id()  # the passkey's user handle: opaque, not guessable

    def unit(ctx: UnitContext) -> str | Refusal:
        rows = ctx.fetch(
            "SELECT name, expires_ns, used_ns FROM web_enrollments WHERE token_hash = ?",
            (token_hash,),
        )
        if not rows or rows[0][2] is not None or int(rows[0][1]) <= ctx.now_ns:
            return Refusal(Code.PASSKEY_REFUSED, "this enrollment link is not valid")
        options, challenge = _registration_options(rp, user_id, str(rows[0][0]))
        data = {"action": "enroll", "token_hash": token_hash.hex(), "user_id": user_id}
        _issue(ctx, Ceremony.REGISTER, challenge, user_id, data)
        return options

    return Operation(unit, 0)


def enroll_finish(
    rp: RelyingParty, platform: Platform, credential_json: object
) -> Operation[SignedUp | Refusal]:
    answer = parse_answer(credential_json)
    key = answer if isinstance(answer, Refusal) else _verify_registration(rp, answer)
    codes = _codes()

    def unit(ctx: UnitContext) -> SignedUp | Refusal:
        taken = _take_answer(ctx, Ceremony.REGISTER, answer, key)
        if isinstance(taken, Refusal):
            return taken
        got, new_key, data = taken
        if data.get("action") != "enroll":
            return Refusal(Code.PASSKEY_REFUSED, "the challenge is for another step")
        token_hash = bytes.fromhex(str(data["token_hash"]))
        spent = ctx.execute(
            "UPDATE web_enrollments SET used_ns = ? WHERE token_hash = ? AND used_ns IS NULL"
            " AND expires_ns > ?",
            (ctx.now_ns, token_hash, ctx.now_ns),
        )
        if spent != 1:
            return Refusal(Code.PASSKEY_REFUSED, "this enrollment link is not valid")
        if ctx.fetch("SELECT 1 FROM passkeys WHERE credential_id = ?", (got.credential_id,)):
            raise PasskeyRolledBack(Refusal(Code.PASSKEY_REFUSED, "passkey registered already"))
        kind, party_id, role, name = ctx.fetch(
            "SELECT kind, party_id, role, name FROM web_enrollments WHERE token_hash = ?",
            (token_hash,),
        )[0]
        user = _insert_user(
            ctx,
            int(data["user_id"]),
            UserKind(kind),
            int(party_id),
            None if role is None else Role(role),
            str(name),
        )
        _insert_passkey(ctx, user.id, got, new_key, "First passkey")
        _store_codes(ctx, user.id, codes)
        return SignedUp(user, open_session(ctx, user.id), codes)

    return Operation(unit, 0)


class PasskeyRolledBack(Exception):  # noqa: N818 - carries a refusal out of a unit
    """Raised inside a unit after it wrote: the writer rolls the unit back and re-raises;
    :func:`run` answers the refusal it carries."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


def run(platform: Platform, operation: Operation[Any]) -> Any:
    """Run one of this module's operations: its result, or the refusal of a rolled-back one."""
    try:
        return platform.execute(operation)
    except PasskeyRolledBack as rolled_back:
        return rolled_back.refusal


# ------------------------------------------------------------------ sign-in and step-up


def _authentication_options(rp: RelyingParty, allow: Sequence[str] = ()) -> tuple[str, bytes]:
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=challenge,
        timeout=CHALLENGE_TTL_S * 1000,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=raw)
            for raw in (b64url_decode(c) for c in allow)
            if raw is not None
        ],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options), challenge


def signin_options(rp: RelyingParty, platform: Platform) -> Operation[str | Refusal]:
    """Options for ``navigator.credentials.get`` with any of this site's passkeys."""
    options, challenge = _authentication_options(rp)
    return _challenge_op(Ceremony.LOGIN, options, challenge, None, {"action": "login"})


def signin_finish(
    rp: RelyingParty, platform: Platform, credential_json: object
) -> Operation[SignedIn | Refusal]:
    answer = parse_answer(credential_json)
    checked = answer if isinstance(answer, Refusal) else _verify_assertion(rp, platform, answer)

    def unit(ctx: UnitContext) -> SignedIn | Refusal:
        taken = _take_answer(ctx, Ceremony.LOGIN, answer, checked)
        if isinstance(taken, Refusal):
            return taken
        passkey, new_count = taken[1]
        refusal = _count_forward(ctx, passkey, new_count)
        user = _load_user(ctx, passkey.user_id)
        if refusal is not None or user is None:
            return refusal or Refusal(Code.PASSKEY_REFUSED, "unknown person")
        return SignedIn(user, open_session(ctx, user.id))

    return Operation(unit, 0)


def stepup_options(rp: RelyingParty, platform: Platform, user_id: int) -> Operation[str | Refusal]:
    """Options to confirm with one of the person's own passkeys (user verification)."""
    allow = [p.credential_id for p in list_passkeys(platform, user_id)]
    options, challenge = _authentication_options(rp, allow)
    return _challenge_op(Ceremony.STEPUP, options, challenge, user_id, {"action": "stepup"})


def stepup_finish(
    rp: RelyingParty,
    platform: Platform,
    user_id: int,
    session_hash: bytes,
    credential_json: object,
) -> Operation[int | Refusal]:
    """Mark the session stepped up now: its time (engine ns), or the refusal."""
    answer = parse_answer(credential_json)
    checked = answer if isinstance(answer, Refusal) else _verify_assertion(rp, platform, answer)

    def unit(ctx: UnitContext) -> int | Refusal:
        taken = _take_answer(ctx, Ceremony.STEPUP, answer, checked, user_id)
        if isinstance(taken, Refusal):
            return taken
        passkey, new_count = taken[1]
        if passkey.user_id != user_id:
            return Refusal(Code.PASSKEY_REFUSED, "another person's passkey")
        refusal = _count_forward(ctx, passkey, new_count)
        if refusal is not None:
            return refusal
        # Which credential confirmed, and when it was registered: a confirmation made with
        # a passkey this session added does not count for credential changes.
        ctx.execute(
            "UPDATE web_sessions SET stepped_up_ns = ?, confirmed_by = ?,"
            " confirmed_key_created_ns = ? WHERE id_hash = ? AND user_id = ?",
            (ctx.now_ns, passkey.credential_id, passkey.created_ns, session_hash, user_id),
        )
        return ctx.now_ns

    return Operation(unit, 0)


# ------------------------------------------------------------------ managing passkeys


def confirmation_refusal(ctx: UnitContext, user_id: int, session_hash: bytes) -> Refusal | None:
    """None when the person's session may change credentials now (module note), else the
    STEP_UP_REQUIRED refusal."""
    session = unit_session(ctx, session_hash)
    if session is None or session.user_id != user_id:
        return Refusal(Code.STEP_UP_REQUIRED, "sign in again")
    if not credential_confirmed(session, ctx.now_ns):
        return Refusal(
            Code.STEP_UP_REQUIRED,
            "confirm with a passkey you had before (not one added in this session) first",
        )
    return None


def _notify(ctx: UnitContext, user_id: int, change: Change, detail: str) -> None:
    user = _load_user(ctx, user_id)
    if user is None:  # the unit just checked the person's session: a broken invariant
        raise RuntimeError(f"web user {user_id} vanished inside its own unit")
    credential_changed(ctx, user.kind.value, user.party_id, change, detail)


def add_passkey_options(
    rp: RelyingParty, platform: Platform, user: WebUser, session_hash: bytes
) -> Operation[str | Refusal]:
    """Options to register another passkey: only for a session confirmed lately with an
    existing credential (refused before any challenge is issued)."""
    existing = [p.credential_id for p in list_passkeys(platform, user.id)]
    if len(existing) >= PASSKEYS_PER_USER_MAX:
        return _refused(
            Refusal(Code.PASSKEY_LIMIT_REACHED, f"at most {PASSKEYS_PER_USER_MAX} passkeys")
        )
    options, challenge = _registration_options(rp, user.id, user.name, existing)

    def unit(ctx: UnitContext) -> str | Refusal:
        refusal = confirmation_refusal(ctx, user.id, session_hash)
        if refusal is not None:
            return refusal
        _issue(
            ctx,
            Ceremony.REGISTER,
            challenge,
            user.id,
            {"action": "add", "session": session_hash.hex()},
        )
        return options

    return Operation(unit, 0)


def add_passkey_finish(
    rp: RelyingParty,
    platform: Platform,
    user_id: int,
    session_hash: bytes,
    credential_json: object,
    name: str,
) -> Operation[Passkey | Refusal]:
    """Register the passkey, if the session that asked for the options is still confirmed
    (checked again: the confirmation may have lapsed meanwhile)."""
    answer = parse_answer(credential_json)
    key = answer if isinstance(answer, Refusal) else _verify_registration(rp, answer)
    name_refusal = _check_passkey_name(name)

    def unit(ctx: UnitContext) -> Passkey | Refusal:
        taken = _take_answer(ctx, Ceremony.REGISTER, answer, key, user_id)
        if isinstance(taken, Refusal) or name_refusal:
            return next(r for r in (taken, name_refusal) if isinstance(r, Refusal))
        got, new_key, data = taken
        if data.get("action") != "add" or data.get("session") != session_hash.hex():
            return Refusal(Code.PASSKEY_REFUSED, "the challenge is for another step")
        refusal = confirmation_refusal(ctx, user_id, session_hash) or _insert_passkey(
            ctx, user_id, got, new_key, name.strip(), session_hash
        )
        if refusal is not None:
            return refusal
        _notify(ctx, user_id, Change.PASSKEY_ADDED, f"passkey {name.strip()!r}")
        return Passkey(got.credential_id, user_id, name.strip(), new_key[1], ctx.now_ns, None)

    return Operation(unit, 0)


def rename_passkey(
    platform: Platform, user_id: int, credential_id: str, name: str
) -> Operation[Refusal | None]:
    refusal = _check_passkey_name(name)

    def unit(ctx: UnitContext) -> Refusal | None:
        if refusal is not None:
            return refusal
        changed = ctx.execute(
            "UPDATE passkeys SET name = ? WHERE credential_id = ? AND user_id = ?",
            (name.strip(), credential_id, user_id),
        )
        return None if changed == 1 else Refusal(Code.PASSKEY_NOT_FOUND, "no such passkey")

    return Operation(unit, 0)


def remove_passkey(
    platform: Platform, user_id: int, session_hash: bytes, credential_id: str
) -> Operation[Refusal | None]:
    """Remove a passkey, from a session confirmed lately with an existing credential; the
    last one only while an unused recovery code remains."""

    def unit(ctx: UnitContext) -> Refusal | None:
        owned = ctx.fetch("SELECT credential_id, name FROM passkeys WHERE user_id = ?", (user_id,))
        names = {str(r[0]): str(r[1]) for r in owned}
        if credential_id not in names:
            return Refusal(Code.PASSKEY_NOT_FOUND, "no such passkey")
        refusal = confirmation_refusal(ctx, user_id, session_hash)
        if refusal is not None:
            return refusal
        if len(owned) == 1:
            codes = ctx.fetch(
                "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_ns IS NULL",
                (user_id,),
            )
            if int(codes[0][0]) == 0:
                return Refusal(
                    Code.LAST_PASSKEY,
                    "this is your last passkey and no recovery code is left: add another first",
                )
        ctx.execute("DELETE FROM passkeys WHERE credential_id = ?", (credential_id,))
        _notify(ctx, user_id, Change.PASSKEY_REMOVED, f"passkey {names[credential_id]!r}")
        return None

    return Operation(unit, 0)


def new_recovery_codes(
    platform: Platform, user_id: int, session_hash: bytes
) -> Operation[list[str] | Refusal]:
    """Replace the person's recovery codes (the old ones stop working), from a session
    confirmed lately with an existing credential; shown once."""
    codes = _codes()

    def unit(ctx: UnitContext) -> list[str] | Refusal:
        refusal = confirmation_refusal(ctx, user_id, session_hash)
        if refusal is not None:
            return refusal
        _store_codes(ctx, user_id, codes)
        _notify(ctx, user_id, Change.RECOVERY_CODES_REPLACED, f"{len(codes)} new codes")
        return codes

    return Operation(unit, 0)


def recover(platform: Platform, code: str) -> Operation[SignedIn | Refusal]:
    """Sign in with a recovery code (spent by it) when every passkey is lost: every other
    session of the person ends, and the new one counts as confirmed (to add a passkey)."""
    code_hash = _sha256(_normal_code(code[:64]) if isinstance(code, str) else b"")

    def unit(ctx: UnitContext) -> SignedIn | Refusal:
        rows = ctx.fetch(
            "SELECT user_id FROM recovery_codes WHERE code_hash = ? AND used_ns IS NULL",
            (code_hash,),
        )
        user = _load_user(ctx, int(rows[0][0])) if rows else None
        if user is None:
            return Refusal(Code.PASSKEY_REFUSED, "this recovery code is not valid")
        ctx.execute(
            "UPDATE recovery_codes SET used_ns = ? WHERE code_hash = ?", (ctx.now_ns, code_hash)
        )
        ended = end_other_sessions(ctx, user.id)
        _notify(ctx, user.id, Change.RECOVERY_CODE_USED, f"{ended} other sessions ended")
        return SignedIn(user, open_session(ctx, user.id, recovered=True))

    return Operation(unit, 0)


# ------------------------------------------------------------------ reads


def get_user(platform: Platform, user_id: int) -> WebUser | None:
    with platform.read() as fetch:
        return row_by_id(fetch, "web_users", _USER_COLUMNS, user_id, _user)


def list_passkeys(platform: Platform, user_id: int) -> list[Passkey]:
    with platform.read() as fetch:
        rows = fetch(
            f"SELECT {_PASSKEY_COLUMNS} FROM passkeys WHERE user_id = ?"
            f" ORDER BY created_ns LIMIT {PASSKEYS_PER_USER_MAX}",
            (user_id,),
        )
    return [_passkey(r) for r in rows]


def unused_recovery_codes(platform: Platform, user_id: int) -> int:
    with platform.read() as fetch:
        rows = fetch(
            "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_ns IS NULL",
            (user_id,),
        )
    return int(rows[0][0])
