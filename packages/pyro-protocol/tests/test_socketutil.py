"""pyro_protocol.socketutil, the counterpart of Pyro4's socketutil: real sockets on loopback
(port 0), socketpairs and unix sockets in tmp_path; Pyro4 4.82's own module for the names."""

from __future__ import annotations

import errno
import gc
import inspect
import socket
import ssl
import threading
import time

import pytest

import pyro_protocol
from pyro_protocol import socketutil
from pyro_protocol.errors import CommunicationError, ConnectionClosedError, TimeoutError

WAIT = 10.0  # seconds; every blocking step in these tests is bounded by it


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")


@pytest.fixture
def pair():
    left, right = socket.socketpair()
    left.settimeout(WAIT)
    right.settimeout(WAIT)
    with left, right:
        yield left, right


class Worker:
    """Runs a function in a thread; ``result()`` joins it (bounded) and returns or raises what it did."""

    def __init__(self, target, *args) -> None:
        self._outcome: list = []
        self._thread = threading.Thread(target=self._run, args=(target, args), daemon=True)
        self._thread.start()

    def _run(self, target, args) -> None:
        try:
            self._outcome.append((True, target(*args)))
        except BaseException as exc:
            self._outcome.append((False, exc))

    def result(self):
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "the thread did not finish in time"
        ok, value = self._outcome[0]
        if not ok:
            raise value
        return value


def send_in_pieces(sock: socket.socket, pieces: list[bytes], pause: float = 0.02) -> None:
    for piece in pieces:
        time.sleep(pause)
        sock.sendall(piece)


def accept_one(server: socket.socket) -> socket.socket:
    accepted, _ = server.accept()
    accepted.settimeout(WAIT)
    return accepted


# -- the same names as Pyro4 4.82 ------------------------------------------------------------------


def _pyro4_public_names():
    pyro4_socketutil = pytest.importorskip("Pyro4.socketutil")
    if pyro4_socketutil.getIpAddress is socketutil.getIpAddress:
        pytest.skip("this Pyro4 is the compatibility package (our own module), not genuine Pyro4 4.82")
    names = {}
    for name, value in vars(pyro4_socketutil).items():
        if name.startswith("_"):
            continue
        defined_there = getattr(value, "__module__", None) == pyro4_socketutil.__name__
        if defined_there or name.startswith("ERRNO_"):
            names[name] = value
    return names


def test_pyro4_public_names_are_all_here():
    names = _pyro4_public_names()
    assert len(names) > 20  # (the check would pass vacuously if the lookup found nothing)
    missing = sorted(name for name in names if not hasattr(socketutil, name))
    assert missing == []
    assert set(socketutil.__all__) == set(names)


def _comparable(signature: inspect.Signature):
    """Parameter names, kinds, and defaults (except Pyro4's private "default timeout" marker)."""
    return [
        (p.name, p.kind, p.default if type(p.default) is not object else "<marker>")
        for p in signature.parameters.values()
    ]


@pytest.mark.parametrize("name", [name for name in socketutil.__all__ if not name.startswith("ERRNO_")])
def test_signatures_match_pyro4(name):
    theirs = _pyro4_public_names()[name]
    ours = getattr(socketutil, name)
    ours_sig = _comparable(inspect.signature(ours))
    theirs_sig = _comparable(inspect.signature(theirs))
    ours_sig = [(n, k, "<marker>" if d is socketutil._GLOBAL_DEFAULT_TIMEOUT else d) for n, k, d in ours_sig]
    assert ours_sig == theirs_sig


def test_socket_connection_has_pyro4s_methods():
    theirs = _pyro4_public_names()["SocketConnection"]
    for name, member in vars(theirs).items():
        if name.startswith("_") and name not in ("__enter__", "__exit__", "__del__"):
            continue
        assert hasattr(socketutil.SocketConnection, name), name
        if callable(member):
            ours = getattr(socketutil.SocketConnection, name)
            assert list(inspect.signature(ours).parameters)[:1] == ["self"]
            if not name.startswith("__"):
                assert list(inspect.signature(ours).parameters) == list(inspect.signature(member).parameters), name
    assert isinstance(socketutil.SocketConnection.timeout, property)


def test_errno_groups_match_pyro4():
    names = _pyro4_public_names()
    for name in ("ERRNO_RETRIES", "ERRNO_BADF", "ERRNO_ENOTSOCK", "ERRNO_EADDRNOTAVAIL", "ERRNO_EADDRINUSE"):
        assert set(getattr(socketutil, name)) == set(names[name]), name
    assert errno.EAGAIN in socketutil.ERRNO_RETRIES and errno.EINTR in socketutil.ERRNO_RETRIES


def test_the_package_exports_the_module():
    assert "socketutil" in pyro_protocol.__all__
    assert pyro_protocol.socketutil is socketutil


# -- addresses -------------------------------------------------------------------------------------


def test_get_ip_address_of_localhost():
    assert socketutil.getIpAddress("localhost") == "127.0.0.1"
    assert socketutil.getIpAddress("localhost", ipVersion=4) == "127.0.0.1"
    assert socketutil.getIpAddress("127.0.0.1") == "127.0.0.1"


def test_get_ip_address_of_this_machine():
    own_name = socket.gethostname()
    expected = socket.getaddrinfo(own_name, 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    assert socketutil.getIpAddress("") == expected
    assert socketutil.getIpAddress(None) == expected


def test_get_ip_address_follows_prefer_ip_version(fresh_config):
    fresh_config.PREFER_IP_VERSION = 0
    assert socketutil.getIpAddress("localhost") in ("127.0.0.1", "::1")
    fresh_config.PREFER_IP_VERSION = 6
    with pytest.raises(OSError, match="unable to determine an IPv6 address of '127.0.0.1'"):
        socketutil.getIpAddress("127.0.0.1")
    fresh_config.PREFER_IP_VERSION = 7
    with pytest.raises(ValueError, match="PREFER_IP_VERSION: 7"):
        socketutil.getIpAddress("localhost")


def test_get_ip_address_of_an_ipv6_literal():
    assert socketutil.getIpAddress("::1") == "::1"  # an address with ':' needs no IPv4 preference
    assert socketutil.getIpAddress("::1", ipVersion=4) == "::1"  # no IPv4 address: any will do
    assert socketutil.getIpAddress("::1", ipVersion=6) == "::1"
    with pytest.raises(OSError, match="IPv6"):
        socketutil.getIpAddress("127.0.0.1", ipVersion=6)


def test_get_ip_address_refuses_an_unknown_version():
    with pytest.raises(ValueError, match="unknown value for argument ipVersion"):
        socketutil.getIpAddress("localhost", ipVersion=5)


def test_unresolvable_host_is_a_gaierror():
    with pytest.raises(socket.gaierror):
        socketutil.getIpAddress("no-such-host.invalid")


def _route_out() -> str | None:
    """The address this machine sends to the outside from, found with a plain UDP socket (None: no route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("4.2.2.2", 53))
        except OSError:
            return None
        return probe.getsockname()[0]


def test_workaround127_gives_the_outside_facing_address():
    outside = _route_out()
    found = socketutil.getIpAddress("localhost", workaround127=True)
    if outside is None:
        assert found == "127.0.0.1"  # no route out: the loopback address is the answer
    else:
        assert found == outside and not found.startswith("127.")


def test_workaround127_leaves_other_addresses_alone():
    assert socketutil.getIpAddress("10.1.2.3", workaround127=True) == "10.1.2.3"


def test_get_ip_version():
    assert socketutil.getIpVersion("127.0.0.1") == 4
    assert socketutil.getIpVersion("localhost") == 4
    assert socketutil.getIpVersion("::1") == 6
    assert socketutil.getIpVersion("::ffff:10.0.0.1") == 6


def test_get_interface_address_of_loopback():
    assert socketutil.getInterfaceAddress("127.0.0.1") == "127.0.0.1"


@needs_ipv6
def test_get_interface_address_of_ipv6_loopback():
    assert socketutil.getInterfaceAddress("::1") == "::1"


# -- receiveData / sendData ------------------------------------------------------------------------


def test_receive_data_in_pieces(pair):
    left, right = pair
    sender = Worker(send_in_pieces, left, [b"ab", b"cdef", b"g", b"hij"])
    assert socketutil.receiveData(right, 10) == b"abcdefghij"
    sender.result()
    assert socketutil.receiveData(right, 0) == b""


@pytest.mark.parametrize("waitall", [True, False])
def test_receive_data_large(pair, fresh_config, waitall):
    fresh_config.USE_MSG_WAITALL = waitall
    left, right = pair
    right.settimeout(None)
    data = bytes(range(256)) * (12 * 1024)  # 3 MiB: several chunks
    sender = Worker(left.sendall, data)
    assert socketutil.receiveData(right, len(data)) == data
    sender.result()


def test_receive_data_on_a_non_blocking_socket_waits_without_spinning(pair):
    left, right = pair
    right.setblocking(False)
    sender = Worker(send_in_pieces, left, [b"abc", b"defg"], 0.15)
    cpu_before = time.thread_time()
    assert socketutil.receiveData(right, 7) == b"abcdefg"
    cpu_used = time.thread_time() - cpu_before
    sender.result()
    assert cpu_used < 0.1  # it waited about 0.3 s in poll, not in a retry loop


def test_receive_data_on_a_stalled_non_blocking_socket_times_out(pair, fresh_config):
    fresh_config.COMMTIMEOUT = 0.2
    left, right = pair
    left.sendall(b"12")
    right.setblocking(False)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="receiving: timeout"):
        socketutil.receiveData(right, 5)
    assert 0.15 < time.monotonic() - started < WAIT


def test_receive_data_timeout(pair):
    _, right = pair
    right.settimeout(0.1)
    with pytest.raises(TimeoutError, match="receiving: timeout"):
        socketutil.receiveData(right, 4)


@pytest.mark.parametrize("sent", [b"abc", b""])
@pytest.mark.parametrize("size", [10, 3 * 1024 * 1024])
def test_receive_data_from_a_peer_that_closed_keeps_the_partial_data(pair, sent, size):
    left, right = pair
    left.sendall(sent)
    left.close()
    with pytest.raises(ConnectionClosedError) as caught:
        socketutil.receiveData(right, size)
    assert caught.value.partialData == sent


def test_send_data(pair):
    left, right = pair
    socketutil.sendData(left, b"hello")
    socketutil.sendData(left, bytearray(b" there"))
    assert socketutil.receiveData(right, 11) == b"hello there"


def test_send_data_on_a_non_blocking_socket_sends_everything(pair):
    left, right = pair
    left.setblocking(False)
    data = bytes(range(256)) * (16 * 1024)  # 4 MiB: more than the socket buffers hold
    receiver = Worker(socketutil.receiveData, right, len(data))
    socketutil.sendData(left, data)
    assert receiver.result() == data


def test_send_data_on_a_stalled_non_blocking_socket_times_out(pair, fresh_config):
    fresh_config.COMMTIMEOUT = 0.2
    left, _ = pair
    left.setblocking(False)
    with pytest.raises(TimeoutError, match="sending: timeout"):
        socketutil.sendData(left, bytes(32 * 1024 * 1024))  # nobody reads


def test_send_data_timeout(pair):
    left, _ = pair
    left.settimeout(0.1)
    with pytest.raises(TimeoutError, match="sending: timeout"):
        socketutil.sendData(left, bytes(32 * 1024 * 1024))


@pytest.mark.parametrize("blocking", [True, False])
def test_send_data_to_a_closed_peer(blocking):
    left, right = socket.socketpair()
    with left:
        right.close()
        left.setblocking(blocking)
        with pytest.raises(ConnectionClosedError, match="sending: connection lost"):
            socketutil.sendData(left, b"x" * 1000)


# -- createSocket ----------------------------------------------------------------------------------


def test_create_socket_bound_and_connected_on_ipv4():
    with socketutil.createSocket(bind=("127.0.0.1", 0), timeout=WAIT) as server:
        host, port = server.getsockname()
        assert (server.family, host) == (socket.AF_INET, "127.0.0.1") and port > 0
        with socketutil.createSocket(connect=("127.0.0.1", port), timeout=WAIT) as client:
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            assert client.gettimeout() == WAIT
            with accept_one(server) as accepted:
                socketutil.sendData(client, b"ping")
                assert socketutil.receiveData(accepted, 4) == b"ping"


def test_create_socket_bound_to_localhost_uses_the_loopback_address():
    with socketutil.createSocket(bind=("localhost", 0)) as server:
        assert server.getsockname()[0] == "127.0.0.1"


def test_create_socket_options_off():
    with socketutil.createSocket(bind=("127.0.0.1", 0), timeout=WAIT) as server:
        port = server.getsockname()[1]
        with socketutil.createSocket(connect=("localhost", port), nodelay=False, keepalive=False) as client:
            assert not client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert not client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            server.accept()[0].close()


def test_create_socket_with_reuseaddr_noinherit_and_timeouts():
    with socketutil.createSocket(bind=("127.0.0.1", 0), reuseaddr=True, noinherit=True, timeout=2.5) as sock:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        assert not sock.get_inheritable()
        assert sock.gettimeout() == 2.5
    with socketutil.createSocket(timeout=0) as sock:
        assert sock.gettimeout() is None  # Pyro's 0: no timeout
    with socketutil.createSocket() as sock:
        assert sock.gettimeout() == socket.getdefaulttimeout()
        assert sock.family == socket.AF_INET
        assert sock.getsockname()[1] == 0  # neither bound nor connected


def test_create_socket_on_a_fixed_port_that_was_free():
    port = socketutil.findProbablyUnusedPort()
    with socketutil.createSocket(bind=("127.0.0.1", port), reuseaddr=True) as server:
        assert server.getsockname() == ("127.0.0.1", port)


def test_create_socket_ipv6_family_choice(fresh_config):
    with socketutil.createSocket(ipv6=True) as sock:
        assert sock.family == socket.AF_INET6
    fresh_config.PREFER_IP_VERSION = 6
    with socketutil.createSocket(ipv6=None) as sock:
        assert sock.family == socket.AF_INET6
    with socketutil.createSocket(ipv6=False) as sock:
        assert sock.family == socket.AF_INET


@needs_ipv6
def test_create_socket_on_ipv6_loopback():
    with socketutil.createSocket(bind=("::1", 0), timeout=WAIT) as server:
        assert server.family == socket.AF_INET6
        port = server.getsockname()[1]
        with socketutil.createSocket(connect=("::1", port), timeout=WAIT) as client:
            assert client.family == socket.AF_INET6
            assert socketutil.family_str(client) == "IPv6"
            with accept_one(server) as accepted:
                socketutil.sendData(accepted, b"six")
                assert socketutil.receiveData(client, 3) == b"six"


def test_create_socket_on_unix_sockets(tmp_path):
    path = str(tmp_path / "sock")
    with socketutil.createSocket(bind=path, timeout=WAIT) as server:
        assert server.family == socket.AF_UNIX and server.getsockname() == path
        with socketutil.createSocket(connect=path, timeout=WAIT) as client:
            assert socketutil.family_str(client) == "Unix"
            with accept_one(server) as accepted:
                socketutil.sendData(client, b"unix")
                assert socketutil.receiveData(accepted, 4) == b"unix"


def test_create_socket_refuses_bad_arguments():
    with pytest.raises(ValueError, match="bind and connect cannot both be specified"):
        socketutil.createSocket(bind=("127.0.0.1", 0), connect=("127.0.0.1", 1))
    with pytest.raises(ValueError, match="unknown bind format"):
        socketutil.createSocket(bind=["127.0.0.1", 0])
    with pytest.raises(ValueError, match="unknown connect format"):
        socketutil.createSocket(connect=42)
    with pytest.raises(ValueError, match="IPv4 address '127.0.0.1' in the bind argument"):
        socketutil.createSocket(bind=("127.0.0.1", 0), ipv6=True)


def _free_port() -> int:
    with socketutil.createSocket(bind=("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def test_create_socket_connect_refused_is_the_socket_error():
    with pytest.raises(ConnectionRefusedError):
        socketutil.createSocket(connect=("127.0.0.1", _free_port()), timeout=WAIT)


def test_create_socket_connects_a_non_blocking_socket():
    saved = socket.getdefaulttimeout()
    with socketutil.createSocket(bind=("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        socket.setdefaulttimeout(0.0)  # sockets start non-blocking: connect waits in poll
        try:
            client = socketutil.createSocket(connect=("127.0.0.1", port))
            with pytest.raises(ConnectionRefusedError):
                socketutil.createSocket(connect=("127.0.0.1", _free_port()))
        finally:
            socket.setdefaulttimeout(saved)
        with client:
            assert client.gettimeout() == 0.0 and client.getpeername() == ("127.0.0.1", port)
            server.accept()[0].close()


# -- createBroadcastSocket -------------------------------------------------------------------------


def test_broadcast_socket_on_loopback():
    with socketutil.createBroadcastSocket(bind=("127.0.0.1", 0), timeout=WAIT) as sock:
        assert sock.type == socket.SOCK_DGRAM and sock.family == socket.AF_INET
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST)
        host, port = sock.getsockname()
        assert host == "127.0.0.1" and port > 0
        assert sock.gettimeout() == WAIT
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"hello?", (host, port))
        assert sock.recvfrom(100)[0] == b"hello?"


def test_broadcast_socket_on_a_given_port_and_its_timeouts():
    port = socketutil.findProbablyUnusedPort(socket.AF_INET, socket.SOCK_DGRAM)
    with socketutil.createBroadcastSocket(bind=("127.0.0.1", port), reuseaddr=True, timeout=None) as sock:
        assert sock.getsockname() == ("127.0.0.1", port)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        assert sock.gettimeout() is None
    with socketutil.createBroadcastSocket(timeout=0) as sock:
        assert sock.gettimeout() == 0.0  # Pyro4's broadcast socket: 0 is non-blocking
    with socketutil.createBroadcastSocket(ipv6=True) as sock:
        assert sock.family == socket.AF_INET6


def test_broadcast_socket_refuses_bad_bind():
    with pytest.raises(ValueError, match="unknown bind format"):
        socketutil.createBroadcastSocket(bind="/tmp/x")
    with pytest.raises(ValueError, match="2-tuple or a 4-tuple"):
        socketutil.createBroadcastSocket(bind=("127.0.0.1", 5, 6))


@needs_ipv6
def test_broadcast_socket_on_ipv6_loopback():
    with socketutil.createBroadcastSocket(bind=("::1", 0)) as sock:
        assert sock.family == socket.AF_INET6 and sock.getsockname()[1] > 0


# -- options, ports, interrupting ------------------------------------------------------------------


def test_option_setters():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        socketutil.setReuseAddr(sock)
        socketutil.setNoDelay(sock)
        socketutil.setKeepalive(sock)
        sock.set_inheritable(True)
        socketutil.setNoInherit(sock)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        assert not sock.get_inheritable()


def test_no_delay_on_a_unix_socket_is_quietly_skipped(pair):
    socketutil.setNoDelay(pair[0])


def test_family_str():
    with socket.socket(socket.AF_INET) as v4, socket.socket(socket.AF_INET6) as v6:
        assert (socketutil.family_str(v4), socketutil.family_str(v6)) == ("IPv4", "IPv6")
    if hasattr(socket, "AF_NETLINK"):
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW) as other:
            assert socketutil.family_str(other) == "???"


def test_find_probably_unused_port():
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        port = socketutil.findProbablyUnusedPort(socket.AF_INET, kind)
        assert 0 < port < 65536
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("127.0.0.1", port))


def test_bind_on_unused_port():
    with socket.socket() as sock:
        port = socketutil.bindOnUnusedPort(sock)
        assert sock.getsockname() == ("127.0.0.1", port) and port > 0
    with socket.socket() as sock:
        port = socketutil.bindOnUnusedPort(sock, "127.0.0.1")
        assert sock.getsockname() == ("127.0.0.1", port)


@needs_ipv6
def test_bind_on_unused_port_ipv6():
    with socket.socket(socket.AF_INET6) as sock:
        port = socketutil.bindOnUnusedPort(sock)
        assert sock.getsockname()[:2] == ("::1", port)


def test_bind_on_unused_port_needs_a_family_with_ports(pair):
    with pytest.raises(CommunicationError, match="unsupported socket family"):
        socketutil.bindOnUnusedPort(pair[0])


def _serve_once(server: socket.socket) -> bytes:
    with accept_one(server) as accepted:
        received = b""
        for _ in range(100):  # bounded: the 16 bytes and the EOF come in a few reads
            chunk = accepted.recv(100)
            if not chunk:
                return received
            received += chunk
    raise AssertionError("no end of data")


def test_interrupt_socket_wakes_a_server_in_accept(tmp_path):
    for address in (("127.0.0.1", 0), str(tmp_path / "sock")):
        with socketutil.createSocket(bind=address, timeout=WAIT) as server:
            waiting = Worker(_serve_once, server)
            socketutil.interruptSocket(server.getsockname())
            assert waiting.result() == b"!" * 16


def test_interrupt_socket_with_nobody_there_is_quiet(tmp_path):
    socketutil.interruptSocket(("127.0.0.1", _free_port()))
    socketutil.interruptSocket(str(tmp_path / "nobody"))


# -- SocketConnection ------------------------------------------------------------------------------


class Resource:
    def __init__(self, log: list, fail: bool = False) -> None:
        self.log, self.fail = log, fail

    def close(self) -> None:
        self.log.append(self)
        if self.fail:
            raise OSError("cannot close")


def test_socket_connection_send_and_recv(pair):
    left, right = pair
    sender, receiver = socketutil.SocketConnection(left, "obj"), socketutil.SocketConnection(right)
    assert (sender.objectId, receiver.objectId, sender.keep_open) == ("obj", None, False)
    assert sender.pyroInstances == {} and len(sender.tracked_resources) == 0
    sender.send(b"abc")
    assert receiver.recv(3) == b"abc"
    assert sender.fileno() == left.fileno()
    assert sender.family() == "Unix"
    assert sender.getpeercert() is None


def test_socket_connection_timeouts(pair):
    conn = socketutil.SocketConnection(pair[0])
    conn.setTimeout(1.5)
    assert conn.getTimeout() == 1.5 == pair[0].gettimeout()
    conn.timeout = None
    assert conn.timeout is None and pair[0].gettimeout() is None
    conn.timeout = 0.1
    with pytest.raises(TimeoutError):
        conn.recv(1)


def test_socket_connection_close_closes_resources_and_sessions(pair):
    log: list = []
    conn = socketutil.SocketConnection(pair[0])
    kept = [Resource(log, fail=True), Resource(log)]  # the first fails: the second is closed all the same
    for resource in kept:
        conn.tracked_resources.add(resource)
    conn.pyroInstances[Resource] = object()
    conn.close()
    assert pair[0].fileno() == -1
    assert sorted(map(id, log)) == sorted(map(id, kept))
    assert conn.pyroInstances == {} and len(conn.tracked_resources) == 0
    conn.close()  # again: nothing happens


def test_tracked_resources_are_weak(pair):
    conn = socketutil.SocketConnection(pair[0])
    conn.tracked_resources.add(Resource([]))
    gc.collect()
    assert len(conn.tracked_resources) == 0


def test_socket_connection_keep_open(pair):
    log: list = []
    resource = Resource(log)
    conn = socketutil.SocketConnection(pair[0], keep_open=True)
    conn.tracked_resources.add(resource)
    conn.close()
    del conn
    gc.collect()
    assert pair[0].fileno() != -1 and log == []
    pair[0].sendall(b"still open")


def test_socket_connection_as_context_manager_and_on_collection(pair):
    with socketutil.SocketConnection(pair[0]) as conn:
        conn.send(b"x")
    assert pair[0].fileno() == -1
    conn = socketutil.SocketConnection(pair[1])
    del conn
    gc.collect()
    assert pair[1].fileno() == -1


def test_half_built_socket_connection_is_collected_quietly():
    half = socketutil.SocketConnection.__new__(socketutil.SocketConnection)
    half.sock = None  # __init__ stopped early
    del half
    gc.collect()  # pytest turns an error in __del__ into a failure


# -- TLS -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    trustme = pytest.importorskip("trustme")
    folder = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    files = {name: str(folder / f"{name}.pem") for name in ("ca", "server", "client", "client_key")}
    authority.cert_pem.write_to_path(files["ca"])
    authority.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(files["server"])
    client = authority.issue_cert("client@example.org")
    client.cert_chain_pems[0].write_to_path(files["client"])
    client.private_key_pem.write_to_path(files["client_key"])
    return files


def test_ssl_server_context(tls_files, fresh_config):
    context = socketutil.getSSLcontext(servercert=tls_files["server"], cacerts=tls_files["ca"])
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_NONE  # one-way TLS unless client certificates are required
    assert socketutil.getSSLcontext(servercert=tls_files["server"], cacerts=tls_files["ca"]) is context
    fresh_config.SSL_REQUIRECLIENTCERT = True
    strict = socketutil.getSSLcontext(servercert=tls_files["server"], cacerts=tls_files["ca"])
    assert strict.verify_mode == ssl.CERT_REQUIRED


def test_ssl_client_context(tls_files, tmp_path):
    context = socketutil.getSSLcontext(cacerts=tls_files["ca"])
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1
    assert socketutil.getSSLcontext(cacerts=tls_files["ca"]) is context
    assert socketutil.getSSLcontext(cacerts=str(tmp_path)) is not context  # a folder of CA files


def test_ssl_context_errors(tls_files, tmp_path):
    with pytest.raises(ValueError, match="can't have both server cert and client cert"):
        socketutil.getSSLcontext(servercert=tls_files["server"], clientcert=tls_files["client"])
    with pytest.raises(FileNotFoundError, match="server certificate file not found"):
        socketutil.getSSLcontext(servercert=str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError, match="server key file not found"):
        socketutil.getSSLcontext(servercert=tls_files["server"], serverkey=str(tmp_path / "missing.key"))
    with pytest.raises(FileNotFoundError, match="client certificate file not found"):
        socketutil.getSSLcontext(clientcert=str(tmp_path / "missing.pem"))


def _accept_tls(server: socket.socket):
    accepted = accept_one(server)  # the TLS handshake happens here
    conn = socketutil.SocketConnection(accepted)
    return conn, conn.recv(5)


def test_two_way_tls_with_create_socket(tls_files, fresh_config):
    fresh_config.SSL_REQUIRECLIENTCERT = True
    server_context = socketutil.getSSLcontext(servercert=tls_files["server"], cacerts=tls_files["ca"])
    client_context = socketutil.getSSLcontext(
        clientcert=tls_files["client"], clientkey=tls_files["client_key"], cacerts=tls_files["ca"]
    )
    with socketutil.createSocket(bind=("127.0.0.1", 0), timeout=WAIT, sslContext=server_context) as server:
        port = server.getsockname()[1]
        serving = Worker(_accept_tls, server)
        with socketutil.createSocket(connect=("127.0.0.1", port), timeout=WAIT, sslContext=client_context) as client:
            with socketutil.SocketConnection(client) as conn:
                conn.send(b"hello")
                served, received = serving.result()
                with served:
                    assert received == b"hello"
                    assert ("email", "client@example.org") in served.getpeercert()["subjectAltName"]
                assert ("IP Address", "127.0.0.1") in conn.getpeercert()["subjectAltName"]
