"""The socket layer, over socketpairs, 127.0.0.1 / ::1 on port 0, and unix sockets in tmp_path."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

import pyro_protocol
from pyro_protocol import URI, errors, message, transport
from pyro_protocol.decoder import MessageDecoder
from pyro_protocol.errors import (
    CommunicationError,
    ConnectionClosedError,
    MessageTooLargeError,
    SecurityError,
)


def _head_and_body(frames):
    """A message's frames as (header with annotations, payload)."""
    data = b"".join(frames)
    size = 24 + int.from_bytes(data[18:20], "big")
    return data[:size], data[size:]


WAIT = 10.0  # seconds; every blocking step in these tests is bounded by it


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    left.settimeout(WAIT)
    right.settimeout(WAIT)
    with left, right:
        yield left, right


def in_thread(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def finish(thread: threading.Thread) -> None:
    thread.join(WAIT)
    assert not thread.is_alive()


# -- recv_exactly ------------------------------------------------------------------------------


def test_recv_exactly_joins_pieces(pair):
    left, right = pair
    left.sendall(b"abc")
    sender = in_thread(lambda: [left.sendall(b"defg"), left.sendall(b"hij")])
    assert transport.recv_exactly(right, 10) == b"abcdefghij"
    finish(sender)
    assert transport.recv_exactly(right, 0) == b""


def test_recv_exactly_large(pair):
    left, right = pair
    data = bytes(range(256)) * (5 * 4096)  # 5 MiB
    sender = in_thread(left.sendall, data)
    assert transport.recv_exactly(right, len(data)) == data
    finish(sender)


@pytest.mark.parametrize("size", [10, 5 * 1024 * 1024])
def test_recv_exactly_eof_midway_is_connection_closed(pair, size):
    left, right = pair
    left.sendall(b"12345")
    left.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionClosedError, match="connection lost"):
        transport.recv_exactly(right, size)


def test_recv_exactly_eof_at_start_is_connection_closed(pair):
    left, right = pair
    left.close()
    with pytest.raises(ConnectionClosedError):
        transport.recv_exactly(right, 24)


def test_recv_exactly_timeout(pair):
    left, right = pair
    right.settimeout(0.1)
    left.sendall(b"part")
    with pytest.raises(errors.TimeoutError, match="receiving: timeout"):
        transport.recv_exactly(right, 10)
    assert issubclass(errors.TimeoutError, CommunicationError)


def test_recv_exactly_on_closed_socket_is_connection_closed():
    left, right = socket.socketpair()
    left.close()
    right.close()
    with pytest.raises(ConnectionClosedError):
        transport.recv_exactly(right, 4)


# -- whole messages ------------------------------------------------------------------------------


def _receive_one(sock: socket.socket, **options: Any) -> message.Message:
    """Read one message from a blocking socket with the decoder (as every receiver does)."""
    decoder = MessageDecoder(**options)
    while True:
        data = sock.recv(65536)
        if not data:
            raise ConnectionClosedError("receiving: connection lost")
        messages = decoder.feed(data)
        if messages:
            return messages[0]


def test_send_and_receive_small_message(pair):
    left, right = pair
    head, body = _head_and_body(
        message.encode(message.MSG_INVOKE, b"payload", 1, message.FLAGS_ONEWAY, 7, {"CORR": b"c" * 16})
    )
    transport.send_frames(left, (head, body))
    msg = _receive_one(right)
    assert (msg.type, msg.flags, msg.seq, msg.serializer_id, msg.data) == (4, message.FLAGS_ONEWAY, 7, 1, b"payload")
    assert msg.annotations == {"CORR": b"c" * 16}


def test_send_and_receive_empty_payload(pair):
    left, right = pair
    transport.send_frames(left, message.encode(message.MSG_RESULT, b"", 1))
    assert _receive_one(right).data == b""


def test_send_and_receive_5_mib_message(pair):
    left, right = pair
    payload = bytes(range(251)) * (5 * 1024 * 1024 // 251)
    head, body = _head_and_body(message.encode(message.MSG_RESULT, payload, 4, 0, 3))
    sender = in_thread(transport.send_frames, left, (head, body))
    msg = _receive_one(right)
    finish(sender)
    assert msg.data == payload
    assert msg.seq == 3


def test_messages_back_to_back(pair):
    left, right = pair
    for seq in range(3):
        transport.send_frames(left, message.encode(message.MSG_PING, b"ping", 42, 0, seq))
    decoder = MessageDecoder()
    received: list[message.Message] = []
    while len(received) < 3:  # (bounded by the socket's timeout)
        received.extend(decoder.feed(right.recv(65536)))
    assert [msg.seq for msg in received] == [0, 1, 2]


def test_receive_message_refuses_oversize_before_reading_the_body(pair):
    left, right = pair
    head, _ = _head_and_body(message.encode(message.MSG_RESULT, b"x" * 5000, 1))
    left.sendall(head)  # the body never comes: reading it would time out instead
    right.settimeout(0.5)
    with pytest.raises(MessageTooLargeError, match=r"max message size exceeded \(5000 where max=1000\)"):
        _receive_one(right, max_message_size=1000)


def test_receive_message_bad_header_is_a_protocol_error(pair):
    left, right = pair
    left.sendall(b"HTTP/1.1 200 OK\r\n\r\n1234567")
    with pytest.raises(errors.ProtocolError, match="invalid data or unsupported protocol version"):
        _receive_one(right)


def test_receive_message_with_hmac(pair):
    left, right = pair
    transport.send_frames(left, message.encode(message.MSG_INVOKE, b"call", 1, hmac_key=b"key"))
    assert _receive_one(right, hmac_key=b"key").data == b"call"
    transport.send_frames(left, message.encode(message.MSG_INVOKE, b"call", 1, hmac_key=b"key"))
    with pytest.raises(SecurityError, match="message hmac mismatch"):
        _receive_one(right, hmac_key=b"other")


def test_receive_message_inflates_with_a_cap(pair):
    left, right = pair
    transport.send_frames(left, message.encode(message.MSG_RESULT, b"a" * 1000, 1, compress=True))
    assert _receive_one(right).data == b"a" * 1000
    bomb = zlib.compress(bytes(2 * 1024 * 1024))
    transport.send_frames(left, message.encode(message.MSG_RESULT, bomb, 1, message.FLAGS_COMPRESSED))
    with pytest.raises(MessageTooLargeError, match="inflates past the limit of 1048576 bytes"):
        _receive_one(right, max_message_size=1024 * 1024)
    transport.send_frames(left, message.encode(message.MSG_RESULT, bomb, 1, message.FLAGS_COMPRESSED))
    with pytest.raises(MessageTooLargeError, match="limit of 4096 bytes"):
        _receive_one(right, max_inflated_size=4096)


def test_send_to_closed_peer_is_connection_closed():
    left, right = socket.socketpair()
    with left:
        right.close()
        with pytest.raises(ConnectionClosedError, match="sending: connection lost"):
            for _ in range(100):  # bounded: the first send after the close normally fails already
                transport.send_frames(left, message.encode(message.MSG_PING, b"ping", 42))


def test_send_timeout(pair):
    left, _ = pair
    left.settimeout(0.1)
    with pytest.raises(errors.TimeoutError, match="sending: timeout"):
        transport.send_frames(left, (b"", bytes(64 * 1024 * 1024)))  # nobody reads: the buffers fill up


# -- listening and connecting --------------------------------------------------------------------


@contextlib.contextmanager
def connected(server: socket.socket, uri: URI) -> Iterator[tuple[socket.socket, socket.socket]]:
    with server:
        client = transport.connect(uri, timeout=WAIT)
        with client:
            accepted, _ = server.accept()
            with accepted:
                accepted.settimeout(WAIT)
                yield client, accepted


def exchange(client: socket.socket, accepted: socket.socket) -> None:
    transport.send_frames(client, message.encode(message.MSG_PING, b"ping", 42, 0, 5))
    request = _receive_one(accepted)
    assert (request.type, request.data, request.seq) == (message.MSG_PING, b"ping", 5)
    transport.send_frames(accepted, message.encode(message.MSG_PING, b"pong", 42, 0, request.seq))
    assert _receive_one(client).data == b"pong"


def test_tcp_server_on_ipv4_loopback():
    server = transport.create_server_socket("127.0.0.1", 0)
    host, port = server.getsockname()
    assert host == "127.0.0.1" and port > 0
    assert server.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    with connected(server, URI(f"PYRO:obj@127.0.0.1:{port}")) as (client, accepted):
        assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        exchange(client, accepted)


def test_tcp_server_without_reuse():
    with transport.create_server_socket("127.0.0.1", 0, reuse=False) as server:
        assert not server.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)


def _ipv6_loopback_works() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback_works(), reason="no IPv6 loopback here")
def test_tcp_server_on_ipv6_loopback():
    server = transport.create_server_socket("::1", 0)
    assert server.family == socket.AF_INET6
    port = server.getsockname()[1]
    with connected(server, URI(f"PYRO:obj@[::1]:{port}")) as (client, accepted):
        exchange(client, accepted)


def test_unix_socket_server(tmp_path):
    path = str(tmp_path / "pyro.sock")
    server = transport.create_server_socket(unixsocket=path)
    assert server.family == socket.AF_UNIX
    with connected(server, URI(f"PYRO:obj@./u:{path}")) as (client, accepted):
        exchange(client, accepted)


def test_unix_socket_server_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "pyro.sock"
    with transport.create_server_socket(unixsocket=str(path)):
        assert [entry.name for entry in tmp_path.iterdir()] == ["pyro.sock"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract unix sockets are Linux's")
def test_abstract_unix_socket_server():
    name = f"\0pyro-test-{os.getpid()}-{threading.get_ident()}"
    server = transport.create_server_socket(unixsocket=name)
    with connected(server, URI(f"PYRO:obj@./u:{name}")) as (client, accepted):
        exchange(client, accepted)


def test_unix_socket_server_replaces_a_stale_socket_file(tmp_path):
    path = str(tmp_path / "stale.sock")
    with transport.create_server_socket(unixsocket=path):
        pass  # closed, the file stays behind
    server = transport.create_server_socket(unixsocket=path)
    with connected(server, URI(f"PYRO:obj@./u:{path}")) as (client, accepted):
        exchange(client, accepted)


def test_unix_socket_in_missing_directory_is_a_communication_error(tmp_path):
    with pytest.raises(CommunicationError, match="cannot listen on unix socket"):
        transport.create_server_socket(unixsocket=str(tmp_path / "missing" / "pyro.sock"))


def test_listening_on_a_taken_port_is_a_communication_error():
    with transport.create_server_socket("127.0.0.1", 0, reuse=False) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(CommunicationError, match=f"cannot listen on 127.0.0.1:{port}"):
            transport.create_server_socket("127.0.0.1", port, reuse=False)


def test_connect_refused_names_the_address():
    with transport.create_server_socket("127.0.0.1", 0) as server:
        port = server.getsockname()[1]
    with pytest.raises(CommunicationError, match=f"cannot connect to 127.0.0.1:{port}"):
        transport.connect(URI(f"PYRO:obj@127.0.0.1:{port}"), timeout=WAIT)


def test_connect_to_missing_unix_socket(tmp_path):
    path = str(tmp_path / "nobody.sock")
    with pytest.raises(CommunicationError, match=f"cannot connect to unix socket {path}"):
        transport.connect(URI(f"PYRO:obj@./u:{path}"), timeout=WAIT)


def test_connect_needs_a_location():
    with pytest.raises(CommunicationError, match="has no location to connect to"):
        transport.connect(URI("PYRONAME:some.name"))


def test_close_socket_is_forgiving():
    left, right = socket.socketpair()
    transport.close_socket(left)
    transport.close_socket(left)
    transport.close_socket(None)
    right.close()
    assert left.fileno() == -1


# -- TLS -------------------------------------------------------------------------------------------


@pytest.fixture
def tls_files(tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client_cert = ca.issue_cert("client@example.org")
    files = {
        "ca": tmp_path / "ca.pem",
        "server": tmp_path / "server.pem",
        "client": tmp_path / "client.pem",
        "other_ca": tmp_path / "other-ca.pem",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(files["server"]))
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(files["client"]))
    trustme.CA().cert_pem.write_to_path(str(files["other_ca"]))
    return {name: str(path) for name, path in files.items()}


def tls_config(files: dict[str, str], cacerts: str, require_client_cert: bool = False):
    cfg = pyro_protocol.Config(useenvironment=False)
    cfg.SSL = True
    cfg.SSL_SERVERCERT = files["server"]
    cfg.SSL_CACERTS = cacerts
    cfg.SSL_CLIENTCERT = files["client"]
    cfg.SSL_REQUIRECLIENTCERT = require_client_cert
    return cfg


def serve_one_tls(server: socket.socket, context, results: list) -> None:
    accepted, _ = server.accept()
    with accepted:
        accepted.settimeout(WAIT)
        try:
            with context.wrap_socket(accepted, server_side=True) as tls:
                request = _receive_one(tls)
                transport.send_frames(tls, message.encode(message.MSG_PING, b"pong", 42, 0, request.seq))
                results.append(request.data)
        except (OSError, CommunicationError) as exc:
            results.append(exc)


@pytest.mark.parametrize("require_client_cert", [False, True])
def test_tls_round_trip(tls_files, require_client_cert):
    cfg = tls_config(tls_files, tls_files["ca"], require_client_cert)
    results: list = []
    with transport.create_server_socket("127.0.0.1", 0) as server:
        port = server.getsockname()[1]
        thread = in_thread(serve_one_tls, server, transport.server_ssl_context(cfg), results)
        with transport.connect(URI(f"PYRO:obj@127.0.0.1:{port}"), WAIT, transport.client_ssl_context(cfg)) as client:
            transport.send_frames(client, message.encode(message.MSG_PING, b"ping", 42, 0, 1))
            assert _receive_one(client).data == b"pong"
        finish(thread)
    assert results == [b"ping"]


def test_tls_with_an_untrusted_server_is_refused(tls_files):
    server_cfg = tls_config(tls_files, tls_files["ca"])
    client_cfg = tls_config(tls_files, tls_files["other_ca"])
    results: list = []
    with transport.create_server_socket("127.0.0.1", 0) as server:
        port = server.getsockname()[1]
        thread = in_thread(serve_one_tls, server, transport.server_ssl_context(server_cfg), results)
        with pytest.raises(CommunicationError, match=f"TLS handshake with 127.0.0.1:{port} failed"):
            transport.connect(URI(f"PYRO:obj@127.0.0.1:{port}"), WAIT, transport.client_ssl_context(client_cfg))
        finish(thread)
    assert len(results) == 1 and isinstance(results[0], OSError)


def test_tls_server_needs_a_certificate():
    cfg = pyro_protocol.Config(useenvironment=False)
    with pytest.raises(CommunicationError, match="SSL_SERVERCERT is not set"):
        transport.server_ssl_context(cfg)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_connecting_to_an_address_literal_needs_no_name_lookup(host, monkeypatch):
    if host == "::1" and not _ipv6_loopback_works():
        pytest.skip("no IPv6 loopback here")

    def no_lookup(*args, **kwargs):
        raise AssertionError(f"name lookup for {args[0]!r}")

    server = transport.create_server_socket(host, 0)
    port = server.getsockname()[1]
    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    location = f"[{host}]" if ":" in host else host
    with connected(server, URI(f"PYRO:obj@{location}:{port}")) as (client, accepted):
        assert client.family == (socket.AF_INET6 if ":" in host else socket.AF_INET)
        assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        exchange(client, accepted)


def test_a_host_name_is_still_looked_up(monkeypatch):
    looked_up = []
    real_lookup = socket.getaddrinfo

    def lookup(host, *args, **kwargs):
        looked_up.append(host)
        return real_lookup(host, *args, **kwargs)

    server = transport.create_server_socket("127.0.0.1", 0)
    port = server.getsockname()[1]
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    with connected(server, URI(f"PYRO:obj@localhost:{port}")) as (client, accepted):
        exchange(client, accepted)
    assert looked_up == ["localhost"]


def test_connecting_to_an_address_literal_with_nobody_listening_is_a_communication_error():
    with transport.create_server_socket("127.0.0.1", 0, reuse=False) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(CommunicationError, match=f"cannot connect to 127.0.0.1:{port}"):
        transport.create_connection("127.0.0.1", port, timeout=WAIT)
