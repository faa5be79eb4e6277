"""Egress policy for webhook targets: which URLs may be registered and which addresses the dispatcher may reach.

Only public unicast addresses are allowed by default; private, loopback, link-local (cloud metadata), unspecified,
CGNAT, multicast, reserved and documentation ranges, IPv6 ULA and the IPv4 addresses embedded in IPv6 (mapped,
6to4, Teredo) are refused unless an operator allows a range explicitly (`BASELOAD_ALERTS_WEBHOOK_ALLOW_CIDRS`).
The URL shape is checked at registration; the addresses a name resolves to are checked at registration and again
at every send, and the dispatcher connects to the address it checked, so a rebinding DNS answer cannot slip through.

Pure apart from the resolver seam (`Resolver`), which the dispatcher and the registration route pass in.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Hosts written as numbers other than a plain dotted quad (2130706433, 0x7f.1, 0177.0.0.1): refused outright,
# because resolvers and HTTP clients disagree on what they mean.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$", re.IGNORECASE)
_HOST_NAME = re.compile(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$", re.IGNORECASE
)


class EgressRefused(ValueError):
    """A webhook target the policy does not allow; the message is ours and safe to store and show."""


class Unresolvable(EgressRefused):
    """The target's name does not resolve (now): nothing can be sent to it."""


def check_url_shape(url: str) -> str:
    """Registration-time checks that need no settings: scheme, no credentials, no control characters, a host name
    or a canonical IP literal. Returns the URL; raises ValueError naming the problem."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise ValueError("the URL must not contain spaces, newlines or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("the URL scheme must be http or https")
    if "@" in parts.netloc:
        raise ValueError("the URL must not carry credentials (user:password@)")
    host = parts.hostname
    if not host:
        raise ValueError("the URL has no host")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise ValueError("the URL's port is not a number from 0 to 65535") from exc
    if literal_address(host) is None:
        if _NUMERIC_HOST.match(host):
            raise ValueError("numeric hosts must be written as a dotted quad (e.g. 192.0.2.1)")
        if not _HOST_NAME.match(host):
            raise ValueError("the URL's host is not a valid host name")
    return url


def literal_address(host: str) -> Address | None:
    """The IP address `host` spells canonically, or None for a host name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _embedded_v4(address: Address) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return None


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Public unicast addresses, plus the ranges an operator allowed."""

    allowed: Sequence[Network] = ()

    def _explicitly_allowed(self, address: Address) -> bool:
        return any(address.version == net.version and address in net for net in self.allowed)

    def check_address(self, address: Address) -> None:
        """Raise EgressRefused unless `address` (and any IPv4 address it embeds) may be reached."""
        if self._explicitly_allowed(address):
            return
        inner = _embedded_v4(address)
        if inner is not None:
            if self._explicitly_allowed(inner):
                return
            self.check_address(inner)
            raise EgressRefused(f"{address} embeds an IPv4 address; write the IPv4 address itself")
        if not address.is_global or address.is_multicast:
            raise EgressRefused(
                f"{address} is not a public address (private, loopback, link-local or reserved);"
                " an operator can allow it with BASELOAD_ALERTS_WEBHOOK_ALLOW_CIDRS"
            )

    async def resolve(self, host: str, port: int, resolver: Resolver) -> str:
        """The address to connect to: `host` itself if it is an IP literal, else its DNS answers, every one of
        which must be allowed (the first is used)."""
        literal = literal_address(host)
        if literal is not None:
            self.check_address(literal)
            return str(literal)
        try:
            answers = await resolver(host, port)
        except OSError as exc:
            raise Unresolvable(f"the host {host[:100]!r} does not resolve") from exc
        if not answers:
            raise Unresolvable(f"the host {host[:100]!r} does not resolve")
        for answer in answers:
            self.check_address(ipaddress.ip_address(answer.split("%")[0]))
        return answers[0]


async def system_resolver(host: str, port: int, timeout_s: float = 5.0) -> list[str]:
    """Every address the system resolver gives for `host` (raises OSError when it does not resolve)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError as exc:
        raise OSError(f"resolving {host!r} timed out") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def target_of(url: str) -> tuple[str, int]:
    """The host and port a URL connects to."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
