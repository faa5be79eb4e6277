"""The webhook egress policy as pure functions: URL shapes and address ranges, the allow list, DNS answers."""

from __future__ import annotations

import ipaddress

import pytest

from services.alerts.egress import EgressPolicy, EgressRefused, Unresolvable, check_url_shape

ALLOW_LOOPBACK = EgressPolicy((ipaddress.ip_network("127.0.0.1/32"),))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::1",
        "::",
        "fd00::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "::ffff:8.8.8.8",
        "2002:a00:1::",
        "ff02::1",
    ],
)
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    with pytest.raises(EgressRefused):
        EgressPolicy().check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2001:4860:4860::8888"])
def test_public_addresses_are_allowed(address: str) -> None:
    EgressPolicy().check_address(ipaddress.ip_address(address))


def test_the_allow_list_opens_exactly_its_ranges() -> None:
    ALLOW_LOOPBACK.check_address(ipaddress.ip_address("127.0.0.1"))
    ALLOW_LOOPBACK.check_address(ipaddress.ip_address("::ffff:127.0.0.1"))
    for other in ("127.0.0.2", "::1", "10.0.0.1"):
        with pytest.raises(EgressRefused):
            ALLOW_LOOPBACK.check_address(ipaddress.ip_address(other))


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://u:p@example.com/",
        "http://@example.com/",
        "http://example.com/\r\nX: y",
        "http://exa mple.com/",
        "http://example.com:70000/",
        "ftp://example.com/",
        "http:///path",
        "http://exa%6dple.com/",
        "http://ex_ample.com/",
    ],
)
def test_ambiguous_or_unsafe_url_shapes_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        check_url_shape(url)


@pytest.mark.parametrize("url", ["https://hooks.example.com/a?b=c", "http://93.184.216.34:8080/", "http://[::1]:9/"])
def test_plain_url_shapes_pass(url: str) -> None:
    assert check_url_shape(url) == url


async def test_every_dns_answer_must_be_allowed_and_the_first_is_used() -> None:
    async def dns(host: str, port: int) -> list[str]:
        return {"ok.example": ["93.184.216.34", "8.8.8.8"], "mixed.example": ["8.8.8.8", "10.0.0.1"]}[host]

    assert await EgressPolicy().resolve("ok.example", 443, dns) == "93.184.216.34"
    with pytest.raises(EgressRefused):
        await EgressPolicy().resolve("mixed.example", 443, dns)


async def test_a_name_that_does_not_resolve_is_unresolvable() -> None:
    async def dns(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(Unresolvable):
        await EgressPolicy().resolve("nowhere.example", 80, dns)
