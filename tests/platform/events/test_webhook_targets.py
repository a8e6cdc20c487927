"""Which addresses webhooks may reach, and the operator's settings."""

from __future__ import annotations

import ipaddress

import pytest

from centime.platform.events.webhook_targets import TargetPolicy, policy_from_env, public

REFUSED = [
    "127.0.0.1",
    "127.255.0.9",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "224.0.0.1",
    "224.0.1.1",
    "239.1.1.1",
    "240.0.0.1",
    "192.0.0.1",
    "198.18.0.1",
    "192.0.2.1",
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:0:7f00:1",
    "::7f00:1",
    "2002:7f00:1::",
    "2002:a00:1::",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::1",
    "fc00::1",
    "fd00::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "2001::1",
    "2001:db8::1",
    "100::1",
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("text", REFUSED)
def test_internal_addresses_are_not_public(text: str) -> None:
    assert not public(ipaddress.ip_address(text))
    assert not TargetPolicy(allow_http=True).permits(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses(text: str) -> None:
    assert public(ipaddress.ip_address(text))


def test_the_allowlist_permits_its_ranges_only_mapped_forms_included() -> None:
    policy = policy_from_env(
        {
            "CENTIME_WEBHOOK_ALLOW_PRIVATE": "127.0.0.0/8, fd00::/8",
            "CENTIME_WEBHOOK_ALLOW_HTTP": "1",
        }
    )
    assert policy.allow_http
    for text in ("127.0.0.1", "::ffff:127.0.0.1", "fd00::5", "8.8.8.8"):
        assert policy.permits(ipaddress.ip_address(text)), text
    for text in ("10.0.0.1", "::1", "169.254.169.254"):
        assert not policy.permits(ipaddress.ip_address(text)), text


def test_the_default_is_public_https_only_and_bad_settings_are_refused() -> None:
    assert policy_from_env({}) == TargetPolicy(False, ())
    for bad in (
        {"CENTIME_WEBHOOK_ALLOW_HTTP": "yes please"},
        {"CENTIME_WEBHOOK_ALLOW_PRIVATE": "10.0.0.0/33"},
        {"CENTIME_WEBHOOK_ALLOW_PRIVATE": "everything"},
    ):
        with pytest.raises(ValueError):
            policy_from_env(bad)
