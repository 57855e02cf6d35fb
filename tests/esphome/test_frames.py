"""The framing, without sockets: frames made by aioesphomeapi's own encoders (plaintext, and Noise
with its cipher wrappers) decode here, whole or cut anywhere; what we encode is what it makes;
garbage and bounds give a FrameError and the bytes an ESPHome device would answer."""

from __future__ import annotations

from typing import Any

import pytest
from aioesphomeapi._frame_helper.noise import make_noise_packets
from aioesphomeapi._frame_helper.noise_encryption import (
    ESPHOME_NOISE_BACKEND,
    NOISE_PROTOCOL_NAME,
    DecryptCipher,
    EncryptCipher,
)
from aioesphomeapi._frame_helper.packets import make_plain_text_packets
from hypothesis import given
from hypothesis import strategies as st
from noise.connection import NoiseConnection  # type: ignore[import-untyped, unused-ignore]

from appliance.esphome.frames import (
    MAX_FRAME_BYTES,
    Decoded,
    FrameError,
    NoiseCodec,
    Packet,
    PlaintextCodec,
    varint,
)

PSK = bytes(range(32))
CLIENT_HELLO = b"\x01\x00\x00"  # aioesphomeapi's: an empty hello frame
packet_lists = st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=300)), max_size=8)
cut_lists = st.lists(st.integers(0, 4000), max_size=12)


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def feed_all(codec: PlaintextCodec | NoiseCodec, chunks: list[bytes]) -> Decoded:
    """Feed chunk by chunk; the packets and replies joined, the first error."""
    packets: list[Packet] = []
    reply = bytearray()
    for chunk in chunks:
        decoded = codec.feed(chunk)
        packets += decoded.packets
        reply += decoded.reply
        if decoded.error is not None:
            return Decoded(tuple(packets), bytes(reply), decoded.error)
    return Decoded(tuple(packets), bytes(reply))


def outcome(decoded: Decoded) -> tuple[Any, ...]:
    err = decoded.error
    return decoded.packets, decoded.reply, err and (err.code, err.message, err.reply)


def noise_frame(data: bytes) -> bytes:
    return b"\x01" + len(data).to_bytes(2, "big") + data


def split_frames(data: bytes) -> list[bytes]:
    frames = []
    while data:
        size = int.from_bytes(data[1:3], "big")
        frames.append(data[3:3 + size])
        data = data[3 + size:]
    return frames


# -- plaintext ----------------------------------------------------------------------------------

@given(packet_lists, cut_lists)
def test_the_librarys_plaintext_frames_decode_whole_or_cut_anywhere(
        packets: list[tuple[int, bytes]], cuts: list[int]) -> None:
    data = b"".join(make_plain_text_packets(packets))
    expected = tuple(Packet(t, p) for t, p in packets)
    assert outcome(PlaintextCodec().feed(data)) == (expected, b"", None)
    assert outcome(feed_all(PlaintextCodec(), pieces(data, cuts))) == (expected, b"", None)


@given(packet_lists)
def test_what_we_encode_is_what_the_library_encodes(packets: list[tuple[int, bytes]]) -> None:
    ours = PlaintextCodec().encode(Packet(t, p) for t, p in packets)
    assert ours == b"".join(make_plain_text_packets(packets))


@given(st.binary(max_size=600), cut_lists)
def test_any_bytes_decode_the_same_whole_or_cut_anywhere(data: bytes, cuts: list[int]) -> None:
    whole = outcome(PlaintextCodec().feed(data))
    assert outcome(feed_all(PlaintextCodec(), pieces(data, cuts))) == whole


def test_an_encrypting_client_is_answered_as_a_plaintext_device_answers_it() -> None:
    decoded = PlaintextCodec().feed(CLIENT_HELLO + noise_frame(b"\x00" + bytes(48)))
    assert decoded.error is not None and decoded.error.code == "esphome_unexpected_encryption"
    assert decoded.reply == b"\x00Bad indicator byte"


@pytest.mark.parametrize(("data", "words"), [
    (b"\x00" + varint(MAX_FRAME_BYTES + 1) + b"\x01", "over the 65535-byte limit"),
    (b"\x00\xff\xff\xff\x01", "varint longer than 3 bytes"),
    (b"\x00\x00\xff\xff\xff\x01", "varint longer than 3 bytes"),
    (b"\x07\x00\x01", "indicator byte 0x07"),
])
def test_a_bound_or_garbage_is_an_error_before_the_rest_arrives(data: bytes, words: str) -> None:
    codec = PlaintextCodec()
    decoded = codec.feed(data)  # the frame's payload has not come: no need to wait for it
    assert decoded.error is not None and words in decoded.error.message
    assert decoded.error.code == "esphome_bad_frame"
    assert codec.feed(b"\x00\x00\x07") == Decoded(error=decoded.error)  # nothing after it


def test_the_largest_frame_decodes_and_a_larger_message_is_not_sent() -> None:
    payload = bytes(MAX_FRAME_BYTES)
    codec = PlaintextCodec()
    assert codec.feed(codec.encode([Packet(44, payload)])).packets == (Packet(44, payload),)
    with pytest.raises(FrameError) as caught:
        codec.encode([Packet(44, payload + b"\x00")])
    assert caught.value.code == "esphome_message_too_large"


# -- Noise --------------------------------------------------------------------------------------

class Initiator:
    """aioesphomeapi's side of the handshake (its backend, protocol and prologue), by hand."""

    def __init__(self, psk: bytes = PSK) -> None:
        self.noise = NoiseConnection.from_name(NOISE_PROTOCOL_NAME, backend=ESPHOME_NOISE_BACKEND)
        self.noise.set_as_initiator()
        self.noise.set_psks(psk)
        self.noise.set_prologue(b"NoiseAPIInit\x00\x00")
        self.noise.start_handshake()

    def opening(self) -> bytes:
        return CLIENT_HELLO + noise_frame(b"\x00" + bytes(self.noise.write_message()))

    def finish(self, reply: bytes) -> bytes:
        """Read the server's hello and handshake frames; the server hello is returned."""
        hello, handshake = split_frames(reply)
        assert handshake[0] == 0x00
        self.noise.read_message(handshake[1:])
        state = self.noise.noise_protocol
        self.encrypt = EncryptCipher(state.cipher_state_encrypt)
        self.decrypt = DecryptCipher(state.cipher_state_decrypt)
        return hello


def responder() -> NoiseCodec:
    return NoiseCodec(PSK, name="test-speaker", mac="020000aabbcc")


@given(packet_lists, cut_lists, cut_lists)
def test_a_noise_session_works_with_its_bytes_cut_anywhere(
        packets: list[tuple[int, bytes]], cuts: list[int], more_cuts: list[int]) -> None:
    client, server = Initiator(), responder()
    shaken = feed_all(server, pieces(client.opening(), cuts))
    assert shaken.error is None and shaken.packets == ()
    assert client.finish(shaken.reply) == b"\x01test-speaker\x00020000aabbcc\x00"
    assert server.ready
    data = b"".join(make_noise_packets(packets, client.encrypt))
    decoded = feed_all(server, pieces(data, more_cuts))
    assert outcome(decoded) == (tuple(Packet(t, p) for t, p in packets), b"", None)


def test_what_we_encrypt_the_library_decrypts() -> None:
    client, server = Initiator(), responder()
    client.finish(server.feed(client.opening()).reply)
    frames = split_frames(server.encode([Packet(10, b"device info"), Packet(8, b"")]))
    assert [client.decrypt.decrypt(f) for f in frames] == [
        b"\x00\x0a\x00\x0bdevice info", b"\x00\x08\x00\x00"]


def test_a_wrong_key_is_answered_handshake_mac_failure() -> None:
    decoded = responder().feed(Initiator(bytes(32)).opening())
    assert decoded.error is not None and decoded.error.code == "esphome_wrong_key"
    assert split_frames(decoded.reply)[-1] == b"\x01Handshake MAC failure"


@pytest.mark.parametrize(("data", "reason", "code"), [
    (b"\x00\x00\x01", "Bad indicator byte", "esphome_needs_encryption"),  # a plaintext hello
    (noise_frame(bytes(129)), "Bad handshake packet len", "esphome_bad_frame"),
    (CLIENT_HELLO + noise_frame(b""), "Empty handshake message", "esphome_bad_frame"),
    (CLIENT_HELLO + noise_frame(b"\x01" + bytes(48)), "Bad handshake error byte",
     "esphome_bad_frame"),
    (CLIENT_HELLO + noise_frame(b"\x00\x01\x02"), "Handshake error", "esphome_bad_frame"),
])
def test_a_failed_handshake_is_answered_with_esphomes_reason(
        data: bytes, reason: str, code: str) -> None:
    decoded = responder().feed(data)
    assert decoded.error is not None and decoded.error.code == code
    assert split_frames(decoded.reply)[-1] == b"\x01" + reason.encode()


@pytest.mark.parametrize(("mangle", "words"), [
    (lambda f: f[:-1] + bytes([f[-1] ^ 1]), "does not decrypt"),
    (lambda f: b"\x00" + f[1:], "not 0x01"),
])
def test_a_bad_data_frame_closes_without_a_reply(mangle: Any, words: str) -> None:
    client, server = Initiator(), responder()
    client.finish(server.feed(client.opening()).reply)
    [header, body] = make_noise_packets([(7, b"")], client.encrypt)
    decoded = server.feed(mangle(header + body))
    assert decoded.error is not None and words in decoded.error.message
    assert decoded.reply == b""


def test_a_short_or_lying_message_inside_the_encryption_is_an_error() -> None:
    client, server = Initiator(), responder()
    client.finish(server.feed(client.opening()).reply)
    short = noise_frame(client.encrypt.encrypt(b"\x00\x07"))
    assert "under 4" in str(server.feed(short).error)
    client2, server2 = Initiator(), responder()
    client2.finish(server2.feed(client2.opening()).reply)
    lying = noise_frame(client2.encrypt.encrypt(b"\x00\x07\x00\x09abc"))
    assert "over the 3 bytes sent" in str(server2.feed(lying).error)


def test_a_truncated_frame_waits_and_nothing_is_sent_before_the_handshake() -> None:
    server = responder()
    assert server.feed(CLIENT_HELLO + b"\x01\x00\x31\x00" + bytes(20)) == Decoded(
        reply=noise_frame(b"\x01test-speaker\x00020000aabbcc\x00"))
    with pytest.raises(FrameError) as caught:
        server.encode([Packet(7, b"")])
    assert caught.value.code == "esphome_handshake_incomplete"
