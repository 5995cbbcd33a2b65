"""The broadcast responder: raw GET_NSURI datagrams, Pyro4's locateNS, and when it is not started."""

import socket
import threading
import time

import pytest

from pyro_naming import BroadcastServer, startNS
from pyro_naming import daemon as naming_daemon
from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_protocol.errors import CommunicationError

NS_URI = "PYRO:Pyro.NameServer@127.0.0.1:9090"


@pytest.fixture()
def udp_client():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        yield sock


@pytest.fixture()
def bcserver(free_port):
    with BroadcastServer(NS_URI, bchost="127.0.0.1", bcport=free_port(udp=True)) as server:
        server.runInThread()
        yield server


def ask(sock, port, request=b"GET_NSURI"):
    sock.sendto(request, ("127.0.0.1", port))
    data, _ = sock.recvfrom(100)
    return data


def test_answers_get_nsuri_with_the_uri_in_latin1(bcserver, udp_client):
    assert ask(udp_client, bcserver.getPort()) == NS_URI.encode("latin-1")
    assert ask(udp_client, bcserver.getPort()) == NS_URI.encode("latin-1")


def test_ignores_everything_else(bcserver, udp_client):
    for junk in (b"GET_NSURI\n", b"get_nsuri", b"GET_NSUR", b"x" * 200, b"", b"GET_NSURI" * 2):
        udp_client.sendto(junk, ("127.0.0.1", bcserver.getPort()))
    # Only the real request that follows the junk gets an answer.
    assert ask(udp_client, bcserver.getPort()) == NS_URI.encode("latin-1")
    udp_client.settimeout(0.3)
    with pytest.raises(socket.timeout):
        udp_client.recvfrom(100)


def test_location_and_sockets(bcserver):
    assert bcserver.locationStr == f"127.0.0.1:{bcserver.getPort()}"
    assert bcserver.sockets == [bcserver.sock]
    assert bcserver.fileno() == bcserver.sock.fileno()
    assert bcserver.transportServer is bcserver
    assert "BroadcastServer" in repr(bcserver)


def test_any_address_is_replaced_by_the_interface_towards_the_requester(free_port, udp_client):
    with BroadcastServer("PYRO:Pyro.NameServer@0.0.0.0:9090", "127.0.0.1", free_port(udp=True)) as server:
        server.runInThread()
        assert ask(udp_client, server.getPort()) == b"PYRO:Pyro.NameServer@127.0.0.1:9090"
    assert server.reply_for("127.0.0.1") == "PYRO:Pyro.NameServer@127.0.0.1:9090"


def test_events_answers_inside_someone_elses_loop(free_port, udp_client):
    with BroadcastServer(NS_URI, "127.0.0.1", free_port(udp=True)) as server:
        udp_client.sendto(b"GET_NSURI", ("127.0.0.1", server.getPort()))
        import select

        readable, _, _ = select.select(server.sockets, [], [], 5)
        server.events(readable)
        assert udp_client.recvfrom(100)[0] == NS_URI.encode()
        server.events(server.sockets)  # nothing there: returns at once instead of blocking
        server.processRequest()  # waits briefly, finds nothing


def test_close_is_idempotent_and_stops_the_thread(free_port):
    server = BroadcastServer(NS_URI, "127.0.0.1", free_port(udp=True))
    thread = server.runInThread()
    server.close()
    server.close()
    assert not thread.is_alive()
    assert server.sockets == []


def test_defaults_come_from_the_config(free_port):
    config.NS_BCHOST = "127.0.0.1"
    config.NS_BCPORT = free_port(udp=True)
    with BroadcastServer(NS_URI) as server:
        assert server.sock.getsockname() == ("127.0.0.1", config.NS_BCPORT)


def test_a_port_in_use_is_a_communication_error(free_port):
    config.SOCK_REUSE = False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        with pytest.raises(CommunicationError, match="cannot bind the broadcast server"):
            BroadcastServer(NS_URI, "127.0.0.1", taken.getsockname()[1])


def test_ipv6_name_server_gets_an_ipv6_responder(free_port):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        server = BroadcastServer("PYRO:Pyro.NameServer@[::1]:9090", "::1", 0)
    except CommunicationError as exc:
        pytest.skip(f"cannot bind ::1: {exc}")
    with server:
        assert server.sock.family == socket.AF_INET6
        assert server.locationStr == f"[::1]:{server.getPort()}"


def test_pyro4_locate_ns_finds_it_by_broadcast(pyro4, name_server, free_port):
    """Genuine Pyro4 locateNS(): NS_HOST is not local, so it broadcasts (to 127.0.0.1 here)."""
    daemon = name_server()
    port = free_port(udp=True)
    with BroadcastServer(daemon.uriFor(constants.NAMESERVER_NAME, nat=False), "127.0.0.1", port) as server:
        server.runInThread()
        pyro4.config.NS_HOST = "192.0.2.1"  # TEST-NET: never tried before the broadcast
        pyro4.config.BROADCAST_ADDRS = "127.0.0.1"
        pyro4.config.NS_BCPORT = port
        started = time.monotonic()
        with pyro4.locateNS() as ns:
            assert time.monotonic() - started < 3  # found in the first broadcast round
            assert str(ns._pyroUri) == str(daemon.uriFor(constants.NAMESERVER_NAME))
            assert ns.count() == 1


def test_start_ns_skips_broadcast_for_loopback_and_unix_sockets(tmp_path):
    uri, daemon, bcserver = startNS(host="127.0.0.1", port=0)
    with daemon:
        assert bcserver is None and uri == daemon.uriFor(constants.NAMESERVER_NAME)
    uri, daemon, bcserver = startNS(unixsocket=str(tmp_path / "ns.sock"))
    with daemon:
        assert bcserver is None


def test_start_ns_with_broadcast_when_not_on_loopback(free_port, pyro4, run, monkeypatch):
    """As if bound to a LAN address (tests bind loopback only, so the address check is told otherwise)."""
    monkeypatch.setattr(naming_daemon, "_listening_address", lambda daemon: ("192.0.2.10", socket.AF_INET))
    port = free_port(udp=True)
    uri, daemon, bcserver = startNS(host="127.0.0.1", port=0, bchost="127.0.0.1", bcport=port)
    with daemon, bcserver:
        assert bcserver.getPort() == port
        daemon.combine(bcserver)
        with run(daemon), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.settimeout(5)
            reply = ask(probe, port).decode("latin-1")
            assert reply == str(daemon.uriFor(constants.NAMESERVER_NAME, nat=False)) == str(uri)
    uri, daemon, bcserver = startNS(host="127.0.0.1", port=0, enableBroadcast=False)
    with daemon:
        assert bcserver is None


@pytest.mark.parametrize(
    "address, family, strict, refusal",
    [
        ("192.0.2.10", socket.AF_INET, True, None),
        ("127.0.0.1", socket.AF_INET, False, "localhost"),
        ("127.0.1.1", socket.AF_INET, True, "localhost"),
        ("::1", socket.AF_INET6, True, "IPv6"),
        ("::1", socket.AF_INET6, False, None),  # startNS only skips 127.x (protocol 6.4)
        ("2001:db8::1", socket.AF_INET6, True, "IPv6"),
    ],
)
def test_when_the_broadcast_responder_is_not_started(monkeypatch, address, family, strict, refusal):
    monkeypatch.setattr(naming_daemon, "_listening_address", lambda daemon: (address, family))
    assert naming_daemon._broadcast_refusal(None, None, strict) == refusal
    assert naming_daemon._broadcast_refusal(None, "/tmp/ns.sock", strict) == "Unix domain socket"


def test_many_requests_in_parallel(bcserver):
    answers = []

    def client():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            answers.append(ask(sock, bcserver.getPort()))

    threads = [threading.Thread(target=client) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert answers == [NS_URI.encode()] * 10
