"""Message.recv and Message.ping on a plain socket (what a proxy's ``_pyroConnection`` is here),
as Pyro4 programs use them on Pyro4's SocketConnection: whole messages, and ConnectionClosedError
when the peer is gone."""

from __future__ import annotations

import socket
import threading

import pytest

from pyro_protocol import transport
from pyro_protocol.errors import ConnectionClosedError
from pyro_protocol.message import MSG_PING, SERIALIZER_ID_PING, Message, encode_bytes


@pytest.fixture()
def pair():
    ours, peer = socket.socketpair()
    ours.settimeout(10)
    peer.settimeout(10)
    yield ours, peer
    ours.close()
    peer.close()


def test_ping_over_a_socket_sends_a_ping_and_reads_the_answer(pair):
    ours, peer = pair
    seen = []

    def answer():
        seen.append(transport.receive_message(peer))
        reply = encode_bytes(MSG_PING, b"pong", SERIALIZER_ID_PING)
        peer.sendall(reply[:10])  # the answer in two pieces: recv must read the whole header
        peer.sendall(reply[10:])

    thread = threading.Thread(target=answer)
    thread.start()
    assert Message.ping(ours) is None
    thread.join(10)
    assert (seen[0].type, seen[0].data) == (MSG_PING, b"ping")


def test_ping_on_a_connection_the_peer_closed_raises_connection_closed(pair):
    ours, peer = pair
    peer.close()
    with pytest.raises(ConnectionClosedError):
        Message.ping(ours)


def test_recv_of_a_message_cut_short_raises_connection_closed(pair):
    ours, peer = pair
    peer.sendall(encode_bytes(MSG_PING, b"pong", SERIALIZER_ID_PING)[:12])
    peer.close()
    with pytest.raises(ConnectionClosedError):
        Message.recv(ours, [MSG_PING])
