"""A payment's or transfer's public id leads to the inclusion proofs of the ledger transfers
that carried it, for its parties only; the proofs check against the published keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from centime.audit import AuditLog
from centime.audit.service import rotate_key
from centime.audit.sth import HeadSigner
from centime.clock import FakeClock
from centime.ledger import Ledger
from centime.platform.context import Platform
from centime.platform.ids import format_id
from centime.platform.payments import CaptureRequest, HoldRequest, TransferRequest
from centime.platform.payments.holds import Capture, authorize_hold, capture_hold
from centime.platform.payments.p2p import P2PTransfer, send
from centime.platform.payments.proofs import carried_by, proof_status, proofs_of
from centime.platform.payments.service import Payment, PaymentRequest, create_payment
from centime.store import open_store
from tests.conftest import PLATFORM_START_NS
from tests.risk.screens import ScriptedScreen

from ..world import customer, fund, merchant


@pytest.fixture
def audited_platform(store_url: str, tmp_path: Path) -> Iterator[tuple[Platform, FakeClock]]:
    clock = FakeClock(PLATFORM_START_NS)
    key_file = tmp_path / "audit-key.pem"
    store = open_store(store_url)
    rotate_key(store, key_file, clock)
    store.close()
    audit = AuditLog(HeadSigner.load(key_file), head_interval_s=0)
    ledger = Ledger(open_store(store_url), clock, audit=audit)
    try:
        yield Platform(ledger, clock, screen=ScriptedScreen()), clock
    finally:
        ledger.close()


def test_a_party_gets_the_proofs_of_its_own_payment_only(
    audited_platform: tuple[Platform, FakeClock],
) -> None:
    platform, clock = audited_platform
    ada, bob, shop, other = (
        customer(platform),
        customer(platform),
        merchant(platform),
        merchant(platform),
    )
    fund(platform, ada.id, "USD", 10_000_000)
    paid = platform.execute(
        create_payment(platform, PaymentRequest(ada.id, shop.id, "USD", 1_250_000))
    )
    assert isinstance(paid, Payment)
    sent = platform.execute(
        send(platform, TransferRequest(ada.id, bob.id, "USD", 2_000_000, note="lunch"))
    )
    assert isinstance(sent, P2PTransfer)
    clock.advance(1)
    platform.ledger.expire_due()  # the idle path signs the newest batch
    pay_ref, tr_ref = format_id("pay", paid.id), format_id("tr", sent.id)
    for kind, party in (("customer", ada.id), ("merchant", shop.id)):
        found = carried_by(platform, pay_ref, kind, party)  # type: ignore[arg-type]
        assert found is not None and found.payment == paid
        documents = proofs_of(platform, found)
        assert documents and all("proof" in d for d in documents)
        status = proof_status(platform, documents)
        assert status.state == "verified" and status.tree_size
    # Strangers, the other merchant, and the wrong prefix get nothing (as for no such id).
    assert carried_by(platform, pay_ref, "customer", bob.id) is None
    assert carried_by(platform, pay_ref, "merchant", other.id) is None
    assert carried_by(platform, tr_ref, "merchant", shop.id) is None
    assert carried_by(platform, "pay_nonsense", "customer", ada.id) is None
    for person in (ada.id, bob.id):  # both ends of a transfer
        found = carried_by(platform, tr_ref, "customer", person)
        assert found is not None and found.transfer == sent
        assert proof_status(platform, proofs_of(platform, found)).state == "verified"
    assert carried_by(platform, tr_ref, "customer", customer(platform).id) is None


def test_a_captured_holds_payment_is_proven_by_the_posts_that_resolved_it(
    audited_platform: tuple[Platform, FakeClock],
) -> None:
    platform, clock = audited_platform
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 10_000_000)
    hold = platform.execute(
        authorize_hold(platform, HoldRequest(ada.id, shop.id, "USD", 1_000_000, timeout_s=600))
    )
    captured = platform.execute(capture_hold(platform, CaptureRequest(hold.id, 400_000)))  # type: ignore[union-attr]
    assert isinstance(captured, Capture)
    clock.advance(1)
    platform.ledger.expire_due()
    found = carried_by(platform, format_id("pay", captured.payment.id), "customer", ada.id)
    assert found is not None and len(found.ledger_ids) == 1
    documents = proofs_of(platform, found)
    assert proof_status(platform, documents).state == "verified"


def test_without_a_signed_head_the_proof_is_pending(platform: Platform) -> None:
    ada, shop = customer(platform), merchant(platform)
    fund(platform, ada.id, "USD", 1_000_000)
    paid = platform.execute(create_payment(platform, PaymentRequest(ada.id, shop.id, "USD", 1_000)))
    assert isinstance(paid, Payment)
    found = carried_by(platform, format_id("pay", paid.id), "customer", ada.id)
    assert found is not None
    assert proof_status(platform, proofs_of(platform, found)).state == "pending"
