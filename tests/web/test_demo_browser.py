"""The demo as a newcomer walks it (issue 16): ``centime demo`` runs on its own port and
database, and only what it prints is used: the analyst's sign-in link and the held case's
address, and Ada's sign-in link. The analyst (in Korean) approves the payment the demo's
risk rules held; Ada (in English) finds it paid in her wallet. Every page of the walk in both
languages: a screenshot under ``test-artifacts/demo/``, checked with axe-core. Skipped, with
the reason shown, without Chromium; the axe checks without axe-core (``make axe``)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .test_browser import AXE, ROOT, Person, _env, _free_port, browser, pytestmark

__all__ = ["browser", "pytestmark"]  # the Chromium fixture and skip, shared

ARTIFACTS = ROOT / "test-artifacts" / "demo"
DEMO = [sys.executable, "-m", "centime.cli", "demo"]
PRINTED_WAIT_S = 240.0  # seeding through the risk engine, on a shared machine


class Newcomer(Person):
    artifacts = ARTIFACTS
    violations: list[str] = []


def _printed(out: Path, process: subprocess.Popen[bytes]) -> str:
    """What the demo printed, once it printed all (its last line) and serves."""
    deadline = time.monotonic() + PRINTED_WAIT_S
    while time.monotonic() < deadline:
        text = out.read_text(encoding="utf-8", errors="replace")
        if "Ctrl-C stops the server" in text:
            return text
        if process.poll() is not None:
            raise RuntimeError(f"centime demo stopped:\n{text}")
        time.sleep(0.5)
    raise RuntimeError("centime demo printed nothing in time")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("demo")
    port = _free_port()
    out = tmp / "demo.out"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [*DEMO, "--database", "demo.db", "--port", str(port)],
            cwd=tmp,
            env={**_env(), "COLUMNS": "200"},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        text = _printed(out, process)
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield {"text": text, "origin": f"http://localhost:{port}"}
    finally:
        process.terminate()
        process.wait(timeout=20)


def _link(text: str, pattern: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, f"the demo's output lacks {pattern!r}:\n{text}"
    return found.group(1)


def _enroll(person: Person, link: str) -> None:
    """Set up the passkey with the printed one-time link."""
    person.page.goto(link)
    person.page.click("#enroll")
    person.page.wait_for_selector("#recovery:not([hidden])")
    person.page.click("#recovery a")


@pytest.mark.timeout(600)
def test_a_newcomer_reviews_the_held_payment_from_the_demo_output(
    demo: dict[str, str], browser: Any
) -> None:
    text, origin = demo["text"], demo["origin"]
    analyst_link = _link(text, r"Ari \(risk analyst\) \(operator\): (\S+/enroll/\S+)")
    ada_link = _link(text, r"Ada Lovelace \(customer\): (\S+/enroll/\S+)")
    case_url = _link(text, r"open (http://\S+/console/cases/case_\w+)")
    assert "Approve: the payment goes ahead" in text
    case_page = case_url.removeprefix(origin)
    Newcomer.violations.clear()
    ari = Newcomer(browser, origin, "Ari")
    ada = Newcomer(browser, origin, "Ada")
    try:
        ari.language("ko")  # the analyst reads Korean, Ada English
        _enroll(ari, analyst_link)
        ari.go(case_page)
        ari.page.wait_for_selector("[data-testid=case-reason]")
        assert ari.page.get_attribute("html", "lang") == "ko"
        assert ari.page.locator("text=demo_large_payment").count() >= 1
        assert ari.page.inner_text("[data-testid=case-payer]").startswith("Ada Lovelace")
        ari.shot("ko-case-open")
        ari.page.click("#approve-case")
        ari.page.wait_for_selector("#case-done")
        assert ari.page.locator("#approve-case").count() == 0  # decided: no second approval
        ari.shot("ko-case-approved")

        _enroll(ada, ada_link)
        ada.language("en")
        ada.go("/wallet")
        paid = ada.page.locator("ul.history li", has_text="A year of episodes")
        assert paid.count() == 1, ada.page.inner_text("ul.history")
        entry = paid.inner_text()
        assert "Ana's Podcast" in entry and "3.00 USD" in entry, entry
        assert "in review" not in entry, entry  # completed, not held
        assert paid.locator("a[href^='/receipts/pay_']").count() >= 1
        ada.shot("en-wallet-paid")

        for code in ("en", "ko"):  # the walk's pages in both languages
            for person, path in ((ari, "/console"), (ari, case_page), (ada, "/wallet")):
                person.language(code)
                person.go(path)
                assert person.page.get_attribute("html", "lang") == code, path
                slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
                person.shot(f"{code}-{person.name.lower()}-{slug}")
        if AXE.exists():
            assert Newcomer.violations == [], "\n".join(Newcomer.violations)
        else:
            pytest.skip(f"axe-core is not installed at {AXE} (make axe): no accessibility check")
    finally:
        ari.close()
        ada.close()
