"""One client of the ESPHome API server: its framing, keepalive, and the session it talks to.

The connection answers what belongs to it, as an ESPHome device does: HelloRequest (API 1.14;
no password since ESPHome 2026.1, so the client is authenticated by its hello and an
AuthenticationRequest is simply accepted), PingRequest, DisconnectRequest (answered, then the
connection closes). It pings a client that has been silent for ``keepalive_s`` (60 s) and
drops it after 2.5 times that without a word; a client that has not said hello within
``handshake_timeout_s`` (60 s) of connecting is dropped too. Every other message, decoded to its
protobuf class, goes in order to the ``Session`` the factory made for the connection at its
hello; the session answers with ``Connection.send``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
from google.protobuf.message import Message

from appliance.errors import ApplianceError
from appliance.esphome.frames import Codec, Decoded, FrameError, Packet
from appliance.esphome.messages import pb

_LOGGER = logging.getLogger(__name__)

API_VERSION = (1, 14)
_TYPE_OF: dict[type[Any], int] = {cls: number for number, cls in MESSAGE_TYPE_TO_PROTO.items()}
_READ_BYTES = 65536
_MAX_WARNED = 256  # (client host, error code) pairs already warned about


class Session(Protocol):
    async def handle(self, message: Message) -> None:
        """Every message the server layer does not answer itself, after the hello, in order."""
        ...

    def closed(self) -> None:
        """The connection ended (called exactly once)."""
        ...


SessionFactory = Callable[["Connection"], Session]


@dataclass(frozen=True)
class Limits:
    keepalive_s: float = 60.0  # ESPHome's KEEPALIVE_TIMEOUT_MS; the drop comes at 2.5 x
    handshake_timeout_s: float = 60.0  # ESPHome's HANDSHAKE_TIMEOUT_MS
    write_buffer_bytes: int = 1 << 20  # unsent bytes to a client that does not read
    queued_messages: int = 64  # for the session; then the connection stops reading
    close_timeout_s: float = 2.0


class Due(enum.Enum):
    NOTHING = "nothing"
    PING = "ping"
    NO_HELLO = "no hello in time"
    SILENT = "silent after a ping"


@dataclass
class Keepalive:
    """ESPHome's keepalive, clock-free: the caller gives the times (event-loop seconds)."""

    limits: Limits
    opened_at: float
    last_traffic: float = 0.0
    set_up: bool = False
    ping_sent: bool = False

    def hello(self, now: float) -> None:
        self.set_up, self.last_traffic, self.ping_sent = True, now, False

    def pinged(self) -> None:
        self.ping_sent = True

    def traffic(self, now: float) -> None:
        """A message came (before the hello it does not count, as in ESPHome)."""
        if self.set_up:
            self.last_traffic, self.ping_sent = now, False

    def due(self, now: float) -> tuple[Due, float]:
        """What to do now, and when to ask again."""
        if not self.set_up:
            deadline = self.opened_at + self.limits.handshake_timeout_s
            return (Due.NO_HELLO if now >= deadline else Due.NOTHING), deadline
        if self.ping_sent:
            deadline = self.last_traffic + 2.5 * self.limits.keepalive_s
            return (Due.SILENT if now >= deadline else Due.NOTHING), deadline
        ping_at = self.last_traffic + self.limits.keepalive_s
        return (Due.PING if now >= ping_at else Due.NOTHING), ping_at


@dataclass
class ConnectionContext:
    """What a connection needs from its server."""

    name: str
    server_info: str
    make_codec: Callable[[], Codec]
    make_session: SessionFactory
    limits: Limits
    warned: set[tuple[str, str]] = field(default_factory=set)

    def report(self, peer: str, err: ApplianceError) -> None:
        """One warning per client host and error code until that host says hello."""
        key = (peer.rsplit(":", 1)[0], err.code)
        level = logging.DEBUG if key in self.warned else logging.WARNING
        if len(self.warned) >= _MAX_WARNED:
            self.warned.clear()
        self.warned.add(key)
        _LOGGER.log(level, "esphome: %s: %s [%s]; closing its connection", peer, err, err.code)

    def welcome(self, peer: str) -> None:
        host = peer.rsplit(":", 1)[0]
        self.warned = {key for key in self.warned if key[0] != host}


def peer_of(writer: asyncio.StreamWriter) -> str:
    name = writer.get_extra_info("peername")
    if not isinstance(name, tuple):
        return str(name)
    host = f"[{name[0]}]" if ":" in str(name[0]) else str(name[0])
    return f"{host}:{name[1]}"


class Connection:
    """One client: its framing, keepalive and session."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 context: ConnectionContext, now: float) -> None:
        self.peer = peer_of(writer)
        self.client_info = ""
        self._reader, self._writer, self._ctx = reader, writer, context
        self._codec = context.make_codec()
        self._keepalive = Keepalive(context.limits, opened_at=now)
        self._queue: asyncio.Queue[Message] = asyncio.Queue(context.limits.queued_messages)
        self._session: Session | None = None
        self._ended = asyncio.Event()
        self._goodbye = False
        self._abort = False

    @property
    def is_open(self) -> bool:
        return not self._ended.is_set()

    def send(self, *messages: Message) -> None:
        """Encode and queue; never blocks. A message too large for a frame is a FrameError."""
        if not self.is_open:
            _LOGGER.debug("esphome: %s: closed, %d message(s) dropped", self.peer, len(messages))
            return
        packets = [Packet(_TYPE_OF[type(m)], m.SerializeToString()) for m in messages]
        self._writer.write(self._codec.encode(packets))
        waiting = self._writer.transport.get_write_buffer_size()
        if waiting > self._ctx.limits.write_buffer_bytes:
            _LOGGER.warning("esphome: %s does not read what it is sent (%d bytes waiting); "
                        "disconnecting it", self.peer, waiting)
            self._abort = True
            self._end()

    def close(self) -> None:
        """End this connection (the client is told with a DisconnectRequest)."""
        self._end(goodbye=True)

    def _end(self, *, goodbye: bool = False) -> None:
        if self.is_open:
            self._goodbye = goodbye
            self._ended.set()

    async def run(self) -> None:
        """Serve the client until either end closes; never raises but CancelledError."""
        try:
            await self._serve()
        except* _Ended:
            pass
        except* Exception:
            _LOGGER.exception("esphome: %s: unexpected failure; closing its connection", self.peer)
        finally:
            if self.is_open:  # cancelled: the server stops
                self._end(goodbye=True)
            await self._finish()

    async def _serve(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._read(), name=f"esphome {self.peer} read")
            tasks.create_task(self._dispatch(), name=f"esphome {self.peer} session")
            await self._ended.wait()
            raise _Ended  # stops both

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while self.is_open:
            due, wake_at = self._keepalive.due(loop.time())
            if due is Due.PING:
                self._keepalive.pinged()
                self.send(pb.PingRequest())
            elif due is not Due.NOTHING:
                _LOGGER.info("esphome: %s: %s; disconnecting", self.peer, due.value)
                return self._end()
            else:
                try:
                    async with asyncio.timeout_at(wake_at):
                        data = await self._reader.read(_READ_BYTES)
                except TimeoutError:
                    continue
                except OSError as err:
                    data = b""
                    _LOGGER.debug("esphome: %s: %s", self.peer, err)
                if not data or not await self._take(self._codec.feed(data)):
                    await self._drain()
                    return self._end()
        return None

    async def _drain(self) -> None:
        """Let the session have what came before the end (for close_timeout_s at most)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._ctx.limits.close_timeout_s):
                await self._queue.join()

    async def _take(self, decoded: Decoded) -> bool:
        if decoded.reply:
            self._writer.write(decoded.reply)
        for packet in decoded.packets:
            if not await self._on_packet(packet):
                return False
        if decoded.error is not None:
            self._ctx.report(self.peer, decoded.error)
            return False
        return True

    async def _on_packet(self, packet: Packet) -> bool:
        if (cls := MESSAGE_TYPE_TO_PROTO.get(packet.type)) is None:
            _LOGGER.debug("esphome: %s: message type %d unknown, ignored", self.peer, packet.type)
            return True
        message = cls()
        try:
            message.ParseFromString(packet.payload)
        except Exception as err:  # protobuf's DecodeError, or worse on hostile bytes
            self._ctx.report(self.peer, FrameError(f"{cls.__name__} that does not decode ({err})",
                                                   code="esphome_bad_message"))
            return False
        self._keepalive.traffic(asyncio.get_running_loop().time())
        return await self._on_message(message)

    async def _on_message(self, message: Message) -> bool:
        """Answer what is the connection's; False: the connection ends."""
        kind = type(message)
        if kind is pb.HelloRequest:
            return self._hello(message)
        if kind is pb.PingRequest:
            self.send(pb.PingResponse())
        elif kind is pb.DisconnectRequest:
            _LOGGER.info("esphome: %s (%s) disconnects", self.peer, self.client_info)
            self.send(pb.DisconnectResponse())
            return False
        elif kind is pb.DisconnectResponse:
            return False
        elif self._session is None:
            if kind is not pb.PingResponse:
                _LOGGER.debug("esphome: %s: %s before hello; closing", self.peer, kind.__name__)
                return False
        elif kind is pb.AuthenticationRequest:
            self.send(pb.AuthenticationResponse(invalid_password=False))
        elif kind is not pb.PingResponse:
            await self._queue.put(message)
        return True

    def _hello(self, message: Any) -> bool:
        self.client_info = str(message.client_info)
        self.send(pb.HelloResponse(api_version_major=API_VERSION[0],
                                   api_version_minor=API_VERSION[1],
                                   server_info=self._ctx.server_info, name=self._ctx.name))
        if self._session is not None:
            return True
        self._keepalive.hello(asyncio.get_running_loop().time())
        try:
            self._session = self._ctx.make_session(self)
        except Exception:
            _LOGGER.exception("esphome: %s: the session could not be made; closing", self.peer)
            return False
        self._ctx.welcome(self.peer)
        _LOGGER.info("esphome: %s connected (%s, API %d.%d)", self.client_info, self.peer,
                 message.api_version_major, message.api_version_minor)
        return True

    async def _dispatch(self) -> None:
        while True:
            message = await self._queue.get()
            session = self._session
            try:
                if session is not None:
                    await session.handle(message)
            except Exception:
                _LOGGER.exception("esphome: %s: handling %s failed; closing this connection",
                              self.peer, type(message).__name__)
                return self._end()
            finally:
                self._queue.task_done()

    async def _finish(self) -> None:
        if self._session is not None:
            try:
                self._session.closed()
            except Exception:
                _LOGGER.exception("esphome: %s: the session failed on closing", self.peer)
        transport = self._writer.transport
        if self._abort:
            transport.abort()
            return
        if self._goodbye and self._session is not None:
            goodbye = Packet(_TYPE_OF[pb.DisconnectRequest], b"")
            with contextlib.suppress(OSError, FrameError):
                self._writer.write(self._codec.encode([goodbye]))
        self._writer.close()
        try:
            async with asyncio.timeout(self._ctx.limits.close_timeout_s):
                await self._writer.wait_closed()
        except Exception:  # a client that does not read, a reset: nothing left to say
            transport.abort()
        except asyncio.CancelledError:
            transport.abort()
            raise


class _Ended(Exception):
    """Stops a connection's tasks."""
