"""`centime simulate`'s driver: a small hand-written population applied through the
screened services on both stores, written back as labelled CSV."""

from __future__ import annotations

import io

from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.platform.parties import customer_balances, list_customers, list_merchants
from centime.platform.review import list_cases
from centime.providers import SandboxConfig, SandboxProvider
from centime.risk.types import Action, RiskEvent
from centime.simulate import Driver, default_kind, read_labelled_csv

from .risk.screens import ALLOW, ScriptedScreen, decision

S = 1_000_000_000
USD = 1_000_000  # one dollar at scale 6

CSV = """timestamp,type,amount,asset,payer,payee,device,ip,instrument,label
{t0},signup,0,USD,c1,,dev-a,198.51.100.1,,0
{t1},signup,0,USD,m1,,,,,0
{t2},topup,{five},USD,c1,c1,dev-a,198.51.100.1,card-1,0
{t3},topup_carrier,{three},USD,c2,c2,dev-b,,phone-9,1
{t4},topup_declined,{three},USD,c3,c3,dev-c,,card-7,1
{t5},payment,{one},USD,c1,m1,dev-a,,,0
{t6},transfer,{half},USD,c1,c2,dev-a,,,0
{t7},payment,{two},USD,c2,m1,dev-b,,,1
{t8},payout,{one},USD,m1,bank-1,,,,0
"""


def events(start_ns: int) -> str:
    times = {f"t{i}": start_ns + i * 60 * S for i in range(9)}
    return CSV.format(**times, five=5 * USD, three=3 * USD, one=USD, half=USD // 2, two=2 * USD)


def test_a_population_goes_through_the_services(platform: Platform, clock: FakeClock) -> None:
    screen = ScriptedScreen(
        lambda e: decision(Action.REVIEW, "carrier_cash_out") if e.amount == 2 * USD else ALLOW
    )
    platform.screen = screen
    sandbox = SandboxProvider(clock, SandboxConfig(card_confirm_s=0, carrier_confirm_s=0))
    platform.providers.funding["sandbox"] = sandbox
    driver = Driver(platform, sandbox, clock)
    out = io.StringIO()
    start = clock.now_ns() + 3600 * S
    report = driver.run(read_labelled_csv(io.StringIO(events(start))), out)
    assert report.applied == 8 and report.outcomes["unsupported"] == 1
    assert report.outcomes["in_review"] == 1 and report.outcomes["declined"] == 1
    assert clock.now_ns() >= start + 8 * 60 * S  # the platform lived the simulated time
    assert len(list_customers(platform).items) == 3 and len(list_merchants(platform).items) == 1
    c1 = driver.ids["c1"][1]
    (balance,) = customer_balances(platform, c1)
    assert balance.available == 5 * USD - USD - USD // 2
    (case,) = list_cases(platform).items
    assert case.subject.kind == "payment" and case.amount == 2 * USD
    # The screen saw the simulator's devices and instruments, with the platform's ids.
    topup = next(e for e in screen.asked if e.type == "topup")
    assert (topup.device, topup.instrument, topup.payer[:4]) == ("dev-a", "card-1", "cus_")
    rows = out.getvalue().splitlines()
    assert rows[0] == "timestamp,type,amount,asset,payer,payee,device,ip,instrument,label"
    assert len(rows) == 1 + 8
    written = list(read_labelled_csv(io.StringIO(out.getvalue())))
    assert [label for _, label in written] == [0, 0, 0, 1, 1, 0, 0, 1]
    assert all(e.payer.startswith(("cus_", "mer_")) for e, _ in written)


def test_names_and_bad_files() -> None:
    assert [default_kind(n) for n in ("m12", "merchant_3", "mule_1", "c1", "shop9")] == [
        "merchant",
        "merchant",
        "customer",
        "customer",
        "merchant",
    ]
    for bad in (
        "a,b\n",
        "timestamp,type,amount,asset,payer,payee,device,ip,instrument,label\n"
        "x,payment,1,USD,c,m,,,,0\n",
    ):
        try:
            list(read_labelled_csv(io.StringIO(bad)))
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")
    assert list(
        read_labelled_csv(
            io.StringIO(
                "timestamp,type,amount,asset,payer,payee,device,ip,instrument,label\n"
                "5,payment,1,USD,c,m,,,,\n"
            )
        )
    ) == [(RiskEvent(5, "payment", 1, "USD", "c", "m"), 0)]
