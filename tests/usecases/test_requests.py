"""A malformed request is refused as its service would refuse it, before the screen is
asked and before anything is written."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centime import usecases
from centime.limits import AMOUNT_MAX, DESCRIPTION_LEN_MAX, ID_MAX
from centime.platform.config import PlatformConfig
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal
from centime.providers.sandbox import SandboxConfig, SandboxProvider
from centime.usecases import (
    CaptureRequest,
    HoldRequest,
    MoneyRequest,
    PaymentRequest,
    RefundRequest,
    TopUpRequest,
    TransferRequest,
    refusal,
)

from ..platform.world import snapshot
from ..risk.screens import ScriptedScreen
from .strategies import valid_requests

BAD_IDS = st.sampled_from([0, -1, ID_MAX + 1])
BAD_AMOUNTS = st.sampled_from([0, -5, AMOUNT_MAX + 1])


@st.composite
def broken(draw: st.DrawFn) -> tuple[MoneyRequest, Code]:
    """A well-formed request with one thing wrong, and the refusal's code."""
    request = draw(valid_requests)
    flaw = draw(st.sampled_from(["amount", "asset", "id", "text"]))
    if flaw == "amount":
        return replace(request, amount=draw(BAD_AMOUNTS)), Code.INVALID_AMOUNT
    if flaw == "asset":
        return replace(request, asset=draw(st.sampled_from(["usd", "XXX", ""]))), (
            Code.UNKNOWN_ASSET
        )
    if flaw == "text" and isinstance(request, PaymentRequest | HoldRequest):
        long = "x" * (DESCRIPTION_LEN_MAX + 1)
        return replace(request, description=long), Code.INVALID_REQUEST
    if flaw == "text" and isinstance(request, TransferRequest):
        return replace(request, note="x" * (DESCRIPTION_LEN_MAX + 1)), Code.INVALID_REQUEST
    return _bad_id(request, draw(BAD_IDS))


def _bad_id(request: MoneyRequest, bad: int) -> tuple[MoneyRequest, Code]:
    match request:
        case PaymentRequest():
            return replace(request, customer_id=bad), Code.CUSTOMER_NOT_FOUND
        case TransferRequest():
            return replace(request, recipient_id=bad), Code.CUSTOMER_NOT_FOUND
        case HoldRequest():
            return replace(request, merchant_id=bad), Code.MERCHANT_NOT_FOUND
        case TopUpRequest():
            return replace(request, topup_id=bad), Code.INVALID_REQUEST


@given(valid_requests)
def test_a_well_formed_request_passes(request: MoneyRequest) -> None:
    assert refusal(request, PlatformConfig()) is None


@given(broken())
def test_one_flaw_is_named_by_its_code(case: tuple[MoneyRequest, Code]) -> None:
    request, code = case
    refused = refusal(request, PlatformConfig())
    assert refused is not None and refused.code is code, (request, refused)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=broken())
def test_a_malformed_request_is_refused_before_anything_is_written(
    platform: Platform, case: tuple[MoneyRequest, Code]
) -> None:
    request, code = case
    screen = ScriptedScreen()
    platform.screen = screen
    before = snapshot(platform)
    answer: Any
    if isinstance(request, TopUpRequest):
        provider = SandboxProvider(platform.clock, SandboxConfig(card_confirm_s=0))
        answer = usecases.topup(platform, provider, request)
    else:
        answer = usecases.screened(platform, request)
    assert isinstance(answer, Refusal) and answer.code is code
    assert screen.asked == []
    assert snapshot(platform) == before
    with platform.read() as fetch:
        assert fetch("SELECT COUNT(*) FROM risk_decisions", ())[0][0] == 0


def test_a_hold_longer_than_the_platform_allows_is_refused() -> None:
    config = PlatformConfig()
    request = HoldRequest(1, 2, "USD", 5, 3, timeout_s=config.hold_timeout_max_s + 1)
    refused = refusal(request, config)
    assert refused is not None and refused.code is Code.INVALID_REQUEST


def test_a_customer_cannot_send_to_itself() -> None:
    refused = refusal(TransferRequest(4, 4, "USD", 5, 6), PlatformConfig())
    assert refused is not None and refused.code is Code.SAME_CUSTOMER


@given(st.integers(max_value=0), st.integers(max_value=0))
def test_a_capture_or_refund_of_nothing_is_refused(capture: int, refund: int) -> None:
    config = PlatformConfig()
    captured = refusal(CaptureRequest(1, capture), config)
    refunded = refusal(RefundRequest(1, refund), config)
    assert captured is not None and captured.code is Code.INVALID_AMOUNT
    assert refunded is not None and refunded.code is Code.INVALID_AMOUNT
    assert refusal(RefundRequest(1), config) is None  # all that is left
    bad_id = refusal(RefundRequest(1, 5, refund_id=0), config)
    assert bad_id is not None and bad_id.code is Code.INVALID_REQUEST
