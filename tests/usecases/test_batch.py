"""A batch's risk events: what RiskEvent(...) makes for each payment, in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from centime.platform.ids import format_id
from centime.platform.payments import PaymentItem
from centime.risk.types import RiskEvent
from centime.usecases import PaymentBatchRequest

items = st.builds(
    PaymentItem, st.integers(1, 2**62), st.sampled_from(["USD", "EUR"]), st.integers(1, 10**9)
)


@given(
    st.lists(items, min_size=1, max_size=10),
    st.integers(0, 2**62),
    st.none() | st.text(max_size=5),
    st.none() | st.text(max_size=5),
)
def test_a_batchs_events_are_its_payments_risk_events(
    paid: list[PaymentItem], now_ns: int, device: str | None, ip: str | None
) -> None:
    request = PaymentBatchRequest(9, paid, charged_by_merchant=True)
    texts = [format_id("cus", item.customer_id) for item in paid]
    events = request.events(now_ns, texts, device, ip)
    payee = format_id("mer", 9)
    assert events == [
        RiskEvent(now_ns, "payment", i.amount, i.asset, t, payee, device, ip)
        for i, t in zip(paid, texts, strict=True)
    ]
    assert all(type(e) is RiskEvent for e in events)
