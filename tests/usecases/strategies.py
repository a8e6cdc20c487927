"""Hypothesis strategies of the use cases' requests: well-formed ones (every field in its
range, ids included), and ones with exactly one thing wrong."""

from __future__ import annotations

from hypothesis import strategies as st

from centime.limits import AMOUNT_MAX, DESCRIPTION_LEN_MAX, ID_MAX, REFERENCE_LEN_MAX
from centime.money import ASSETS
from centime.platform.funding import Vaulted
from centime.providers.funding import Method
from centime.usecases import HoldRequest, PaymentRequest, TopUpRequest, TransferRequest

__all__ = ["ids", "valid_requests"]

ids = st.integers(1, ID_MAX)
assets = st.sampled_from(sorted(ASSETS))
amounts = st.integers(1, AMOUNT_MAX)
# Any text JSON can carry, quotes, escapes and non-ASCII included.
texts = st.text(max_size=40)


def _optional(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


payments = st.builds(
    PaymentRequest,
    customer_id=ids,
    merchant_id=ids,
    asset=assets,
    amount=amounts,
    payment_id=ids,
    description=_optional(st.text(max_size=DESCRIPTION_LEN_MAX)),
    reference=_optional(st.text(max_size=REFERENCE_LEN_MAX)),
    mandate_id=_optional(ids),
    charged_by_merchant=st.booleans(),
    promo_code=_optional(st.text(min_size=1, max_size=20)),
)
transfers = st.builds(
    TransferRequest,
    sender_id=ids,
    recipient_id=ids,
    asset=assets,
    amount=amounts,
    transfer_id=ids,
    note=_optional(st.text(max_size=DESCRIPTION_LEN_MAX)),
).filter(lambda t: t.sender_id != t.recipient_id)
holds = st.builds(
    HoldRequest,
    customer_id=ids,
    merchant_id=ids,
    asset=assets,
    amount=amounts,
    hold_id=ids,
    timeout_s=_optional(st.integers(1, 3600)),
    description=_optional(st.text(max_size=DESCRIPTION_LEN_MAX)),
    mandate_id=_optional(ids),
    charged_by_merchant=st.booleans(),
)
vaulted = st.builds(
    Vaulted,
    token=st.text(min_size=1, max_size=60),
    fingerprint=st.from_regex(r"fp_[0-9a-f]{32}", fullmatch=True),
    last4=st.from_regex(r"[0-9]{0,4}", fullmatch=True),
)
topups = st.builds(
    TopUpRequest,
    customer_id=ids,
    asset=assets,
    amount=amounts,
    method=st.sampled_from([m.value for m in Method]),
    instrument=vaulted,
    topup_id=ids,
)
valid_requests = payments | transfers | holds | topups
