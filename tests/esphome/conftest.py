"""The ESPHome API transport's test kit: the real server on loopback (port 0), a hand-written
session that records what it got and answers DeviceInfo and ListEntities, and a client on a
bare socket for the bytes no real client sends (it frames with aioesphomeapi's own encoder).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aioesphomeapi._frame_helper.packets import make_plain_text_packets
from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
from google.protobuf.message import Message

from appliance.esphome.connection import Connection, Limits
from appliance.esphome.frames import PlaintextCodec
from appliance.esphome.messages import pb
from appliance.esphome.server import ApiServer
from appliance.esphome.settings import EsphomeSettings
from tests.esphome.media_kit import served, tone

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()
NAME = "test-speaker"
MAC = "02:00:00:aa:bb:cc"
TIMEOUT_S = 10.0
TYPE_OF = {cls: number for number, cls in MESSAGE_TYPE_TO_PROTO.items()}


def esphome_settings(**changes: Any) -> EsphomeSettings:
    base = EsphomeSettings(
        enabled=True, address="127.0.0.1", port=0, name=NAME, friendly_name="Test speaker",
        encryption_key="", zeroconf=False, mode="local", ha_start_timeout_s=2.0,
        ha_answer_timeout_s=15.0)
    return replace(base, **changes)


class FakeSession:
    """Answers DeviceInfoRequest and ListEntitiesRequest; SubscribeStatesRequest makes it raise
    (a session's bug); SubscribeLogsRequest makes it send ``flood_messages`` large messages."""

    flood_messages = 200

    def __init__(self, connection: Connection, delay_s: float = 0.0) -> None:
        self.connection = connection
        self.delay_s = delay_s
        self.got: list[Message] = []
        self.closed_calls = 0

    async def handle(self, message: Message) -> None:
        self.got.append(message)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)  # a session slower than its client
        kind = type(message)
        if kind is pb.DeviceInfoRequest:
            self.connection.send(pb.DeviceInfoResponse(
                name=NAME, friendly_name="Test speaker", mac_address=MAC.upper()))
        elif kind is pb.ListEntitiesRequest:
            self.connection.send(pb.ListEntitiesDoneResponse())
        elif kind is pb.SubscribeStatesRequest:
            raise RuntimeError("a bug in the session")
        elif kind is pb.SubscribeLogsRequest:
            for _ in range(self.flood_messages):
                self.connection.send(pb.SubscribeLogsResponse(message=b"x" * 60000))

    def closed(self) -> None:
        self.closed_calls += 1

    def names(self) -> list[str]:
        return [type(message).__name__ for message in self.got]


@dataclass
class Sessions:
    """The session factory: every session it made, in order."""

    made: list[FakeSession] = field(default_factory=list)
    delay_s: float = 0.0

    def __call__(self, connection: Connection) -> FakeSession:
        session = FakeSession(connection, self.delay_s)
        self.made.append(session)
        return session


@contextlib.asynccontextmanager
async def serving(settings: EsphomeSettings, sessions: Sessions | None = None, **kwargs: Any
                  ) -> AsyncIterator[tuple[ApiServer, Sessions]]:
    """The server running in a task; on leaving, cancelled and awaited."""
    sessions = sessions or Sessions()
    kwargs.setdefault("limits", Limits())
    server = ApiServer(settings, sessions, server_info="appliance test", mac=MAC, **kwargs)
    task = asyncio.create_task(server.run(), name="test esphome server")
    try:
        async with asyncio.timeout(TIMEOUT_S):
            await server.started()
        yield server, sessions
    finally:
        task.cancel()
        async with asyncio.timeout(TIMEOUT_S):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def wait_until(condition: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
    """Poll ``condition()`` (in-process state) until true; fail after ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():  # noqa: ASYNC110 - plain attributes, no event to wait on
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"still not true after {timeout_s} s") from None


class RawClient:
    """A plaintext client on a bare socket: what a test writes, and what comes back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._decoder = PlaintextCodec()
        self._received: list[Message] = []

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        async with asyncio.timeout(TIMEOUT_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    def send(self, *messages: Message) -> None:
        packets = [(TYPE_OF[type(m)], m.SerializeToString()) for m in messages]
        self.writer.write(b"".join(make_plain_text_packets(packets)))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def hello(self) -> Message:
        self.send(pb.HelloRequest(client_info="raw test", api_version_major=1,
                                  api_version_minor=10))
        return await self.receive(pb.HelloResponse)

    async def receive(self, kind: Any, timeout_s: float = TIMEOUT_S) -> Message:
        """The next message of type ``kind`` (others before it are skipped)."""
        async with asyncio.timeout(timeout_s):
            while True:
                while self._received:
                    message = self._received.pop(0)
                    if type(message) is kind:
                        return message
                data = await self.reader.read(65536)
                assert data, f"the server closed the connection before a {kind.__name__}"
                decoded = self._decoder.feed(data)
                assert decoded.error is None, decoded.error
                for packet in decoded.packets:
                    message = MESSAGE_TYPE_TO_PROTO[packet.type]()
                    message.ParseFromString(packet.payload)
                    self._received.append(message)

    async def read_until_closed(self, timeout_s: float = TIMEOUT_S) -> bytes:
        """Everything the server sends until it closes the connection."""
        out = bytearray()
        async with asyncio.timeout(timeout_s):
            while data := await self.reader.read(65536):
                out += data
        return bytes(out)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


@pytest.fixture(scope="module")
def media_url() -> Iterator[str]:
    """What Home Assistant serves: /answer.wav (0.3 s), /long.wav (3 s), /chime.wav (0.1 s);
    anything else is a 404."""
    with served({"/answer.wav": tone(), "/long.wav": tone(seconds=3.0),
                  "/chime.wav": tone(seconds=0.1)}) as url:
        yield url
