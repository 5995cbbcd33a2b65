"""Every captured Pyro4 4.82 message: decode, deserialize, re-encode, re-serialize."""

from __future__ import annotations

import datetime
import decimal
import json
import re
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import serpent

from pyro_protocol import URI, constants, message, serializers
from pyro_protocol.decoder import MessageDecoder, iter_messages
from pyro_protocol.errors import (
    ExceptionWrapper,
    ProtocolError,
    SecurityError,
    SerializeError,
)


def _head_and_body(frames):
    """A message's frames as (header with annotations, payload)."""
    data = b"".join(frames)
    size = 24 + int.from_bytes(data[18:20], "big")
    return data[:size], data[size:]


VECTOR_DIR = Path(__file__).parent / "data" / "pyro4-vectors"
HMAC_KEY = b"secretkey"
TYPE_NUMBERS = {"CONNECT": 1, "CONNECTOK": 2, "CONNECTFAIL": 3, "INVOKE": 4, "RESULT": 5, "PING": 6}


class Expected(NamedTuple):
    msg_type: int
    flags: int
    seq: int
    serializer_id: int
    data_size: int
    annotations_size: int
    checksum: int
    annotations: dict[str, bytes]
    body_text: str | None


class Vector(NamedTuple):
    file: str
    name: str
    description: str
    raw: bytes

    @property
    def id(self) -> str:
        return f"{self.file}:{self.name}"

    @property
    def uses_hmac(self) -> bool:
        return "hmac" in self.name

    def expected(self) -> Expected:
        """The header fields the description states ("Decoded: ...")."""
        decoded = self.description.split("Decoded: ", 1)[1]
        match = re.match(
            r"(\w+)\((\d+)\); flags=0x([0-9a-f]{4}) \([^)]*\); seq=(\d+); serializer=(\d+)[^;]*; "
            r"data_size=(\d+); annotations_size=(\d+); checksum=0x([0-9a-f]{4}); ",
            decoded,
        )
        assert match, self.description
        name, number, flags, seq, ser_id, data_size, ann_size, checksum = match.groups()
        assert TYPE_NUMBERS[name] == int(number)
        annotations: dict[str, bytes] = {}
        rest = decoded[match.end() :]
        if rest.startswith("annotations: "):
            for key, length, value in re.findall(r"(\w{4})\[(\d+)\]=([0-9a-f]*)", rest.split(";", 1)[0]):
                annotations[key] = bytes.fromhex(value)
                assert len(annotations[key]) == int(length)
        else:
            assert rest.startswith("no annotations")
        body_text = None
        if "; body text: " in rest:
            body_text = rest.split("; body text: ", 1)[1]
            # a note may follow the body: " Not sent at all with json (...): ..."
            body_text = re.sub(r" Not sent at all with \w+ \(.*$", "", body_text, flags=re.DOTALL)
            if body_text.endswith("(truncated in this description)"):
                body_text = None
        return Expected(
            int(number),
            int(flags, 16),
            int(seq),
            int(ser_id),
            int(data_size),
            int(ann_size),
            int(checksum, 16),
            annotations,
            body_text,
        )


def _load_vectors() -> list[Vector]:
    vectors = []
    for path in sorted(VECTOR_DIR.glob("*.json")):
        for item in json.loads(path.read_text("utf-8")):
            vectors.append(Vector(path.stem, item["name"], item["description"], bytes.fromhex(item["hex"])))
    return vectors


ALL_VECTORS = _load_vectors()
MESSAGES = [v for v in ALL_VECTORS if v.file != "broadcast"]
BROADCAST = {v.name: v for v in ALL_VECTORS if v.file == "broadcast"}
#: replies holding a Proxy; the Proxy converter is registered by pyro_client, not here
PROXY_REPLIES = {"result_autoproxy_serpent", "result_autoproxy_json", "result_autoproxy_msgpack"}
PROXY_URI = "PYRO:example.thing@127.0.0.1:47801"


class FakeProxy:
    """Stands in for pyro_client's Proxy."""

    def __init__(self, state: Any = None) -> None:
        self.state = state

    def __setstate__(self, state: Any) -> None:
        self.state = state


@pytest.fixture
def without_proxy_class(monkeypatch):
    """Hide the Proxy class that pyro_client registers when it is imported (it is, in a
    whole-repository test run); it is put back after the test."""
    monkeypatch.delitem(serializers._dict_to_class_registry, constants.WIRE_CLASS_PROXY, raising=False)
    monkeypatch.delitem(serializers._pickle_classes, ("Pyro4.core", "Proxy"), raising=False)


def by_name(file: str, name: str) -> Vector:
    (vector,) = [v for v in MESSAGES if v.file == file and v.name == name]
    return vector


def decode(vector: Vector) -> message.Message:
    decoder = MessageDecoder(hmac_key=HMAC_KEY if vector.uses_hmac else None)
    (msg,) = decoder.feed(vector.raw)
    assert not decoder.in_message
    return msg


def deserialize(msg: message.Message) -> Any:
    serializer = serializers.get_serializer_by_id(msg.serializer_id)
    if msg.type == message.MSG_INVOKE:
        return serializer.loadsCall(msg.data)
    return serializer.loads(msg.data)


def test_vector_files_are_all_there():
    files = {v.file for v in ALL_VECTORS}
    assert len(files) == 21
    assert len(MESSAGES) > 150
    assert set(BROADCAST) == {"broadcast_request", "broadcast_request_raw", "broadcast_reply"}


# -- framing ---------------------------------------------------------------------------


@pytest.mark.parametrize("vector", MESSAGES, ids=lambda v: v.id)
def test_decoder_gives_described_fields(vector):
    expected = vector.expected()
    msg = decode(vector)
    assert msg.type == expected.msg_type
    assert msg.flags == expected.flags
    assert msg.seq == expected.seq
    assert msg.serializer_id == expected.serializer_id
    assert msg.annotations == expected.annotations
    assert list(msg.annotations) == list(expected.annotations)  # wire order kept
    assert len(vector.raw) == message.HEADER_SIZE + expected.annotations_size + expected.data_size
    assert int.from_bytes(vector.raw[22:24], "big") == expected.checksum
    if not msg.flags & message.FLAGS_COMPRESSED:
        assert len(msg.data) == expected.data_size
    if expected.body_text is not None:
        assert msg.data.decode("utf-8") == expected.body_text


@pytest.mark.parametrize("vector", MESSAGES, ids=lambda v: v.id)
def test_parse_header_and_finish_message_agree_with_decoder(vector):
    expected = vector.expected()
    header = message.parse_header(vector.raw[: message.HEADER_SIZE])
    assert (header.type, header.flags, header.seq, header.serializer_id) == (
        expected.msg_type,
        expected.flags,
        expected.seq,
        expected.serializer_id,
    )
    assert header.data_size == expected.data_size
    assert header.annotations_size == expected.annotations_size
    assert header.body_size == len(vector.raw) - message.HEADER_SIZE
    ann_end = message.HEADER_SIZE + header.annotations_size
    msg = message.finish_message(
        header,
        vector.raw[message.HEADER_SIZE : ann_end],
        vector.raw[ann_end:],
        hmac_key=HMAC_KEY if vector.uses_hmac else None,
    )
    from_decoder = decode(vector)
    assert (msg.type, msg.flags, msg.seq, msg.serializer_id, msg.data, msg.annotations) == (
        from_decoder.type,
        from_decoder.flags,
        from_decoder.seq,
        from_decoder.serializer_id,
        from_decoder.data,
        from_decoder.annotations,
    )


@pytest.mark.parametrize("vector", MESSAGES, ids=lambda v: v.id)
def test_reencoding_gives_identical_bytes(vector):
    header = message.parse_header(vector.raw[: message.HEADER_SIZE])
    ann_end = message.HEADER_SIZE + header.annotations_size
    annotations = message.parse_annotations(vector.raw[message.HEADER_SIZE : ann_end])
    head, body = _head_and_body(
        message.encode(header.type, vector.raw[ann_end:], header.serializer_id, header.flags, header.seq, annotations)
    )
    assert head + body == vector.raw
    assert body == vector.raw[ann_end:]
    assert (
        b"".join(
            message.encode(
                header.type, vector.raw[ann_end:], header.serializer_id, header.flags, header.seq, annotations
            )
        )
        == vector.raw
    )


def test_every_file_decodes_as_one_stream():
    for file in sorted({v.file for v in MESSAGES}):
        vectors = [v for v in MESSAGES if v.file == file and not v.uses_hmac]
        stream = b"".join(v.raw for v in vectors)
        messages = iter_messages([stream])
        assert [(m.type, m.seq, m.data) for m in messages] == [(d.type, d.seq, d.data) for d in map(decode, vectors)]


# -- HMAC --------------------------------------------------------------------------------

HMAC_VECTORS = [v for v in MESSAGES if v.uses_hmac]


def test_there_are_four_hmac_vectors():
    assert [v.name for v in HMAC_VECTORS] == [
        "connect_with_hmac",
        "connect_ok_with_hmac",
        "invoke_with_hmac",
        "result_with_hmac",
    ]


@pytest.mark.parametrize("vector", HMAC_VECTORS, ids=lambda v: v.id)
def test_hmac_verifies_with_the_key(vector):
    msg = decode(vector)
    others = {k: v for k, v in msg.annotations.items() if k != "HMAC"}
    assert msg.annotations["HMAC"] == message.hmac_digest(HMAC_KEY, msg.data, others)
    assert len(msg.annotations["HMAC"]) == 20


@pytest.mark.parametrize("vector", HMAC_VECTORS, ids=lambda v: v.id)
def test_hmac_vector_refused_without_key_or_with_wrong_key(vector):
    with pytest.raises(SecurityError, match="hmac key config not symmetric"):
        MessageDecoder().feed(vector.raw)
    with pytest.raises(SecurityError, match="message hmac mismatch"):
        MessageDecoder(hmac_key=b"otherkey").feed(vector.raw)


@pytest.mark.parametrize("vector", HMAC_VECTORS, ids=lambda v: v.id)
def test_hmac_vector_reencodes_from_the_key(vector):
    msg = decode(vector)
    unsigned = {k: v for k, v in msg.annotations.items() if k != "HMAC"}
    head, body = _head_and_body(
        message.encode(msg.type, msg.data, msg.serializer_id, msg.flags, msg.seq, unsigned, hmac_key=HMAC_KEY)
    )
    assert head + body == vector.raw


def test_hmac_vector_with_tampered_payload_is_refused():
    raw = bytearray(by_name("handshake", "invoke_with_hmac").raw)
    raw[-3] ^= 0x01  # a payload byte; the header does not cover it
    with pytest.raises(SecurityError, match="message hmac mismatch"):
        MessageDecoder(hmac_key=HMAC_KEY).feed(bytes(raw))


def test_unsigned_vector_refused_by_a_decoder_with_a_key():
    with pytest.raises(SecurityError, match="hmac key config not symmetric"):
        MessageDecoder(hmac_key=HMAC_KEY).feed(by_name("invoke-serpent", "invoke_add_1_2").raw)


# -- compression -----------------------------------------------------------------------


def test_compressed_vector_inflates():
    vector = by_name("compression", "invoke_echo_compressed")
    msg = decode(vector)
    assert msg.flags & message.FLAGS_COMPRESSED
    assert len(vector.raw) - message.HEADER_SIZE == 70
    assert len(msg.data) > 300
    obj, method, args, kwargs = deserialize(msg)
    assert (obj, method, args, kwargs) == ("example.calc", "echo", ("x" * 300,), {})


def test_compressed_vector_reencodes_with_compress():
    vector = by_name("compression", "invoke_echo_compressed")
    msg = decode(vector)
    head, body = _head_and_body(
        message.encode(
            msg.type, msg.data, msg.serializer_id, msg.flags & ~message.FLAGS_COMPRESSED, msg.seq, compress=True
        )
    )
    assert head + body == vector.raw
    # and the same call, serialized again, too
    call = serializers.get_serializer("serpent").dumpsCall("example.calc", "echo", ("x" * 300,), {})
    assert b"".join(message.encode(message.MSG_INVOKE, call, 1, 0, 1, compress=True)) == vector.raw


def test_uncompressed_reply_stays_uncompressed_below_threshold():
    vector = by_name("compression", "result_uncompressed")
    msg = decode(vector)
    assert not msg.flags & message.FLAGS_COMPRESSED
    assert deserialize(msg) == "x" * 300


# -- payloads ----------------------------------------------------------------------------


@pytest.mark.usefixtures("without_proxy_class")
@pytest.mark.parametrize("vector", MESSAGES, ids=lambda v: v.id)
def test_payload_deserializes(vector):
    msg = decode(vector)
    if msg.type == message.MSG_PING:
        assert msg.serializer_id == message.SERIALIZER_ID_PING
        assert msg.data == (b"ping" if vector.name == "ping" else b"pong")
        return
    if vector.name in PROXY_REPLIES:
        with pytest.raises(SerializeError, match="unsupported serialized class: Pyro4.core.Proxy"):
            deserialize(msg)
        return
    if vector.name == "result_autoproxy_marshal_NOT_A_PROXY":
        with pytest.raises(SecurityError, match="double underscores.*__main__.Thing"):
            deserialize(msg)
        return
    if vector.name == "result_autoproxy_pickle":
        serializers.register_pickle_name(FakeProxy, "Pyro4.core", "Proxy")
        try:
            assert type(deserialize(msg)) is FakeProxy
        finally:
            serializers.unregister_pickle_name(FakeProxy)
        return
    value = deserialize(msg)
    if msg.type == message.MSG_INVOKE:
        obj, method, args, kwargs = value
        assert isinstance(obj, str) and isinstance(method, str)
        assert isinstance(args, (list, tuple))
        assert kwargs is None or isinstance(kwargs, dict)
    if msg.flags & message.FLAGS_EXCEPTION:
        assert isinstance(value, BaseException)


SERIALIZER_FILES = ["invoke-serpent", "invoke-json", "invoke-marshal", "invoke-msgpack", "invoke-pickle"]


@pytest.mark.parametrize("file", SERIALIZER_FILES)
def test_invoke_conversation_values(file):
    connect, connect_ok, invoke, result = (
        deserialize(decode(by_name(file, n))) for n in ("connect", "connect_ok", "invoke_add_1_2", "result_3")
    )
    assert connect == {"handshake": "hello", "object": "example.calc"}
    assert connect_ok["handshake"] == "hello"
    assert set(connect_ok["meta"]) == {"methods", "oneway", "attrs"}
    assert set(connect_ok["meta"]["methods"]) == {"gen", "divide", "get_thing", "fire", "get_uri", "add", "echo"}
    assert list(connect_ok["meta"]["oneway"]) == ["fire"]
    obj, method, args, kwargs = invoke
    assert (obj, method, list(args), kwargs) == ("example.calc", "add", [1, 2], {})
    # the documented arg container per serializer
    assert type(args) is (tuple if file in ("invoke-serpent", "invoke-pickle") else list)
    assert result == 3


EXCEPTION_REPLIES = [
    ("exception-serpent", "result_zerodivisionerror"),
    ("exception-other-serializers", "result_zerodivisionerror_json"),
    ("exception-other-serializers", "result_zerodivisionerror_msgpack"),
    ("exception-other-serializers", "result_zerodivisionerror_marshal"),
    ("exception-other-serializers", "result_zerodivisionerror_pickle"),
]


@pytest.mark.parametrize("file, name", EXCEPTION_REPLIES)
def test_exception_reply_is_zerodivisionerror_with_traceback(file, name):
    msg = decode(by_name(file, name))
    assert msg.flags == message.FLAGS_EXCEPTION
    assert "CORR" not in msg.annotations
    exc = deserialize(msg)
    assert type(exc) is ZeroDivisionError
    assert exc.args == ("division by zero",)
    assert isinstance(exc._pyroTraceback, list)
    assert exc._pyroTraceback[0] == "Traceback (most recent call last):\n"
    assert "ZeroDivisionError" in exc._pyroTraceback[-1]


@pytest.mark.parametrize(
    "name", ["result_uri_serpent", "result_uri_json", "result_uri_msgpack", "result_uri_marshal", "result_uri_pickle"]
)
def test_uri_reply_gives_our_uri(name):
    uri = deserialize(decode(by_name("uri-reply", name)))
    assert type(uri) is URI
    assert uri == URI("PYRO:example.thing@127.0.0.1:47801")
    assert (uri.protocol, uri.object, uri.sockname, uri.host, uri.port) == (
        "PYRO",
        "example.thing",
        None,
        "127.0.0.1",
        47801,
    )


def test_batch_reply_holds_value_and_wrapped_exception():
    result = deserialize(decode(by_name("batch", "result_batch")))
    assert result[0] == 3
    assert len(result) == 2
    wrapper = result[1]
    assert type(wrapper) is ExceptionWrapper
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        wrapper.raiseIt()


def test_batch_calls_decode():
    _, method, args, kwargs = deserialize(decode(by_name("batch", "invoke_batch")))
    assert method == "<batch>"
    assert kwargs is None
    assert args == [("add", (1, 2), {}), ("divide", (1, 0), {}), ("add", (3, 4), {})]


def test_attribute_calls_have_kwargs_none():
    assert deserialize(decode(by_name("attributes", "invoke_getattr_value"))) == (
        "example.calc",
        "__getattr__",
        ("value",),
        None,
    )
    assert deserialize(decode(by_name("attributes", "invoke_setattr_value_7"))) == (
        "example.calc",
        "__setattr__",
        ("value", 7),
        None,
    )
    assert deserialize(decode(by_name("attributes", "result_getattr_42"))) == 42
    assert deserialize(decode(by_name("attributes", "result_setattr_none"))) is None


def test_stream_start_reply():
    msg = decode(by_name("iterator-streaming", "result_stream_started"))
    assert msg.flags == message.FLAGS_EXCEPTION | message.FLAGS_ITEMSTREAMRESULT
    assert set(msg.annotations) == {"STRM"}
    assert uuid.UUID(msg.annotations["STRM"].decode("ascii")) == uuid.UUID("00000000-0000-4000-8000-00000000001d")
    marker = deserialize(msg)
    assert type(marker) is ProtocolError
    assert marker.args == ("result of call is an iterator",)
    assert marker._pyroTraceback is None


def test_stream_items_and_end():
    item_call = deserialize(decode(by_name("iterator-streaming", "invoke_get_next_stream_item_1")))
    assert item_call == ("Pyro.Daemon", "get_next_stream_item", ["00000000-0000-4000-8000-00000000001d"], {})
    assert deserialize(decode(by_name("iterator-streaming", "result_item_1"))) == 1
    assert deserialize(decode(by_name("iterator-streaming", "result_item_2"))) == 2
    end = deserialize(decode(by_name("iterator-streaming", "result_stopiteration")))
    assert type(end) is StopIteration
    assert end.args == ()
    close = decode(by_name("iterator-streaming", "invoke_close_stream_oneway"))
    assert close.flags == message.FLAGS_ONEWAY
    assert deserialize(close)[:2] == ("Pyro.Daemon", "close_stream")


def test_get_metadata_reply_has_sets():
    meta = deserialize(decode(by_name("get-metadata", "result_get_metadata")))
    assert meta == {
        "methods": {"divide", "get_thing", "get_uri", "gen", "add", "echo", "fire"},
        "oneway": {"fire"},
        "attrs": {"value"},
    }


def test_nameserver_replies():
    assert deserialize(decode(by_name("nameserver", "result_lookup_uri"))) == URI("PYRO:example.calc@127.0.0.1:47801")
    uri, metadata = deserialize(decode(by_name("nameserver", "result_lookup_tuple")))
    assert (uri, metadata) == (URI("PYRO:example.calc@127.0.0.1:47801"), [])
    assert deserialize(decode(by_name("nameserver", "invoke_lookup_with_metadata"))) == (
        "Pyro.NameServer",
        "lookup",
        ("example.calc",),
        {"return_metadata": True},
    )
    assert deserialize(decode(by_name("nameserver", "result_list"))) == {
        "Pyro.NameServer": "PYRO:Pyro.NameServer@127.0.0.1:47802",
        "example.calc": "PYRO:example.calc@127.0.0.1:47801",
    }


def test_connect_fail_texts():
    assert deserialize(decode(by_name("handshake", "connect_fail_unknown_object"))) == "unknown object"
    refused = decode(by_name("handshake", "connect_fail_serializer_not_accepted"))
    assert refused.serializer_id == serializers.SERIALIZER_IDS["marshal"]
    assert deserialize(refused) == "message used serializer that is not accepted: 4"


def test_correlation_id_annotation_is_the_uuid_bytes():
    msg = decode(by_name("correlation-id", "invoke_with_corr"))
    assert uuid.UUID(bytes=msg.annotations["CORR"]) == uuid.UUID("11111111-2222-4333-8444-555555555555")


def test_broadcast_datagrams():
    assert BROADCAST["broadcast_request"].raw == constants.BROADCAST_REQUEST
    assert BROADCAST["broadcast_request_raw"].raw == constants.BROADCAST_REQUEST
    reply = BROADCAST["broadcast_reply"].raw
    assert len(reply) <= constants.BROADCAST_READ_SIZE
    assert URI(reply.decode("latin-1")) == URI("PYRO:Pyro.NameServer@127.0.0.1:47802")


# -- the Proxy class dict and pickle -----------------------------------------------------


@pytest.mark.usefixtures("without_proxy_class")
@pytest.mark.parametrize("name", sorted(PROXY_REPLIES))
def test_proxy_dict_converts_with_a_registered_converter(name):
    msg = decode(by_name("autoproxy-reply", name))
    seen = []

    def converter(classname: str, data: dict[str, Any]) -> FakeProxy:
        seen.append(classname)
        return FakeProxy(tuple(data["state"]))

    serializers.register_dict_to_class(constants.WIRE_CLASS_PROXY, converter)
    try:
        proxy = deserialize(msg)
    finally:
        serializers.unregister_dict_to_class(constants.WIRE_CLASS_PROXY)
    assert seen == [constants.WIRE_CLASS_PROXY]
    assert isinstance(proxy, FakeProxy)
    uri, oneway, methods, attrs, timeout, hmac_key, handshake, max_retries, serializer = proxy.state
    assert uri == PROXY_URI
    assert (list(oneway), list(methods), list(attrs)) == ([], ["get_name"], [])
    assert (timeout, hmac_key, handshake, max_retries, serializer) == (0.0, None, "hello", 0, None)
    # and unregistering really removed it
    with pytest.raises(SerializeError, match="Pyro4.core.Proxy"):
        deserialize(msg)


@pytest.mark.usefixtures("without_proxy_class")
def test_pickled_proxy_loads_with_a_registered_pickle_name():
    msg = decode(by_name("autoproxy-reply", "result_autoproxy_pickle"))
    serializers.register_pickle_name(FakeProxy, "Pyro4.core", "Proxy")
    try:
        proxy = deserialize(msg)
    finally:
        serializers.unregister_pickle_name(FakeProxy)
    assert type(proxy) is FakeProxy
    uri, oneway, methods, attrs, timeout, hmac_key, handshake, max_retries, serializer = proxy.state
    assert uri == URI(PROXY_URI)
    assert type(uri) is URI
    assert (oneway, methods, attrs) == (set(), {"get_name"}, set())
    assert (timeout, hmac_key, handshake, max_retries, serializer) == (0.0, None, "hello", 0, None)
    assert ("Pyro4.core", "Proxy") not in serializers._pickle_classes


# -- re-serializing the client side ------------------------------------------------------


def _echo_value(description: str) -> Any:
    """The Python value a types-echo description names, e.g. ``echo(b'\\x00\\x01ab') request``."""
    match = re.match(r"echo\((.*)\) request with \w+", description)
    assert match, description
    return eval(match.group(1), {"datetime": datetime, "decimal": decimal, "uuid": uuid})


def _documented_reply_value(description: str) -> Any:
    """What the description says a Pyro4 client decodes a types-echo reply as."""
    sentence = description.split(". The 16-byte", 1)[0]
    match = re.search(r"decodes it as (.+?)(?: \([^()]*\))?\.?$", sentence)
    assert match, description
    return eval(match.group(1), {"datetime": datetime, "inf": float("inf")})


CLIENT_VECTORS = [v for v in MESSAGES if v.expected().msg_type in (message.MSG_CONNECT, message.MSG_INVOKE)]
EXACT_SERIALIZERS = {1: "serpent", 2: "json", 6: "msgpack", 4: "pickle"}


@pytest.mark.parametrize(
    "vector", [v for v in CLIENT_VECTORS if v.expected().serializer_id in EXACT_SERIALIZERS], ids=lambda v: v.id
)
def test_client_message_reserializes_to_identical_bytes(vector, utc_timezone):
    msg = decode(vector)
    serializer = serializers.get_serializer_by_id(msg.serializer_id)
    if msg.type == message.MSG_CONNECT:
        data = serializer.dumps(serializer.loads(msg.data))
    elif vector.file == "types-echo":
        # serialize the original value: e.g. serpent bytes only come back as a dict
        data = serializer.dumpsCall("example.calc", "echo", (_echo_value(vector.description),), {})
    else:
        data = serializer.dumpsCall(*serializer.loadsCall(msg.data))
    unsigned = {k: v for k, v in msg.annotations.items() if k != "HMAC"}
    head, body = _head_and_body(
        message.encode(
            msg.type,
            data,
            msg.serializer_id,
            msg.flags & ~message.FLAGS_COMPRESSED,
            msg.seq,
            unsigned,
            compress=bool(msg.flags & message.FLAGS_COMPRESSED),
            hmac_key=HMAC_KEY if vector.uses_hmac else None,
        )
    )
    assert head + body == vector.raw


@pytest.mark.parametrize(
    "vector", [v for v in CLIENT_VECTORS if v.expected().serializer_id in (3, 4)], ids=lambda v: v.id
)
def test_marshal_and_pickle_client_messages_reserialize_to_equal_values(vector):
    msg = decode(vector)
    serializer = serializers.get_serializer_by_id(msg.serializer_id)
    if msg.type == message.MSG_CONNECT:
        original = serializer.loads(msg.data)
        assert serializer.loads(serializer.dumps(original)) == original
        return
    if vector.file == "types-echo":
        value = _echo_value(vector.description)
        call = ("example.calc", "echo", (value,), {})
    else:
        call = serializer.loadsCall(msg.data)
    again = serializer.loadsCall(serializer.dumpsCall(*call))
    assert again == serializer.loadsCall(msg.data)


TYPES_ECHO_REPLIES = [v for v in MESSAGES if v.file == "types-echo" and "_reply_" in v.name]


@pytest.mark.parametrize("vector", TYPES_ECHO_REPLIES, ids=lambda v: v.id)
def test_types_echo_reply_decodes_as_documented(vector, utc_timezone):
    expected = _documented_reply_value(vector.description)
    value = deserialize(decode(vector))
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("vector", TYPES_ECHO_REPLIES, ids=lambda v: v.id)
def test_types_echo_request_arg_decodes_like_the_reply(vector, utc_timezone):
    request = by_name("types-echo", vector.name.replace("_reply_", "_request_"))
    obj, method, args, kwargs = deserialize(decode(request))
    assert (obj, method, kwargs) == ("example.calc", "echo", {})
    (arg,) = args
    expected = _documented_reply_value(vector.description)
    assert arg == expected
    assert type(arg) is type(expected)


def test_types_echo_covers_the_documented_losses(utc_timezone):
    """Spot checks of table 3.6: the way each serializer loses type."""
    reply = {v.name: deserialize(decode(v)) for v in TYPES_ECHO_REPLIES}
    assert reply["serpent_echo_reply_1"] == (1, 2)  # tuple stays a tuple
    assert reply["json_echo_reply_1"] == [1, 2]  # json: tuple -> list
    assert reply["json_echo_reply_2"] == [1, 2]  # json: set -> list
    assert reply["msgpack_echo_reply_1"] == [1, 2]  # msgpack: tuple -> list
    assert reply["serpent_echo_reply_3"] == {"data": "AAFhYg==", "encoding": "base64"}  # serpent: bytes -> dict
    assert serpent.tobytes(reply["serpent_echo_reply_3"]) == b"\x00\x01ab"
    assert reply["marshal_echo_reply_4"] == b"xy"  # bytearray -> bytes
    assert reply["serpent_echo_reply_5"] == "2020-01-02T03:04:05.006000"  # datetime -> str
    assert reply["msgpack_echo_reply_5"] == datetime.datetime(2020, 1, 2, 3, 4, 5, 6000)  # ext 0x32
    assert reply["msgpack_echo_reply_6"] == datetime.date(2020, 1, 2)  # ext 0x33
    assert reply["msgpack_echo_reply_14"] == 2**70  # ext 0x31
    assert reply["serpent_echo_reply_7"] == "1.10"  # Decimal -> str
