"""The handshake path: answered where it is cheapest, hooks kept in workers, replies that follow changes."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pyro_client import Proxy
from pyro_protocol import message as wire
from pyro_protocol import serializers
from pyro_protocol.config import config
from pyro_protocol.decoder import MessageDecoder
from pyro_protocol.errors import CommunicationError
from pyro_server import Daemon, expose, servers

SERVERTYPES = ["thread", "multiplex", "asyncio"]
WAIT = 10.0


class Echo:
    def echo(self, x):
        return x


class Other:
    def other(self):
        return "other"


class Mixed:
    @expose
    def shown(self):
        return 1

    def unmarked(self):
        return 2


def _messages(sock, count):
    """Read until ``count`` whole messages have arrived (bounded by the socket timeout)."""
    decoder = MessageDecoder()
    messages = []
    while len(messages) < count:
        data = sock.recv(65536)
        assert data, f"connection closed after {len(messages)} of {count} messages"
        messages.extend(decoder.feed(data))
    return messages


def _connect_and_call(uri, serializer_name="serpent"):
    ser = serializers.get_serializer(serializer_name)
    connect = wire.encode(
        wire.MSG_CONNECT,
        ser.dumps({"handshake": "hello", "object": uri.object}),
        ser.serializer_id,
        wire.FLAGS_META_ON_CONNECT,
        0,
    )
    call = wire.encode(wire.MSG_INVOKE, ser.dumpsCall(uri.object, "echo", ("piped",), {}), ser.serializer_id, 0, 1)
    return b"".join(connect) + b"".join(call)


@pytest.mark.parametrize("servertype", SERVERTYPES)
def test_a_request_sent_together_with_the_handshake_is_answered(servertype, run, monkeypatch):
    """A client that does not wait for CONNECTOK before its first request gets both replies at once."""
    # a worker waiting this long for a request it already has would show as a timeout below
    monkeypatch.setattr(servers, "WORKER_LINGER", 30.0)
    config.SERVERTYPE = servertype
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Echo(), "echo")
    with run(daemon):
        for _ in range(20):  # the accept thread sees both at once, or the handshake alone: both ways
            with socket.create_connection((uri.host, uri.port), timeout=3.0) as sock:
                sock.sendall(_connect_and_call(uri))
                connect_ok, result = _messages(sock, 2)
            assert connect_ok.type == wire.MSG_CONNECTOK
            assert result.type == wire.MSG_RESULT and not result.flags & wire.FLAGS_EXCEPTION
            assert serializers.get_serializer("serpent").loads(result.data) == "piped"


def test_a_custom_handshake_hook_runs_in_a_worker_not_in_the_accepting_thread(run):
    """The thread server answers a plain handshake in its accept loop, but never runs user hooks there."""
    config.SERVERTYPE = "thread"
    seen = []

    class Checking(Daemon):
        def validateHandshake(self, conn, data):
            seen.append(threading.current_thread())
            return f"welcome {data}"

    daemon = Checking(host="127.0.0.1")
    uri = daemon.register(Echo(), "echo")
    loop_threads = []
    original_loop = daemon.requestLoop

    def loop(*args, **kwargs):
        loop_threads.append(threading.current_thread())
        original_loop(*args, **kwargs)

    daemon.requestLoop = loop
    with run(daemon):
        for _ in range(5):
            with Proxy(uri) as proxy:
                proxy._pyroHandshake = "me"
                assert proxy.echo(3) == 3
    assert len(seen) == 5
    assert loop_threads and all(thread is not loop_threads[0] for thread in seen)


@pytest.mark.parametrize("servertype", SERVERTYPES)
def test_a_hook_returning_a_new_value_each_time_is_sent_each_time(servertype, run):
    config.SERVERTYPE = servertype
    count = iter(range(100))
    received = []

    class Counting(Daemon):
        def validateHandshake(self, conn, data):
            return next(count)

    class Recording(Proxy):
        def _pyroValidateHandshake(self, response):
            received.append(response)

    daemon = Counting(host="127.0.0.1")
    uri = daemon.register(Echo(), "echo")
    with run(daemon):
        for _ in range(3):
            with Recording(uri) as proxy:
                proxy._pyroBind()
    assert received == [0, 1, 2]


@pytest.mark.parametrize("servertype", SERVERTYPES)
@pytest.mark.parametrize("serializer_name", ["serpent", "json", "marshal", "msgpack"])
def test_the_metadata_sent_on_connect_follows_the_registered_object(servertype, serializer_name, run):
    """Replacing the object behind an id, or the expose rule, changes what the next client is told."""
    config.SERVERTYPE = servertype
    config.SERIALIZER = serializer_name
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Echo(), "thing")
    with run(daemon):
        with Proxy(uri) as proxy:
            proxy._pyroBind()
            assert proxy._pyroMethods == {"echo"}
        with Proxy(uri) as proxy:
            proxy._pyroBind()
            assert proxy._pyroMethods == {"echo"}  # (the same reply again)
        daemon.unregister("thing")
        daemon.register(Other(), "thing")
        with Proxy(uri) as proxy:
            proxy._pyroBind()
            assert proxy._pyroMethods == {"other"}
            assert proxy.other() == "other"
        daemon.unregister("thing")
        daemon.register(Mixed(), "thing")
        config.REQUIRE_EXPOSE = False
        with Proxy(uri) as proxy:
            proxy._pyroBind()
            assert proxy._pyroMethods == {"shown", "unmarked"}
        config.REQUIRE_EXPOSE = True
        with Proxy(uri) as proxy:
            proxy._pyroBind()
            assert proxy._pyroMethods == {"shown"}


def test_metadata_sets_a_client_gets_are_its_own():
    """Proxies connecting to the same object share nothing mutable from the (reused) reply."""
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Echo(), "echo")
    thread = threading.Thread(target=daemon.requestLoop, daemon=True)
    thread.start()
    try:
        first, second = Proxy(uri), Proxy(uri)
        with first, second:
            first._pyroBind()
            second._pyroBind()
            first._pyroMethods.add("local-only")
            assert second._pyroMethods == {"echo"}
            with Proxy(uri) as third:
                third._pyroBind()
                assert third._pyroMethods == {"echo"}
    finally:
        daemon.shutdown()
        thread.join(WAIT)
        daemon.close()


@pytest.mark.parametrize("servertype", SERVERTYPES)
def test_client_disconnect_runs_only_for_connections_that_completed_the_handshake(servertype, run):
    config.SERVERTYPE = servertype
    disconnected = []

    class Guarded(Daemon):
        def validateHandshake(self, conn, data):
            if data == "deny":
                raise ValueError("go away")
            return "welcome"

        def clientDisconnect(self, conn):
            disconnected.append(conn)

    daemon = Guarded(host="127.0.0.1")
    uri = daemon.register(Echo(), "echo")
    with run(daemon):
        with Proxy(uri) as refused:
            refused._pyroHandshake = "deny"
            with pytest.raises(CommunicationError, match="go away"):
                refused.echo(1)
        with socket.create_connection((uri.host, uri.port), timeout=3.0):
            pass  # no handshake at all
        with socket.create_connection((uri.host, uri.port), timeout=3.0) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n" + b"\0" * 24)  # garbage instead of a handshake
            sock.recv(1000)
        with Proxy(uri) as accepted:
            assert accepted.echo(2) == 2
        deadline = time.monotonic() + WAIT
        while daemon.transportServer.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not daemon.transportServer.connections
    assert len(disconnected) == 1 and disconnected[0].handshake_done
