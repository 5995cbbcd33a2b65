"""ProxyConnection: a proxy's socket driven by the protocol's ClientSession."""

from __future__ import annotations

import socket

import pytest

from pyro_client.connection import ProxyConnection
from pyro_protocol import errors, message, serializers
from pyro_protocol.errors import ConnectionClosedError, ProtocolError
from pyro_protocol.session import ClientSession

SERPENT = serializers.get_serializer("serpent")


@pytest.fixture()
def link():
    """A ProxyConnection on one end of a socket pair (past its handshake, one call sent), the peer on the other."""
    ours, peer = socket.socketpair()
    conn = ProxyConnection(ours, ClientSession(SERPENT, handshake_done=True))
    seq, frames = conn.session.invoke(SERPENT.dumpsCall("obj", "add", (1, 2), {}))
    conn.send(frames)
    peer.recv(65536)
    with ours, peer:
        yield conn, peer, seq


def reply(seq: int, value: object) -> bytes:
    return b"".join(message.encode(message.MSG_RESULT, SERPENT.dumps(value), SERPENT.serializer_id, 0, seq))


def test_a_reply_in_pieces_is_one_result(link):
    conn, peer, seq = link
    data = reply(seq, 3)
    for start in range(0, len(data), 7):
        peer.sendall(data[start : start + 7])
    msg, value = conn.receive()
    assert (msg.seq, value) == (seq, 3)


def test_eof_in_the_middle_of_a_reply_is_connection_closed(link):
    conn, peer, seq = link
    peer.sendall(reply(seq, "x" * 100)[:50])
    peer.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionClosedError, match="connection lost"):
        conn.receive()


def test_eof_in_the_header_is_connection_closed(link):
    conn, peer, _ = link
    peer.sendall(b"PYRO\x00")
    peer.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionClosedError):
        conn.receive()


def test_a_silent_server_is_a_timeout(link):
    conn, _, _ = link
    conn.sock.settimeout(0.1)
    with pytest.raises(errors.TimeoutError, match="receiving: timeout"):
        conn.receive()


def test_a_reply_to_no_call_is_a_protocol_error(link):
    conn, peer, seq = link
    peer.sendall(reply(seq + 5, 3))
    with pytest.raises(ProtocolError, match=f"got {seq + 5} expected {seq}"):
        conn.receive()


def test_the_reply_of_an_abandoned_call_is_dropped(link):
    conn, peer, seq = link
    conn.session.abandon(seq)
    second, frames = conn.session.invoke(SERPENT.dumpsCall("obj", "add", (2, 2), {}))
    conn.send(frames)
    peer.sendall(reply(seq, "late") + reply(second, 4))
    msg, value = conn.receive()
    assert (msg.seq, value) == (second, 4)


def test_the_reply_of_an_abandoned_call_arriving_alone_is_dropped(link):
    conn, _, seq = link
    conn.session.abandon(seq)
    second, _frames = conn.session.invoke(SERPENT.dumpsCall("obj", "add", (2, 2), {}))
    assert conn.session.receive(reply(seq, "late")) == []  # (one message in one chunk: the quick path)
    [(msg, value)] = conn.session.receive(reply(second, 4))
    assert (msg.seq, value) == (second, 4)


def test_large_replies_reuse_one_receive_buffer():
    """A large reply is read into one buffer; once its value is loaded, the next large reply goes there too."""
    marshal = serializers.get_serializer("marshal")
    session = ClientSession(marshal, handshake_done=True)
    buffers = []
    for fill in (1, 2):
        seq, _frames = session.invoke(marshal.dumpsCall("obj", "echo", (b"",), {}))
        big = bytes([fill]) * (2 * 1024 * 1024)
        wire = b"".join(message.encode(message.MSG_RESULT, marshal.dumps(big), marshal.serializer_id, 0, seq))
        pos = 64 * 1024
        replies = session.receive(wire[:pos])
        while not replies:
            target = session.receive_target()
            assert target is not None
            buffers.append(target.obj)
            count = min(len(target), len(wire) - pos)
            target[:count] = wire[pos : pos + count]
            target.release()
            pos += count
            replies = session.received(count)
        ((msg, value),) = replies
        assert value == big
        assert msg.data == b""  # (its bytes were the buffer's, which now serves the next reply)
    assert len(buffers) >= 2 and all(buffer is buffers[0] for buffer in buffers)
