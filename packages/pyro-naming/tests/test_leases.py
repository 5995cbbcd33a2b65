"""Leases: registrations that expire unless renewed, on every storage; the name server's
register(lease=...) and renew(); LeaseKeeper and serveSimple(lease=...) renewing in the
background; genuine Pyro4 clients, which never send a lease, see Pyro4's behaviour."""

import threading
import time

import pytest

from pyro_client import LeaseKeeper, Proxy
from pyro_naming import NameServer
from pyro_naming.nameserver import MAX_LEASE, MIN_LEASE
from pyro_naming.storage import PURGE_INTERVAL, Entry, MemoryStorage, SqlStorage
from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_protocol.errors import NamingError, PyroError
from pyro_server import Daemon, serveSimple

URI_A = "PYRO:a@127.0.0.1:5001"
URI_B = "PYRO:b@127.0.0.1:5002"
#: A lease that runs out while the test waits, and one that never does during a test.
SHORT = 0.05
LONG = 600.0
#: The lease of the tests that check a renewed name stays: a renewal (every third of it)
#: may come late by two thirds of it on a busy machine before the name expires.
KEPT = 1.0


def expired(storage, name, timeout=5.0):
    """Wait (bounded) until ``name`` is gone from ``storage``; True if it went."""
    deadline = time.monotonic() + timeout
    while storage.get(name) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# -- the storages ---------------------------------------------------------------------------


def test_a_lease_runs_out_and_the_rest_stays(storage):
    storage.put("short", Entry(URI_A, frozenset({"m"}), lease=SHORT))
    storage.put("long", Entry(URI_A, frozenset(), lease=LONG))
    storage.put("forever", Entry(URI_B, frozenset()))
    leased = storage.get("long")
    assert leased.lease == LONG and leased.expires > time.time() + LONG - 60
    assert storage.get("forever").expires is None
    assert expired(storage, "short")
    assert "short" not in storage
    assert set(storage.entries()) == {"long", "forever"} and storage.count() == 2
    assert storage.renew({"short": None}) == []
    assert storage.set_metadata("short", frozenset({"x"})) is False
    assert storage.delete(["short"]) == 0


def test_renew_starts_the_lease_over(storage):
    storage.put("x", Entry(URI_A, frozenset({"m"}), lease=LONG))
    storage.put("forever", Entry(URI_B, frozenset()))
    before = storage.get("x").expires
    time.sleep(0.02)
    renewed = storage.renew({"x": URI_A, "forever": None, "unknown": None})
    assert sorted(renewed) == ["forever", "x"]
    after = storage.get("x")
    assert after.expires > before and after.metadata == frozenset({"m"}) and after.lease == LONG
    assert storage.get("forever").expires is None
    assert storage.renew({"x": URI_B}) == []  # registered for another uri: not ours to renew
    assert storage.get("x").expires == after.expires


def test_add_refuses_a_live_name_and_takes_an_expired_one(storage):
    assert storage.add("live", Entry(URI_A, frozenset(), lease=LONG))
    assert not storage.add("live", Entry(URI_B, frozenset()))
    assert storage.get("live").uri == URI_A
    assert storage.add("x", Entry(URI_A, frozenset(), lease=SHORT))
    assert expired(storage, "x")
    assert storage.add("x", Entry(URI_B, frozenset({"new"})))
    assert storage.get("x") == Entry(URI_B, frozenset({"new"}))


def test_set_metadata_keeps_the_lease_running(storage):
    storage.put("x", Entry(URI_A, frozenset(), lease=LONG))
    expires = storage.get("x").expires
    assert storage.set_metadata("x", frozenset({"a", "b"}))
    entry = storage.get("x")
    assert entry.metadata == frozenset({"a", "b"}) and entry.expires == pytest.approx(expires, abs=1e-3)


def test_delete_unchanged_checks_the_uri(storage):
    storage.put("x", Entry(URI_A, frozenset()))
    assert not storage.delete_unchanged("x", URI_B)
    assert storage.delete_unchanged("x", URI_A)
    assert not storage.delete_unchanged("x", URI_A)


@pytest.mark.parametrize("kind", ["sql", "dbm", "postgresql"])
def test_a_lease_survives_reopening(new_storage, kind):
    first = new_storage(kind)
    first.put("x", Entry(URI_A, frozenset({"m"}), lease=LONG))
    expires = first.get("x").expires
    first.close()
    entry = new_storage(kind).get("x")
    assert entry.lease == LONG and entry.expires == pytest.approx(expires, abs=1e-3)


class FakeClock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("make", [MemoryStorage, lambda clock, path: SqlStorage(str(path / "x.sqlite"), clock)])
def test_expired_registrations_are_purged_by_a_later_change(tmp_path, make):
    clock = FakeClock()
    store = make(clock) if make is MemoryStorage else make(clock, tmp_path)
    try:
        store.put("old", Entry(URI_A, frozenset(), lease=1.0))
        clock.now += 2
        assert store.get("old") is None
        assert "old" in store._scan()  # invisible, but its row is still there
        clock.now += PURGE_INTERVAL
        store.put("new", Entry(URI_B, frozenset()))
        assert set(store._scan()) == {"new"}
    finally:
        store.close()


# -- the name server --------------------------------------------------------------------------


def test_register_with_a_lease_and_renew_through_the_name_server(storage):
    ns = NameServer(storage)
    ns.register("leased", URI_A, metadata={"m"}, lease=LONG)
    ns.register("forever", URI_B)
    assert str(ns.lookup("leased")) == URI_A
    assert storage.get("leased").lease == LONG and storage.get("forever").lease is None
    assert ns.renew(["leased", "forever", "zz.unknown", "aa.unknown"]) == ["aa.unknown", "zz.unknown"]
    assert ns.renew({"leased": URI_B}) == ["leased"]
    assert ns.renew({"leased": URI_A}) == []
    assert ns.renew([]) == []


def test_safe_registration_takes_an_expired_name(storage):
    ns = NameServer(storage)
    ns.register("live", URI_A, lease=LONG)
    with pytest.raises(NamingError, match="^name already registered: live$"):
        ns.register("live", URI_B, safe=True)
    ns.register("x", URI_A, lease=MIN_LEASE)
    assert expired(storage, "x")
    with pytest.raises(NamingError, match="^unknown name: x$"):
        ns.lookup("x")
    ns.register("x", URI_B, safe=True)
    assert str(ns.lookup("x")) == URI_B


@pytest.mark.parametrize(
    "lease, error, message",
    [
        ("5", TypeError, "lease must be a number of seconds, not str"),
        (True, TypeError, "not bool"),
        ([5], TypeError, "not list"),
        (0, ValueError, "lease must be between"),
        (-3, ValueError, "lease must be between"),
        (MIN_LEASE / 2, ValueError, "lease must be between"),
        (MAX_LEASE * 2, ValueError, "lease must be between"),
        (float("inf"), ValueError, "lease must be between"),
        (float("nan"), ValueError, "lease must be between"),
    ],
)
def test_bad_leases_are_refused(lease, error, message):
    ns = NameServer()
    with pytest.raises(error, match=message):
        ns.register("x", URI_A, lease=lease)
    assert ns.count() == 0


@pytest.mark.parametrize(
    "names, message",
    [
        ("x", "renew needs a collection of names"),
        (5, "renew needs a collection of names"),
        ([1], "name must be a str"),
        ({"x": 5}, "only URIs or strings can be registered"),
    ],
)
def test_bad_renewals_are_refused(names, message):
    with pytest.raises(TypeError, match=message):
        NameServer().renew(names)


# -- over the wire -----------------------------------------------------------------------------


def ns_uri_of(daemon):
    return str(daemon.uriFor(constants.NAMESERVER_NAME))


def test_a_genuine_pyro4_client_sees_pyro4s_behaviour(pyro4, name_server):
    daemon = name_server()
    with pyro4.Proxy(ns_uri_of(daemon)) as ns, Proxy(ns_uri_of(daemon)) as ours:
        ns.register("pyro4.positional", URI_B, False, {"m"})
        ns.register("pyro4.safe", URI_B, safe=True)
        ours.register("ours.leased", URI_A, lease=KEPT)
        assert set(ns.list(prefix="ours.")) == {"ours.leased"}
        assert expired(daemon.nameserver.storage, "ours.leased")
        with pytest.raises(pyro4.errors.NamingError, match="^unknown name: ours.leased$"):
            ns.lookup("ours.leased")
        assert ns.list(prefix="pyro4.", return_metadata=True) == {
            "pyro4.positional": (URI_B, ["m"]),
            "pyro4.safe": (URI_B, []),
        }
        assert ns.count() == 3
    assert daemon.nameserver.storage.get("pyro4.positional").lease is None


@pytest.fixture()
def ns_daemon(name_server):
    daemon = name_server()
    config.NS_HOST = "127.0.0.1"
    config.NS_PORT = daemon.sock.getsockname()[1]
    return daemon


def test_lease_keeper_renews_until_it_stops(ns_daemon, eventually):
    storage = ns_daemon.nameserver.storage
    with LeaseKeeper(KEPT, ns_uri_of(ns_daemon)) as keeper:
        keeper.register("kept", URI_A, metadata={"m"})
        assert keeper.names == ["kept"]
        first = storage.get("kept")
        assert first.lease == KEPT and first.metadata == frozenset({"m"})
        assert eventually(lambda: storage.get("kept").expires > first.expires + KEPT / 2, timeout=5)
        time.sleep(KEPT)  # it stays (more than a lease since it was registered) only because it is renewed
        assert storage.get("kept") is not None
    assert expired(storage, "kept", timeout=5)
    with pytest.raises(PyroError, match="stopped"):
        keeper.register("again", URI_A)


def test_lease_keeper_registers_again_what_the_name_server_lost(ns_daemon, eventually):
    storage = ns_daemon.nameserver.storage
    with LeaseKeeper(0.3) as keeper:  # no URI: found with locateNS (NS_HOST, NS_PORT)
        keeper.register("kept", URI_A, metadata={"m"})
        ns_daemon.nameserver.remove("kept")
        assert eventually(lambda: storage.get("kept") is not None, timeout=5)
        assert storage.get("kept").metadata == frozenset({"m"})


def test_lease_keeper_leaves_a_name_someone_else_took(ns_daemon):
    storage = ns_daemon.nameserver.storage
    with LeaseKeeper(0.3, ns_uri_of(ns_daemon)) as keeper:
        keeper.register("contested", URI_A)
        ns_daemon.nameserver.register("contested", URI_B)
        time.sleep(0.5)  # several renewal rounds
        assert storage.get("contested") == Entry(URI_B, frozenset())


def test_lease_keeper_comes_back_after_a_name_server_restart(ns_process, free_port, eventually, pyro4):
    port = str(free_port())
    first = ns_process("-n", "127.0.0.1", "-p", port, "-x")
    with LeaseKeeper(0.3, first.uri) as keeper:
        keeper.register("kept", URI_A)
        assert first.stop() == 0
        second = ns_process("-n", "127.0.0.1", "-p", port, "-x")  # memory storage: it knows nothing

        def registered():
            with pyro4.Proxy(second.uri) as ns:
                return "kept" in ns.list()

        assert eventually(registered, timeout=10)


@pytest.mark.parametrize("lease", [0, -1, float("nan"), "30", None])
def test_lease_keeper_refuses_a_bad_lease(lease):
    with pytest.raises(ValueError, match="lease must be a positive number of seconds"):
        LeaseKeeper(lease)


def serve_simple_in_a_thread(lease):
    daemon = Daemon(host="127.0.0.1")
    thread = threading.Thread(
        target=serveSimple,
        args=({Echo(): "simple.echo"},),
        kwargs={"daemon": daemon, "ns": True, "verbose": False, "lease": lease},
    )
    thread.start()
    return daemon, thread


class Echo:
    def echo(self, value):
        return value


@pytest.mark.parametrize("lease", [None, KEPT])
def test_serve_simple_renews_with_a_lease_and_stops_on_shutdown(ns_daemon, eventually, lease):
    storage = ns_daemon.nameserver.storage
    daemon, thread = serve_simple_in_a_thread(lease)
    try:
        assert eventually(lambda: storage.get("simple.echo") is not None, timeout=10)
        with Proxy("PYRONAME:simple.echo") as echo:
            assert echo.echo("hi") == "hi"
        assert storage.get("simple.echo").lease == lease
        time.sleep(KEPT * 1.2)
        assert storage.get("simple.echo") is not None
    finally:
        daemon.shutdown()
        thread.join(timeout=10)
    assert not thread.is_alive()
    if lease is None:  # Pyro4's way: the name stays after the daemon is gone
        assert storage.get("simple.echo") is not None
    else:
        assert expired(storage, "simple.echo", timeout=5)
