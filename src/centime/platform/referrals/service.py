"""Referral rewards: a code per customer and merchant, attribution at sign-up, and both
sides rewarded from the promotions budget once the referred party's activity qualifies.

- Codes: :func:`referral_code` gives a party its code (created on first ask, the same ever
  after: ten Crockford base32 characters derived from the party).
- Attribution: a sign-up that names a code (:func:`with_referral` around
  ``parties.create_customer`` or ``create_merchant``) records who referred the new party, in
  the sign-up's own unit; an unknown code refuses the sign-up (REFERRAL_CODE_INVALID) before
  anything is written. A party signed up without one may name a code later, within
  ``CLAIM_WINDOW_DAYS`` (:func:`claim_referral`): its own code is REFERRAL_OWN_CODE, a second
  attribution REFERRAL_ALREADY_ATTRIBUTED. A device id given at sign-up is kept hashed.
- Rewards: :func:`reward_referrals` (a periodic job; one unit per page of pending
  referrals) looks at each pending referral: once the referred party's payments (made, for a
  customer; received, for a merchant) less their refunds reach the rule set's
  ``qualifying_amount`` in an asset with a referral rule, both sides are paid from the
  promotions budget in one linked chain whose transfer ids are derived from the referral,
  so a reward is paid exactly once. The referrer is paid at most ``referrer_rewards_max``
  times (after that the referred side alone is rewarded). No reward when the two share an
  identity (:func:`shared_identity`: a device, a top-up instrument; the risk engine adds
  more checks there); such a referral is closed as ``refused``. A budget that cannot pay
  leaves the referral pending for a later run; one not qualified after
  ``QUALIFY_WINDOW_DAYS`` is closed as ``expired``. Each reward emits ``referral.rewarded``
  to both parties.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from centime.ledger import Account, Transfer, TransferFlags
from centime.ledger.units import UnitContext
from centime.money import ASSETS

from ..chart import OPERATOR, AccountKind, account_for, account_id, ensure_accounts
from ..config import NS_PER_DAY
from ..context import Operation, Platform
from ..errors import Code, Refusal
from ..events.outbox import emit, money
from ..ids import derive_id, valid_id
from ..parties.service import Customer, Merchant, Status
from ..payments.service import require_created
from ..pricing.budget import BudgetCode
from ..pricing.rules import ReferralRule
from ..pricing.store import active_rules

__all__ = [
    "CLAIM_WINDOW_DAYS",
    "DEVICE_ID_LEN_MAX",
    "IDENTITY_CHECKS",
    "QUALIFY_WINDOW_DAYS",
    "REFERRALS_PER_UNIT",
    "Party",
    "Referral",
    "RewardRun",
    "claim_referral",
    "get_referral",
    "normal_code",
    "referral_code",
    "reward_referrals",
    "run_reward_pass",
    "shared_identity",
    "with_referral",
]

PartyKind = Literal["customer", "merchant"]
Party = tuple[PartyKind, int]

CLAIM_WINDOW_DAYS: Final = 30  # a party may name a referrer this long after signing up
QUALIFY_WINDOW_DAYS: Final = 365  # a referral not qualified by then expires
REFERRALS_PER_UNIT: Final = 64  # pending referrals looked at per unit of the job
DEVICE_ID_LEN_MAX: Final = 200
CODE_LEN: Final = 10
_DIGITS: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_TABLE: Final = {"customer": "customers", "merchant": "merchants"}
# Per referral: two rewards and the two accounts they may create.
_EVENTS_PER_REFERRAL: Final = 2 + 2


@dataclass(frozen=True, slots=True)
class Referral:
    referred: Party
    referrer: Party
    status: str  # pending, rewarded, refused, expired
    asset: str | None
    referrer_reward: int
    referred_reward: int
    detail: str | None
    pricing_version: int | None
    created_ns: int
    decided_ns: int | None


_COLUMNS: Final = (
    "referred_kind, referred_id, referrer_kind, referrer_id, status, asset, referrer_reward,"
    " referred_reward, detail, pricing_version, created_ns, decided_ns"
)


def _referral(row: Sequence[Any]) -> Referral:
    return Referral(
        (row[0], int(row[1])),
        (row[2], int(row[3])),
        row[4],
        row[5],
        int(row[6]),
        int(row[7]),
        row[8],
        None if row[9] is None else int(row[9]),
        int(row[10]),
        None if row[11] is None else int(row[11]),
    )


# ------------------------------------------------------------------ codes


def _code_of(party: Party) -> str:
    value = derive_id("referral-code", party[0], party[1])
    return "".join(_DIGITS[(value >> (5 * i)) & 31] for i in reversed(range(CODE_LEN)))


def normal_code(text: object) -> str | None:
    """A code as stored (upper case, O read as 0, I and L as 1), or None."""
    if type(text) is not str or len(text) != CODE_LEN:
        return None
    code = text.upper().replace("O", "0").replace("I", "1").replace("L", "1")
    return code if all(c in _DIGITS for c in code) else None


def _party_exists(ctx: UnitContext, party: Party) -> bool:
    rows = ctx.fetch(f"SELECT status FROM {_TABLE[party[0]]} WHERE id = ?", (party[1],))
    return bool(rows)


def _ensure_code(ctx: UnitContext, party: Party) -> str:
    rows = ctx.fetch("SELECT code FROM referral_codes WHERE owner_kind = ? AND owner_id = ?", party)
    if rows:
        return str(rows[0][0])
    code = _code_of(party)
    ctx.execute(
        "INSERT INTO referral_codes (code, owner_kind, owner_id, created_ns) VALUES (?, ?, ?, ?)",
        (code, party[0], party[1], ctx.now_ns),
    )
    return code


def referral_code(platform: Platform, party: Party) -> Operation[str | Refusal]:
    """The party's referral code (created on first ask)."""

    def unit(ctx: UnitContext) -> str | Refusal:
        if not valid_id(party[1]) or not _party_exists(ctx, party):
            code = Code.CUSTOMER_NOT_FOUND if party[0] == "customer" else Code.MERCHANT_NOT_FOUND
            return Refusal(code, f"no such {party[0]}")
        return _ensure_code(ctx, party)

    return Operation(unit, 0)


def _owner_of(ctx: UnitContext, code: object) -> Party | Refusal:
    normal = normal_code(code)
    rows = (
        ctx.fetch("SELECT owner_kind, owner_id FROM referral_codes WHERE code = ?", (normal,))
        if normal is not None
        else []
    )
    if not rows:
        return Refusal(Code.REFERRAL_CODE_INVALID, "no such referral code")
    kind: PartyKind = "customer" if rows[0][0] == "customer" else "merchant"
    return kind, int(rows[0][1])


# ------------------------------------------------------------------ attribution


def _device_hash(device_id: str) -> str:
    return hashlib.blake2b(b"centime-device\x1f" + device_id.encode(), digest_size=16).hexdigest()


def _check_device(device_id: object) -> Refusal | None:
    if device_id is not None and (
        type(device_id) is not str or not 0 < len(device_id) <= DEVICE_ID_LEN_MAX
    ):
        return Refusal(Code.INVALID_REQUEST, f"device_id: 1-{DEVICE_ID_LEN_MAX} characters")
    return None


def _record_device(ctx: UnitContext, party: Party, device_id: str) -> None:
    digest = _device_hash(device_id)
    seen = ctx.fetch(
        "SELECT 1 FROM party_devices WHERE party_kind = ? AND party_id = ? AND device_hash = ?",
        (party[0], party[1], digest),
    )
    if not seen:
        ctx.execute(
            "INSERT INTO party_devices (party_kind, party_id, device_hash, seen_ns)"
            " VALUES (?, ?, ?, ?)",
            (party[0], party[1], digest, ctx.now_ns),
        )


def _attribute(ctx: UnitContext, referred: Party, referrer: Party) -> None:
    ctx.execute(
        f"INSERT INTO referrals ({_COLUMNS}) VALUES (?, ?, ?, ?, 'pending', NULL, 0, 0,"
        " NULL, NULL, ?, NULL)",
        (referred[0], referred[1], referrer[0], referrer[1], ctx.now_ns),
    )


SignedUp = Customer | Merchant


def with_referral(
    operation: Operation[Any],
    kind: PartyKind,
    code: str | None,
    device_id: str | None,
) -> Operation[Any]:
    """A sign-up operation that also records its referrer (``code``) and device. An unknown
    code or a malformed device id refuses the sign-up before anything is written."""
    refusal_in = _check_device(device_id)

    def wrap(ctx: UnitContext, inner: Callable[[UnitContext], Any]) -> Any:
        if refusal_in is not None:
            return refusal_in
        referrer = None if code is None else _owner_of(ctx, code)
        if isinstance(referrer, Refusal):
            return referrer
        made = inner(ctx)
        if not isinstance(made, Customer | Merchant):
            return made
        party: Party = (kind, made.id)
        if device_id is not None:
            _record_device(ctx, party, device_id)
        if referrer is not None:
            _attribute(ctx, party, referrer)
        return made

    return operation.then(wrap)


def claim_referral(
    platform: Platform, party: Party, code: str, device_id: str | None = None
) -> Operation[Referral | Refusal]:
    """Name a referrer after signing up (within CLAIM_WINDOW_DAYS)."""
    refusal_in = _check_device(device_id)

    def unit(ctx: UnitContext) -> Referral | Refusal:
        if refusal_in is not None:
            return refusal_in
        rows = (
            ctx.fetch(f"SELECT created_ns FROM {_TABLE[party[0]]} WHERE id = ?", (party[1],))
            if valid_id(party[1])
            else []
        )
        if not rows:
            not_found = (
                Code.CUSTOMER_NOT_FOUND if party[0] == "customer" else Code.MERCHANT_NOT_FOUND
            )
            return Refusal(not_found, f"no such {party[0]}")
        referrer = _owner_of(ctx, code)
        if isinstance(referrer, Refusal):
            return referrer
        if referrer == party:
            return Refusal(Code.REFERRAL_OWN_CODE, "a party cannot use its own referral code")
        if _load(ctx, party) is not None:
            return Refusal(Code.REFERRAL_ALREADY_ATTRIBUTED, "a referrer is already recorded")
        if ctx.now_ns - int(rows[0][0]) > CLAIM_WINDOW_DAYS * NS_PER_DAY:
            return Refusal(
                Code.REFERRAL_ALREADY_ATTRIBUTED,
                f"a referrer is named within {CLAIM_WINDOW_DAYS} days of signing up",
            )
        if device_id is not None:
            _record_device(ctx, party, device_id)
        _attribute(ctx, party, referrer)
        found = _load(ctx, party)
        if found is None:  # just written in this unit
            raise RuntimeError("the referral written is not there")
        return found

    return Operation(unit, 0)


def _load(ctx: UnitContext, party: Party) -> Referral | None:
    rows = ctx.fetch(
        f"SELECT {_COLUMNS} FROM referrals WHERE referred_kind = ? AND referred_id = ?", party
    )
    return _referral(rows[0]) if rows else None


def get_referral(platform: Platform, party: Party) -> Referral | None:
    """Who referred ``party`` and how it stands (None: nobody)."""
    if not valid_id(party[1]):
        return None
    with platform.read() as fetch:
        rows = fetch(
            f"SELECT {_COLUMNS} FROM referrals WHERE referred_kind = ? AND referred_id = ?", party
        )
    return _referral(rows[0]) if rows else None


# ------------------------------------------------------------------ shared identity


def _shared_device(ctx: UnitContext, a: Party, b: Party) -> str | None:
    rows = ctx.fetch(
        "SELECT 1 FROM party_devices x JOIN party_devices y ON x.device_hash = y.device_hash"
        " WHERE x.party_kind = ? AND x.party_id = ? AND y.party_kind = ? AND y.party_id = ?"
        " LIMIT 1",
        (a[0], a[1], b[0], b[1]),
    )
    return "a device" if rows else None


def _shared_instrument(ctx: UnitContext, a: Party, b: Party) -> str | None:
    if a[0] != "customer" or b[0] != "customer":
        return None  # merchants top up nothing
    rows = ctx.fetch(
        "SELECT 1 FROM topups x JOIN topups y ON x.method = y.method"
        " AND x.instrument_fingerprint = y.instrument_fingerprint"
        " WHERE x.customer_id = ? AND y.customer_id = ? LIMIT 1",
        (a[1], b[1]),
    )
    return "a payment instrument" if rows else None


def _shared_payout_account(ctx: UnitContext, a: Party, b: Party) -> str | None:
    if a[0] != "merchant" or b[0] != "merchant":
        return None  # only merchants have payout accounts
    # Any method either ever had (removed ones too): the same bank account is one person's.
    rows = ctx.fetch(
        "SELECT 1 FROM payout_methods x JOIN payout_methods y ON x.fingerprint = y.fingerprint"
        " WHERE x.merchant_id = ? AND y.merchant_id = ? LIMIT 1",
        (a[1], b[1]),
    )
    return "a payout account" if rows else None


# The checks :func:`shared_identity` runs, in order. Each answers what the two parties share
# (None: nothing it can see). The risk engine's signals are added here: one function each,
# same signature.
IDENTITY_CHECKS: Final[tuple[Callable[[UnitContext, Party, Party], str | None], ...]] = (
    _shared_device,
    _shared_instrument,
    _shared_payout_account,
)


def shared_identity(ctx: UnitContext, referrer: Party, referred: Party) -> str | None:
    """What the two parties share that makes them possibly one person (None: nothing)."""
    for check in IDENTITY_CHECKS:
        found = check(ctx, referrer, referred)
        if found is not None:
            return found
    return None


# ------------------------------------------------------------------ rewards


@dataclass(frozen=True, slots=True)
class RewardRun:
    """One unit of the job: how many referrals it looked at and decided, and where the
    next unit starts (None: the pass is over)."""

    looked_at: int
    rewarded: int
    closed: int  # refused or expired
    next_cursor: tuple[int, str, int] | None


def _activity(ctx: UnitContext, party: Party, asset: str) -> int:
    column = "customer_id" if party[0] == "customer" else "merchant_id"
    rows = ctx.fetch(
        f"SELECT SUM(amount - refunded) FROM payments WHERE {column} = ? AND asset = ?",
        (party[1], asset),
    )
    return int(rows[0][0] or 0)  # SUM is NUMERIC on PostgreSQL: int() is exact


def _status(ctx: UnitContext, party: Party) -> Status | None:
    rows = ctx.fetch(f"SELECT status FROM {_TABLE[party[0]]} WHERE id = ?", (party[1],))
    return Status(rows[0][0]) if rows else None


def _rewarded_count(ctx: UnitContext, referrer: Party) -> int:
    rows = ctx.fetch(
        "SELECT COUNT(*) FROM referrals WHERE referrer_kind = ? AND referrer_id = ?"
        " AND status = 'rewarded' AND referrer_reward > 0",
        referrer,
    )
    return int(rows[0][0])


def _account(party: Party, asset: str) -> Account:
    kind = AccountKind.CUSTOMER_WALLET if party[0] == "customer" else AccountKind.MERCHANT_AVAILABLE
    return account_for(kind, party[1], asset)


class _Run:
    def __init__(self, ctx: UnitContext) -> None:
        self.ctx = ctx
        self.rules = active_rules(ctx)
        self.budget: dict[str, int] = {}  # promotions available, as the unit spends it
        self.rewarded = 0
        self.closed = 0

    def available(self, asset: str) -> int:
        if asset not in self.budget:
            promotions = account_id(AccountKind.PROMOTIONS, OPERATOR, asset)
            found = self.ctx.accounts([promotions])
            self.budget[asset] = found[promotions].available if promotions in found else 0
        return self.budget[asset]

    def close(self, referral: Referral, status: str, detail: str) -> None:
        self.ctx.execute(
            "UPDATE referrals SET status = ?, detail = ?, decided_ns = ?, pricing_version = ?"
            " WHERE referred_kind = ? AND referred_id = ?",
            (status, detail, self.ctx.now_ns, self.rules.version, *referral.referred),
        )
        self.closed += 1

    def qualifying_rule(self, referral: Referral) -> ReferralRule | None:
        for asset in sorted(self.rules.referrals):
            rule = self.rules.referrals[asset]
            if _activity(self.ctx, referral.referred, asset) >= rule.qualifying_amount:
                return rule
        return None

    def decide(self, referral: Referral) -> None:
        ctx = self.ctx
        if ctx.now_ns - referral.created_ns > QUALIFY_WINDOW_DAYS * NS_PER_DAY:
            self.close(referral, "expired", f"not qualified within {QUALIFY_WINDOW_DAYS} days")
            return
        statuses = (_status(ctx, referral.referrer), _status(ctx, referral.referred))
        if Status.CLOSED in statuses or None in statuses:
            self.close(referral, "refused", "a party is closed")
            return
        if Status.FROZEN in statuses:
            return  # decided once both are active again
        rule = self.qualifying_rule(referral)
        if rule is None:
            return
        shared = shared_identity(ctx, referral.referrer, referral.referred)
        if shared is not None:
            self.close(referral, "refused", f"the parties share {shared}")
            return
        to_referrer = rule.referrer_reward
        if _rewarded_count(ctx, referral.referrer) >= rule.referrer_rewards_max:
            to_referrer = 0
        self.pay(referral, rule, to_referrer, rule.referred_reward)

    def pay(
        self, referral: Referral, rule: ReferralRule, to_referrer: int, to_referred: int
    ) -> None:
        ctx, asset = self.ctx, rule.asset
        if self.available(asset) < to_referrer + to_referred:
            return  # the budget is short: left pending for a later run
        legs = [
            (side, party, amount)
            for side, party, amount in (
                ("referrer", referral.referrer, to_referrer),
                ("referred", referral.referred, to_referred),
            )
            if amount > 0
        ]
        ensure_accounts(ctx, [_account(party, asset) for _, party, _ in legs])
        promotions = account_id(AccountKind.PROMOTIONS, OPERATOR, asset)
        linked = int(TransferFlags.LINKED)
        transfers = [
            Transfer(
                derive_id("referral", *referral.referred, side),
                promotions,
                _account(party, asset).id,
                amount,
                asset,
                int(BudgetCode.REFERRAL_REWARD),
                linked if index < len(legs) - 1 else 0,
                0,
                0,
                referral.referred[1],
            )
            for index, (side, party, amount) in enumerate(legs)
        ]
        if transfers:
            require_created(ctx.create_transfers(transfers), "referral rewards")
        self.budget[asset] -= to_referrer + to_referred
        detail = None if to_referrer or not rule.referrer_reward else "referrer cap reached"
        ctx.execute(
            "UPDATE referrals SET status = 'rewarded', asset = ?, referrer_reward = ?,"
            " referred_reward = ?, detail = ?, decided_ns = ?, pricing_version = ?"
            " WHERE referred_kind = ? AND referred_id = ?",
            (
                asset,
                to_referrer,
                to_referred,
                detail,
                ctx.now_ns,
                self.rules.version,
                *referral.referred,
            ),
        )
        data = {
            "referred": {"kind": referral.referred[0], "id": str(referral.referred[1])},
            "referrer": {"kind": referral.referrer[0], "id": str(referral.referrer[1])},
            "referrer_reward": money(to_referrer, ASSETS[asset]),
            "referred_reward": money(to_referred, ASSETS[asset]),
            "pricing_version": self.rules.version,
        }
        emit(ctx, "referral.rewarded", referral.referrer[1], data)
        emit(ctx, "referral.rewarded", referral.referred[1], data)
        self.rewarded += 1


def reward_referrals(
    platform: Platform, cursor: tuple[int, str, int] | None = None
) -> Operation[RewardRun]:
    """One unit of the reward job: up to REFERRALS_PER_UNIT pending referrals after
    ``cursor`` (oldest first). Run it again with ``next_cursor`` until that is None."""

    def unit(ctx: UnitContext) -> RewardRun:
        after = cursor or (-1, "", -1)
        rows = ctx.fetch(
            f"SELECT {_COLUMNS} FROM referrals WHERE status = 'pending' AND"
            " (created_ns > ? OR (created_ns = ? AND (referred_kind > ? OR"
            " (referred_kind = ? AND referred_id > ?))))"
            " ORDER BY created_ns, referred_kind, referred_id LIMIT ?",
            (after[0], after[0], after[1], after[1], after[2], REFERRALS_PER_UNIT),
        )
        run = _Run(ctx)
        referrals = [_referral(row) for row in rows]
        for referral in referrals:
            run.decide(referral)
        last = referrals[-1] if len(referrals) == REFERRALS_PER_UNIT else None
        next_cursor = None if last is None else (last.created_ns, *last.referred)
        return RewardRun(len(referrals), run.rewarded, run.closed, next_cursor)

    return Operation(unit, REFERRALS_PER_UNIT * _EVENTS_PER_REFERRAL)


def run_reward_pass(platform: Platform, units_max: int = 1_000) -> RewardRun:
    """A whole pass of the job (at most ``units_max`` units): the totals."""
    cursor: tuple[int, str, int] | None = None
    looked = rewarded = closed = 0
    for _ in range(units_max):
        run = platform.execute(reward_referrals(platform, cursor))
        looked, rewarded, closed = (
            looked + run.looked_at,
            rewarded + run.rewarded,
            closed + run.closed,
        )
        cursor = run.next_cursor
        if cursor is None:
            break
    return RewardRun(looked, rewarded, closed, cursor)
