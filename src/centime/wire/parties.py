"""Customers and merchants, their balances (centime.api.routes.parties)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from centime.limits import (
    EMAIL_LEN_MAX,
    FEE_BP_MAX,
    PARTY_NAME_LEN_MAX,
)
from centime.money import ASSETS

from .common import (
    KYC_TIER_MAX,
    TEXT_PATTERN,
    Cursor,
    Input,
    Money,
    Output,
    Status,
)

__all__ = [
    "Customer",
    "CustomerBalance",
    "CustomerBalances",
    "CustomerCreate",
    "CustomerPage",
    "CustomerUpdate",
    "Merchant",
    "MerchantBalance",
    "MerchantBalances",
    "MerchantCreate",
    "MerchantPage",
    "MerchantUpdate",
]

Name = Annotated[str, Meta(min_length=1, max_length=PARTY_NAME_LEN_MAX, pattern=TEXT_PATTERN)]
Email = Annotated[str, Meta(min_length=3, max_length=EMAIL_LEN_MAX, pattern=TEXT_PATTERN)]
# ``gt=-1`` rather than ``ge=0`` (the same for integers): Litestar drops a bound of 0 from
# the OpenAPI schema of a field that may be left out (it tests the bound's truth), and the
# document must say what the server accepts.
KycTier = Annotated[int, Meta(gt=-1, le=KYC_TIER_MAX)]
FeeBp = Annotated[int, Meta(gt=-1, le=FEE_BP_MAX)]


class Customer(Output):
    id: str
    name: str
    email: str | None
    status: Status
    kyc_tier: int
    created_at: str


ReferralCodeText = Annotated[str, Meta(min_length=10, max_length=10, pattern=r"^[0-9A-Za-z]+$")]
DeviceId = Annotated[str, Meta(min_length=1, max_length=200, pattern=TEXT_PATTERN)]


class CustomerCreate(Input):
    name: Name
    email: Email | None = None
    kyc_tier: KycTier = 1
    referral_code: ReferralCodeText | None = None  # who referred it (docs/referrals.md)
    device_id: DeviceId | None = None  # the sign-up's device (kept hashed)


class CustomerUpdate(Input):
    """Fields left out stay as they are."""

    status: Status | UnsetType = UNSET
    kyc_tier: KycTier | UnsetType = UNSET


class CustomerPage(Output):
    data: list[Customer]
    next_cursor: Cursor  # null on the last page


class CustomerBalance(Output):
    asset: str
    available: Money  # spendable, sendable, holdable
    restricted: Money  # carrier-billed, not yet settled: may only pay merchants
    held: Money  # reserved by metered holds


class CustomerBalances(Output):
    data: list[CustomerBalance]


# ------------------------------------------------------------------ merchants


class Merchant(Output):
    id: str
    name: str
    email: str | None
    status: Status
    kyc_tier: int
    fee_bp: int
    fee_fixed: list[Money]  # per asset; an asset not listed takes the platform's default
    created_at: str


FixedFees = Annotated[list[Money], Meta(max_length=len(ASSETS))]


class MerchantCreate(Input):
    name: Name
    email: Email | None = None
    kyc_tier: KycTier = 1
    fee_bp: FeeBp | UnsetType = UNSET  # the platform's default when left out
    fee_fixed: FixedFees = msgspec.field(default_factory=list)
    referral_code: ReferralCodeText | None = None
    device_id: DeviceId | None = None


class MerchantUpdate(Input):
    """Fields left out stay as they are; ``fee_fixed`` sets the assets it lists."""

    status: Status | UnsetType = UNSET
    kyc_tier: KycTier | UnsetType = UNSET
    fee_bp: FeeBp | UnsetType = UNSET
    fee_fixed: FixedFees | UnsetType = UNSET


class MerchantPage(Output):
    data: list[Merchant]
    next_cursor: Cursor


class MerchantBalance(Output):
    asset: str
    available: Money  # can be paid out or refunded
    reserved: Money  # held back for refunds and chargebacks
    pending: Money  # captured by metered holds not yet resolved


class MerchantBalances(Output):
    data: list[MerchantBalance]
