"""Registry, URIs, lifecycle and hooks of the Daemon."""

import re
import socket
import threading
import time

import pytest

from pyro_client import Proxy
from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_protocol.errors import DaemonError, PyroError
from pyro_protocol.uri import URI
from pyro_server import Daemon, expose


class Thing:
    def method(self, arg):
        return arg * 2


class Slotted:
    __slots__ = ("a",)


def test_register_sets_and_unregister_removes_pyro_attributes():
    with Daemon(host="127.0.0.1") as daemon:
        thing = Thing()
        uri = daemon.register(thing)
        assert isinstance(uri, URI) and uri.protocol == "PYRO"
        assert uri.object == thing._pyroId and thing._pyroId.startswith("obj_") and len(thing._pyroId) == 36
        assert thing._pyroDaemon is daemon
        assert uri.host == "127.0.0.1" and uri.port == daemon.sock.getsockname()[1]
        daemon.unregister(thing)
        assert not hasattr(thing, "_pyroId") and not hasattr(thing, "_pyroDaemon")
        assert uri.object not in daemon.objectsById


def test_register_with_id_and_duplicates():
    with Daemon(host="127.0.0.1") as daemon:
        uri = daemon.register(Thing(), "my.thing")
        assert str(uri) == f"PYRO:my.thing@{daemon.locationStr}"
        with pytest.raises(DaemonError, match="already registered with that id"):
            daemon.register(Thing(), "my.thing")
        thing = Thing()
        daemon.register(thing)
        with pytest.raises(DaemonError, match="already has a Pyro id"):
            daemon.register(thing)
        daemon.register(thing, "again", force=True)
        assert daemon.objectsById["again"] is thing
        with pytest.raises(TypeError):
            daemon.register(Thing(), 42)


def test_register_refuses_builtins_and_slots():
    with Daemon(host="127.0.0.1") as daemon:
        with pytest.raises(DaemonError, match="builtin type"):
            daemon.register("a string")
        with pytest.raises(DaemonError, match="__slots__"):
            daemon.register(Slotted())


def test_uri_for_and_unregister_by_id():
    with Daemon(host="127.0.0.1") as daemon:
        thing = Thing()
        daemon.register(thing, "x")
        assert daemon.uriFor(thing) == daemon.uriFor("x") == URI(f"PYRO:x@{daemon.locationStr}")
        daemon.unregister("x")
        with pytest.raises(DaemonError):
            daemon.uriFor(thing)
        daemon.unregister(constants.DAEMON_NAME)  # never removed
        assert constants.DAEMON_NAME in daemon.objectsById


def test_nat_location_in_uris():
    with Daemon(host="127.0.0.1", nathost="example.com", natport=5555) as daemon:
        daemon.register(Thing(), "t")
        assert str(daemon.uriFor("t")) == "PYRO:t@example.com:5555"
        assert str(daemon.uriFor("t", nat=False)) == f"PYRO:t@{daemon.locationStr}"
    with Daemon(host="127.0.0.1", nathost="example.com", natport=0) as daemon:
        port = daemon.sock.getsockname()[1]
        assert daemon.natLocationStr == f"example.com:{port}"
    with pytest.raises(ValueError, match="nathost"):
        Daemon(host="127.0.0.1", natport=5)


def test_unix_socket_daemon(tmp_path):
    path = str(tmp_path / "pyro.sock")
    with Daemon(unixsocket=path) as daemon:
        uri = daemon.register(Thing(), "t")
        assert str(uri) == f"PYRO:t@./u:{path}"
        assert daemon.locationStr == f"./u:{path}"
    assert not (tmp_path / "pyro.sock").exists()


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
def test_ipv6_daemon():
    try:
        daemon = Daemon(host="::1")
    except PyroError as exc:
        pytest.skip(f"no ::1 here: {exc}")
    with daemon:
        uri = daemon.register(Thing(), "t")
        assert uri.host == "::1" and str(uri).startswith("PYRO:t@[::1]:")


def test_daemon_object_is_registered():
    with Daemon(host="127.0.0.1") as daemon:
        assert daemon.objectsById[constants.DAEMON_NAME].registered() == [constants.DAEMON_NAME]
        info = daemon.objectsById[constants.DAEMON_NAME].info()
        assert info.startswith(f"Pyro.Daemon bound on {daemon.locationStr}, NAT None, 1 objects registered.")


def test_shutdown_from_other_thread_and_idempotent():
    daemon = Daemon(host="127.0.0.1")
    thread = threading.Thread(target=daemon.requestLoop)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    daemon.shutdown()
    daemon.shutdown()
    thread.join(timeout=5)
    assert not thread.is_alive() and time.monotonic() - started < 5
    daemon.close()
    daemon.close()


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_request_loop_condition(servertype):
    config.SERVERTYPE = servertype
    config.POLLTIMEOUT = 0.1
    flag = {"go": True}
    with Daemon(host="127.0.0.1") as daemon:
        thread = threading.Thread(target=daemon.requestLoop, args=(lambda: flag["go"],))
        thread.start()
        time.sleep(0.2)
        flag["go"] = False
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_invalid_servertype():
    config.SERVERTYPE = "bogus"
    with pytest.raises(PyroError, match="invalid server type"):
        Daemon(host="127.0.0.1")


def test_housekeeping_hook_runs():
    config.POLLTIMEOUT = 0.1
    calls = []

    class Keeper(Daemon):
        def housekeeping(self):
            calls.append(1)

    with Keeper(host="127.0.0.1") as daemon:
        thread = threading.Thread(target=daemon.requestLoop, args=(lambda: len(calls) < 2,))
        thread.start()
        thread.join(timeout=10)
        assert len(calls) >= 2


def test_register_class_and_its_instance():
    with Daemon(host="127.0.0.1") as daemon:
        daemon.register(Thing, "the.class")
        thing = Thing()
        daemon.register(thing, "the.instance")
        assert thing._pyroId == "the.instance" and Thing._pyroId == "the.class"


def test_thread_server_workers_are_named_uniquely(run):
    """Pyro4 programs print thread names to show which worker ran a call: Pyro-Worker-<number>."""
    config.SERVERTYPE = "thread"
    together = threading.Barrier(3, timeout=10)

    class Meeting:
        def meet(self):
            together.wait()  # three calls at once: three workers
            return threading.current_thread().name

    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Meeting())
    names = []

    def call():
        with Proxy(uri) as proxy:
            names.append(proxy.meet())

    with run(daemon):
        callers = [threading.Thread(target=call) for _ in range(3)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(timeout=15)
    assert len(names) == 3 and len(set(names)) == 3
    assert all(re.fullmatch(r"Pyro-Worker-\d+", name) for name in names), names


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_transport_server_has_pyro4s_sock(servertype):
    """Pyro4's filetransfer example asks ``daemon.transportServer.sock.getsockname()``."""
    config.SERVERTYPE = servertype
    with Daemon(host="127.0.0.1") as daemon:
        sock = daemon.transportServer.sock
        assert sock is daemon.sock and sock in daemon.sockets
        host, port = sock.getsockname()
        assert host == "127.0.0.1" and daemon.locationStr == f"127.0.0.1:{port}"


@pytest.mark.parametrize("require_expose", [False, True])
def test_reset_metadata_cache_lets_new_proxies_see_changed_members(run, require_expose):
    config.REQUIRE_EXPOSE = require_expose

    class Growing:
        @expose
        def first(self):
            return 1

    daemon = Daemon(host="127.0.0.1")
    grower = Growing()
    uri = daemon.register(grower, "grower")
    serializers = ["serpent", "marshal"]
    with run(daemon):
        for serializer in serializers:  # (the daemon keeps a handshake reply per serializer)
            with Proxy(uri) as proxy:
                proxy._pyroSerializer = serializer
                assert proxy.first() == 1 and proxy._pyroMethods == {"first"}
        Growing.second = expose(lambda self: 2)
        with Proxy(uri) as proxy:
            proxy._pyroBind()
            assert proxy._pyroMethods == {"first"}  # cached: that is why the reset is needed
        daemon.resetMetadataCache(grower)
        for serializer in serializers:
            with Proxy(uri) as proxy:
                proxy._pyroSerializer = serializer
                assert proxy.second() == 2 and proxy._pyroMethods == {"first", "second"}
        Growing.third = expose(lambda self: 3)
        daemon.resetMetadataCache("grower", nat=False)  # by id, as Pyro4 allows too
        with Proxy(uri) as proxy:
            assert proxy.third() == 3
        with pytest.raises(DaemonError):
            daemon.resetMetadataCache(Growing())  # an object that is not registered


def test_repr_is_pyro4s():
    class CustomDaemon(Daemon):
        pass

    with CustomDaemon(host="127.0.0.1") as daemon:
        assert re.fullmatch(
            rf"<{__name__}\.test_repr_is_pyro4s\.<locals>\.CustomDaemon at 0x[0-9a-f]+; "
            rf"127\.0\.0\.1:{daemon.sock.getsockname()[1]} - IPv4; 1 objects>",
            repr(daemon),
        )


def test_a_daemon_serves_with_commtimeout_none(serve):
    """Pyro4 programs set COMMTIMEOUT = None for "no timeout"; the daemon used to drop every client."""

    class Echo:
        def echo(self, value):
            return value

    config.COMMTIMEOUT = None
    _daemon, uri = serve(Echo())
    with Proxy(uri) as proxy:
        proxy._pyroTimeout = 5
        assert proxy.echo(1) == 1
