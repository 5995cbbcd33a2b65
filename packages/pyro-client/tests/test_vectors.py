"""Byte-level checks against the captured Pyro4 4.82 messages (protocol section 10).

A scripted fake daemon answers with the captured replies and records what the
client sends; requests must equal Pyro4's own requests byte for byte (for
serpent, json and msgpack; marshal and pickle are compared after decoding).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import uuid
from pathlib import Path
from typing import Optional

import pytest

from pyro_client import (
    URI,
    CommunicationError,
    ConnectionClosedError,
    ProtocolError,
    Proxy,
    SerializeError,
    batch,
    config,
    current_context,
)
from pyro_protocol import message, serializers

VECTORS = Path(__file__).resolve().parents[2] / "pyro-protocol" / "tests" / "data" / "pyro4-vectors"
_HEADER = struct.Struct("!4sHHHHiHHHH")
#: Seconds the fake daemon waits for the client at any point.
FAKE_TIMEOUT = 5.0

pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason="Pyro4 vectors not found")


def vector(filename: str, name: str) -> bytes:
    for entry in json.loads((VECTORS / filename).read_text()):
        if entry["name"] == name:
            return bytes.fromhex(entry["hex"])
    raise KeyError(f"{filename}: {name}")


def payload_of(raw: bytes) -> bytes:
    fields = _HEADER.unpack(raw[:24])
    annotations_size = fields[7]
    return raw[24 + annotations_size :]


def header_of(raw: bytes) -> tuple[int, int, int, int]:
    """(type, flags, seq, serializer id)"""
    fields = _HEADER.unpack(raw[:24])
    return fields[2], fields[3], fields[4], fields[6]


class FakeDaemon:
    """Accepts one connection; for each request it receives, sends the next list of
    replies (None: hang up instead)."""

    def __init__(self, *script: Optional[list[bytes]]) -> None:
        self.script = list(script)
        self.received: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(FAKE_TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.uri = f"PYRO:example.calc@127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(FAKE_TIMEOUT)
            for replies in self.script:
                request = self._read(conn)
                if request is None:
                    return
                self.received.append(request)
                if replies is None:
                    return
                for reply in replies:
                    conn.sendall(reply)
            while (request := self._read(conn)) is not None:
                self.received.append(request)

    @staticmethod
    def _read(conn: socket.socket) -> Optional[bytes]:
        try:
            head = _recv_all(conn, 24)
            if head is None:
                return None
            fields = _HEADER.unpack(head)
            body = _recv_all(conn, fields[5] + fields[7])
            return None if body is None else head + body
        except OSError:
            return None

    def finish(self) -> list[bytes]:
        """Wait until the client hung up; returns every request received."""
        self.thread.join(FAKE_TIMEOUT * 2)
        self.listener.close()
        return self.received


def _recv_all(conn: socket.socket, size: int) -> Optional[bytes]:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


@pytest.fixture
def fake_daemons():
    made: list[FakeDaemon] = []

    def make(*script: Optional[list[bytes]]) -> FakeDaemon:
        fake = FakeDaemon(*script)
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.listener.close()
        fake.thread.join(FAKE_TIMEOUT * 2)


SERPENT_CONNECT = ("invoke-serpent.json", "connect")
SERPENT_CONNECT_OK = ("invoke-serpent.json", "connect_ok")


def serpent_handshake() -> list[bytes]:
    return [vector(*SERPENT_CONNECT_OK)]


@pytest.mark.parametrize("name", ["serpent", "json", "msgpack"])
def test_handshake_and_call_are_byte_identical(fake_daemons, name):
    filename = f"invoke-{name}.json"
    fake = fake_daemons([vector(filename, "connect_ok")], [vector(filename, "result_3")])
    with Proxy(fake.uri) as calc:
        calc._pyroSerializer = name
        assert calc.add(1, 2) == 3
        assert calc._pyroOneway == {"fire"} and "gen" in calc._pyroMethods and calc._pyroAttrs == {"value"}
    assert fake.finish() == [
        vector(filename, "connect"),
        vector(filename, "invoke_add_1_2"),
    ]


@pytest.mark.parametrize("name", ["marshal", "pickle"])
def test_handshake_and_call_decode_identically(fake_daemons, name):
    filename = f"invoke-{name}.json"
    fake = fake_daemons([vector(filename, "connect_ok")], [vector(filename, "result_3")])
    with Proxy(fake.uri) as calc:
        calc._pyroSerializer = name
        assert calc.add(1, 2) == 3
    sent = fake.finish()
    expected = [vector(filename, "connect"), vector(filename, "invoke_add_1_2")]
    serializer = serializers.get_serializer(name)
    assert [header_of(raw) for raw in sent] == [header_of(raw) for raw in expected]
    assert serializer.loads(payload_of(sent[0])) == serializer.loads(payload_of(expected[0]))
    assert serializer.loadsCall(payload_of(sent[1])) == serializer.loadsCall(payload_of(expected[1]))


def test_handshake_without_metadata(fake_daemons):
    config.METADATA = False
    fake = fake_daemons(
        [vector("handshake.json", "connect_ok_without_metadata")],
        [vector("invoke-serpent.json", "result_3")],
    )
    with Proxy(fake.uri) as calc:
        assert calc.add(1, 2) == 3
        assert calc._pyroMethods == set()
    assert fake.finish() == [
        vector("handshake.json", "connect_without_metadata"),
        vector("invoke-serpent.json", "invoke_add_1_2"),
    ]


def test_old_daemon_without_metadata_in_the_handshake(fake_daemons):
    fake = fake_daemons(
        [vector("handshake.json", "connect_ok_without_metadata")],
        [vector("get-metadata.json", "result_get_metadata")],
    )
    with Proxy(fake.uri) as calc:
        calc._pyroBind()
        assert calc._pyroOneway == {"fire"} and calc._pyroAttrs == {"value"} and "divide" in calc._pyroMethods
    assert fake.finish() == [
        vector("handshake.json", "connect"),
        vector("get-metadata.json", "invoke_get_metadata"),
    ]


def test_remote_attributes(fake_daemons):
    fake = fake_daemons(
        serpent_handshake(),
        [vector("attributes.json", "result_getattr_42")],
        [vector("attributes.json", "result_setattr_none")],
    )
    with Proxy(fake.uri) as calc:
        assert calc.value == 42
        calc.value = 7
    sent = fake.finish()
    assert sent[1:] == [
        vector("attributes.json", "invoke_getattr_value"),
        vector("attributes.json", "invoke_setattr_value_7"),
    ]


def test_batch(fake_daemons):
    fake = fake_daemons(serpent_handshake(), [vector("batch.json", "result_batch")])
    with Proxy(fake.uri) as calc:
        calls = batch(calc)
        calls.add(1, 2)
        calls.divide(1, 0)
        calls.add(3, 4)
        results = calls()
        assert next(results) == 3
        with pytest.raises(ZeroDivisionError):
            next(results)
    assert fake.finish()[1] == vector("batch.json", "invoke_batch")


def test_oneway_call_and_oneway_batch(fake_daemons):
    fake = fake_daemons(serpent_handshake(), [])
    with Proxy(fake.uri) as calc:
        assert calc.fire(5) is None
    assert fake.finish()[1] == vector("oneway.json", "invoke_oneway_fire_5")
    fake = fake_daemons(serpent_handshake(), [])
    with Proxy(fake.uri) as calc:
        calls = batch(calc)
        calls.add(1, 2)
        assert calls(oneway=True) is None
    assert fake.finish()[1] == vector("oneway.json", "invoke_batch_oneway")


def test_marshal_batch_and_attribute_calls_are_sent(fake_daemons):
    """Pyro4's own marshal client cannot send these (None kwargs); ours can."""
    connect_ok = vector("invoke-marshal.json", "connect_ok")
    result = message.encode(5, serializers.get_serializer("marshal").dumps([3]), 3, message.FLAGS_BATCH, 1)
    fake = fake_daemons([connect_ok], [b"".join(result)])
    with Proxy(fake.uri) as calc:
        calc._pyroSerializer = "marshal"
        calls = batch(calc)
        calls.add(1, 2)
        assert list(calls()) == [3]
    request = fake.finish()[1]
    assert header_of(request) == (4, message.FLAGS_BATCH, 1, 3)
    assert serializers.get_serializer("marshal").loadsCall(payload_of(request)) == (
        "example.calc",
        "<batch>",
        [("add", (1, 2), {})],
        None,
    )


def test_correlation_id(fake_daemons):
    current_context.correlation_id = uuid.UUID("11111111-2222-4333-8444-555555555555")
    fake = fake_daemons(
        [vector("correlation-id.json", "connect_ok_echo_corr")],
        [vector("correlation-id.json", "result_echo_corr")],
    )
    with Proxy(fake.uri) as calc:
        assert calc.add(1, 2) == 3
        assert current_context.response_annotations["CORR"] == current_context.correlation_id.bytes
    assert fake.finish() == [
        vector("correlation-id.json", "connect_with_corr"),
        vector("correlation-id.json", "invoke_with_corr"),
    ]


def test_hmac_signed_messages(fake_daemons):
    fake = fake_daemons(
        [vector("handshake.json", "connect_ok_with_hmac")],
        [vector("handshake.json", "result_with_hmac")],
    )
    with Proxy(fake.uri) as calc:
        calc._pyroHmacKey = b"secretkey"
        assert calc.add(1, 2) == 3
    assert fake.finish() == [
        vector("handshake.json", "connect_with_hmac"),
        vector("handshake.json", "invoke_with_hmac"),
    ]


def test_unsigned_reply_to_a_keyed_proxy_is_refused(fake_daemons):
    fake = fake_daemons(
        [vector("handshake.json", "connect_ok_with_hmac")],
        [vector("invoke-serpent.json", "result_3")],
    )
    with Proxy(fake.uri) as calc:
        calc._pyroHmacKey = b"secretkey"
        calc._pyroBind()
        with pytest.raises(Exception, match="hmac key config not symmetric"):
            calc.add(1, 2)
        assert calc._pyroConnection is None


def test_compressed_request(fake_daemons):
    config.COMPRESSION = True
    fake = fake_daemons(serpent_handshake(), [vector("compression.json", "result_uncompressed")])
    with Proxy(fake.uri) as calc:
        assert calc.echo("x" * 300) == "x" * 300
    assert fake.finish()[1] == vector("compression.json", "invoke_echo_compressed")


def test_iterator_streaming(fake_daemons):
    def v(name: str) -> bytes:
        return vector("iterator-streaming.json", name)

    fake = fake_daemons(
        serpent_handshake(),
        [v("result_stream_started")],
        [v("result_item_1")],
        [v("result_item_2")],
        [v("result_stopiteration")],
        [v("result_stream_started_2")],
        [v("result_item_b")],
    )
    with Proxy(fake.uri) as calc:
        assert list(calc.gen()) == [1, 2]
        items = calc.gen()
        assert next(items) == 1
        items.close()
    assert fake.finish()[1:] == [
        v("invoke_gen"),
        v("invoke_get_next_stream_item_1"),
        v("invoke_get_next_stream_item_2"),
        v("invoke_get_next_stream_item_3"),
        v("invoke_gen_again"),
        v("invoke_get_next_stream_item_b"),
        v("invoke_close_stream_oneway"),
    ]


def test_iterator_reply_without_stream_id(fake_daemons):
    started = vector("iterator-streaming.json", "result_stream_started")
    without_id = b"".join(message.encode(5, payload_of(started), 1, 0x21, 1))
    fake = fake_daemons(serpent_handshake(), [without_id])
    with (
        Proxy(fake.uri) as calc,
        pytest.raises(ProtocolError, match="not configured to allow streaming"),
    ):
        calc.gen()


def test_exception_reply(fake_daemons):
    fake = fake_daemons(
        serpent_handshake(),
        [vector("exception-serpent.json", "result_zerodivisionerror")],
    )
    with Proxy(fake.uri) as calc:
        with pytest.raises(ZeroDivisionError, match="division by zero") as caught:
            calc.divide(1, 0)
        assert caught.value._pyroTraceback[0] == "Traceback (most recent call last):\n"
    assert fake.finish()[1] == vector("exception-serpent.json", "invoke_divide_1_0")


def test_refused_serializer_answered_in_marshal(fake_daemons):
    fake = fake_daemons([vector("handshake.json", "connect_fail_serializer_not_accepted")])
    calc = Proxy(fake.uri)
    calc._pyroSerializer = "pickle"
    expected = f"connection to 127.0.0.1:{fake.port} rejected: message used serializer that is not accepted: 4"
    with pytest.raises(CommunicationError) as caught:
        calc.add(1, 2)
    assert str(caught.value) == expected
    assert calc._pyroConnection is None
    sent = fake.finish()
    expected_connect = vector("handshake.json", "connect_pickle_to_default_daemon")
    assert header_of(sent[0]) == header_of(expected_connect)
    pickle = serializers.get_serializer("pickle")
    assert pickle.loads(payload_of(sent[0])) == pickle.loads(payload_of(expected_connect))


def test_unknown_object_rejected(fake_daemons):
    fake = fake_daemons([vector("handshake.json", "connect_fail_unknown_object")])
    calc = Proxy(f"PYRO:no.such.object@127.0.0.1:{fake.port}")
    with pytest.raises(CommunicationError, match="rejected: unknown object"):
        calc._pyroBind()
    assert fake.finish() == [vector("handshake.json", "connect_unknown_object")]


def test_name_server_replies(fake_daemons):
    def v(name: str) -> bytes:
        return vector("nameserver.json", name)

    fake = fake_daemons(
        [v("connect_ok_ns")],
        [v("result_lookup_uri")],
        [v("result_lookup_tuple")],
        [v("result_list")],
    )
    with Proxy(f"PYRO:Pyro.NameServer@127.0.0.1:{fake.port}") as ns:
        uri = ns.lookup("example.calc")
        assert isinstance(uri, URI) and uri.object == "example.calc"
        found, metadata = ns.lookup("example.calc", return_metadata=True)
        assert found == uri and isinstance(metadata, list)
        listing = ns.list()
        assert listing["Pyro.NameServer"].startswith("PYRO:Pyro.NameServer@")
    assert fake.finish() == [
        v("connect_ns"),
        v("invoke_lookup"),
        v("invoke_lookup_with_metadata"),
        v("invoke_list"),
    ]


@pytest.mark.parametrize("name", ["serpent", "json", "msgpack", "pickle"])
def test_autoproxy_reply(fake_daemons, name):
    connect_ok = vector(f"invoke-{name}.json", "connect_ok")
    fake = fake_daemons([connect_ok], [vector("autoproxy-reply.json", f"result_autoproxy_{name}")])
    with Proxy(fake.uri) as calc:
        calc._pyroSerializer = name
        thing = calc.get_thing()
    assert isinstance(thing, Proxy)
    assert thing._pyroConnection is None
    assert thing._pyroUri.protocol == "PYRO" and thing._pyroUri.port == 47801
    assert "get_name" in thing._pyroMethods


@pytest.mark.parametrize("name", ["serpent", "json", "msgpack", "pickle", "marshal"])
def test_uri_reply(fake_daemons, name):
    connect_ok = vector(f"invoke-{name}.json", "connect_ok")
    fake = fake_daemons([connect_ok], [vector("uri-reply.json", f"result_uri_{name}")])
    with Proxy(fake.uri) as calc:
        calc._pyroSerializer = name
        uri = calc.get_uri()
    assert isinstance(uri, URI) and uri.protocol == "PYRO" and uri.port == 47801


def test_reply_with_wrong_sequence_number(fake_daemons):
    fake = fake_daemons(serpent_handshake(), [vector("invoke-serpent.json", "result_3")])
    with Proxy(fake.uri) as calc:
        calc._pyroBind()
        calc._pyroSeq = 5
        with pytest.raises(ProtocolError, match="reply sequence out of sync, got 1 expected 6"):
            calc.add(1, 2)
        assert calc._pyroConnection is None


def test_reply_in_another_serializer(fake_daemons):
    fake = fake_daemons(
        [vector("invoke-json.json", "connect_ok")],
        [vector("invoke-serpent.json", "result_3")],
    )
    with Proxy(fake.uri) as calc:
        calc._pyroSerializer = "json"
        with pytest.raises(SerializeError, match="invalid serializer in response: 1"):
            calc.add(1, 2)
        assert calc._pyroConnection is None


def test_reply_of_the_wrong_type(fake_daemons):
    fake = fake_daemons(serpent_handshake(), [vector(*SERPENT_CONNECT_OK)])
    with Proxy(fake.uri) as calc:
        with pytest.raises(ProtocolError, match="invalid msg type 2 received"):
            calc.add(1, 2)
        assert calc._pyroConnection is None


def test_connection_dropped_during_a_call(fake_daemons):
    fake = fake_daemons(serpent_handshake(), None)
    with Proxy(fake.uri) as calc:
        calc._pyroBind()
        with pytest.raises(ConnectionClosedError):
            calc.add(1, 2)
        assert calc._pyroConnection is None
    fake.finish()


def test_garbage_instead_of_a_reply(fake_daemons):
    fake = fake_daemons(serpent_handshake(), [b"HTTP/1.1 400 Bad Request\r\n\r\n"])
    with Proxy(fake.uri) as calc:
        with pytest.raises(ProtocolError, match="invalid data or unsupported protocol version"):
            calc.add(1, 2)
        assert calc._pyroConnection is None
