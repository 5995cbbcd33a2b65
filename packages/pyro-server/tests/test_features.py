"""Streams, timeouts, call context, tracebacks, compression and size limits."""

import time

import pytest

from pyro_client import Proxy
from pyro_protocol import message as wire
from pyro_protocol import serializers
from pyro_protocol.config import config
from pyro_protocol.context import current_context
from pyro_protocol.decoder import MessageDecoder
from pyro_protocol.errors import ConnectionClosedError, PyroError
from pyro_protocol.transport import recv_exactly
from pyro_server import Daemon


class Service:
    def gen(self, n):
        yield from range(n)

    def endless(self):
        i = 0
        while True:
            yield i
            i += 1

    def context(self):
        ctx = current_context
        return {
            "client": ctx.client_sock_addr[0],
            "seq": ctx.seq,
            "serializer": ctx.serializer_id,
            "flags": ctx.msg_flags,
            "has_corr": ctx.correlation_id is not None,
        }

    def fail(self):
        secret_local = "visible-in-detailed-traceback"  # noqa: F841
        raise ValueError("failed on purpose")

    def echo(self, data):
        return data

    def big(self, size):
        return b"x" * size

    def annotated(self, size):
        # a new dict, as Pyro4's docs and its filetransfer example do it
        current_context.response_annotations = {"XTRA": b"new dict"}
        return b"x" * size


def _start(run, **config_items):
    for item, value in config_items.items():
        setattr(config, item, value)
    daemon = Daemon(host="127.0.0.1")
    uri = str(daemon.register(Service(), "svc"))
    return daemon, uri


def test_streams_are_lazy_and_closed(pyro4, run):
    daemon, uri = _start(run)
    with run(daemon), pyro4.Proxy(uri) as proxy:
        iterator = proxy.endless()
        assert [next(iterator) for _ in range(5)] == [0, 1, 2, 3, 4]
        assert len(daemon.streaming_responses) == 1
        iterator.close()
        deadline = time.monotonic() + 5
        while daemon.streaming_responses and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not daemon.streaming_responses
        assert list(proxy.gen(3)) == [0, 1, 2]


def test_unknown_stream_is_terminated(pyro4, run):
    daemon, uri = _start(run)
    with run(daemon), pyro4.Proxy(uri.replace("svc@", "Pyro.Daemon@")) as proxy:
        with pytest.raises(pyro4.errors.PyroError, match="item stream terminated"):
            proxy.get_next_stream_item("no-such-stream")


def test_stream_lifetime_expires(pyro4, run):
    daemon, uri = _start(run, ITER_STREAM_LIFETIME=0.2, POLLTIMEOUT=0.1)
    with run(daemon), pyro4.Proxy(uri) as proxy:
        iterator = proxy.endless()
        assert next(iterator) == 0
        time.sleep(2.5)
        with pytest.raises(pyro4.errors.PyroError, match="item stream terminated"):
            next(iterator)


def test_stream_without_linger_ends_with_connection(pyro4, run):
    daemon, uri = _start(run, ITER_STREAM_LINGER=0)
    with run(daemon):
        with pyro4.Proxy(uri) as proxy:
            iterator = proxy.endless()
            next(iterator)
            proxy._pyroRelease()
        deadline = time.monotonic() + 5
        while daemon.streaming_responses and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not daemon.streaming_responses
        del iterator


def test_streaming_disabled(pyro4, run):
    daemon, uri = _start(run, ITER_STREAMING=False)
    with run(daemon), pyro4.Proxy(uri) as proxy:
        with pytest.raises(pyro4.errors.PyroError, match="not configured to allow streaming"):
            proxy.gen(3)


def test_call_context_on_the_server(pyro4, run):
    daemon, uri = _start(run)
    pyro4.config.SERIALIZER = "json"
    with run(daemon), pyro4.Proxy(uri) as proxy:
        first = proxy.context()
        second = proxy.context()
    assert first["client"] == "127.0.0.1" and first["serializer"] == 2 and first["has_corr"]
    assert second["seq"] == first["seq"] + 1


@pytest.mark.parametrize("detailed", [False, True])
def test_remote_traceback(pyro4, run, detailed):
    daemon, uri = _start(run, DETAILED_TRACEBACK=detailed)
    with run(daemon), pyro4.Proxy(uri) as proxy:
        with pytest.raises(ValueError, match="failed on purpose") as caught:
            proxy.fail()
    text = "".join(caught.value._pyroTraceback)
    assert "in fail" in text
    assert ("visible-in-detailed-traceback" in text) is detailed


@pytest.mark.parametrize("size", [10, 100_000])  # a small reply, and a large bytes one (sent as it is)
def test_response_annotations_assigned_as_a_new_dict_are_sent(pyro4, run, size):
    daemon, uri = _start(run)
    pyro4.config.SERIALIZER = "marshal"
    with run(daemon):
        with Proxy(uri) as proxy:
            proxy._pyroSerializer = "marshal"
            assert proxy.annotated(size) == b"x" * size
            assert current_context.response_annotations["XTRA"] == b"new dict"
            assert len(current_context.response_annotations["CORR"]) == 16
        with pyro4.Proxy(uri) as proxy:
            assert proxy.annotated(size) == b"x" * size
            assert pyro4.current_context.response_annotations["XTRA"] == b"new dict"


def test_commtimeout_drops_silent_connections(pyro4, run):
    daemon, uri = _start(run, COMMTIMEOUT=0.3)
    with run(daemon):
        with pyro4.Proxy(uri) as proxy:
            proxy._pyroBind()
            deadline = time.monotonic() + 5
            while daemon.transportServer.connections and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not daemon.transportServer.connections
            with pytest.raises(pyro4.errors.ConnectionClosedError):
                proxy.echo(1)
            assert proxy.echo(2) == 2  # a Pyro4 proxy reconnects on the call after a failure


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_commtimeout_is_enforced_close_to_the_limit(run, servertype):
    daemon, uri = _start(run, COMMTIMEOUT=0.3, SERVERTYPE=servertype)
    with run(daemon), Proxy(uri) as proxy:
        for number in range(6):  # calls 0.1 s apart keep the connection alive past the limit
            assert proxy.echo(number) == number
            last_call = time.monotonic()
            time.sleep(0.1)
        assert len(daemon.transportServer.connections) == 1
        while daemon.transportServer.connections and time.monotonic() < last_call + 0.6:
            time.sleep(0.02)
        assert not daemon.transportServer.connections, "still connected after 0.6 s idle with COMMTIMEOUT 0.3"
        with pytest.raises(ConnectionClosedError):
            proxy.echo(1)


def test_compressed_requests_and_replies(pyro4, run):
    daemon, uri = _start(run, COMPRESSION=True)
    pyro4.config.COMPRESSION = True
    payload = "x" * 100_000
    with run(daemon), pyro4.Proxy(uri) as proxy:
        assert proxy.echo(payload) == payload


def test_large_payload(pyro4, run):
    daemon, uri = _start(run)
    pyro4.config.SERIALIZER = "marshal"
    payload = b"\x01" * (10 * 1024 * 1024)
    with run(daemon), pyro4.Proxy(uri) as proxy:
        assert proxy.echo(payload) == payload


def test_reply_over_max_message_size(pyro4, run):
    daemon, uri = _start(run, MAX_MESSAGE_SIZE=10_000)
    pyro4.config.SERIALIZER = "marshal"
    with run(daemon), pyro4.Proxy(uri) as proxy:
        with pytest.raises(pyro4.errors.MessageTooLargeError):
            proxy.big(20_000)


class RawTalker:
    def talk(self):
        """Pyro4 programs may talk on the raw connection: say ready, read 5 bytes, answer."""
        conn = current_context.client
        conn.send(b"ready")
        heard = conn.recv(5)
        conn.send(b"pong!")
        return heard.decode()

    def listen(self):
        return current_context.client.recv(5)

    def about_connection(self):
        conn = current_context.client
        before = conn.getTimeout()
        conn.setTimeout(2.5)
        after = (conn.getTimeout(), conn.timeout)
        conn.timeout = None
        return {
            "objectId": conn.objectId,
            "family": conn.family(),
            "fileno": conn.fileno() == conn.sock.fileno(),
            "timeouts": [before, *after, conn.timeout],
            "keep_open": conn.keep_open,
            "instances": conn.pyroInstances == {},
            "resources": len(conn.tracked_resources),
            "cert": conn.getpeercert(),
        }


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_client_connection_has_what_pyro4s_socket_connection_has(run, servertype):
    config.SERVERTYPE = servertype
    config.COMMTIMEOUT = 4.0
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(RawTalker(), "raw")
    with run(daemon):
        with Proxy(uri) as proxy:
            assert proxy.about_connection() == {
                "objectId": None,
                "family": "IPv4",
                "fileno": True,
                "timeouts": [4.0, 2.5, 2.5, 60.0],
                "keep_open": False,
                "instances": True,
                "resources": 0,
                "cert": None,
            }
            if servertype == "asyncio":  # (it reads its connections itself: no raw talk)
                with pytest.raises(PyroError, match="recv"):
                    proxy.listen()
                return
            # the proxy's connection is past its handshake: talk on it by hand
            sock = proxy._pyroConnection.sock
            serpent = serializers.get_serializer("serpent")
            sock.sendall(b"".join(wire.encode(wire.MSG_INVOKE, serpent.dumpsCall("raw", "talk", (), {}), 1, 0, 99)))
            assert recv_exactly(sock, 5) == b"ready"
            sock.sendall(b"hello")
            assert recv_exactly(sock, 5) == b"pong!"
            decoder = MessageDecoder()
            replies = decoder.feed(recv_exactly(sock, wire.HEADER_SIZE))
            while not replies:
                replies = decoder.feed(sock.recv(65536))
            assert replies[0].seq == 99 and serpent.loads(replies[0].data) == "hello"


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_message_ping_on_a_proxys_connection(serve, servertype):
    """Pyro4's disconnects example: Message.ping(proxy._pyroConnection) to see if the connection lives."""

    class Echo:
        def echo(self, value):
            return value

    config.SERVERTYPE = servertype
    _daemon, uri = serve(Echo())
    with Proxy(uri) as proxy:
        assert proxy.echo(1) == 1
        wire.Message.ping(proxy._pyroConnection)
        wire.Message(wire.MSG_PING, b"again", 42, seq=7).send(proxy._pyroConnection)
        answer = wire.Message.recv(proxy._pyroConnection, [wire.MSG_PING])
        assert (answer.seq, answer.data) == (7, b"pong")
        assert proxy.echo(2) == 2  # the stream is still in step
        proxy._pyroConnection.sock.shutdown(2)
        with pytest.raises(ConnectionClosedError):
            wire.Message.ping(proxy._pyroConnection)


class AsyncService:
    async def ready(self):
        return "ready"

    async def ticks(self):
        yield 1


@pytest.mark.parametrize("servertype", ["thread", "multiplex"])
def test_async_methods_need_the_asyncio_server(run, servertype):
    config.SERVERTYPE = servertype
    with run(Daemon(host="127.0.0.1")) as daemon:
        uri = daemon.register(AsyncService(), "async.service")
        with Proxy(uri) as proxy:
            for method in (proxy.ready, proxy.ticks):
                with pytest.raises(TypeError, match=r"async def .* asyncio server type only .*SERVERTYPE='asyncio'"):
                    method()
            assert proxy._pyroBind() is False  # still connected (the error did not end the connection)
