"""Zeroconf: the TXT record Home Assistant reads, and the announcement itself on loopback, found
by a second zeroconf instance the way HA finds it (browse the type, resolve the name)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
from collections.abc import AsyncIterator

import pytest
from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from appliance.errors import ApplianceError
from appliance.esphome.announce import (
    SERVICE_TYPE,
    Announcement,
    announce,
    announced,
    compact_mac,
    host_addresses,
)
from tests.esphome.conftest import KEY, TIMEOUT_S, esphome_settings, serving, wait_until

UNROUTABLE = "203.0.113.7"  # TEST-NET-3: no interface of this host has it


def unique_name(tag: str) -> str:
    """Names no other test run on this host announces at the same time."""
    return f"t{os.getpid()}-{tag}"


def test_the_txt_record_holds_what_home_assistant_reads() -> None:
    info = Announcement("kitchen", 6053, "dca632010203", ("192.0.2.5",),
                        friendly_name="Kitchen speaker", encrypted=True)
    assert info.properties() == {
        "friendly_name": "Kitchen speaker", "version": "2026.1.0", "mac": "dca632010203",
        "platform": "HOST", "board": "host", "network": "wifi",
        "api_encryption": "Noise_NNpsk0_25519_ChaChaPoly_SHA256"}
    plain = Announcement("kitchen", 6053, "dca632010203", ("192.0.2.5",))
    assert "api_encryption" not in plain.properties()
    assert "friendly_name" not in plain.properties()


def test_the_service_is_named_for_the_device_and_points_at_its_host() -> None:
    service = Announcement("kitchen", 6054, "dca632010203", ("192.0.2.5",)).service_info()
    assert (service.type, service.name) == (SERVICE_TYPE, "kitchen._esphomelib._tcp.local.")
    assert (service.port, service.server) == (6054, "kitchen.local.")
    assert service.parsed_addresses() == ["192.0.2.5"]
    assert service.properties[b"mac"] == b"dca632010203"


@pytest.mark.parametrize("text", ["DC:A6:32:01:02:03", "dc-a6-32-01-02-03", "dca632010203"])
def test_a_mac_in_any_usual_form_is_compacted(text: str) -> None:
    assert compact_mac(text) == "dca632010203"


@pytest.mark.parametrize("text", ["", "dc:a6:32:01:02", "zz:a6:32:01:02:03"])
def test_a_mac_that_is_none_is_a_typed_error(text: str) -> None:
    with pytest.raises(ApplianceError) as caught:
        compact_mac(text)
    assert caught.value.code == "esphome_bad_mac"


def test_a_wildcard_announces_this_hosts_addresses_but_loopback() -> None:
    assert host_addresses("127.0.0.1") == ("127.0.0.1",)
    addresses = [ipaddress.ip_address(a) for a in host_addresses("0.0.0.0")]
    assert all(a.version == 4 and not a.is_loopback for a in addresses)


@contextlib.asynccontextmanager
async def browsing() -> AsyncIterator[tuple[AsyncZeroconf, dict[str, ServiceStateChange]]]:
    """A second zeroconf on loopback browsing the ESPHome type, as Home Assistant does."""
    seen: dict[str, ServiceStateChange] = {}

    def on_change(zeroconf: Zeroconf, service_type: str, name: str,
                  state_change: ServiceStateChange) -> None:
        seen[name] = state_change

    zeroconf = AsyncZeroconf(interfaces=["127.0.0.1"])
    browser = AsyncServiceBrowser(zeroconf.zeroconf, SERVICE_TYPE, handlers=[on_change])
    try:
        yield zeroconf, seen
    finally:
        await browser.async_cancel()
        await zeroconf.async_close()


async def resolve(zeroconf: AsyncZeroconf, name: str) -> AsyncServiceInfo:
    info = AsyncServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}")
    assert await info.async_request(zeroconf.zeroconf, 3000), f"{name} did not resolve"
    return info


async def test_the_announcement_is_browsed_and_resolved_on_loopback() -> None:
    name = unique_name("direct")
    info = Announcement(name, 6053, "020000aabbcc", ("127.0.0.1",), friendly_name="Test")
    async with browsing() as (zeroconf, seen), announced(info, "127.0.0.1") as ok:
        assert ok
        await wait_until(lambda: seen.get(f"{name}.{SERVICE_TYPE}") is ServiceStateChange.Added)
        found = await resolve(zeroconf, name)
        assert (found.port, found.server, found.parsed_addresses()) == (
            6053, f"{name}.local.", ["127.0.0.1"])
        assert found.decoded_properties["mac"] == "020000aabbcc"
        assert found.decoded_properties["friendly_name"] == "Test"


async def test_the_server_announces_its_bound_port_and_withdraws_on_stopping() -> None:
    name = unique_name("server")
    settings = esphome_settings(name=name, zeroconf=True, encryption_key=KEY)
    async with browsing() as (zeroconf, seen):
        async with serving(settings) as (server, _):
            await wait_until(lambda: f"{name}.{SERVICE_TYPE}" in seen)
            found = await resolve(zeroconf, name)
            assert found.port == server.port
            assert found.decoded_properties["mac"] == "020000aabbcc"
            assert found.decoded_properties["api_encryption"] == (
                "Noise_NNpsk0_25519_ChaChaPoly_SHA256")
        await wait_until(lambda: seen[f"{name}.{SERVICE_TYPE}"] is ServiceStateChange.Removed)


async def test_failing_to_announce_is_one_warning_and_no_crash(
        caplog: pytest.LogCaptureFixture) -> None:
    nowhere = Announcement(unique_name("nowhere"), 6053, "020000aabbcc", (UNROUTABLE,))
    nothing = Announcement(unique_name("nothing"), 6053, "020000aabbcc", ())
    with caplog.at_level(logging.WARNING, "appliance.esphome.announce"):
        async with announced(nowhere, UNROUTABLE) as ok:
            assert not ok
        async with asyncio.timeout(TIMEOUT_S):
            await announce(nothing, "0.0.0.0")  # returns: the server's task ends quietly
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all("not announced over zeroconf" in r.getMessage() for r in warnings)
