"""Bad clients lose their own connection; everybody else keeps being served."""

import socket
import struct
import threading
import time

import pytest

from pyro_client import Proxy
from pyro_protocol import message as wire
from pyro_protocol import serializers
from pyro_protocol.config import config
from pyro_protocol.decoder import MessageDecoder
from pyro_protocol.errors import ConnectionClosedError
from pyro_server import Daemon


def _head_and_body(frames):
    """A message's frames as (header with annotations, payload)."""
    data = b"".join(frames)
    size = 24 + int.from_bytes(data[18:20], "big")
    return data[:size], data[size:]


SERVERTYPES = ["thread", "multiplex", "asyncio"]


class Echo:
    def echo(self, x):
        return x

    def slow(self, seconds):
        started = time.monotonic()
        time.sleep(seconds)
        return started, time.monotonic()


def _raw(uri):
    sock = socket.create_connection((uri.host, uri.port), timeout=5)
    return sock


def _read_reply(sock):
    decoder = MessageDecoder()
    while True:
        data = sock.recv(65536)
        if not data:
            return None
        messages = decoder.feed(data)
        if messages:
            return messages[0]


def _connect_msg(serializer="serpent", object_id="echo"):
    ser = serializers.get_serializer(serializer)
    body = ser.dumps({"handshake": "hello", "object": object_id})
    head, body = _head_and_body(wire.encode(wire.MSG_CONNECT, body, ser.serializer_id, wire.FLAGS_META_ON_CONNECT, 0))
    return head + body


def _call_msg(seq, method="echo", args=(1,), serializer="serpent", object_id="echo"):
    ser = serializers.get_serializer(serializer)
    head, body = _head_and_body(
        wire.encode(wire.MSG_INVOKE, ser.dumpsCall(object_id, method, args, {}), ser.serializer_id, 0, seq)
    )
    return head + body


def _good_call(uri, value="ok"):
    with _raw(uri) as sock:
        sock.sendall(_connect_msg())
        assert _read_reply(sock).type == wire.MSG_CONNECTOK
        sock.sendall(_call_msg(1, args=(value,)))
        reply = _read_reply(sock)
        assert reply.type == wire.MSG_RESULT and not reply.flags & wire.FLAGS_EXCEPTION
        return serializers.get_serializer("serpent").loads(reply.data)


@pytest.fixture(params=SERVERTYPES)
def echo_uri(request, run):
    config.SERVERTYPE = request.param
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Echo(), "echo")
    with run(daemon):
        yield uri


def test_raw_protocol_call(echo_uri):
    assert _good_call(echo_uri, "hello") == "hello"


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.0\r\n\r\n" + b"x" * 20, b"\x00" * 24, b"PYRO\x00\x31" + b"\x00" * 18],
    ids=["http", "zeros", "wrong-version"],
)
def test_garbage_gets_connectfail_in_marshal(echo_uri, garbage):
    with _raw(echo_uri) as sock:
        sock.sendall(garbage)
        reply = _read_reply(sock)
        assert reply is not None and reply.type == wire.MSG_CONNECTFAIL
        assert reply.serializer_id == serializers.SERIALIZER_IDS["marshal"]
        reason = serializers.get_serializer("marshal").loads(reply.data)
        assert "invalid data or unsupported protocol version" in reason
        assert sock.recv(10) == b""
    assert _good_call(echo_uri) == "ok"


def test_first_message_must_be_connect(echo_uri):
    with _raw(echo_uri) as sock:
        sock.sendall(_call_msg(1))
        reply = _read_reply(sock)
        reason = serializers.get_serializer("marshal").loads(reply.data)
        assert reply.type == wire.MSG_CONNECTFAIL and reason == "invalid msg type 4 received"
    assert _good_call(echo_uri) == "ok"


def test_unknown_object_in_connect(echo_uri):
    with _raw(echo_uri) as sock:
        sock.sendall(_connect_msg(object_id="nope"))
        reply = _read_reply(sock)
        assert reply.type == wire.MSG_CONNECTFAIL
        assert serializers.get_serializer("serpent").loads(reply.data).startswith("unknown object 'nope'")


def test_broken_checksum_after_handshake_drops_only_that_connection(echo_uri):
    with _raw(echo_uri) as sock:
        sock.sendall(_connect_msg())
        _read_reply(sock)
        bad = bytearray(_call_msg(1))
        bad[23] ^= 0xFF
        sock.sendall(bytes(bad))
        assert sock.recv(10) == b""
    assert _good_call(echo_uri) == "ok"


def test_oversize_message_closes_connection(echo_uri):
    config.MAX_MESSAGE_SIZE = 1000
    with _raw(echo_uri) as sock:
        sock.sendall(_connect_msg())
        _read_reply(sock)
        header = struct.pack(
            "!4sHHHHiHHHH", b"PYRO", 48, 4, 0, 1, 10**9, 1, 0, 0, (4 + 48 + 10**9 + 0 + 1 + 0 + 1 + 0x34E9) & 0xFFFF
        )
        sock.sendall(header)
        assert sock.recv(10) == b""
    assert _good_call(echo_uri) == "ok"


def test_truncated_and_abandoned_messages(echo_uri):
    valid = _connect_msg()
    for cut in (1, 10, 23, 24, len(valid) - 1):
        with _raw(echo_uri) as sock:
            sock.sendall(valid[:cut])
    assert _good_call(echo_uri) == "ok"


def test_half_a_message_does_not_stall_others(echo_uri):
    with _raw(echo_uri) as stalled:
        stalled.sendall(_connect_msg()[:30])
        started = time.monotonic()
        assert _good_call(echo_uri) == "ok"
        assert time.monotonic() - started < 2


def test_ping_after_handshake(echo_uri):
    with _raw(echo_uri) as sock:
        sock.sendall(_connect_msg())
        _read_reply(sock)
        head, body = _head_and_body(wire.encode(wire.MSG_PING, b"ping", 42, 0, 7))
        sock.sendall(head + body)
        reply = _read_reply(sock)
        assert (reply.type, reply.data, reply.seq, reply.serializer_id) == (wire.MSG_PING, b"pong", 7, 42)
        assert len(reply.annotations["CORR"]) == 16


def test_silent_connection_is_dropped_after_handshake_timeout(run):
    config.SERVERTYPE = "multiplex"
    config.POLLTIMEOUT = 0.1
    daemon = Daemon(host="127.0.0.1")
    daemon.handshake_timeout = 0.3
    uri = daemon.register(Echo(), "echo")
    with run(daemon), _raw(uri) as silent:
        silent.settimeout(5)
        started = time.monotonic()
        assert silent.recv(10) == b""
        assert time.monotonic() - started < 4


def test_multiplex_runs_one_call_at_a_time(pyro4, run):
    config.SERVERTYPE = "multiplex"
    daemon = Daemon(host="127.0.0.1")
    uri = str(daemon.register(Echo(), "echo"))
    spans = []
    with run(daemon):

        def call():
            with pyro4.Proxy(uri) as proxy:
                spans.append(proxy.slow(0.2))

        threads = [threading.Thread(target=call) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
    spans.sort()
    assert len(spans) == 3
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end - 0.01


def test_thread_server_runs_calls_in_parallel(pyro4, run):
    config.SERVERTYPE = "thread"
    daemon = Daemon(host="127.0.0.1")
    uri = str(daemon.register(Echo(), "echo"))
    with run(daemon):
        results = []

        def call():
            with pyro4.Proxy(uri) as proxy:
                results.append(proxy.slow(0.5))

        threads = [threading.Thread(target=call) for _ in range(6)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert len(results) == 6
        assert time.monotonic() - started < 2.0


def test_more_connections_than_workers_wait_instead_of_being_refused(pyro4, run):
    config.SERVERTYPE = "thread"
    config.THREADPOOL_SIZE = 2
    daemon = Daemon(host="127.0.0.1")
    uri = str(daemon.register(Echo(), "echo"))
    with run(daemon):
        results = []

        def call():
            with pyro4.Proxy(uri) as proxy:
                results.append(proxy.slow(0.2))

        threads = [threading.Thread(target=call) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert len(results) == 5


def test_many_idle_proxies_do_not_block_a_new_client(pyro4, run):
    config.SERVERTYPE = "thread"
    daemon = Daemon(host="127.0.0.1")
    uri = str(daemon.register(Echo(), "echo"))
    idle = []
    with run(daemon):
        try:
            for _ in range(500):
                proxy = pyro4.Proxy(uri)
                proxy._pyroBind()
                idle.append(proxy)
            started = time.monotonic()
            with pyro4.Proxy(uri) as fresh:
                assert fresh.echo(5) == 5
            assert time.monotonic() - started < 1.0
            assert idle[0].echo(1) == 1 and idle[-1].echo(2) == 2
        finally:
            for proxy in idle:
                proxy._pyroRelease()


@pytest.mark.parametrize("servertype", SERVERTYPES)
def test_a_method_calling_exit_ends_only_its_connection(serve, servertype):
    class Quitter:
        def leave(self):
            raise SystemExit(3)

        def stay(self):
            return "here"

    config.SERVERTYPE = servertype
    _daemon, uri = serve(Quitter())
    with Proxy(uri) as leaving, Proxy(uri) as staying:
        assert staying.stay() == "here"
        leaving._pyroTimeout = 5
        with pytest.raises(ConnectionClosedError):
            leaving.leave()  # answered by a closed connection, as Pyro4 does, not a hang
        assert staying.stay() == "here"
        assert leaving.stay() == "here"  # it reconnects
