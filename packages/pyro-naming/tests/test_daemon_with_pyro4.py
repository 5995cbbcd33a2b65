"""NameServerDaemon served in a thread and used by the genuine Pyro4 4.82 client and daemon."""

import select
import socket
import threading
import time

import pytest

from pyro_naming import BroadcastServer, NameServerDaemon, SqlStorage, startNS
from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_server import Daemon

SERIALIZERS = ["serpent", "json", "marshal", "msgpack"]
# Pyro4's seven, and renew (leases: no Pyro4 client calls it)
NS_METHODS = ["count", "list", "lookup", "ping", "register", "remove", "renew", "set_metadata"]


class Echo:
    def echo(self, value):
        return value


def test_registers_itself_with_pyro4s_class_metadata(name_server):
    daemon = name_server()
    ns = daemon.nameserver
    uri = daemon.uriFor(ns)
    assert str(uri) == f"PYRO:Pyro.NameServer@{daemon.locationStr}"
    assert ns.lookup(constants.NAMESERVER_NAME, return_metadata=True) == (uri, ["class:Pyro4.naming.NameServer"])
    assert ns.count() == 1


def test_remote_metadata_is_pyro4s_methods_and_renew(pyro4, name_server):
    daemon = name_server()
    with pyro4.Proxy(f"PYRO:{constants.DAEMON_NAME}@{daemon.locationStr}") as daemon_proxy:
        meta = daemon_proxy.get_metadata(constants.NAMESERVER_NAME, as_lists=True)
    assert sorted(meta["methods"]) == NS_METHODS
    assert meta["oneway"] == [] and meta["attrs"] == []


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_every_method_from_pyro4(pyro4, name_server, serializer):
    daemon = name_server()
    pyro4.config.SERIALIZER = serializer
    ns_uri = str(daemon.uriFor(constants.NAMESERVER_NAME))
    with pyro4.Proxy(ns_uri) as ns:
        assert ns.ping() is None
        ns.register("app.echo", pyro4.URI("PYRO:echo@127.0.0.1:4001"), metadata={"echo", "red"})
        ns.register("app.other", "PYRO:other@127.0.0.1:4002", safe=True, metadata=["red"])
        uri = ns.lookup("app.echo")
        assert isinstance(uri, pyro4.URI) and str(uri) == "PYRO:echo@127.0.0.1:4001"
        uri, meta = ns.lookup("app.echo", return_metadata=True)
        assert str(uri) == "PYRO:echo@127.0.0.1:4001" and sorted(meta) == ["echo", "red"]
        assert ns.list(prefix="app.") == {
            "app.echo": "PYRO:echo@127.0.0.1:4001",
            "app.other": "PYRO:other@127.0.0.1:4002",
        }
        assert set(ns.list(metadata_all={"red", "echo"})) == {"app.echo"}
        assert set(ns.list(metadata_any=["echo", "nothing"])) == {"app.echo"}
        listed = ns.list(regex="app", return_metadata=True)
        assert tuple(listed["app.other"]) == ("PYRO:other@127.0.0.1:4002", ["red"])
        ns.set_metadata("app.other", {"blue"})
        assert set(ns.list(metadata_any={"blue"})) == {"app.other"}
        assert ns.count() == 3
        assert ns.remove("app.other") == 1
        assert ns.remove(prefix="app.") == 1
        assert ns.count() == 1


@pytest.mark.parametrize("serializer", ["serpent", "json"])
def test_errors_reach_pyro4_with_their_message(pyro4, name_server, serializer):
    daemon = name_server()
    pyro4.config.SERIALIZER = serializer
    with pyro4.Proxy(str(daemon.uriFor(constants.NAMESERVER_NAME))) as ns:
        with pytest.raises(pyro4.errors.NamingError, match="^unknown name: missing$"):
            ns.lookup("missing")
        ns.register("taken", "PYRO:x@127.0.0.1:1")
        with pytest.raises(pyro4.errors.NamingError, match="^name already registered: taken$"):
            ns.register("taken", "PYRO:y@127.0.0.1:1", safe=True)
        with pytest.raises(TypeError, match="metadata should not be a str"):
            ns.register("x", "PYRO:y@127.0.0.1:1", metadata="red")
        with pytest.raises(ValueError, match="you can only filter on one thing at a time"):
            ns.list(prefix="a", regex="b")
        with pytest.raises(pyro4.errors.NamingError, match="invalid regex"):
            ns.list(regex="(")
        with pytest.raises(pyro4.errors.PyroError, match="invalid uri"):
            ns.register("bad", "garbage")


@pytest.mark.parametrize("kind", ["memory", "sql", "dbm", "postgresql"])
def test_concurrent_registrations_from_pyro4_clients(pyro4, name_server, new_storage, kind):
    daemon = name_server(storage=new_storage(kind))
    ns_uri = str(daemon.uriFor(constants.NAMESERVER_NAME))
    errors = []
    start = threading.Barrier(8)

    def client(number):
        try:
            with pyro4.Proxy(ns_uri) as ns:
                start.wait(timeout=10)
                for i in range(50):
                    ns.register(f"client{number}.obj{i}", f"PYRO:obj{i}@127.0.0.1:{8000 + number}", safe=True)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    with pyro4.Proxy(ns_uri) as ns:
        assert ns.count() == 401
        listed = ns.list(prefix="client")
    assert len(listed) == 400
    assert listed["client5.obj42"] == "PYRO:obj42@127.0.0.1:8005"


# Pyro4 4.82's request loop calls Event.isSet(), deprecated since Python 3.10.
@pytest.mark.filterwarnings("ignore:isSet:DeprecationWarning")
def test_pyroname_resolution_and_serve_simple_from_a_pyro4_daemon(pyro4, name_server):
    """A genuine Pyro4 daemon registers through serveSimple; a PYRONAME proxy then finds it."""
    ns_daemon = name_server()
    pyro4.config.NS_HOST = "127.0.0.1"
    pyro4.config.NS_PORT = ns_daemon.sock.getsockname()[1]
    pyro4_daemon = pyro4.Daemon(host="127.0.0.1")

    class Pyro4Echo:  # Pyro4 marks a registered class with its id: not Echo, used elsewhere
        def echo(self, value):
            return value

    serving = threading.Thread(
        target=pyro4.Daemon.serveSimple,
        args=({pyro4.expose(Pyro4Echo): "example.echo"},),
        kwargs={"daemon": pyro4_daemon, "ns": True, "verbose": False},
    )
    serving.start()
    try:
        deadline = time.monotonic() + 10
        while "example.echo" not in ns_daemon.nameserver.list() and time.monotonic() < deadline:
            time.sleep(0.02)
        with pyro4.Proxy("PYRONAME:example.echo") as echo:
            assert echo.echo("hello") == "hello"
        with pyro4.Proxy("PYROMETA:nothing.has.this") as nothing:
            with pytest.raises(pyro4.errors.NamingError, match="no registrations available"):
                nothing.echo(1)
    finally:
        pyro4_daemon.shutdown()
        serving.join(timeout=10)
    assert not serving.is_alive()


def test_pyrometa_resolution_from_pyro4(pyro4, name_server, run):
    ns_daemon = name_server()
    pyro4.config.NS_HOST = "127.0.0.1"
    pyro4.config.NS_PORT = ns_daemon.sock.getsockname()[1]
    with Daemon(host="127.0.0.1") as server:
        uri = server.register(Echo(), "echo")
        ns_daemon.nameserver.register("meta.echo", uri, metadata={"kind:echo", "lang:en"})
        with run(server), pyro4.Proxy("PYROMETA:kind:echo,lang:en") as echo:
            assert echo.echo(42) == 42


def test_combined_with_a_user_daemon_and_the_broadcast_server(pyro4, run, free_port):
    """One request loop serves a user's daemon, the name server and its broadcast responder."""
    ns_uri, ns_daemon, bcserver = startNS(host="127.0.0.1", port=0, storage=None)
    assert bcserver is None  # never for 127.x
    with (
        ns_daemon,
        BroadcastServer(ns_daemon.uriFor(constants.NAMESERVER_NAME), "127.0.0.1", free_port(udp=True)) as bcserver,
    ):
        user = Daemon(host="127.0.0.1")
        echo_uri = user.register(Echo(), "echo")
        user.combine(ns_daemon)
        user.combine(bcserver)
        with run(user):
            with pyro4.Proxy(str(ns_uri)) as ns:
                ns.register("echo", echo_uri)
                assert str(ns.lookup("echo")) == str(echo_uri)
            with pyro4.Proxy(str(echo_uri)) as echo:
                assert echo.echo([1, 2]) == [1, 2]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.settimeout(5)
                probe.sendto(b"GET_NSURI", ("127.0.0.1", bcserver.getPort()))
                assert probe.recvfrom(100)[0].decode("latin-1") == str(ns_uri)


def test_own_select_loop_over_sockets_and_events(pyro4):
    """sockets/events of the name server daemon work in a user's own select loop."""
    config.SERVERTYPE = "multiplex"
    stop = threading.Event()
    with NameServerDaemon(host="127.0.0.1", port=0) as daemon:

        def pump():
            while not stop.is_set():
                readable, _, _ = select.select(daemon.sockets, [], [], 0.05)
                if readable:
                    daemon.events(readable)

        loop = threading.Thread(target=pump)
        loop.start()
        try:
            with pyro4.Proxy(str(daemon.uriFor(constants.NAMESERVER_NAME))) as ns:
                assert ns.count() == 1
        finally:
            stop.set()
            loop.join(timeout=10)


def test_close_closes_the_storage_and_is_idempotent(tmp_path):
    store = SqlStorage(str(tmp_path / "ns.sqlite"))
    daemon = NameServerDaemon(host="127.0.0.1", port=0, storage=store)
    assert daemon.nameserver.storage is store
    daemon.close()
    daemon.close()
    assert daemon.nameserver is None
    with pytest.raises(Exception, match="closed"):
        store.count()


def test_storage_is_closed_when_the_daemon_cannot_start(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        config.SOCK_REUSE = False
        store = SqlStorage(str(tmp_path / "ns.sqlite"))
        with pytest.raises(Exception, match="cannot listen"):
            NameServerDaemon(host="127.0.0.1", port=taken.getsockname()[1], storage=store)
    with pytest.raises(Exception, match="closed"):
        store.count()


def test_defaults_come_from_the_config(free_port):
    config.HOST = "127.0.0.1"
    config.NS_PORT = free_port()
    with NameServerDaemon() as daemon:
        assert daemon.locationStr == f"127.0.0.1:{config.NS_PORT}"


def test_unix_socket_name_server(pyro4, tmp_path, run):
    path = str(tmp_path / "ns.sock")
    ns_uri, daemon, bcserver = startNS(unixsocket=path)
    assert bcserver is None
    assert str(ns_uri) == f"PYRO:Pyro.NameServer@./u:{path}"
    with run(daemon), pyro4.Proxy(str(ns_uri)) as ns:
        ns.register("x", "PYRO:x@./u:/elsewhere")
        assert str(ns.lookup("x")) == "PYRO:x@./u:/elsewhere"


def test_nat_address_is_what_gets_registered(name_server):
    daemon = name_server(nathost="ns.example.org", natport=9999)
    assert str(daemon.nameserver.lookup(constants.NAMESERVER_NAME)) == "PYRO:Pyro.NameServer@ns.example.org:9999"
    assert str(daemon.uriFor(constants.NAMESERVER_NAME, nat=False)) == f"PYRO:Pyro.NameServer@{daemon.locationStr}"


def test_hmac_protected_name_server(pyro4, run):
    ns_uri, daemon, _ = startNS(host="127.0.0.1", port=0, enableBroadcast=False, hmac="sekrit")
    with run(daemon):
        with pyro4.Proxy(str(ns_uri)) as ns:
            ns._pyroHmacKey = b"sekrit"
            assert ns.count() == 1
        with pyro4.Proxy(str(ns_uri)) as ns:
            with pytest.raises(pyro4.errors.CommunicationError):
                ns.count()


def test_type_meta_registrations_are_found_by_pyro4s_metadata_query(pyro4, name_server):
    import pyro_client.naming
    import pyro_naming

    assert pyro_naming.type_meta is pyro_client.naming.type_meta  # one implementation, re-exported
    daemon = name_server()
    daemon.nameserver.register("typed.echo", "PYRO:echo@127.0.0.1:1", metadata=pyro_naming.type_meta(Echo()))
    with pyro4.Proxy(str(daemon.uriFor(constants.NAMESERVER_NAME))) as ns:
        assert ns.list(metadata_all={f"class:{__name__}.Echo"}) == {"typed.echo": "PYRO:echo@127.0.0.1:1"}
