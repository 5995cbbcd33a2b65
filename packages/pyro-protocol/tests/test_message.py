"""The message codec: header rules, annotations, compression, HMAC, the incremental decoder."""

from __future__ import annotations

import json
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from pyro_protocol import message
from pyro_protocol.decoder import MessageDecoder, iter_messages
from pyro_protocol.errors import MessageTooLargeError, ProtocolError, SecurityError
from pyro_protocol.message import encode, parse_header


def _head_and_body(frames):
    """A message's frames as (header with annotations, payload)."""
    data = b"".join(frames)
    size = 24 + int.from_bytes(data[18:20], "big")
    return data[:size], data[size:]


VECTOR_DIR = Path(__file__).parent / "data" / "pyro4-vectors"
HMAC_KEY = b"secretkey"


def _vector_bytes() -> list[tuple[str, bytes]]:
    found = []
    for path in sorted(VECTOR_DIR.glob("*.json")):
        if path.name != "broadcast.json":
            found.extend((item["name"], bytes.fromhex(item["hex"])) for item in json.loads(path.read_text("utf-8")))
    return found


VECTORS = _vector_bytes()
HEADER = struct.Struct("!4sHHHHiHHHH")


def raw_header(
    msg_type=4,
    flags=0,
    seq=0,
    data_size=0,
    ser_id=1,
    ann_size=0,
    *,
    magic=b"PYRO",
    version=48,
    reserved=0,
    checksum=None,
) -> bytes:
    """A header built by hand, independent of message.encode."""
    if checksum is None:
        checksum = (msg_type + version + data_size + ann_size + ser_id + flags + seq + 0x34E9) & 0xFFFF
    return HEADER.pack(magic, version, msg_type, flags, seq, data_size, ser_id, ann_size, reserved, checksum)


# -- header layout -----------------------------------------------------------------------


def test_worked_example_of_the_spec():
    header = bytes.fromhex("5059524f 0030 0001 0010 0000 00000047 0001 0000 0000 3572".replace(" ", ""))
    parsed = parse_header(header)
    assert (parsed.type, parsed.flags, parsed.seq, parsed.data_size, parsed.serializer_id, parsed.annotations_size) == (
        message.MSG_CONNECT,
        message.FLAGS_META_ON_CONNECT,
        0,
        71,
        1,
        0,
    )
    head, _ = _head_and_body(encode(message.MSG_CONNECT, b"x" * 71, 1, message.FLAGS_META_ON_CONNECT, 0))
    assert head == header


def test_encode_layout_field_by_field():
    head, body = _head_and_body(
        encode(message.MSG_RESULT, b"payload", 6, 0x21, 513, {"CORR": b"\x01" * 16, "ABCD": b""})
    )
    assert head[:4] == b"PYRO"
    assert head[4:6] == b"\x00\x30"
    assert head[6:8] == b"\x00\x05"
    assert head[8:10] == b"\x00\x21"
    assert head[10:12] == b"\x02\x01"
    assert head[12:16] == b"\x00\x00\x00\x07"
    assert head[16:18] == b"\x00\x06"
    assert head[18:20] == struct.pack("!H", 22 + 6)
    assert head[20:22] == b"\x00\x00"
    assert head[22:24] == struct.pack("!H", (5 + 48 + 7 + 28 + 6 + 0x21 + 513 + 0x34E9) & 0xFFFF)
    assert head[24:] == b"CORR\x00\x10" + b"\x01" * 16 + b"ABCD\x00\x00"
    assert body == b"payload"


def test_constants_match_the_spec():
    assert (message.MSG_CONNECT, message.MSG_CONNECTOK, message.MSG_CONNECTFAIL) == (1, 2, 3)
    assert (message.MSG_INVOKE, message.MSG_RESULT, message.MSG_PING) == (4, 5, 6)
    assert [
        message.FLAGS_EXCEPTION,
        message.FLAGS_COMPRESSED,
        message.FLAGS_ONEWAY,
        message.FLAGS_BATCH,
        message.FLAGS_META_ON_CONNECT,
        message.FLAGS_ITEMSTREAMRESULT,
        message.FLAGS_KEEPSERIALIZED,
    ] == [1, 2, 4, 8, 16, 32, 64]
    assert message.HEADER_SIZE == 24
    assert message.SERIALIZER_ID_PING == 42


def test_checksum_wraps_at_16_bits():
    header = raw_header(msg_type=5, flags=0xFFFF, seq=0xFFFF, data_size=2**31 - 1, ser_id=0xFFFF, ann_size=0xFFFF)
    parsed = parse_header(header)
    assert parsed.data_size == 2**31 - 1


def test_reserved_field_is_not_checked():
    parsed = parse_header(raw_header(reserved=0xBEEF, data_size=3))
    assert parsed.data_size == 3


@pytest.mark.parametrize(
    "header, match",
    [
        (raw_header(magic=b"PYRX"), "bad magic"),
        (raw_header(magic=b"\x00\x00\x00\x00"), "invalid data or unsupported protocol version"),
        (raw_header(version=47), "invalid data or unsupported protocol version: version 47"),
        (raw_header(version=502), "version 502"),
        (raw_header(checksum=0), "header checksum mismatch"),
        (raw_header(msg_type=0), "invalid msg type 0 received"),
        (raw_header(msg_type=7), "invalid msg type 7 received"),
        (raw_header(data_size=-1), "invalid data size -1"),
    ],
)
def test_bad_headers_are_refused(header, match):
    with pytest.raises(ProtocolError, match=match):
        parse_header(header)
    with pytest.raises(ProtocolError, match=match):
        MessageDecoder().feed(header)


def test_header_must_be_24_bytes():
    with pytest.raises(ProtocolError, match="header must be 24 bytes, got 23"):
        parse_header(raw_header()[:23])


def test_max_message_size_counts_data_and_annotations():
    assert parse_header(raw_header(data_size=60, ann_size=40), max_message_size=100).body_size == 100
    with pytest.raises(MessageTooLargeError, match=r"max message size exceeded \(101 where max=100\)"):
        parse_header(raw_header(data_size=61, ann_size=40), max_message_size=100)


def test_message_too_large_is_a_protocol_error():
    assert issubclass(MessageTooLargeError, ProtocolError)


# -- encode ------------------------------------------------------------------------------


def test_encode_refuses_bad_annotation_keys():
    with pytest.raises(ProtocolError, match="annotation key must be of length 4"):
        encode(4, b"", 1, annotations={"ABC": b""})
    with pytest.raises(ProtocolError, match="annotation key must be of length 4"):
        encode(4, b"", 1, annotations={"ABCDE": b""})
    with pytest.raises(ProtocolError, match="4 ASCII characters"):
        encode(4, b"", 1, annotations={"ABC\u00e9": b""})


def test_encode_refuses_too_large_annotations():
    with pytest.raises(ProtocolError, match="at most 65535 fit"):
        encode(4, b"", 1, annotations={"BIGG": bytes(65536)})
    assert len(encode(4, b"", 1, annotations={"BIGG": bytes(65535 - 6)})[0]) == 24 + 65535
    with pytest.raises(ProtocolError, match="annotations take 65541 bytes"):
        encode(4, b"", 1, annotations={"BIG1": bytes(65529), "BIG2": b""})


@pytest.mark.parametrize("field", ["msg_type", "flags", "seq", "serializer_id"])
def test_encode_refuses_header_fields_out_of_range(field):
    values = {"msg_type": 4, "flags": 0, "seq": 0, "serializer_id": 1}
    values[field] = 65536
    with pytest.raises(ProtocolError, match=f"{field} 65536 does not fit"):
        encode(values["msg_type"], b"", values["serializer_id"], values["flags"], values["seq"])
    values[field] = -1
    with pytest.raises(ProtocolError, match=f"{field} -1 does not fit"):
        encode(values["msg_type"], b"", values["serializer_id"], values["flags"], values["seq"])


def test_encode_refuses_payload_beyond_signed_32_bits(monkeypatch):
    monkeypatch.setattr(message, "MAX_DATA_SIZE", 10)
    with pytest.raises(ProtocolError, match="payload of 11 bytes does not fit a message"):
        encode(4, b"x" * 11, 1)


def test_encode_respects_max_message_size():
    encode(4, b"x" * 78, 1, annotations={"CORR": b"12345678"}, max_message_size=92)
    with pytest.raises(MessageTooLargeError, match=r"max message size exceeded \(93 where max=92\)"):
        encode(4, b"x" * 79, 1, annotations={"CORR": b"12345678"}, max_message_size=92)


def test_encode_without_annotations_gives_bare_header():
    head, body = _head_and_body(encode(message.MSG_PING, b"ping", 42))
    assert len(head) == 24
    assert body == b"ping"
    assert head + body == encode(message.MSG_PING, b"ping", 42, annotations={})[0]


# -- compression ---------------------------------------------------------------------------


def test_compression_applies_from_200_bytes_when_smaller():
    small = b"a" * 199
    head, body = _head_and_body(encode(4, small, 1, compress=True))
    assert body == small
    assert not parse_header(head).flags & message.FLAGS_COMPRESSED
    big = b"a" * 200
    head, body = _head_and_body(encode(4, big, 1, compress=True))
    assert parse_header(head).flags & message.FLAGS_COMPRESSED
    assert body == zlib.compress(big)
    assert parse_header(head).data_size == len(body)


def test_incompressible_payload_is_sent_as_is():
    noise = bytes(range(256)) + zlib.compress(bytes(range(256)) * 3)
    payload = zlib.compress(noise)  # compressed data does not compress again
    head, body = _head_and_body(encode(4, payload, 1, compress=True))
    assert body == payload
    assert not parse_header(head).flags & message.FLAGS_COMPRESSED


def test_compressed_message_decodes_to_original():
    data = b"hello world " * 100
    wire = b"".join(encode(4, data, 1, compress=True))
    (msg,) = MessageDecoder().feed(wire)
    assert msg.data == data
    assert msg.flags & message.FLAGS_COMPRESSED
    assert len(wire) < len(data)


def test_any_zlib_stream_is_accepted():
    data = b"level nine " * 50
    packed = zlib.compress(data, 9)
    (msg,) = MessageDecoder().feed(b"".join(encode(5, packed, 1, message.FLAGS_COMPRESSED)))
    assert msg.data == data


@pytest.mark.parametrize("payload", [b"", b"not zlib at all", zlib.compress(b"x" * 1000)[:-5]])
def test_bad_compressed_payload_is_a_protocol_error(payload):
    with pytest.raises(ProtocolError, match="invalid compressed payload"):
        MessageDecoder().feed(b"".join(encode(5, payload, 1, message.FLAGS_COMPRESSED)))


def test_inflate_limit_is_exact():
    packed = zlib.compress(bytes(1000))
    assert message.inflate(packed, 1000) == bytes(1000)
    with pytest.raises(MessageTooLargeError, match="inflates past the limit of 999 bytes"):
        message.inflate(packed, 999)


def test_compression_happens_before_hmac():
    data = b"z" * 500
    wire = b"".join(encode(4, data, 1, annotations={"CORR": b"c" * 16}, compress=True, hmac_key=HMAC_KEY))
    header = parse_header(wire[:24])
    ann_end = 24 + header.annotations_size
    annotations = message.parse_annotations(wire[24:ann_end])
    assert list(annotations) == ["CORR", "HMAC"]
    assert annotations["HMAC"] == message.hmac_digest(HMAC_KEY, wire[ann_end:], {"CORR": b"c" * 16})
    (msg,) = MessageDecoder(hmac_key=HMAC_KEY).feed(wire)
    assert msg.data == data


def _zlib_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9)
    chunk = bytes(1024 * 1024)
    parts = [packer.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def zlib_bomb() -> bytes:
    """50 MiB of zeros, zlib-compressed to about 50 KiB."""
    return _zlib_bomb(50 * 1024 * 1024)


@pytest.mark.parametrize("options", [{"max_message_size": 1024 * 1024}, {"max_inflated_size": 1024 * 1024}])
def test_zlib_bomb_is_refused_without_spending_memory(zlib_bomb, options):
    assert len(zlib_bomb) < 100 * 1024
    wire = b"".join(encode(5, zlib_bomb, 1, message.FLAGS_COMPRESSED))
    decoder = MessageDecoder(**options)
    tracemalloc.start()
    try:
        with pytest.raises(MessageTooLargeError, match="inflates past the limit of 1048576 bytes"):
            decoder.feed(wire)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while refusing a 50 MiB bomb"


def test_default_inflate_cap_applies_without_limits(monkeypatch):
    monkeypatch.setattr(message, "DEFAULT_MAX_INFLATED_SIZE", 4096)
    wire = b"".join(encode(5, zlib.compress(bytes(4097)), 1, message.FLAGS_COMPRESSED))
    header = parse_header(wire[:24])
    with pytest.raises(MessageTooLargeError):
        message.finish_message(header, b"", wire[24:], max_inflated_size=message.DEFAULT_MAX_INFLATED_SIZE)
    with pytest.raises(MessageTooLargeError):
        MessageDecoder().feed(wire)


# -- HMAC and annotations ------------------------------------------------------------------


def test_hmac_digest_sorts_annotation_values_and_skips_hmac():
    import hashlib
    import hmac

    annotations = {"ZZZZ": b"z", "AAAA": b"a", "HMAC": b"ignored", "MMMM": b"m"}
    expected = hmac.new(HMAC_KEY, b"data" + b"a" + b"m" + b"z", hashlib.sha1).digest()
    assert message.hmac_digest(HMAC_KEY, b"data", annotations) == expected


def test_hmac_replaces_a_given_hmac_annotation():
    wire = b"".join(encode(4, b"x", 1, annotations={"HMAC": b"stale", "CORR": b"c"}, hmac_key=HMAC_KEY))
    (msg,) = MessageDecoder(hmac_key=HMAC_KEY).feed(wire)
    assert list(msg.annotations) == ["CORR", "HMAC"]
    assert len(msg.annotations["HMAC"]) == 20


def test_hmac_does_not_cover_the_header():
    wire = bytearray(b"".join(encode(4, b"x", 1, seq=1, hmac_key=HMAC_KEY)))
    wire[11] = 2  # seq 1 -> 2, and fix the checksum: still accepted (Pyro4's rule)
    wire[22:24] = (int.from_bytes(wire[22:24], "big") + 1).to_bytes(2, "big")
    (msg,) = MessageDecoder(hmac_key=HMAC_KEY).feed(bytes(wire))
    assert msg.seq == 2


def test_annotations_repeated_key_last_wins():
    blob = b"ABCD\x00\x01x" + b"ABCD\x00\x01y"
    assert message.parse_annotations(blob) == {"ABCD": b"y"}


@pytest.mark.parametrize(
    "blob, match",
    [
        (b"ABC", "chunk header truncated at offset 0"),
        (b"ABCD\x00\x01xAB", "chunk header truncated at offset 7"),
        (b"ABCD\x00\x05xy", "overruns the annotations block"),
        (b"AB\xffD\x00\x00", "is not ASCII"),
    ],
)
def test_malformed_annotations_are_protocol_errors(blob, match):
    with pytest.raises(ProtocolError, match=match):
        message.parse_annotations(blob)
    wire = raw_header(ann_size=len(blob)) + blob
    with pytest.raises(ProtocolError, match=match):
        MessageDecoder().feed(wire)


# -- the incremental decoder -------------------------------------------------------------


def test_decoder_state_while_feeding():
    wire = b"".join(encode(4, b"0123456789", 1, annotations={"CORR": b"c" * 16}))
    decoder = MessageDecoder()
    assert (decoder.in_message, decoder.wanted, decoder.buffered) == (False, 24, 0)
    assert decoder.feed(wire[:10]) == []
    assert (decoder.in_message, decoder.wanted, decoder.buffered) == (True, 14, 10)
    assert decoder.feed(wire[10:24]) == []
    assert (decoder.wanted, decoder.buffered) == (22 + 10, 0)
    assert decoder.feed(wire[24:-1]) == []
    assert decoder.wanted == 1
    (msg,) = decoder.feed(wire[-1:])
    assert msg.data == b"0123456789"
    assert (decoder.in_message, decoder.wanted, decoder.buffered) == (False, 24, 0)


def test_decoder_refuses_oversize_header_before_the_body():
    decoder = MessageDecoder(max_message_size=1000)
    with pytest.raises(MessageTooLargeError):
        decoder.feed(raw_header(data_size=1001))


def test_decoder_is_unusable_after_an_error():
    decoder = MessageDecoder()
    with pytest.raises(ProtocolError, match="checksum"):
        decoder.feed(raw_header(checksum=1))
    with pytest.raises(ProtocolError, match="unusable after an earlier error: header checksum mismatch"):
        decoder.feed(b"".join(encode(6, b"ping", 42)))


def test_decoder_gives_messages_before_a_bad_one_only_up_to_the_error():
    good = b"".join(encode(6, b"ping", 42))
    decoder = MessageDecoder()
    assert len(decoder.feed(good)) == 1
    with pytest.raises(ProtocolError):
        decoder.feed(good + raw_header(msg_type=9))


def test_iter_messages_reports_a_truncated_stream():
    wire = b"".join(encode(6, b"ping", 42))
    assert len(iter_messages([wire, wire])) == 2
    with pytest.raises(ProtocolError, match=r"stream ends inside a message \(3 bytes left over\)"):
        iter_messages([wire, wire[:3]])


def test_message_repr_names_its_fields():
    text = repr(message.Message(5, b"abc", 1, 0x21, 7, {"STRM": b"x"}))
    assert text == "<Message type=5 flags=0x0021 seq=7 serializer=1 data=3B annotations=['STRM']>"


# -- properties ----------------------------------------------------------------------------

annotation_keys = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=4, max_size=4).filter(
    lambda key: key != "HMAC"
)
messages = st.fixed_dictionaries(
    {
        "msg_type": st.integers(1, 6),
        "flags": st.integers(0, 0xFFFF).map(lambda f: f & ~message.FLAGS_COMPRESSED),
        "seq": st.integers(0, 0xFFFF),
        "serializer_id": st.integers(0, 0xFFFF),
        "data": st.binary(max_size=600),
        "annotations": st.dictionaries(annotation_keys, st.binary(max_size=100), max_size=6),
    }
)


def wire_of(m: dict) -> bytes:
    return b"".join(encode(m["msg_type"], m["data"], m["serializer_id"], m["flags"], m["seq"], m["annotations"]))


def fields_of(msg: message.Message) -> dict:
    return {
        "msg_type": msg.type,
        "flags": msg.flags,
        "seq": msg.seq,
        "serializer_id": msg.serializer_id,
        "data": msg.data,
        "annotations": msg.annotations,
    }


@settings(max_examples=300, deadline=None)
@given(messages)
def test_any_message_round_trips(m):
    wire = wire_of(m)
    decoder = MessageDecoder()
    (msg,) = decoder.feed(wire)
    assert fields_of(msg) == m
    assert list(msg.annotations) == list(m["annotations"])
    assert decoder.buffered == 0 and not decoder.in_message  # the message used every byte


@settings(max_examples=100, deadline=None)
@given(messages, st.binary(min_size=1, max_size=32), st.booleans())
def test_any_message_round_trips_with_hmac_and_compression(m, key, compress):
    wire = b"".join(
        encode(
            m["msg_type"],
            m["data"],
            m["serializer_id"],
            m["flags"],
            m["seq"],
            m["annotations"],
            compress=compress,
            hmac_key=key,
        )
    )
    (msg,) = MessageDecoder(hmac_key=key).feed(wire)
    assert msg.data == m["data"]
    assert msg.flags & ~message.FLAGS_COMPRESSED == m["flags"]
    assert {k: v for k, v in msg.annotations.items() if k != "HMAC"} == m["annotations"]


@settings(max_examples=200, deadline=None)
@given(st.lists(messages, min_size=1, max_size=5), st.data())
def test_any_split_of_a_stream_decodes_the_same(batch, data):
    stream = b"".join(wire_of(m) for m in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    assert b"".join(chunks) == stream
    decoder = MessageDecoder()
    decoded = []
    for chunk in chunks:
        decoded.extend(decoder.feed(chunk))
    assert [fields_of(msg) for msg in decoded] == batch
    assert not decoder.in_message


@settings(max_examples=50, deadline=None)
@given(st.lists(messages, min_size=2, max_size=4))
def test_byte_by_byte_feeding_decodes_the_same(batch):
    stream = b"".join(wire_of(m) for m in batch)
    decoder = MessageDecoder()
    decoded = []
    for index in range(len(stream)):
        decoded.extend(decoder.feed(stream[index : index + 1]))
    assert [fields_of(msg) for msg in decoded] == batch


def feed_or_protocol_error(decoder: MessageDecoder, data: bytes) -> list[message.Message] | None:
    """Feed; a ProtocolError (or subclass) gives None, anything else propagates and fails the test."""
    try:
        return decoder.feed(data)
    except ProtocolError:
        return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
@example(b"PYRO\x00\x30" + bytes(18))
def test_random_bytes_give_only_protocol_errors(data):
    feed_or_protocol_error(MessageDecoder(), data)
    feed_or_protocol_error(MessageDecoder(max_message_size=100), data)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.integers(1, 6),
    st.binary(max_size=120),
    st.binary(max_size=120),
)
def test_valid_header_with_garbage_body_gives_only_protocol_errors(flags, seq, msg_type, blob, payload):
    wire = raw_header(msg_type, flags, seq, len(payload), 1, len(blob)) + blob + payload
    try:
        annotations = message.parse_annotations(blob)
    except ProtocolError:
        annotations = {}
    try:
        feed_or_protocol_error(MessageDecoder(), wire)
    except SecurityError:
        assert "HMAC" in annotations  # only an HMAC annotation without a key may cause it
    try:
        feed_or_protocol_error(MessageDecoder(hmac_key=b"k"), wire)
    except SecurityError:
        pass  # no valid HMAC is possible here: refusing it is right


@settings(max_examples=400, deadline=None)
@given(st.integers(0, len(VECTORS) - 1), st.data())
def test_single_byte_mutations_give_only_protocol_errors(index, data):
    name, raw = VECTORS[index]
    position = data.draw(st.integers(0, len(raw) - 1))
    value = data.draw(st.integers(0, 255))
    assume(raw[position] != value)
    mutated = raw[:position] + bytes([value]) + raw[position + 1 :]
    key = HMAC_KEY if "hmac" in name else None
    decoder = MessageDecoder(hmac_key=key)
    try:
        result = feed_or_protocol_error(decoder, mutated)
    except SecurityError:
        assert key is not None, f"SecurityError for non-HMAC vector {name}"
        return
    if result == []:
        assert decoder.in_message  # a larger size field: waiting for more bytes
    elif result is not None:
        assert len(result) == 1


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(VECTORS) - 1), st.data())
def test_truncated_messages_wait_for_more(index, data):
    name, raw = VECTORS[index]
    cut = data.draw(st.integers(0, len(raw) - 1))
    decoder = MessageDecoder(hmac_key=HMAC_KEY if "hmac" in name else None)
    assert decoder.feed(raw[:cut]) == []
    assert decoder.in_message == (cut > 0)
    assert decoder.buffered + (24 if cut >= 24 else 0) == cut
    assert len(decoder.feed(raw[cut:])) == 1


sizes = st.one_of(st.integers(1, 300), st.integers(1, 2**31 - 1))


@settings(max_examples=200, deadline=None)
@given(sizes, st.integers(0, 300), sizes)
@example(data_size=100, ann_size=0, limit=100)
@example(data_size=100, ann_size=1, limit=100)
def test_max_message_size_is_checked_on_the_header_alone(data_size, ann_size, limit):
    decoder = MessageDecoder(max_message_size=limit)
    header = raw_header(data_size=data_size, ann_size=ann_size)
    if data_size + ann_size > limit:
        with pytest.raises(MessageTooLargeError, match=f"where max={limit}"):
            decoder.feed(header)
    else:
        assert decoder.feed(header) == []
        assert decoder.wanted == data_size + ann_size


def test_decoder_memory_follows_bytes_received_not_the_header():
    decoder = MessageDecoder()
    tracemalloc.start()
    try:
        assert decoder.feed(raw_header(data_size=2**31 - 1) + b"x" * 100) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert decoder.wanted == 2**31 - 1 - 100
    assert peak < 1024 * 1024
