"""Where webhooks may be sent: public internet addresses over https, unless the operator
says otherwise.

A merchant chooses an endpoint's URL, and the platform then makes requests to it from
inside its own network: without a check, a URL could reach the loopback interface, the
private network, or a cloud's metadata service (169.254.169.254), and the delivery log
would tell the merchant what answered. So:

- When an endpoint is made or changed (:func:`url_problem`): ``https://`` only, no IP
  literal that is not public, no obviously internal name (``localhost``, ``*.internal``,
  a name without a dot, a numeric name that resolvers read as an IPv4 address).
- When each attempt is sent (:func:`resolve_target`, the real control, since a name can be
  made to point anywhere after the endpoint was made): the host is resolved, EVERY address
  it resolves to must be public (:func:`public`), and the connection goes to the address
  that was checked (the URL is rewritten to it; the ``Host`` header and the TLS server
  name stay the endpoint's name, and the certificate is verified against the name), so a
  name whose DNS answer changes between check and use (DNS rebinding) cannot switch it.

The operator relaxes this for development or private receivers (:class:`TargetPolicy`,
from the environment by :func:`policy_from_env`): ``CENTIME_WEBHOOK_ALLOW_HTTP=1`` permits
``http://`` URLs; ``CENTIME_WEBHOOK_ALLOW_PRIVATE`` (comma-separated CIDRs, e.g.
``127.0.0.0/8,::1/128``) permits those addresses (and, at creation, any name: the
delivery-time check decides).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx

from ..context import Platform

__all__ = [
    "ALLOW_HTTP_ENV",
    "ALLOW_PRIVATE_ENV",
    "Forbidden",
    "Resolver",
    "Target",
    "TargetPolicy",
    "install_target_policy",
    "policy_from_env",
    "public",
    "resolve_target",
    "system_resolver",
    "target_policy",
    "url_problem",
]

ALLOW_HTTP_ENV: Final = "CENTIME_WEBHOOK_ALLOW_HTTP"
ALLOW_PRIVATE_ENV: Final = "CENTIME_WEBHOOK_ALLOW_PRIVATE"
_CIDRS_MAX: Final = 64

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IPv6 prefixes that carry an IPv4 address in their last 32 bits (the IPv4 address decides).
_TRANSLATED: Final = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
# Refused whatever they carry: IPv4-compatible (deprecated), NAT64 local use.
_REFUSED_V6: Final = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
# Names that only an internal resolver answers (RFC 6761, RFC 8375, common private zones).
_INTERNAL_SUFFIXES: Final = (
    ".localhost",
    ".local",
    ".internal",
    ".intranet",
    ".lan",
    ".home.arpa",
    ".corp",
    ".localdomain",
    ".private",
)
_NUMERIC_LABEL: Final = re.compile(r"(0x[0-9a-f]*|[0-9]+)")


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """What the operator permits beyond public https: ``http://`` URLs, private ranges."""

    allow_http: bool = False
    allow_private: tuple[IPNetwork, ...] = ()

    def permits(self, address: IPAddress) -> bool:
        plain = _unmapped(address)
        return public(plain) or any(
            plain in net for net in self.allow_private if net.version == plain.version
        )


def policy_from_env(environ: Mapping[str, str] | None = None) -> TargetPolicy:
    """The policy ``CENTIME_WEBHOOK_ALLOW_HTTP`` and ``CENTIME_WEBHOOK_ALLOW_PRIVATE`` set
    (the default: public https only). Raises ValueError for a setting it cannot read."""
    env = os.environ if environ is None else environ
    http = env.get(ALLOW_HTTP_ENV, "").strip().lower()
    if http not in ("", "0", "1", "false", "true"):
        raise ValueError(f"{ALLOW_HTTP_ENV} is 1 or 0")
    cidrs = [c.strip() for c in env.get(ALLOW_PRIVATE_ENV, "").split(",") if c.strip()]
    if len(cidrs) > _CIDRS_MAX:
        raise ValueError(f"{ALLOW_PRIVATE_ENV}: at most {_CIDRS_MAX} ranges")
    try:
        networks = tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
    except ValueError as bad:
        raise ValueError(f"{ALLOW_PRIVATE_ENV}: {bad}") from None
    return TargetPolicy(http in ("1", "true"), networks)


def install_target_policy(platform: Platform, policy: TargetPolicy) -> None:
    """The composition root (or a test) gives the platform its policy."""
    platform.providers.webhook_targets = policy


def target_policy(platform: Platform) -> TargetPolicy:
    """The platform's policy: the one installed, else the environment's (then kept)."""
    policy = platform.providers.webhook_targets
    if policy is None:
        policy = policy_from_env()
        install_target_policy(platform, policy)
    return policy


# ------------------------------------------------------------------ addresses


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in _TRANSLATED or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def public(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast internet address. Python's ``is_global``
    alone is not enough (it calls multicast, site-local and IPv6 forms that embed a
    loopback IPv4 address global), so each property is checked, and an IPv6 address that
    carries an IPv4 one (mapped, translated, 6to4, NAT64) is judged by the IPv4 one too."""
    address = _unmapped(address)
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local or any(address in net for net in _REFUSED_V6):
            return False
        if address.teredo is not None:
            return False
        inner = _embedded_v4(address)
        if inner is not None and not public(inner):
            return False
        if inner is not None and _in_translating(address):
            return True  # ::/8 is "reserved", yet these carry a public IPv4 address
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_unspecified
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_private
    )


def _in_translating(address: ipaddress.IPv6Address) -> bool:
    return address in _TRANSLATED or address in _NAT64


# ------------------------------------------------------------------ URLs


def url_problem(url: str, policy: TargetPolicy) -> str | None:
    """Why an endpoint may not have ``url`` as its target (None: it may). The URL's syntax
    is checked before (``webhooks.check_url``); this is the early, clear refusal of what
    the delivery-time check would refuse anyway."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" and not (parts.scheme == "http" and policy.allow_http):
        return "an https:// URL (http:// only where the operator allows it)"
    literal = _literal(host)
    if literal is not None:
        return None if policy.permits(literal) else "a public address, not an internal one"
    if policy.allow_private:
        return None  # names may point into the permitted ranges: delivery checks them
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(_INTERNAL_SUFFIXES) or "." not in name:
        return "a public host name, not an internal one"
    if _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
        # 127.1, 0x7f.1, 2130706433.: resolvers read these as IPv4 addresses.
        return "a public host name, not a numeric address"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


# ------------------------------------------------------------------ delivery time

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (raises OSError when it does not)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt connects: ``url`` names the checked address instead of the host;
    ``headers`` (Host) and ``extensions`` (the TLS server name, which the certificate is
    verified against) keep the endpoint's name."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]
    address: str


@dataclass(frozen=True, slots=True)
class Forbidden:
    """The endpoint's URL leads somewhere the policy does not permit; ``reason`` is for the
    server's log (the merchant sees a generic error)."""

    reason: str


def resolve_target(url: str, policy: TargetPolicy, resolver: Resolver) -> Target | Forbidden:
    """Resolve the URL's host once, check every address it resolves to, and pin the first
    one for the connection. Raises OSError (and ValueError for a URL that cannot be read)
    when it cannot be resolved: a connection failure like any other."""
    parsed = httpx.URL(url)
    https = parsed.scheme == "https"
    if not https and not (parsed.scheme == "http" and policy.allow_http):
        return Forbidden(f"scheme {parsed.scheme!r} not permitted")
    name = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if https else 80)
    found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(name, port)]
    if not found:
        raise OSError(f"{name} resolves to no address")
    refused = [a for a in found if not policy.permits(a)]
    if refused:
        return Forbidden(f"{name} resolves to {refused[0]}, which is not permitted")
    chosen = str(found[0])
    extensions = {"sni_hostname": name} if https and _literal(name) is None else {}
    headers = {"host": parsed.netloc.decode("ascii")}
    return Target(parsed.copy_with(host=chosen), headers, extensions, chosen)
