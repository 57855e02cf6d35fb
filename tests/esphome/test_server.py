"""The API server against aioesphomeapi's own ``APIClient`` (what Home Assistant runs) on
loopback, and against bare sockets for what no real client sends."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import random
import socket
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from aioesphomeapi.client import APIClient
from aioesphomeapi.core import (
    MESSAGE_TYPE_TO_PROTO,
    APIConnectionError,
    BadMACAddressAPIError,
    BadNameAPIError,
    EncryptionPlaintextAPIError,
    InvalidEncryptionKeyAPIError,
    RequiresEncryptionAPIError,
)
from aioesphomeapi.model import APIVersion

from appliance.esphome.connection import Due, Keepalive, Limits
from appliance.esphome.frames import varint
from appliance.esphome.messages import pb
from appliance.esphome.server import ApiServer, EsphomeServerError
from tests.esphome.conftest import (
    KEY,
    MAC,
    NAME,
    OTHER_KEY,
    TIMEOUT_S,
    FakeSession,
    RawClient,
    Sessions,
    esphome_settings,
    serving,
    wait_until,
)

COMPACT_MAC = MAC.replace(":", "")


async def connected(port: int, **kwargs: Any) -> APIClient:
    client = APIClient("127.0.0.1", port, None, **kwargs)
    async with asyncio.timeout(TIMEOUT_S):
        await client.connect(login=True)
    return client


async def refused(port: int, **kwargs: Any) -> APIConnectionError:
    client = APIClient("127.0.0.1", port, None, **kwargs)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            await client.connect(login=True)
    except APIConnectionError as err:
        return err
    finally:
        await client.disconnect(force=True)
    pytest.fail("the client was not refused")


def test_keepalive_decides_from_the_times_it_is_given() -> None:
    keepalive = Keepalive(Limits(keepalive_s=60.0, handshake_timeout_s=30.0), opened_at=100.0)
    assert keepalive.due(129.0) == (Due.NOTHING, 130.0)
    keepalive.traffic(125.0)  # a ping before hello: no reprieve
    assert keepalive.due(130.0) == (Due.NO_HELLO, 130.0)
    keepalive.hello(110.0)
    assert keepalive.due(169.0) == (Due.NOTHING, 170.0)
    assert keepalive.due(170.0) == (Due.PING, 170.0)
    keepalive.pinged()
    assert keepalive.due(259.0) == (Due.NOTHING, 260.0)  # 2.5 x 60 s after the last word
    keepalive.traffic(200.0)  # any message, not only the pong
    assert keepalive.due(259.0) == (Due.NOTHING, 260.0)
    assert keepalive.due(260.0) == (Due.PING, 260.0)
    keepalive.pinged()
    assert keepalive.due(349.0) == (Due.NOTHING, 350.0)
    assert keepalive.due(350.0) == (Due.SILENT, 350.0)


async def test_a_client_says_hello_gets_its_answers_and_disconnects() -> None:
    async with serving(esphome_settings()) as (server, sessions):
        client = await connected(server.port, expected_name=NAME)
        assert client.api_version == APIVersion(1, 14)
        info = await client.device_info()
        entities, services = await client.list_entities_services()
        assert (info.name, info.mac_address) == (NAME, MAC.upper())
        assert (entities, services) == ([], [])
        await client.disconnect()
        await wait_until(lambda: server.connection_count == 0)
    [session] = sessions.made
    assert session.names() == ["DeviceInfoRequest", "ListEntitiesRequest"]  # hello, login: ours
    assert session.connection.client_info == "aioesphomeapi"
    assert session.closed_calls == 1


async def test_the_hello_carries_the_device_name() -> None:
    async with serving(esphome_settings()) as (server, sessions):
        err = await refused(server.port, expected_name="another-device")
    assert isinstance(err, BadNameAPIError)
    assert [s.closed_calls for s in sessions.made] == [1]


async def test_pings_are_answered_both_ways() -> None:
    limits = Limits(keepalive_s=0.1)
    async with serving(esphome_settings(), limits=limits) as (server, _):
        # The client pings every 0.05 s and gives up 0.225 s after an unanswered one.
        client = await connected(server.port, keepalive=0.05)
        raw = await RawClient.connect(server.port)
        await raw.hello()
        raw.send(pb.PingRequest())
        await raw.receive(pb.PingResponse)
        for _ in range(3):  # the server's own keepalive: a ping after 0.1 s of silence
            await raw.receive(pb.PingRequest)
            raw.send(pb.PingResponse())
        await asyncio.sleep(1.0)  # many of the client's keepalive rounds
        assert (await client.device_info()).name == NAME
        await client.disconnect()
        await raw.close()


async def test_a_silent_client_is_dropped_after_its_unanswered_ping() -> None:
    async with serving(esphome_settings(), limits=Limits(keepalive_s=0.1)) as (server, sessions):
        raw = await RawClient.connect(server.port)
        await raw.hello()
        await raw.receive(pb.PingRequest)
        await raw.read_until_closed()  # 0.25 s after its last word
        await wait_until(lambda: server.connection_count == 0)
        assert sessions.made[0].closed_calls == 1


async def test_a_client_without_hello_is_dropped_even_if_it_pings() -> None:
    limits = Limits(handshake_timeout_s=0.3)
    async with serving(esphome_settings(), limits=limits) as (server, sessions):
        raw = await RawClient.connect(server.port)
        for _ in range(3):  # allowed before hello, and answered, but no reprieve
            raw.send(pb.PingRequest())
            await raw.receive(pb.PingResponse)
        await raw.read_until_closed()
        early = await RawClient.connect(server.port)
        early.send(pb.DeviceInfoRequest())  # before hello: the connection is closed at once
        await early.read_until_closed()
        await wait_until(lambda: server.connection_count == 0)
    assert sessions.made == []


async def test_with_the_key_a_client_works_and_without_it_is_refused_its_own_way() -> None:
    async with serving(esphome_settings(encryption_key=KEY)) as (server, sessions):
        client = await connected(server.port, noise_psk=KEY, expected_name=NAME,
                                 expected_mac=COMPACT_MAC)
        assert (await client.device_info()).name == NAME
        assert isinstance(await refused(server.port), RequiresEncryptionAPIError)
        assert isinstance(await refused(server.port, noise_psk=OTHER_KEY),
                          InvalidEncryptionKeyAPIError)
        assert isinstance(await refused(server.port, noise_psk=KEY, expected_mac="020000000000"),
                          BadMACAddressAPIError)
        assert (await client.list_entities_services()) == ([], [])
        await client.disconnect()
    assert len(sessions.made) == 1


async def test_an_encrypting_client_on_a_plaintext_device_is_told_so() -> None:
    async with serving(esphome_settings()) as (server, sessions):
        assert isinstance(await refused(server.port, noise_psk=KEY), EncryptionPlaintextAPIError)
        client = await connected(server.port)
        assert (await client.device_info()).name == NAME
        await client.disconnect()
    assert len(sessions.made) == 1


async def test_clients_up_to_the_limit_work_and_one_more_is_refused(
        caplog: pytest.LogCaptureFixture) -> None:
    async with serving(esphome_settings(), max_connections=3) as (server, sessions):
        clients = [await connected(server.port) for _ in range(3)]
        with caplog.at_level(logging.WARNING, "appliance.esphome.server"):
            assert isinstance(await refused(server.port), APIConnectionError)
            assert isinstance(await refused(server.port), APIConnectionError)
        for client in clients:
            assert (await client.device_info()).name == NAME
        await clients.pop().disconnect()
        await wait_until(lambda: server.connection_count == 2)
        clients.append(await connected(server.port))
        assert (await clients[-1].device_info()).name == NAME
        for client in clients:
            await client.disconnect()
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].levelno == logging.WARNING
    assert [s.closed_calls for s in sessions.made] == [1, 1, 1, 1]


async def test_a_client_gone_mid_frame_closes_its_session_once() -> None:
    async with serving(esphome_settings()) as (server, sessions):
        raw = await RawClient.connect(server.port)
        await raw.hello()
        raw.send(pb.DeviceInfoRequest())
        await raw.receive(pb.DeviceInfoResponse)
        raw.send_raw(b"\x00\x10\x0b" + b"\x01\x02")  # 16 bytes announced, 2 sent
        raw.writer.transport.abort()
        await wait_until(lambda: server.connection_count == 0)
        [session] = sessions.made
        assert session.names() == ["DeviceInfoRequest"]
        assert session.closed_calls == 1
        client = await connected(server.port)
        assert (await client.device_info()).name == NAME
        await client.disconnect()


async def test_what_came_before_the_end_still_reaches_a_slow_session() -> None:
    async with serving(esphome_settings(), Sessions(delay_s=0.05)) as (server, sessions):
        raw = await RawClient.connect(server.port)
        await raw.hello()
        raw.send(pb.DeviceInfoRequest(), pb.ListEntitiesRequest(), pb.DisconnectRequest())
        await raw.receive(pb.DisconnectResponse)  # answered at once, the session still busy
        await raw.read_until_closed()
        eof = await RawClient.connect(server.port)
        await eof.hello()
        eof.send(pb.ListEntitiesRequest(), pb.DeviceInfoRequest())
        eof.writer.write_eof()
        await eof.read_until_closed()
        await wait_until(lambda: server.connection_count == 0)
    assert [s.names() for s in sessions.made] == [
        ["DeviceInfoRequest", "ListEntitiesRequest"], ["ListEntitiesRequest", "DeviceInfoRequest"]]
    assert [s.closed_calls for s in sessions.made] == [1, 1]


async def test_a_failing_session_closes_only_its_connection(
        caplog: pytest.LogCaptureFixture) -> None:
    async with serving(esphome_settings()) as (server, sessions):
        failing, other = await connected(server.port), await connected(server.port)
        failing.subscribe_states(lambda state: None)  # the fake session raises on it
        await wait_until(lambda: sessions.made[0].closed_calls == 1)
        assert server.connection_count == 1
        assert (await other.device_info()).name == NAME
        await other.disconnect()
        await failing.disconnect(force=True)
    failures = [r for r in caplog.records if "handling SubscribeStatesRequest" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert [s.closed_calls for s in sessions.made] == [1, 1]


async def test_a_client_that_does_not_read_is_disconnected_with_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    limits = Limits(write_buffer_bytes=256 * 1024)
    async with serving(esphome_settings(), limits=limits) as (server, sessions):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        raw = RawClient(reader, writer)
        await raw.hello()
        with caplog.at_level(logging.WARNING, "appliance.esphome.server"):
            raw.send(pb.SubscribeLogsRequest())  # 12 MB come back; it reads none of it
            await wait_until(lambda: bool(sessions.made) and sessions.made[0].closed_calls == 1)
        warnings = [r for r in caplog.records if "does not read" in r.getMessage()]
        assert len(warnings) == 1
        assert server.connection_count == 0
        client = await connected(server.port)
        assert (await client.device_info()).name == NAME
        await client.disconnect()
        await raw.close()


async def test_stopping_the_server_tells_each_client_and_leaves_no_task() -> None:
    sessions = Sessions()
    server = ApiServer(esphome_settings(), sessions, server_info="t", mac=MAC)
    run = asyncio.create_task(server.run())
    async with asyncio.timeout(TIMEOUT_S):
        await server.started()
    told: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    async def on_stop(expected: bool) -> None:
        told.set_result(expected)

    client = APIClient("127.0.0.1", server.port, None)
    async with asyncio.timeout(TIMEOUT_S):
        await client.connect(on_stop=on_stop, login=True)
    raw = await RawClient.connect(server.port)
    await raw.hello()
    run.cancel()
    async with asyncio.timeout(TIMEOUT_S):
        with contextlib.suppress(asyncio.CancelledError):
            await run
        assert await told is True  # a DisconnectRequest, not a dropped connection
        await raw.receive(pb.DisconnectRequest)
    assert [t.get_name() for t in asyncio.all_tasks() if "esphome" in t.get_name()] == []
    assert [s.closed_calls for s in sessions.made] == [1, 1]
    await raw.close()


async def test_a_port_in_use_is_a_typed_error_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ApiServer(esphome_settings(port=port), FakeSession, server_info="t", mac=MAC)
        with pytest.raises(EsphomeServerError) as caught:
            async with asyncio.timeout(TIMEOUT_S):
                await server.run()
        with pytest.raises(EsphomeServerError):
            await server.started()
    err = caught.value
    assert err.code == "esphome_port_in_use"
    assert str(port) in err.message and "[esphome] port" in err.fix
    assert isinstance(err.__cause__, OSError) and err.__cause__.errno == errno.EADDRINUSE


def _malformed(rng: random.Random, i: int) -> bytes:
    """Plaintext garbage of six kinds, in turn."""
    unknown = [t for t in range(1, 400) if t not in MESSAGE_TYPE_TO_PROTO]
    kind = i % 6
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randint(1, 300))
    if kind == 1:  # a length over the limit
        return b"\x00" + varint(65536 + rng.randint(0, 1 << 20)) + b"\x01" + rng.randbytes(20)
    if kind == 2:  # a varint that does not end
        return b"\x00" + b"\xff" * rng.randint(3, 40)
    if kind == 3:  # unknown message types (ignored), then a truncated frame
        payload = rng.randbytes(rng.randint(0, 50))
        frame = b"\x00" + varint(len(payload)) + varint(rng.choice(unknown)) + payload
        return frame * rng.randint(1, 5) + b"\x00\x7f\x01"
    if kind == 4:  # a known type whose protobuf does not decode
        return b"\x00\x03\x01\xff\xff\xff"
    return b"\x00" + varint(200) + b"\x01" + rng.randbytes(rng.randint(0, 150))  # truncated


def _noise_malformed(rng: random.Random, i: int) -> bytes:
    """Encrypted-side garbage: truncated Noise frames, bad handshakes, oversized ones."""
    kind = i % 4
    if kind == 0:  # hello, then a handshake frame cut short
        return b"\x01\x00\x00\x01\x00\x31\x00" + rng.randbytes(rng.randint(0, 40))
    if kind == 1:  # hello, then a handshake of random bytes
        body = b"\x00" + rng.randbytes(48)
        return b"\x01\x00\x00\x01" + len(body).to_bytes(2, "big") + body
    if kind == 2:  # an oversized handshake frame
        return b"\x01\xff\xff" + rng.randbytes(rng.randint(0, 200))
    return rng.randbytes(rng.randint(1, 120))


async def _throw(port: int, data: bytes) -> None:
    raw = await RawClient.connect(port)
    raw.send_raw(data)
    raw.writer.write_eof()
    with contextlib.suppress(ConnectionError):
        await raw.read_until_closed()
    await raw.close()


Maker = Callable[[random.Random, int], bytes]


async def _throw_many(port: int, make: Maker, start: int, count: int) -> None:
    rng = random.Random(start)
    for i in range(start, start + count):
        await _throw(port, make(rng, i))


@pytest.mark.parametrize(("key", "make"), [("", _malformed), (KEY, _noise_malformed)])
async def test_a_thousand_malformed_streams_leave_the_server_serving_and_flat(
        key: str, make: Maker) -> None:
    async with serving(esphome_settings(encryption_key=key), max_connections=8) as (server, s):
        tracemalloc.start()
        try:
            await _throw_many(server.port, make, 0, 200)  # warm-up: caches, first warnings
            await wait_until(lambda: server.connection_count == 0)
            gc.collect()
            before, _ = tracemalloc.get_traced_memory()
            await _throw_many(server.port, make, 200, 800)
            await wait_until(lambda: server.connection_count == 0)
            gc.collect()
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert after - before < 100_000, f"{after - before} bytes more after 800 streams"
        assert s.made == []  # none of them got as far as a session
        client = await connected(server.port, noise_psk=key or None)
        assert (await client.device_info()).name == NAME
        await client.disconnect()
