"""SerializedBlob calls (FLAGS_KEEPSERIALIZED): dispatched without reading the payload, passed on as they came."""

import marshal
import socket
import threading

import pytest

from pyro_client import Proxy, SerializedBlob
from pyro_protocol import message as wire
from pyro_protocol import serializers
from pyro_protocol.config import config
from pyro_protocol.decoder import MessageDecoder
from pyro_protocol.errors import ProtocolError, SerializeError
from pyro_server import behavior

SERIALIZERS = ["serpent", "json", "marshal", "msgpack"]
DATA = ("hello", 42, [1.5, None])


class Receiver:
    def process(self, blob):
        return [type(blob).__name__, blob.info, blob.deserialized()]

    def info_only(self, blob):
        return blob.info

    def payload_target(self, blob):
        """Object id and method named inside the payload: those of the first call, if it was passed on as is."""
        object_id, method, _, _ = serializers.get_serializer_by_id(blob._data.serializer_id).loadsCall(blob._data.data)
        return [object_id, method]


@behavior(instance_mode="single")
class Dispatcher:
    """Pyro4's blob-dispatch example: passes blobs on without knowing what is inside."""

    listener_uri = None

    def dispatch(self, blob):
        with Proxy(self.listener_uri) as listener:
            return listener.process(blob)

    def dispatch_for_target(self, blob):
        with Proxy(self.listener_uri) as listener:
            return listener.payload_target(blob)


def _same_data(received):
    """The data as it comes back (json and msgpack make tuples lists)."""
    return list(received) == ["hello", 42, [1.5, None]]


@pytest.fixture()
def receiver_uri(serve):
    config.SERIALIZERS_ACCEPTED = set(SERIALIZERS)
    _daemon, uri = serve(Receiver())
    return uri


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_our_client_and_daemon(receiver_uri, serializer):
    with Proxy(receiver_uri) as proxy:
        proxy._pyroSerializer = serializer
        kind, info, data = proxy.process(SerializedBlob("the info", DATA))
        assert kind == "SerializedBlob" and info == "the info" and _same_data(data)
        _, info, data = proxy.process(SerializedBlob(("an", 1), [7]))
        assert list(info) == ["an", 1] and list(data) == [7]
        assert proxy.info_only(SerializedBlob("x", DATA)) == "x"


def test_the_daemon_does_not_read_the_payload(receiver_uri):
    # a class nobody here can recreate: reading the payload would fail with "unsupported serialized class"
    unknown = {"__class__": "nowhere.Unknown", "value": 1}
    with Proxy(receiver_uri) as proxy:
        with pytest.raises(SerializeError, match="unsupported serialized class"):
            proxy.info_only(unknown)
        assert proxy.info_only(SerializedBlob("untouched", (unknown,))) == "untouched"


def test_a_blob_must_be_the_only_argument(receiver_uri):
    with Proxy(receiver_uri) as proxy:
        with pytest.raises(SerializeError, match="must be the only argument"):
            proxy.process(SerializedBlob("x", DATA), 2)
        with pytest.raises(SerializeError, match="must be marshallable"):
            proxy.process(SerializedBlob(object(), DATA))
        assert proxy.info_only(SerializedBlob("still fine", DATA)) == "still fine"


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_genuine_pyro4_client_against_our_daemon(pyro4, receiver_uri, serializer):
    pyro4.config.SERIALIZER = serializer
    with pyro4.Proxy(str(receiver_uri)) as proxy:
        kind, info, data = proxy.process(pyro4.core.SerializedBlob("from Pyro4", DATA))
    assert kind == "SerializedBlob" and info == "from Pyro4" and _same_data(data)


@pytest.mark.parametrize("serializer", ["serpent", "json", "marshal"])
def test_a_dispatcher_passes_blobs_on_as_they_came(serve, serializer):
    config.SERIALIZERS_ACCEPTED = set(SERIALIZERS)
    _, listener_uri = serve(Receiver())
    Dispatcher.listener_uri = listener_uri
    _, dispatcher_uri = serve(Dispatcher)
    with Proxy(dispatcher_uri) as dispatcher:
        dispatcher._pyroSerializer = serializer
        kind, info, data = dispatcher.dispatch(SerializedBlob("topic", DATA))
        assert kind == "SerializedBlob" and info == "topic" and _same_data(data)
        # the payload the listener got still names the dispatcher's object: it was not serialized again
        assert dispatcher.dispatch_for_target(SerializedBlob("topic", DATA)) == [
            dispatcher_uri.object,
            "dispatch_for_target",
        ]


@pytest.mark.filterwarnings("ignore:isSet:DeprecationWarning")  # Pyro4 4.82's request loop
@pytest.mark.parametrize("serializer", ["serpent", "marshal", "msgpack"])
def test_our_dispatcher_between_genuine_pyro4_client_and_listener(pyro4, serve, serializer):
    """Pyro4's blob-dispatch example with our daemon as the dispatcher. (Not json: Pyro4's
    SerializedBlob.deserialized unpacks a json call's keys, not its arguments.)"""
    pyro4.config.SERIALIZERS_ACCEPTED = {"serpent", "marshal", "msgpack"}
    config.SERIALIZERS_ACCEPTED = set(SERIALIZERS)

    @pyro4.expose
    class Pyro4Listener:
        def process(self, blob):
            return [type(blob).__name__, blob.info, blob.deserialized()]

    listener_daemon = pyro4.Daemon(host="127.0.0.1")
    Dispatcher.listener_uri = str(listener_daemon.register(Pyro4Listener()))
    loop = threading.Thread(target=listener_daemon.requestLoop)
    loop.start()
    try:
        _, dispatcher_uri = serve(Dispatcher)
        pyro4.config.SERIALIZER = serializer
        with pyro4.Proxy(str(dispatcher_uri)) as dispatcher:
            kind, info, data = dispatcher.dispatch(pyro4.core.SerializedBlob("topic", DATA))
        assert kind == "SerializedBlob" and info == "topic" and _same_data(data)
        with Proxy(Dispatcher.listener_uri) as listener:  # our client straight to the Pyro4 daemon
            listener._pyroSerializer = serializer
            kind, info, data = listener.process(SerializedBlob("direct", DATA))
        assert kind == "SerializedBlob" and info == "direct" and _same_data(data)
    finally:
        listener_daemon.shutdown()
        loop.join(timeout=10)
        listener_daemon.close()


def _read_message(sock):
    decoder = MessageDecoder()
    while True:
        data = sock.recv(65536)
        assert data, "the connection closed without a reply"
        messages = decoder.feed(data)
        if messages:
            return messages[0]


@pytest.mark.parametrize(
    "blbi, reason",
    [
        (None, "without a BLBI annotation"),
        (b"\xff\x00garbage", "invalid BLBI annotation"),
        (b"\xa9\xff\xff\xff\x7f", "invalid BLBI annotation"),  # a tuple that claims 2**31 elements
        (marshal.dumps(("info", "only two")), "invalid BLBI annotation"),
        (marshal.dumps(("info", 1, 2)), "must be strings"),
        (marshal.dumps(("x" * 20_000, "obj", "method")), "too large"),
    ],
    ids=["missing", "garbage", "huge-count", "short", "not-strings", "too-large"],
)
def test_a_malformed_blbi_gets_an_exception_reply(receiver_uri, blbi, reason):
    ser = serializers.get_serializer("serpent")
    connect = b"".join(wire.encode(wire.MSG_CONNECT, ser.dumps({"handshake": "hello"}), ser.serializer_id))
    call = b"".join(
        wire.encode(
            wire.MSG_INVOKE,
            ser.dumpsCall(receiver_uri.object, "info_only", DATA, {}),
            ser.serializer_id,
            wire.FLAGS_KEEPSERIALIZED,
            1,
            {} if blbi is None else {"BLBI": blbi},
        )
    )
    with socket.create_connection((receiver_uri.host, receiver_uri.port), timeout=5) as sock:
        sock.sendall(connect)
        assert _read_message(sock).type == wire.MSG_CONNECTOK
        sock.sendall(call)
        reply = _read_message(sock)
    assert reply.type == wire.MSG_RESULT and reply.flags & wire.FLAGS_EXCEPTION
    error = ser.loads(reply.data)
    assert isinstance(error, ProtocolError) and reason in str(error)
    with Proxy(receiver_uri) as proxy:  # the daemon serves on
        assert proxy.info_only(SerializedBlob("after", DATA)) == "after"
