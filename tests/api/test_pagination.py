"""Cursor pagination: opaque cursors that round-trip and refuse tampering, bounded pages."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centime.api.pagination import _PAYLOAD, _tag, decode_cursor, encode_cursor
from centime.client import ProblemError as ClientProblem
from centime.clock import FakeClock
from centime.http.problems import ProblemError
from centime.limits import API_CURSOR_LEN_MAX

from .conftest import Api

created = st.integers(min_value=0, max_value=2**63 - 1)
ids = st.integers(min_value=1, max_value=2**63 - 1)
listings = st.sampled_from(["customers", "merchants", "api-keys", "payments"])


@given(listings, created, ids)
def test_a_cursor_round_trips(listing: str, created_ns: int, row_id: int) -> None:
    text = encode_cursor(listing, (created_ns, row_id))
    assert len(text) <= API_CURSOR_LEN_MAX and text.isascii()
    assert decode_cursor(listing, text) == (created_ns, row_id)


@given(listings, created, ids, st.data())
def test_a_tampered_cursor_is_refused(
    listing: str, created_ns: int, row_id: int, data: st.DataObject
) -> None:
    raw = bytearray(base64.urlsafe_b64decode(encode_cursor(listing, (created_ns, row_id)) + "=="))
    bit = data.draw(st.integers(min_value=0, max_value=len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(ProblemError) as raised:
        decode_cursor(listing, tampered)
    assert (raised.value.status, raised.value.code) == (400, "invalid_cursor")


@given(created, ids)
def test_a_cursor_of_another_listing_is_refused(created_ns: int, row_id: int) -> None:
    with pytest.raises(ProblemError):
        decode_cursor("merchants", encode_cursor("customers", (created_ns, row_id)))


@pytest.mark.parametrize("text", ["", "x", "AAAA", "!!!!", "A" * 34, "A" * 64])
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(ProblemError):
        decode_cursor("customers", text)


def test_pages_cover_every_row_once_newest_first(api: Api, clock: FakeClock) -> None:
    made = []
    for index in range(25):
        made.append(api.operator.create_customer(f"C{index}").id)
        if index % 3 == 0:  # some share a timestamp, as a group's rows do
            clock.advance(1)
    seen, cursor, pages = [], None, 0
    while True:
        page = api.operator.list_customers(limit=10, cursor=cursor)
        seen += [c.id for c in page.data]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3 and len(seen) == 25 and set(seen) == set(made)
    times = [c.created_at for c in api.operator.list_customers(limit=100).data]
    assert times == sorted(times, reverse=True)
    assert len(api.operator.list_customers().data) == 20  # the default page


def test_page_sizes_are_bounded(api: Api) -> None:
    for limit in (0, 101, -1):
        with pytest.raises(ClientProblem) as raised:
            api.operator.list_customers(limit=limit)
        assert raised.value.status == 400 and raised.value.errors[0].field == "limit"
    assert api.operator.list_customers(limit=100).next_cursor is None
    with pytest.raises(ClientProblem) as raised:
        api.operator.list_merchants(cursor=encode_cursor("customers", (1, 1)))
    assert raised.value.code == "invalid_cursor"


@given(listings, st.integers(min_value=2**63, max_value=2**64 - 1))
def test_a_forged_cursor_beyond_the_stores_integers_is_refused(listing: str, row_id: int) -> None:
    """The tag is not a secret; a cursor built with it may carry an id no store can hold,
    which must be a 400, not an overflow in the driver."""
    payload = _PAYLOAD.pack(1, 5, row_id)
    forged = base64.urlsafe_b64encode(payload + _tag(listing, payload)).rstrip(b"=").decode()
    with pytest.raises(ProblemError) as raised:
        decode_cursor(listing, forged)
    assert (raised.value.status, raised.value.code) == (400, "invalid_cursor")
