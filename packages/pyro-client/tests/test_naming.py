"""Name server lookup and PYRONAME:/PYROMETA: resolution against a genuine Pyro4
name server, and the UDP broadcast discovery."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pyro_client import URI, CommunicationError, NamingError, config, locateNS, naming, resolve
from pyro_client.naming import type_meta


@pytest.fixture(scope="module")
def ns_address(pyro4_nameserver, pyro4_server):
    """(host, port) of the Pyro4 name server, with the Pyro4 test daemon's objects registered."""
    uri = URI(pyro4_nameserver.value("NSURI"))
    with locateNS(uri.host, uri.port) as ns:
        ns.register("test.calc", pyro4_server.uri("calc"), metadata={"role:calc", "kind:math"})
        ns.register("test.container", pyro4_server.uri("container"), metadata={"kind:math"})
    return uri.host, uri.port


def test_locate_by_host_and_port(ns_address):
    host, port = ns_address
    with locateNS(host, port) as ns:
        assert ns._pyroConnection is not None  # located = bound
        assert ns.ping() is None
        assert ns.lookup("test.calc") == URI(ns.list()["test.calc"])
        assert ns.count() >= 3


def test_locate_from_config_on_a_local_host(ns_address):
    config.NS_HOST, config.NS_PORT = ns_address
    config.BROADCAST_ADDRS = "127.0.0.1"
    with locateNS() as ns:
        assert ns._pyroUri == URI(f"PYRO:Pyro.NameServer@{ns_address[0]}:{ns_address[1]}")


def test_no_name_server_gives_naming_error(unused_port, unused_udp_port, monkeypatch):
    monkeypatch.setattr(naming, "BROADCAST_TIMEOUT", 0.1)
    with pytest.raises(NamingError, match="Failed to locate the nameserver"):
        locateNS("127.0.0.1", unused_port)
    config.NS_HOST, config.NS_PORT = "127.0.0.1", unused_port
    config.BROADCAST_ADDRS, config.NS_BCPORT = "127.0.0.1", unused_udp_port
    start = time.monotonic()
    with pytest.raises(NamingError, match="Failed to locate the nameserver"):
        locateNS()
    assert time.monotonic() - start < 2


def test_resolve_pyroname(ns_address, pyro4_server):
    host, port = ns_address
    resolved = resolve(f"PYRONAME:test.calc@{host}:{port}")
    assert resolved == URI(pyro4_server.uri("calc"))
    plain = URI(pyro4_server.uri("calc"))
    assert resolve(plain) is plain
    with pytest.raises(NamingError, match="unknown name"):
        resolve(f"PYRONAME:no.such.name@{host}:{port}")
    with pytest.raises(TypeError):
        resolve(42)


def test_resolve_pyrometa(ns_address, pyro4_server):
    host, port = ns_address
    assert resolve(f"PYROMETA:role:calc@{host}:{port}") == URI(pyro4_server.uri("calc"))
    both = {URI(pyro4_server.uri("calc")), URI(pyro4_server.uri("container"))}
    assert resolve(f"PYROMETA:kind:math@{host}:{port}") in both
    assert resolve(f"PYROMETA:kind:math,role:calc@{host}:{port}") == URI(pyro4_server.uri("calc"))
    with pytest.raises(NamingError, match="no registrations available"):
        resolve(f"PYROMETA:role:nothing@{host}:{port}")


def test_pyroname_proxy_resolves_on_connect(ns_address, proxies, serializer):
    host, port = ns_address
    calc = proxies(f"PYRONAME:test.calc@{host}:{port}", serializer)
    assert calc.add(2, 3) == 5
    assert calc._pyroUri.protocol == "PYRONAME"  # only _pyroBind replaces the uri
    calc._pyroRelease()
    calc._pyroBind()
    assert calc._pyroUri.protocol == "PYRO"


def test_pyrometa_proxy(ns_address, proxies):
    host, port = ns_address
    calc = proxies(f"PYROMETA:role:calc@{host}:{port}")
    assert calc.add(1, 1) == 2


def test_pyroname_without_location_uses_the_configured_name_server(ns_address, proxies):
    config.NS_HOST, config.NS_PORT = ns_address
    calc = proxies("PYRONAME:test.calc")
    assert calc.add(3, 3) == 6


def test_broadcast_finds_pyro4s_responder(pyro4_nameserver, unused_port):
    # the direct try on NS_HOST fails first
    config.NS_HOST, config.NS_PORT = "localhost", unused_port
    config.BROADCAST_ADDRS = "127.0.0.1"
    config.NS_BCPORT = int(pyro4_nameserver.value("BCPORT"))
    with locateNS() as ns:
        assert ns._pyroUri == URI(pyro4_nameserver.value("NSURI"))
        assert ns.ping() is None


class Responder:
    """A UDP broadcast responder on 127.0.0.1 that records requests and answers with ``reply``."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        deadline = time.monotonic() + 20
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                data, address = self.sock.recvfrom(100)
            except TimeoutError:
                continue
            self.requests.append(data)
            if self.replies:
                self.sock.sendto(self.replies.pop(0), address)

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def responder_factory():
    made = []

    def make(*replies):
        responder = Responder(replies)
        made.append(responder)
        return responder

    yield make
    for responder in made:
        responder.close()


def test_broadcast_request_and_reply(responder_factory, ns_address, unused_port):
    host, port = ns_address
    responder = responder_factory(f"PYRO:Pyro.NameServer@{host}:{port}".encode("latin-1"))
    config.NS_HOST, config.NS_PORT = "example.invalid", unused_port  # no local try
    config.BROADCAST_ADDRS, config.NS_BCPORT = "127.0.0.1", responder.port
    ns = locateNS()
    try:
        assert responder.requests == [b"GET_NSURI"]
        assert ns._pyroConnection is None  # a broadcast answer gives an unbound proxy
        assert ns._pyroUri == URI(f"PYRO:Pyro.NameServer@{host}:{port}")
        assert ns.count() >= 3
    finally:
        ns._pyroRelease()


def test_broadcast_ignores_junk_and_retries(responder_factory, ns_address, unused_port, monkeypatch):
    monkeypatch.setattr(naming, "BROADCAST_TIMEOUT", 0.2)
    host, port = ns_address
    # no answer to the first round (just junk), the real one in the second
    responder = responder_factory(b"junk that is no uri")
    config.NS_HOST, config.NS_PORT = "example.invalid", unused_port
    config.BROADCAST_ADDRS, config.NS_BCPORT = "127.0.0.1", responder.port
    responder.replies.append(f"PYRO:Pyro.NameServer@{host}:{port}".encode())
    with locateNS() as ns:
        assert ns.ping() is None
    assert responder.requests == [b"GET_NSURI", b"GET_NSURI"]


def test_broadcast_can_be_skipped(responder_factory, unused_port, monkeypatch):
    monkeypatch.setattr(naming, "BROADCAST_TIMEOUT", 0.1)
    responder = responder_factory()
    config.NS_HOST, config.NS_PORT = "127.0.0.1", unused_port
    config.BROADCAST_ADDRS, config.NS_BCPORT = "127.0.0.1", responder.port
    with pytest.raises(NamingError):
        locateNS(broadcast=False)
    config.PREFER_IP_VERSION = 6  # no broadcast on IPv6
    with pytest.raises(NamingError):
        locateNS()
    assert responder.requests == []


def test_hmac_key_the_name_server_does_not_have(ns_address):
    host, port = ns_address
    with pytest.raises(NamingError):
        locateNS(host, port, hmac_key="the name server has no key")


def test_failure_names_the_place_tried_and_why(unused_port):
    with pytest.raises(NamingError) as caught:
        locateNS("127.0.0.1", unused_port)
    assert str(caught.value) == (
        f"Failed to locate the nameserver; tried 127.0.0.1:{unused_port} "
        f"(cannot connect to 127.0.0.1:{unused_port}: Connection refused)"
    )
    assert isinstance(caught.value.__cause__, CommunicationError)


def test_failure_of_the_whole_search_lists_each_step(unused_port, responder_factory, monkeypatch):
    monkeypatch.setattr(naming, "BROADCAST_TIMEOUT", 0.05)
    responder = responder_factory(b"junk that is no uri")  # answers the first round with junk, then nothing
    config.NS_HOST, config.NS_PORT = "127.0.0.1", unused_port
    config.BROADCAST_ADDRS, config.NS_BCPORT = "127.0.0.1", responder.port
    with pytest.raises(NamingError) as caught:
        locateNS()
    refused = f"127.0.0.1:{unused_port} (cannot connect to 127.0.0.1:{unused_port}: Connection refused)"
    broadcast = (
        f"broadcast to 127.0.0.1 port {responder.port} (no answer in 3 rounds of 0.05 s, 1 invalid answer ignored)"
    )
    steps = str(caught.value).removeprefix("Failed to locate the nameserver; tried ").split("; ")
    assert steps[0] == refused  # NS_HOST is local: tried first
    assert steps[-2:] == [broadcast, refused]  # then the broadcast, then NS_HOST directly
    assert set(steps[1:-2]) <= {
        f"127.0.1.1:{unused_port} (cannot connect to 127.0.1.1:{unused_port}: Connection refused)"
    }


def test_failure_on_a_unix_socket(tmp_path):
    path = tmp_path / "no-ns.sock"
    with pytest.raises(NamingError, match=f"^Failed to locate the nameserver; tried ./u:{path} \\(cannot connect"):
        locateNS(f"./u:{path}")


class Base:
    pass


class Middle(Base):
    pass


class Leaf(Middle, dict):
    pass


def test_type_meta_names_the_class_and_its_bases():
    here = __name__
    expected = {f"class:{here}.Leaf", f"class:{here}.Middle", f"class:{here}.Base"}  # no builtins
    assert type_meta(Leaf) == expected
    assert type_meta(Leaf()) == expected
    assert type_meta(Base, prefix="lang:python:") == {f"lang:python:{here}.Base"}
    assert type_meta(42) == set()
    assert type_meta(URI) == {"class:pyro_protocol.uri.URI"}


def test_type_meta_agrees_with_pyro4s():
    import Pyro4.naming as pyro4_naming

    for subject in (Leaf, Middle(), Base, 3.5, pyro4_naming.NameServer):
        assert type_meta(subject) == set(pyro4_naming.type_meta(subject))
    assert type_meta(Leaf, "x:") == set(pyro4_naming.type_meta(Leaf, "x:"))


def test_registered_with_type_meta_found_by_pyrometa(ns_address, pyro4_server):
    host, port = ns_address
    with locateNS(host, port) as ns:
        ns.register("test.typed", pyro4_server.uri("calc"), metadata=type_meta(Middle))
    try:
        assert resolve(f"PYROMETA:class:{__name__}.Base@{host}:{port}") == URI(pyro4_server.uri("calc"))
    finally:
        with locateNS(host, port) as ns:
            ns.remove("test.typed")


# -- several name servers: NS_HOST / locateNS(host) lists, failover ----------------------------


@pytest.fixture
def silent_port():
    """A TCP port that accepts connections (the kernel's backlog) but never answers a byte:
    a name server whose process hangs, or whose replies are lost."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture(autouse=True)
def forget_which_name_server_answered(monkeypatch):
    monkeypatch.setattr(naming, "_last_good", {})


def test_a_host_list_goes_on_to_the_next_name_server(ns_address, unused_port):
    host, port = ns_address
    with locateNS(f"127.0.0.1:{unused_port}, {host}:{port}") as ns:
        assert ns._pyroUri == URI(f"PYRO:Pyro.NameServer@{host}:{port}")
        assert ns.ping() is None
    # entries without a port get the port asked for, else NS_PORT
    with locateNS(f"127.0.0.1:{unused_port},{host}", port=port) as ns:
        assert ns._pyroUri.port == port
    config.NS_PORT = port
    with locateNS(f"[::1]:{unused_port}, {host}") as ns:
        assert ns._pyroUri.port == port


def test_ns_host_list_resolves_pyroname(ns_address, unused_port, pyro4_server, proxies):
    host, port = ns_address
    config.NS_HOST = f"127.0.0.1:{unused_port}, {host}:{port}"
    assert resolve("PYRONAME:test.calc") == URI(pyro4_server.uri("calc"))
    assert resolve("PYROMETA:role:calc") == URI(pyro4_server.uri("calc"))
    assert proxies("PYRONAME:test.calc").add(2, 2) == 4
    # an unknown name is an answer: no other name server is asked
    with pytest.raises(NamingError, match="unknown name"):
        resolve("PYRONAME:no.such.name")


def test_a_pyroname_uri_with_a_host_ignores_the_list(ns_address, unused_port, pyro4_server):
    host, port = ns_address
    config.NS_HOST = f"127.0.0.1:{unused_port}, 127.0.0.1:{unused_port}"
    assert resolve(f"PYRONAME:test.calc@{host}:{port}") == URI(pyro4_server.uri("calc"))


def test_each_attempt_is_bounded_and_the_one_that_answered_goes_first(ns_address, silent_port, pyro4_server):
    host, port = ns_address
    config.COMMTIMEOUT = 0.3
    config.NS_HOST = f"127.0.0.1:{silent_port}, {host}:{port}"
    start = time.monotonic()
    assert resolve("PYRONAME:test.calc") == URI(pyro4_server.uri("calc"))
    first = time.monotonic() - start
    assert 0.3 <= first < 2
    start = time.monotonic()
    for _ in range(3):
        assert resolve("PYRONAME:test.calc") == URI(pyro4_server.uri("calc"))
    assert time.monotonic() - start < 0.6  # the silent one is not waited for again


def test_without_commtimeout_an_attempt_gets_the_failover_timeout(ns_address, silent_port, monkeypatch):
    monkeypatch.setattr(naming, "FAILOVER_TIMEOUT", 0.2)
    host, port = ns_address
    config.COMMTIMEOUT = 0
    start = time.monotonic()
    with locateNS(f"127.0.0.1:{silent_port}, {host}:{port}") as ns:
        assert 0.2 <= time.monotonic() - start < 2
        assert not ns._pyroTimeout  # the proxy handed out has the configured timeout
        assert ns._pyroConnection.sock.gettimeout() is None


def test_when_all_fail_the_error_names_each_and_why(silent_port, unused_port, unused_udp_port, monkeypatch):
    monkeypatch.setattr(naming, "BROADCAST_TIMEOUT", 0.05)
    config.COMMTIMEOUT = 0.2
    hosts = f"127.0.0.1:{unused_port}, [::1]:{unused_port}, 127.0.0.1:{silent_port}"
    start = time.monotonic()
    with pytest.raises(NamingError) as caught:
        locateNS(hosts)
    assert time.monotonic() - start < 2
    assert str(caught.value) == (
        "Failed to locate the nameserver; tried "
        f"127.0.0.1:{unused_port} (cannot connect to 127.0.0.1:{unused_port}: Connection refused); "
        f"[::1]:{unused_port} (cannot connect to ::1:{unused_port}: Connection refused); "
        f"127.0.0.1:{silent_port} (receiving: timeout)"
    )
    config.NS_HOST = hosts
    config.BROADCAST_ADDRS, config.NS_BCPORT = "127.0.0.1", unused_udp_port
    with pytest.raises(NamingError) as caught:
        resolve("PYRONAME:test.calc")
    steps = str(caught.value).removeprefix("Failed to locate the nameserver; tried ").split("; ")
    assert [step.split(" (")[0] for step in steps] == [
        f"127.0.0.1:{unused_port}",
        f"[::1]:{unused_port}",
        f"127.0.0.1:{silent_port}",
        f"broadcast to 127.0.0.1 port {unused_udp_port}",  # NS_HOST's list, then the broadcast
    ]


def test_a_configured_list_is_tried_before_the_broadcast(responder_factory, ns_address, unused_port, monkeypatch):
    monkeypatch.setattr(naming, "BROADCAST_TIMEOUT", 0.1)
    host, port = ns_address
    responder = responder_factory(f"PYRO:Pyro.NameServer@{host}:{port}".encode())
    config.BROADCAST_ADDRS, config.NS_BCPORT = "127.0.0.1", responder.port
    config.NS_HOST = f"127.0.0.1:{unused_port}, [::1]:{unused_port}"
    with locateNS() as ns:
        assert ns.ping() is None
    assert responder.requests == [b"GET_NSURI"]
    config.NS_HOST = f"127.0.0.1:{unused_port}, {host}:{port}"
    with locateNS() as ns:
        assert ns.ping() is None
    assert responder.requests == [b"GET_NSURI"]  # found in the list: no broadcast


@pytest.mark.parametrize("bad", ["ns1:port, ns2", "ns1:0,ns2", "ns1:70000, ns2", ":9090, ns2", "[]:9090,ns2"])
def test_a_bad_entry_in_a_host_list_is_named(bad):
    with pytest.raises(NamingError, match="invalid name server address .* use host, host:port or \\[ipv6\\]:port"):
        locateNS(bad)


def test_a_single_host_keeps_pyro4s_reading(unused_port):
    # one entry without a port is used as written: a bare IPv6 address, a unix socket
    with pytest.raises(NamingError, match=f"tried \\[::1\\]:{unused_port} \\(cannot connect"):
        locateNS("::1", unused_port)
    with pytest.raises(NamingError, match=f"tried 127.0.0.1:{unused_port} \\(cannot connect"):
        locateNS(f"127.0.0.1:{unused_port}")  # one entry with a port
