"""The ESPHome native API's framing, pure and incremental: bytes in, packets out (no sockets).

Plaintext, each way::

    0x00, varint payload length, varint message type, payload

Noise (``Noise_NNpsk0_25519_ChaChaPoly_SHA256``, the device is the responder), each way::

    0x01, frame length (2 bytes, big-endian), frame

    client -> hello frame (empty today; bound into the handshake: the prologue is
              "NoiseAPIInit" + its length (2 bytes) + its bytes)
    server -> 0x01 (the chosen protocol), device name, NUL, MAC (12 hex digits), NUL
    client -> 0x00 + Noise handshake message 1 (psk, e)
    server -> 0x00 + Noise handshake message 2 (e, ee)
    then     encrypt(message type (2 bytes), payload length (2 bytes), payload)

During the handshake a frame may hold 128 bytes at most, and a failure is answered with a frame
of 0x01 + a reason before the connection closes. The reasons are ESPHome's own, because
aioesphomeapi keys on them: "Handshake MAC failure" (a wrong key) becomes its
``InvalidEncryptionKeyAPIError``, and a plaintext client, answered "Bad indicator byte" in a
frame that starts with 0x01, raises ``RequiresEncryptionAPIError``. A plaintext device answers
an encrypted client with 0x00 + "Bad indicator byte", which that client reports as
``EncryptionPlaintextAPIError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from noise.connection import NoiseConnection  # type: ignore[import-untyped, unused-ignore]

from appliance.errors import ApplianceError

# The firmware's uint16 wire lengths; aioesphomeapi refuses a longer plaintext frame too.
MAX_FRAME_BYTES = 65535
MAX_HANDSHAKE_FRAME_BYTES = 128
NOISE_PROTOCOL = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
NOISE_PROLOGUE = b"NoiseAPIInit"
_MAC_BYTES = 16  # ChaChaPoly's tag
_MAX_TYPE = 0xFFFF
_VARINT_BYTES = 3  # 3 x 7 bits hold any length up to MAX_FRAME_BYTES and any message type
_PLAINTEXT_REFUSAL = b"\x00Bad indicator byte"


class FrameError(ApplianceError):
    """Bytes that are not the API (garbage, a bound exceeded, a failed handshake): the
    connection that sent them is closed. ``reply``: what to send it first (may be empty)."""

    code = "esphome_bad_frame"

    def __init__(self, message: str, *, reply: bytes = b"", code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.reply = reply


@dataclass(frozen=True, slots=True)
class Packet:
    type: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a chunk of bytes gave: whole packets, bytes to send back (handshake), and the
    error that ends the connection (then nothing more is decoded)."""

    packets: tuple[Packet, ...] = ()
    reply: bytes = b""
    error: FrameError | None = None


class Codec(Protocol):
    @property
    def ready(self) -> bool:
        """Messages can go both ways (plaintext: at once; Noise: after the handshake)."""
        ...

    def feed(self, data: bytes) -> Decoded: ...

    def encode(self, packets: Iterable[Packet]) -> bytes: ...


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(buf: bytearray, pos: int) -> tuple[int, int] | None:
    """(value, position after it), or None while incomplete; too long is a FrameError."""
    value = 0
    for i in range(_VARINT_BYTES):
        if pos + i >= len(buf):
            return None
        byte = buf[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    raise FrameError(f"varint longer than {_VARINT_BYTES} bytes")


class _Buffer:
    """Received bytes not yet decoded, consumed from the front."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.pos = 0

    def add(self, data: bytes) -> None:
        if self.pos:
            del self.data[: self.pos]
            self.pos = 0
        self.data += data

    def clear(self) -> None:
        self.data = bytearray()
        self.pos = 0


class PlaintextCodec:
    """The plaintext framing; a frame that does not start with 0x00 (an encrypted client's
    hello) is answered the way an ESPHome device answers it."""

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._max = max_frame_bytes
        self._buf = _Buffer()
        self._error: FrameError | None = None

    @property
    def ready(self) -> bool:
        return True

    def feed(self, data: bytes) -> Decoded:
        if self._error is not None:
            return Decoded(error=self._error)
        self._buf.add(data)
        packets: list[Packet] = []
        try:
            while (packet := self._next()) is not None:
                packets.append(packet)
        except FrameError as err:
            self._error = err
            self._buf.clear()
            return Decoded(tuple(packets), err.reply, err)
        return Decoded(tuple(packets))

    def _next(self) -> Packet | None:
        buf, pos = self._buf.data, self._buf.pos
        if pos >= len(buf):
            return None
        if buf[pos] == 0x01:
            raise FrameError("an encrypting client (it has an encryption key, this device "
                             "has none)", reply=_PLAINTEXT_REFUSAL,
                             code="esphome_unexpected_encryption")
        if buf[pos] != 0x00:
            raise FrameError(f"indicator byte 0x{buf[pos]:02x}, not 0x00: not the ESPHome API",
                             reply=_PLAINTEXT_REFUSAL)
        if (length := _read_varint(buf, pos + 1)) is None:
            return None
        size, at = length
        if size > self._max:
            raise FrameError(f"frame of {size} bytes, over the {self._max}-byte limit")
        if (kind := _read_varint(buf, at)) is None:
            return None
        msg_type, at = kind
        if len(buf) - at < size:
            return None
        self._buf.pos = at + size
        return Packet(msg_type, bytes(buf[at:at + size]))

    def encode(self, packets: Iterable[Packet]) -> bytes:
        out = bytearray()
        for packet in packets:
            _check_size(packet, self._max)
            out += b"\x00" + varint(len(packet.payload)) + varint(packet.type) + packet.payload
        return bytes(out)


def _check_size(packet: Packet, limit: int) -> None:
    if len(packet.payload) > limit or not 0 <= packet.type <= _MAX_TYPE:
        raise FrameError(f"message type {packet.type} of {len(packet.payload)} bytes cannot be "
                         f"sent (limit {limit})", code="esphome_message_too_large")


def _noise_frame(data: bytes) -> bytes:
    return b"\x01" + len(data).to_bytes(2, "big") + data


def _reject(reason: str) -> bytes:
    return _noise_frame(b"\x01" + reason.encode())


def _bad_indicator(byte: int, handshaking: bool) -> FrameError:
    reply = _reject("Bad indicator byte") if handshaking else b""
    if byte == 0x00 and handshaking:
        return FrameError("a plaintext client (it has no encryption key, this device has one)",
                          reply=reply, code="esphome_needs_encryption")
    return FrameError(f"indicator byte 0x{byte:02x}, not 0x01: not the encrypted ESPHome API",
                      reply=reply)


class NoiseCodec:
    """The Noise responder: hello, handshake, then encrypted packets."""

    _HELLO, _HANDSHAKE, _DATA, _FAILED = range(4)

    def __init__(self, psk: bytes, *, name: str, mac: str) -> None:
        hello = b"\x01" + name.encode() + b"\x00" + mac.encode() + b"\x00"
        self._server_hello = _noise_frame(hello)
        self._noise = NoiseConnection.from_name(NOISE_PROTOCOL)
        self._noise.set_as_responder()
        self._noise.set_psks(psk)
        self._state = self._HELLO
        self._buf = _Buffer()
        self._error: FrameError | None = None

    @property
    def ready(self) -> bool:
        return self._state == self._DATA

    def feed(self, data: bytes) -> Decoded:
        if self._error is not None:
            return Decoded(error=self._error)
        self._buf.add(data)
        packets: list[Packet] = []
        reply = bytearray()
        try:
            while (frame := self._next()) is not None:
                if self._state == self._DATA:
                    packets.append(self._open(frame))
                else:
                    reply += self._handshake_step(frame)
        except FrameError as err:
            self._error = err
            self._state = self._FAILED
            self._buf.clear()
            return Decoded(tuple(packets), bytes(reply + err.reply), err)
        return Decoded(tuple(packets), bytes(reply))

    def _next(self) -> bytes | None:
        buf, pos = self._buf.data, self._buf.pos
        if len(buf) - pos < 3:
            return None
        handshaking = self._state != self._DATA
        if buf[pos] != 0x01:
            raise _bad_indicator(buf[pos], handshaking)
        size = int.from_bytes(buf[pos + 1:pos + 3], "big")
        if handshaking and size > MAX_HANDSHAKE_FRAME_BYTES:
            raise FrameError(f"handshake frame of {size} bytes, over the "
                             f"{MAX_HANDSHAKE_FRAME_BYTES}-byte limit",
                             reply=_reject("Bad handshake packet len"))
        if len(buf) - pos - 3 < size:
            return None
        self._buf.pos = pos + 3 + size
        return bytes(buf[pos + 3:pos + 3 + size])

    def _handshake_step(self, frame: bytes) -> bytes:
        if self._state == self._HELLO:
            self._start(frame)
            self._state = self._HANDSHAKE
            return self._server_hello
        answer = self._answer(frame)
        self._state = self._DATA
        return answer

    def _start(self, client_hello: bytes) -> None:
        size = len(client_hello).to_bytes(2, "big")
        self._noise.set_prologue(NOISE_PROLOGUE + size + client_hello)
        self._noise.start_handshake()

    def _answer(self, frame: bytes) -> bytes:
        if not frame:
            raise FrameError("empty handshake message", reply=_reject("Empty handshake message"))
        if frame[0] != 0x00:
            raise FrameError(f"handshake error byte 0x{frame[0]:02x}",
                             reply=_reject("Bad handshake error byte"))
        try:
            self._noise.read_message(frame[1:])
        except InvalidTag as err:
            raise FrameError("the client's encryption key is not this device's",
                             reply=_reject("Handshake MAC failure"),
                             code="esphome_wrong_key") from err
        except Exception as err:  # the noise library raises plain exceptions of its own
            raise FrameError(f"handshake failed: {err}", reply=_reject("Handshake error")) from err
        return _noise_frame(b"\x00" + bytes(self._noise.write_message()))

    def _open(self, frame: bytes) -> Packet:
        try:
            message: bytes = self._noise.decrypt(frame)
        except Exception as err:  # InvalidTag, or a frame too short to hold a tag
            raise FrameError("a frame that does not decrypt") from err
        if len(message) < 4:
            raise FrameError(f"decrypted message of {len(message)} bytes, under 4")
        size = int.from_bytes(message[2:4], "big")
        if size > len(message) - 4:
            raise FrameError(f"payload length {size} over the {len(message) - 4} bytes sent")
        return Packet(int.from_bytes(message[0:2], "big"), bytes(message[4:4 + size]))

    def encode(self, packets: Iterable[Packet]) -> bytes:
        if not self.ready:
            raise FrameError("no message can be sent before the handshake",
                             code="esphome_handshake_incomplete")
        out = bytearray()
        for packet in packets:
            _check_size(packet, MAX_FRAME_BYTES - 4 - _MAC_BYTES)
            head = packet.type.to_bytes(2, "big") + len(packet.payload).to_bytes(2, "big")
            out += _noise_frame(self._noise.encrypt(head + packet.payload))
        return bytes(out)
