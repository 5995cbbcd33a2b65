"""Large payloads take the daemon's no-copy paths (received into one buffer, a bytes result sent as
it is); the genuine Pyro4 client and ours must read them exactly as any other reply."""

from __future__ import annotations

import socket

import pytest

from pyro_protocol import message as wire
from pyro_protocol import serializers
from pyro_protocol.config import config
from pyro_server import Daemon, Proxy

SIZES = [70_000, 3 * 1024 * 1024 + 17]


class Echo:
    def echo(self, data):
        return data

    def size(self, data):
        return len(data)


@pytest.fixture(params=["thread", "multiplex", "asyncio"])
def echo_uri(request, run):
    config.SERVERTYPE = request.param
    config.SERIALIZERS_ACCEPTED = {"serpent", "marshal", "msgpack", "pickle", "json"}
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Echo(), "echo")
    with run(daemon):
        yield str(uri)


@pytest.mark.parametrize("serializer", ["marshal", "msgpack", "pickle", "serpent"])
def test_large_bytes_echo_with_pyro4_and_our_client(pyro4, echo_uri, serializer):
    pyro4.config.SERIALIZER = serializer
    pyro4.config.SERIALIZERS_ACCEPTED = {"serpent", "marshal", "msgpack", "pickle", "json"}
    config.SERIALIZER = serializer
    for size in SIZES:
        data = bytes(range(256)) * (size // 256) + b"tail"
        with pyro4.Proxy(echo_uri) as theirs, Proxy(echo_uri) as ours:
            for proxy in (theirs, ours, ours):  # ours twice: its receive buffer is reused
                reply = proxy.echo(data)
                if serializer == "serpent":
                    reply = serializers.serpent.tobytes(reply)
                assert reply == data
                if serializer != "serpent":  # (serpent delivers bytes as a base-64 dict)
                    assert proxy.size(data) == len(data)


@pytest.mark.parametrize("serializer", ["marshal", "msgpack", "pickle"])
def test_a_large_bytes_reply_is_byte_identical_to_dumps(echo_uri, serializer):
    ser = serializers.get_serializer(serializer)
    data = bytes(range(256)) * 400
    uri = serializers.URI(echo_uri)
    with socket.create_connection((uri.host, uri.port)) as sock:
        sock.sendall(b"".join(wire.encode(wire.MSG_CONNECT, ser.dumps({"handshake": "hi"}), ser.serializer_id, 0, 0)))
        ok = _receive(sock)
        assert ok.type == wire.MSG_CONNECTOK
        sock.sendall(
            b"".join(wire.encode(wire.MSG_INVOKE, ser.dumpsCall("echo", "echo", (data,), {}), ser.serializer_id, 0, 1))
        )
        reply = _receive(sock)
    assert reply.type == wire.MSG_RESULT and not reply.flags
    assert bytes(reply.data) == ser.dumps(data)
    assert ser.loads(reply.data) == data


def _receive(sock):
    head = _exactly(sock, wire.HEADER_SIZE)
    header = wire.parse_header(head)
    body = _exactly(sock, header.annotations_size + header.data_size)
    return wire.finish_message(header, body[: header.annotations_size], body[header.annotations_size :])


def _exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data
