"""Zeroconf: the device announced as ``<name>._esphomelib._tcp.local.``, the way an ESPHome
device's mDNS component does it, so Home Assistant's ESPHome integration discovers it.

HA's config flow reads the TXT record's ``mac`` (12 lower-case hex digits, its unique id; a
record without one is ignored), ``friendly_name`` (the title it offers) and ``api_encryption``
(present: it asks for the key before connecting); ``version``, ``platform``, ``board`` and
``network`` are what ESPHome adds beside them. The device name is the host part of the SRV
target (``<name>.local.``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import ifaddr
from zeroconf import InterfaceChoice, IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from appliance.errors import ApplianceError
from appliance.esphome.frames import NOISE_PROTOCOL

log = logging.getLogger(__name__)

SERVICE_TYPE = "_esphomelib._tcp.local."
# The ESPHome release whose API this device speaks (1.14, no password: ESPHome 2026.1.0 on).
ESPHOME_VERSION = "2026.1.0"
_WILDCARDS = ("", "0.0.0.0", "::")


def compact_mac(mac: str) -> str:
    """``aa:bb:cc:dd:ee:ff`` (any case, ':' '-' or none) -> ``aabbccddeeff``, the form the Noise
    hello and the TXT record carry."""
    digits = re.sub(r"[:\-.]", "", mac.strip()).lower()
    if not re.fullmatch(r"[0-9a-f]{12}", digits):
        raise ApplianceError(f"esphome: {mac!r} is not a MAC address",
                             fix="give 6 bytes in hex, e.g. \"dc:a6:32:01:02:03\"",
                             code="esphome_bad_mac")
    return digits


@dataclass(frozen=True)
class Announcement:
    name: str
    port: int
    mac: str  # compact_mac() form
    addresses: tuple[str, ...]
    friendly_name: str = ""
    encrypted: bool = False
    version: str = ESPHOME_VERSION
    platform: str = "HOST"
    board: str = "host"
    network: str = "wifi"

    def properties(self) -> dict[str, str]:
        props = {"friendly_name": self.friendly_name} if self.friendly_name else {}
        props |= {"version": self.version, "mac": self.mac, "platform": self.platform,
                  "board": self.board, "network": self.network}
        if self.encrypted:
            props["api_encryption"] = NOISE_PROTOCOL.decode()
        return props

    def service_info(self) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            SERVICE_TYPE, f"{self.name}.{SERVICE_TYPE}", port=self.port,
            properties=self.properties(), server=f"{self.name}.local.",
            parsed_addresses=list(self.addresses))


def host_addresses(bind_address: str) -> tuple[str, ...]:
    """The addresses to announce for a server bound to ``bind_address``: itself, or for a
    wildcard every address of this host but loopback and IPv6 link-local ones."""
    if bind_address not in _WILDCARDS:
        return (bind_address,)
    versions = (4, 6) if bind_address == "::" else (4,)
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            text = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            addr = ipaddress.ip_address(text)
            if addr.version in versions and not (addr.is_loopback or addr.is_link_local):
                found.append(text)
    return tuple(dict.fromkeys(found))


def _interfaces(bind_address: str) -> InterfaceChoice | list[str]:
    return InterfaceChoice.All if bind_address in _WILDCARDS else [bind_address]


@contextlib.asynccontextmanager
async def announced(info: Announcement, bind_address: str) -> AsyncIterator[bool]:
    """Announce ``info`` while inside; yields False (after one warning) when it could not be."""
    zeroconf = await _register(info, bind_address)
    try:
        yield zeroconf is not None
    finally:
        if zeroconf is not None:
            await _unregister(zeroconf)


async def announce(info: Announcement, bind_address: str) -> None:
    """Announce until cancelled (``ApiServer.run`` runs it as a task); returns at once when
    it could not (one warning said so)."""
    async with announced(info, bind_address) as done:
        if done:
            await asyncio.Event().wait()


async def _register(info: Announcement, bind_address: str) -> AsyncZeroconf | None:
    if not info.addresses:
        log.warning("esphome: not announced over zeroconf: this host has no address to announce "
                    "(Home Assistant can still add it by address and port %d)", info.port)
        return None
    v6 = any(":" in address for address in info.addresses)
    zeroconf: AsyncZeroconf | None = None
    try:
        zeroconf = AsyncZeroconf(interfaces=_interfaces(bind_address),
                                 ip_version=IPVersion.All if v6 else IPVersion.V4Only)
        await (await zeroconf.async_register_service(info.service_info()))
    except asyncio.CancelledError:
        if zeroconf is not None:
            await _close_quietly(zeroconf)
        raise
    except Exception as err:  # no multicast interface, a name taken, ...: never fatal
        log.warning("esphome: not announced over zeroconf (%s: %s); Home Assistant can still "
                    "add it by address and port %d", type(err).__name__, err, info.port)
        if zeroconf is not None:
            await _close_quietly(zeroconf)
        return None
    log.info("esphome: announced as %s on %s", info.name, ", ".join(info.addresses))
    return zeroconf


async def _unregister(zeroconf: AsyncZeroconf) -> None:
    try:
        await zeroconf.async_unregister_all_services()
    except Exception as err:
        log.debug("esphome: zeroconf unregister failed: %s", err)
    await _close_quietly(zeroconf)


async def _close_quietly(zeroconf: AsyncZeroconf) -> None:
    try:
        await zeroconf.async_close()
    except Exception as err:
        log.debug("esphome: zeroconf close failed: %s", err)
