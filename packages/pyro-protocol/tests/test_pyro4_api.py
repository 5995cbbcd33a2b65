"""Pyro4 4.82's spellings on our codec: SerializerBase's serializeData/serializeCall family and
the Message class's own methods, checked against what genuine Pyro4 makes of the same bytes."""

from __future__ import annotations

import pytest

from pyro_protocol import message, serializers
from pyro_protocol.decoder import MessageDecoder
from pyro_protocol.message import Message

NAMES = ["serpent", "json", "marshal", "msgpack", "pickle"]
DATA = {"numbers": list(range(100)), "text": "pyro " * 80}


@pytest.mark.parametrize("name", NAMES)
def test_serialize_data_and_call_round_trip_with_compression(name):
    serializer = serializers.get_serializer(name)
    packed, compressed = serializer.serializeData(DATA, compress=True)
    assert compressed and len(packed) < len(serializer.dumps(DATA))
    assert serializer.deserializeData(packed, compressed=True) == DATA
    plain, compressed = serializer.serializeData("tiny", compress=True)
    assert not compressed and serializer.deserializeData(plain) == "tiny"  # under 200 bytes: left as it is
    packed, compressed = serializer.serializeCall("obj", "method", (DATA,), {"key": 1}, compress=True)
    assert compressed
    obj, method, vargs, kwargs = serializer.deserializeCall(packed, compressed=True)
    assert (obj, method, list(vargs), kwargs) == ("obj", "method", [DATA], {"key": 1})


@pytest.mark.parametrize("name", ["serpent", "json", "marshal"])
def test_genuine_pyro4_reads_what_serialize_call_writes(name):
    pyro4_util = pytest.importorskip("Pyro4.util")  # genuine Pyro4 only in the main test environment
    ours = serializers.get_serializer(name)
    theirs = pyro4_util.get_serializer(name)
    packed, compressed = ours.serializeCall("obj", "method", (DATA,), {}, compress=True)
    obj, method, vargs, _kwargs = theirs.deserializeCall(packed, compressed=compressed)
    assert (obj, method, list(vargs)) == ("obj", "method", [DATA])
    packed, compressed = theirs.serializeData(DATA, compress=True)
    assert ours.deserializeData(packed, compressed=compressed) == DATA


def test_registries_are_reachable_from_the_class():
    class Point:
        def __init__(self, x):
            self.x = x

    base = serializers.SerializerBase
    base.register_class_to_dict(Point, lambda p: {"__class__": "test.Point", "x": p.x})
    base.register_dict_to_class("test.Point", lambda name, d: Point(d["x"]))
    try:
        for name in ("serpent", "json", "msgpack"):
            serializer = serializers.get_serializer(name)
            assert serializer.loads(serializer.dumps(Point(7))).x == 7
        assert base.class_to_dict(Point(3)) == {"__class__": "test.Point", "x": 3}
        assert base.dict_to_class({"__class__": "test.Point", "x": 4}).x == 4
    finally:
        base.unregister_class_to_dict(Point)
        base.unregister_dict_to_class("test.Point")


def test_message_to_bytes_is_what_encode_writes_and_decodes_back():
    msg = Message(message.MSG_INVOKE, b"payload", 1, message.FLAGS_ONEWAY, 7, {"XTRA": b"value"})
    wire = msg.to_bytes()
    assert wire == b"".join(
        message.encode(message.MSG_INVOKE, b"payload", 1, message.FLAGS_ONEWAY, 7, {"XTRA": b"value"})
    )
    (decoded,) = MessageDecoder().feed(wire)
    assert (decoded.type, decoded.data, decoded.seq, decoded.annotations) == (4, b"payload", 7, {"XTRA": b"value"})
    assert msg.data_size == 7 and msg.annotations_size == 6 + 5


def test_message_with_hmac_key_signs_and_from_header_reads_the_fields():
    msg = Message(message.MSG_RESULT, b"data", 2, 0, 9, hmac_key=b"secret")
    wire = msg.to_bytes()
    (decoded,) = MessageDecoder(hmac_key=b"secret").feed(wire)
    assert decoded.annotations["HMAC"] == msg.hmac()
    assert msg.annotations_size == 26  # the 20-byte HMAC chunk is counted, as Pyro4 does
    head = Message.from_header(wire[: message.HEADER_SIZE])
    assert (head.type, head.serializer_id, head.seq, head.data) == (message.MSG_RESULT, 2, 9, b"")
    with pytest.raises(message.ProtocolError):
        Message.from_header(b"PYRO" + bytes(20))


def test_genuine_pyro4_reads_our_message_bytes():
    pyro4_message = pytest.importorskip("Pyro4.message")
    wire = Message(message.MSG_INVOKE, b"abc", 3, 0, 5, {"CORR": bytes(16)}).to_bytes()
    theirs = pyro4_message.Message.from_header(wire[:24])
    assert (theirs.type, theirs.seq, theirs.data_size, theirs.annotations_size) == (4, 5, 3, 22)


def test_type_replacement_refuses_what_is_not_a_class_and_type_itself():
    for wrong in (type, 42, "str"):
        with pytest.raises(ValueError, match="a type replacement needs a class other than 'type' itself"):
            serializers.SerializerBase.register_type_replacement(wrong, lambda obj: obj)
