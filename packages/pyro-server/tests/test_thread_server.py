"""The thread server's workers: connections queued together each get a worker."""

from __future__ import annotations

import socket
import threading
import time

from pyro_client.connection import ProxyConnection
from pyro_protocol import serializers
from pyro_protocol.message import MSG_CONNECTOK
from pyro_protocol.session import ClientSession
from pyro_server import Daemon

SERPENT = serializers.get_serializer("serpent")


class Calc:
    def add(self, a: int, b: int) -> int:
        return a + b


def handshake(sock: socket.socket) -> ProxyConnection:
    conn = ProxyConnection(sock, ClientSession(SERPENT))
    conn.send(conn.session.connect("hello", None, None))
    msg, _ = conn.receive()
    assert msg.type == MSG_CONNECTOK
    return conn


def add(conn: ProxyConnection, a: int, b: int) -> int:
    _, frames = conn.session.invoke(SERPENT.dumpsCall("calc", "add", (a, b), {}))
    conn.send(frames)
    return conn.receive()[1]  # type: ignore[no-any-return]


def test_two_connections_queued_at_once_while_one_worker_is_idle_are_both_served(run):
    daemon = Daemon(host="127.0.0.1")
    daemon.register(Calc(), "calc")
    server = daemon.transportServer
    with run(daemon):
        with socket.create_connection(("127.0.0.1", server.bound_port), timeout=10) as warmup:
            assert add(handshake(warmup), 1, 1) == 2
        deadline = time.monotonic() + 10
        while not (len(server.workers) == server.idle_workers == 1) and time.monotonic() < deadline:
            time.sleep(0.01)  # the one worker is idle again
        assert len(server.workers) == server.idle_workers == 1
        # both are accepted in one go (neither has sent its handshake yet), so both are queued
        # for workers while a single one is idle
        busy_sock = socket.create_connection(("127.0.0.1", server.bound_port), timeout=10)
        other_sock = socket.create_connection(("127.0.0.1", server.bound_port), timeout=10)
        with busy_sock, other_sock:
            stop = threading.Event()

            def keep_busy() -> None:  # a client whose calls keep its worker lingering on it
                conn = handshake(busy_sock)
                while not stop.is_set():
                    assert add(conn, 2, 3) == 5

            busy = threading.Thread(target=keep_busy)
            busy.start()
            try:
                started = time.monotonic()
                other = handshake(other_sock)
                assert add(other, 20, 22) == 42
                waited = time.monotonic() - started
            finally:
                stop.set()
                busy.join(10)
        assert waited < 1.0, f"the second connection waited {waited:.2f} s for a worker"
